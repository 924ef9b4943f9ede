package kit_test

import (
	"runtime"
	"testing"

	"github.com/linkguard/linkguard/kit"
	"github.com/linkguard/linkguard/store/badger"
)

// TestRaiseProcs: a Badger store on disk gets more Ps than Go chose; the
// operator's GOMAXPROCS and the other stores keep theirs.
func TestRaiseProcs(t *testing.T) {
	chosen := runtime.GOMAXPROCS(0)
	defer runtime.GOMAXPROCS(chosen)
	noEnv := func(string) string { return "" }
	opEnv := func(k string) string {
		if k == "GOMAXPROCS" {
			return "3"
		}
		return ""
	}
	for _, c := range []struct {
		store  string
		getenv func(string) string
		want   int
	}{
		{"redis://127.0.0.1:6379/0", noEnv, chosen},
		{"memory", noEnv, chosen},
		{"badger", opEnv, chosen},
		{"badger:///var/lib/linkguard", noEnv, badger.Procs(chosen)},
	} {
		runtime.GOMAXPROCS(chosen)
		procs, raised := kit.RaiseProcs(c.store, c.getenv)
		if procs != c.want || runtime.GOMAXPROCS(0) != c.want || raised != (c.want != chosen) {
			t.Errorf("%s: %d Ps (raised %v), GOMAXPROCS %d; want %d", c.store, procs, raised, runtime.GOMAXPROCS(0), c.want)
		}
	}
}
