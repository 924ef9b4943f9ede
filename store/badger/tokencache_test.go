package badger

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/fingerprint"
	"github.com/linkguard/linkguard/store/storetest"
)

// TestTokenCacheKeepsStateFresh: the cache maps a token to its link id
// only; the link comes from the link cache, which every write of it
// invalidates, so a consumption shows at once, and a token that shares a
// cached token's slot is not taken for it.
func TestTokenCacheKeepsStateFresh(t *testing.T) {
	ctx := context.Background()
	s := memStore(t)
	now := time.Now().UTC().Truncate(time.Millisecond)
	l := storetest.NewLink(t, now, "f")
	if err := s.CreateLink(ctx, l, nil, nil); err != nil {
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
	if _, err := s.ConsumeLink(ctx, l.ID, now, fingerprint.Verdict{Decision: fingerprint.Consume}, h, nil); err != nil {
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

// TestLinkCacheIsExact: the link cache never answers with a state older
// than the last write that returned, under readers racing the writers,
// and a revocation by a newer link of the family shows at once.
func TestLinkCacheIsExact(t *testing.T) {
	ctx := context.Background()
	s := memStore(t)
	now := time.Now().UTC().Truncate(time.Millisecond)
	l := storetest.NewLink(t, now, "f")
	if err := s.CreateLink(ctx, l, nil, nil); err != nil {
		t.Fatal(err)
	}
	const attempts = 200
	var written atomic.Int64 // attempts whose write has returned
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for r := range 8 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				floor := written.Load()
				var got *linkguard.Link
				var err error
				if r%2 == 0 {
					got, err = s.LinkByTokenHash(ctx, l.TokenHash)
				} else {
					got, err = s.LinkByID(ctx, l.ID)
				}
				if err == nil && int64(got.CodeAttempts) < floor {
					err = fmt.Errorf("read %d attempts after %d were written", got.CodeAttempts, floor)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	for i := 1; i <= attempts; i++ {
		_, err := s.ConsumeWithCode(ctx, l.ID, []byte("wrong"), attempts+1, now, fingerprint.Verdict{}, &linkguard.Handoff{CodeHash: []byte("h"), LinkID: l.ID, ExpiresAt: now.Add(time.Minute)}, nil)
		if !errors.Is(err, linkguard.ErrWrongCode) {
			t.Fatal(err)
		}
		written.Store(int64(i))
		if got, err := s.LinkByID(ctx, l.ID); err != nil || got.CodeAttempts != i {
			t.Fatalf("after attempt %d: %v, %d attempts", i, err, got.CodeAttempts)
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	newer := storetest.NewLink(t, now.Add(time.Second), "f")
	if err := s.CreateLink(ctx, newer, nil, nil); err != nil {
		t.Fatal(err)
	}
	if got, err := s.LinkByTokenHash(ctx, l.TokenHash); err != nil || got.State != linkguard.Revoked {
		t.Fatalf("the older link after a newer one of its family: %v %+v", err, got)
	}
	// A delivery's change of the link (the mail queue's write) shows too.
	mailed := storetest.NewLink(t, now, "g")
	mailed.Delivery = &linkguard.Delivery{State: "queued"}
	if err := s.CreateLink(ctx, mailed, []byte("mail"), nil); err != nil {
		t.Fatal(err)
	}
	if got, err := s.LinkByID(ctx, mailed.ID); err != nil || got.Delivery == nil || got.Delivery.State != "queued" {
		t.Fatalf("queued: %v %+v", err, got)
	}
	if err := s.MarkMailSent(ctx, mailed.ID, now); err != nil {
		t.Fatal(err)
	}
	if got, err := s.LinkByID(ctx, mailed.ID); err != nil || got.Delivery == nil || got.Delivery.State != "sent" {
		t.Fatalf("after the mail was sent: %v %+v", err, got.Delivery)
	}
}
