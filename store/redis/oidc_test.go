package redis

import (
	"testing"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/store/storetest"
)

func TestKVConformance(t *testing.T) {
	needServer(t)
	storetest.RunKV(t, func(t *testing.T) linkguard.KV { return openStore(t, "") })
}

// Two instances on one Redis share the KV: a code put by one is taken by
// the other, once.
func TestKVTwoInstances(t *testing.T) {
	prefix := freshPrefix()
	a, b := openStore(t, prefix), openStore(t, prefix)
	if err := a.PutKV(t.Context(), "codes", "c1", []byte("x"), 60e9); err != nil {
		t.Fatal(err)
	}
	if v, err := b.TakeKV(t.Context(), "codes", "c1"); err != nil || string(v) != "x" {
		t.Fatalf("take on b: %q, %v", v, err)
	}
	if _, err := a.TakeKV(t.Context(), "codes", "c1"); err != linkguard.ErrNotFound {
		t.Fatalf("second take on a: %v, want ErrNotFound", err)
	}
}
