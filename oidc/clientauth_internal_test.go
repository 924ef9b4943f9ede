package oidc

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/store/badger"
)

// newTestAuth is a clientAuth over one confidential client "web" with a
// fresh secret, counting in a Badger store in memory; it returns the
// secret too.
func newTestAuth(tb testing.TB, now func() time.Time) (*clientAuth, string) {
	tb.Helper()
	st, err := badger.Open(badger.Options{Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	keys, err := linkguard.NewKeys([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		tb.Fatal(err)
	}
	secret, hash, err := NewSecret()
	if err != nil {
		tb.Fatal(err)
	}
	clients := map[string]*client{"web": {cfg: ClientConfig{ID: "web", Secret: hash}}}
	a, err := newClientAuth(clients, st, keys, now, slog.New(slog.DiscardHandler))
	if err != nil {
		tb.Fatal(err)
	}
	return a, secret
}

var testAddr = netip.MustParseAddr("198.51.100.7")

// TestClientAuthChangedHash: a remembered secret is bound to the hash it
// matched: once the client's hash changes (a new secret configured),
// the old secret is refused at once and the new one accepted.
func TestClientAuthChangedHash(t *testing.T) {
	a, old := newTestAuth(t, time.Now)
	ctx := context.Background()
	for i := range 2 { // the second from memory
		if err := a.verify(ctx, testAddr, "web", old); err != nil {
			t.Fatalf("check %d with the secret: %v", i+1, err)
		}
	}
	secret, hash, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	a.clients["web"].cfg.Secret = hash
	if err := a.verify(ctx, testAddr, "web", old); !errors.Is(err, errBadClient) {
		t.Errorf("the old secret after the hash changed: %v, want %v", err, errBadClient)
	}
	if err := a.verify(ctx, testAddr, "web", secret); err != nil {
		t.Errorf("the new secret: %v", err)
	}
}

// BenchmarkClientAuth is one client check: remembered (a keyed hash and
// a map lookup) and not (the limits' two counts in Badger and a bcrypt
// compare at cost 10).
func BenchmarkClientAuth(b *testing.B) {
	ctx := context.Background()
	b.Run("cached", func(b *testing.B) {
		a, secret := newTestAuth(b, time.Now)
		if err := a.verify(ctx, testAddr, "web", secret); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for range b.N {
			if err := a.verify(ctx, testAddr, "web", secret); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("uncached", func(b *testing.B) {
		// Each check in a window of its own, so the limits never refuse.
		at := time.Now()
		a, secret := newTestAuth(b, func() time.Time { return at })
		b.ResetTimer()
		for range b.N {
			at = at.Add(authWindow)
			a.mu.Lock()
			clear(a.cache)
			a.mu.Unlock()
			if err := a.verify(ctx, testAddr, "web", secret); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestCompareSlotsCountCores: more Ps than cores (GOMAXPROCS raised for
// Badger, docs/operations.md) must not let bcrypt take every core.
func TestCompareSlotsCountCores(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4 * runtime.NumCPU()))
	if got, want := compareSlots(), max(1, runtime.NumCPU()/2); got != want {
		t.Errorf("GOMAXPROCS %d on %d cores: %d compare slots, want %d", runtime.GOMAXPROCS(0), runtime.NumCPU(), got, want)
	}
	runtime.GOMAXPROCS(1)
	if got := compareSlots(); got != 1 {
		t.Errorf("GOMAXPROCS 1: %d compare slots, want 1", got)
	}
}
