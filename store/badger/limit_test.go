package badger

import (
	"testing"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/store/storetest"
)

func TestLimiterConformance(t *testing.T) {
	storetest.RunLimiter(t, func(t *testing.T) linkguard.Limiter {
		s, err := Open(Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}
