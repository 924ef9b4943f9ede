package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/fingerprint"
)

// createAndFind checks: create and find.
func createAndFind(t *testing.T, open Open) {
	now := start()
	s := open(t)
	l := NewLink(t, now, "fam1")
	l.Metadata = []byte(`{"plan":"pro"}`)
	if err := s.CreateLink(ctx, l, nil); err != nil {
		t.Fatal(err)
	}
	byID, err := s.LinkByID(ctx, l.ID)
	if err != nil {
		t.Fatal(err)
	}
	byTok, err := s.LinkByTokenHash(ctx, l.TokenHash)
	if err != nil {
		t.Fatal(err)
	}
	for _, got := range []*linkguard.Link{byID, byTok} {
		if got.ID != l.ID || got.Email != l.Email || !bytes.Equal(got.CodeHash, l.CodeHash) ||
			!got.ExpiresAt.Equal(l.ExpiresAt) || string(got.Metadata) != `{"plan":"pro"}` || got.State != linkguard.Pending {
			t.Fatalf("round trip changed the link: %+v", got)
		}
	}
	if _, err := s.LinkByID(ctx, "lnk_00000000000000000000000000"); !errors.Is(err, linkguard.ErrNotFound) {
		t.Fatalf("unknown id: err = %v, want ErrNotFound", err)
	}
	if _, err := s.LinkByTokenHash(ctx, []byte("nope")); !errors.Is(err, linkguard.ErrNotFound) {
		t.Fatalf("unknown token: err = %v, want ErrNotFound", err)
	}
}

// newLinkRevokesOlder checks: new link revokes the older pending one of its family.
func newLinkRevokesOlder(t *testing.T, open Open) {
	now := start()
	s := open(t)
	a := NewLink(t, now, "famA")
	b := NewLink(t, now.Add(time.Second), "famA")
	other := NewLink(t, now, "famB")
	for _, l := range []*linkguard.Link{a, other, b} {
		if err := s.CreateLink(ctx, l, nil); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := s.LinkByID(ctx, a.ID)
	if got.State != linkguard.Revoked || got.RevokedAt.IsZero() {
		t.Fatalf("older link state = %s, want revoked", got.State)
	}
	for _, l := range []*linkguard.Link{b, other} {
		if got, _ := s.LinkByID(ctx, l.ID); got.State != linkguard.Pending {
			t.Fatalf("link %s state = %s, want pending", l.ID, got.State)
		}
	}
}

// consumeOnceWithHandoff checks: consume once, with handoff.
func consumeOnceWithHandoff(t *testing.T, open Open) {
	now := start()
	s := open(t)
	l := NewLink(t, now, "fam")
	if err := s.CreateLink(ctx, l, nil); err != nil {
		t.Fatal(err)
	}
	h := &linkguard.Handoff{CodeHash: []byte("h1"), LinkID: l.ID, Email: l.Email, ConsumedAt: now, ExpiresAt: now.Add(time.Minute)}
	v := fingerprint.Verdict{Decision: fingerprint.Consume, Score: 0.9}
	if _, err := s.ConsumeLink(ctx, l.ID, now, v, h); err != nil {
		t.Fatal(err)
	}
	got, err := s.ConsumeLink(ctx, l.ID, now, v, &linkguard.Handoff{CodeHash: []byte("h2"), ExpiresAt: now.Add(time.Minute)})
	if !errors.Is(err, linkguard.ErrNotPending) || got == nil || got.State != linkguard.Consumed {
		t.Fatalf("second consume: err = %v, link = %+v; want ErrNotPending and the consumed link", err, got)
	}
	if _, err := s.TakeHandoff(ctx, []byte("h2"), now); !errors.Is(err, linkguard.ErrNotFound) {
		t.Fatalf("a refused consume must not leave a handoff: err = %v", err)
	}
	hh, err := s.TakeHandoff(ctx, []byte("h1"), now)
	if err != nil || hh.LinkID != l.ID {
		t.Fatalf("take handoff: %v %+v", err, hh)
	}
	if _, err := s.TakeHandoff(ctx, []byte("h1"), now); !errors.Is(err, linkguard.ErrNotFound) {
		t.Fatalf("second take: err = %v, want ErrNotFound", err)
	}
}

// expiredLinkAndHandoff checks: expired link cannot be consumed; expired handoff cannot be taken.
func expiredLinkAndHandoff(t *testing.T, open Open) {
	now := start()
	s := open(t)
	l := NewLink(t, now, "fam")
	if err := s.CreateLink(ctx, l, nil); err != nil {
		t.Fatal(err)
	}
	h := &linkguard.Handoff{CodeHash: []byte("x"), ExpiresAt: now.Add(time.Minute)}
	if _, err := s.ConsumeLink(ctx, l.ID, l.ExpiresAt, fingerprint.Verdict{}, h); !errors.Is(err, linkguard.ErrNotPending) {
		t.Fatalf("consume at expiry: err = %v, want ErrNotPending", err)
	}
	if _, err := s.ConsumeLink(ctx, l.ID, now, fingerprint.Verdict{}, h); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TakeHandoff(ctx, []byte("x"), now.Add(time.Minute)); !errors.Is(err, linkguard.ErrNotFound) {
		t.Fatalf("take at handoff expiry: err = %v, want ErrNotFound", err)
	}
}

// revoke checks: revoke.
func revoke(t *testing.T, open Open) {
	now := start()
	s := open(t)
	l := NewLink(t, now, "fam")
	s.CreateLink(ctx, l, nil)
	if _, err := s.RevokeLink(ctx, l.ID, now); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RevokeLink(ctx, l.ID, now); !errors.Is(err, linkguard.ErrNotPending) {
		t.Fatalf("second revoke: %v", err)
	}
	if _, err := s.ConsumeLink(ctx, l.ID, now, fingerprint.Verdict{}, &linkguard.Handoff{CodeHash: []byte("r"), ExpiresAt: now.Add(time.Minute)}); !errors.Is(err, linkguard.ErrNotPending) {
		t.Fatalf("consume revoked: %v", err)
	}
	if _, err := s.RevokeLink(ctx, "lnk_00000000000000000000000000", now); !errors.Is(err, linkguard.ErrNotFound) {
		t.Fatalf("revoke unknown: %v", err)
	}
}

// codeAttemptsBounded checks: code attempts are bounded under concurrency.
func codeAttemptsBounded(t *testing.T, open Open) {
	now := start()
	s := open(t)
	l := NewLink(t, now, "fam")
	s.CreateLink(ctx, l, nil)
	var ok, refused atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.UseCodeAttempt(ctx, l.ID, 5, now)
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, linkguard.ErrTooManyAttempts):
				refused.Add(1)
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 5 || refused.Load() != 35 {
		t.Fatalf("attempts allowed = %d, refused = %d; want 5 and 35", ok.Load(), refused.Load())
	}
}

// concurrentConsumesOneWins checks: 200 concurrent consumes: exactly one wins.
func concurrentConsumesOneWins(t *testing.T, open Open) {
	now := start()
	s := open(t)
	l := NewLink(t, now, "fam")
	s.CreateLink(ctx, l, nil)
	var won, lost atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < 200; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			h := &linkguard.Handoff{CodeHash: []byte(fmt.Sprint("c", i)), ExpiresAt: now.Add(time.Minute)}
			_, err := s.ConsumeLink(ctx, l.ID, now, fingerprint.Verdict{}, h)
			switch {
			case err == nil:
				won.Add(1)
			case errors.Is(err, linkguard.ErrNotPending):
				lost.Add(1)
			default:
				t.Error(err)
			}
		}(i)
	}
	close(start)
	wg.Wait()
	if won.Load() != 1 || lost.Load() != 199 {
		t.Fatalf("won = %d, lost = %d; want 1 and 199", won.Load(), lost.Load())
	}
}
