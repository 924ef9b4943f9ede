package redis

import (
	"testing"
	"time"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/store/storetest"
)

func TestLimiterConformance(t *testing.T) {
	needServer(t)
	storetest.RunLimiter(t, func(t *testing.T) linkguard.Limiter { return openStore(t, "") })
}

// Two instances on one Redis share the counts: what one allowed, the
// other counts.
func TestLimiterTwoInstances(t *testing.T) {
	needServer(t)
	prefix := freshPrefix()
	a, b := openStore(t, prefix), openStore(t, prefix)
	now := time.Now()
	if ok, _, err := a.Hit(t.Context(), "k", time.Minute, 1, now); err != nil || !ok {
		t.Fatalf("hit on a: %v, %v", ok, err)
	}
	if ok, _, err := b.Hit(t.Context(), "k", time.Minute, 1, now); err != nil || ok {
		t.Fatalf("hit on b after a's: ok %v, %v; want refused", ok, err)
	}
}
