package badger

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/fingerprint"
	"github.com/linkguard/linkguard/store/storetest"
)

// TestTokenCacheKeepsStateFresh: the cache maps a token to its link id
// only; the link itself is read every time, so a consumption shows at
// once, and a token that shares a cached token's slot is not taken for it.
func TestTokenCacheKeepsStateFresh(t *testing.T) {
	ctx := context.Background()
	s, err := Open(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now().UTC().Truncate(time.Millisecond)
	l := storetest.NewLink(t, now, "f")
	if err := s.CreateLink(ctx, l, nil); err != nil {
		t.Fatal(err)
	}
	for range 2 { // the second read comes from the cache
		got, err := s.LinkByTokenHash(ctx, l.TokenHash)
		if err != nil || got.ID != l.ID || got.State != linkguard.Pending {
			t.Fatalf("read: %v %+v", err, got)
		}
	}
	if id, ok := s.tokens.get(l.TokenHash); !ok || id != l.ID {
		t.Fatalf("the token was not cached: %q %v", id, ok)
	}
	h := &linkguard.Handoff{CodeHash: []byte("hand"), LinkID: l.ID, ExpiresAt: now.Add(time.Minute)}
	if _, err := s.ConsumeLink(ctx, l.ID, now, fingerprint.Verdict{Decision: fingerprint.Consume}, h); err != nil {
		t.Fatal(err)
	}
	if got, err := s.LinkByTokenHash(ctx, l.TokenHash); err != nil || got.State != linkguard.Consumed {
		t.Fatalf("after consume, from the cache: %v %+v", err, got)
	}
	// Same slot (same first two bytes), another token: not found.
	other := append([]byte(nil), l.TokenHash...)
	other[len(other)-1] ^= 0xff
	if _, err := s.LinkByTokenHash(ctx, other); !errors.Is(err, linkguard.ErrNotFound) {
		t.Fatalf("a token sharing the slot: %v", err)
	}
	if _, err := s.LinkByTokenHash(ctx, []byte{1}); !errors.Is(err, linkguard.ErrNotFound) {
		t.Fatalf("a short hash: %v", err)
	}
}
