// Package storetest is the conformance suite every linkguard.Store must
// pass: run it from each implementation's tests with a real store.
package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/fingerprint"
)

// Open returns a fresh, empty store; the suite closes it.
type Open func(t *testing.T) linkguard.Store

// NewLink returns a pending link with random hashes, created at now.
func NewLink(t testing.TB, now time.Time, family string) *linkguard.Link {
	t.Helper()
	id, err := linkguard.NewID(rand.Reader, now)
	if err != nil {
		t.Fatal(err)
	}
	rnd := func() []byte { b := make([]byte, 32); rand.Read(b); return b }
	return &linkguard.Link{
		ID: id, Email: "alice@example.com", RedirectURL: "https://app.example.com/cb",
		Family: family, TokenHash: rnd(), CodeHash: rnd(), State: linkguard.Pending,
		CreatedAt: now, ExpiresAt: now.Add(15 * time.Minute),
	}
}

// Run runs the suite.
func Run(t *testing.T, open Open) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)

	t.Run("create and find", func(t *testing.T) {
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
	})

	t.Run("new link revokes the older pending one of its family", func(t *testing.T) {
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
	})

	t.Run("consume once, with handoff", func(t *testing.T) {
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
	})

	t.Run("expired link cannot be consumed; expired handoff cannot be taken", func(t *testing.T) {
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
	})

	t.Run("revoke", func(t *testing.T) {
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
	})

	t.Run("code attempts are bounded under concurrency", func(t *testing.T) {
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
	})

	t.Run("200 concurrent consumes: exactly one wins", func(t *testing.T) {
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
	})

	t.Run("visits are recorded in order and scanned", func(t *testing.T) {
		s := open(t)
		l := NewLink(t, now, "fam")
		s.CreateLink(ctx, l, nil)
		for i := 0; i < 5; i++ {
			v := &linkguard.Visit{LinkID: l.ID, At: now.Add(time.Duration(i) * time.Second), Kind: linkguard.VisitView, Outcome: linkguard.OutcomeNone}
			if err := s.AddVisit(ctx, v); err != nil {
				t.Fatal(err)
			}
		}
		var got []linkguard.Visit
		deadline := time.Now().Add(5 * time.Second)
		for len(got) < 5 && time.Now().Before(deadline) {
			got, _ = s.Visits(ctx, l.ID)
			time.Sleep(5 * time.Millisecond)
		}
		if len(got) != 5 {
			t.Fatalf("visits = %d, want 5", len(got))
		}
		for i := 1; i < len(got); i++ {
			if got[i].At.Before(got[i-1].At) {
				t.Fatalf("visits out of order: %v before %v", got[i-1].At, got[i].At)
			}
		}
		n := 0
		if err := s.ScanVisits(ctx, now.Add(2*time.Second), func(*linkguard.Visit) error { n++; return nil }); err != nil {
			t.Fatal(err)
		}
		if n != 3 {
			t.Fatalf("scan since +2s saw %d visits, want 3", n)
		}
	})

	t.Run("mail queue: claim, lease, retry, sent, failed", func(t *testing.T) {
		s := open(t)
		a := NewLink(t, now, "fa")
		b := NewLink(t, now.Add(time.Millisecond), "fb")
		s.CreateLink(ctx, a, []byte("sealed-a"))
		s.CreateLink(ctx, b, []byte("sealed-b"))
		got, err := s.DueMail(ctx, now.Add(time.Second), time.Minute, 10)
		if err != nil || len(got) != 2 || got[0].LinkID != a.ID || string(got[0].Payload) != "sealed-a" {
			t.Fatalf("first claim: %v %+v", err, got)
		}
		if again, _ := s.DueMail(ctx, now.Add(2*time.Second), time.Minute, 10); len(again) != 0 {
			t.Fatalf("claimed jobs were handed out again within their lease: %+v", again)
		}
		if err := s.MarkMailSent(ctx, a.ID, now.Add(3*time.Second)); err != nil {
			t.Fatal(err)
		}
		if err := s.MarkMailFailed(ctx, b.ID, 1, now.Add(10*time.Second), "connection refused", false); err != nil {
			t.Fatal(err)
		}
		if l, _ := s.LinkByID(ctx, a.ID); l.Delivery == nil || l.Delivery.State != "sent" {
			t.Fatalf("delivery of a = %+v, want sent", l.Delivery)
		}
		if l, _ := s.LinkByID(ctx, b.ID); l.Delivery == nil || l.Delivery.State != "retrying" || l.Delivery.LastError != "connection refused" {
			t.Fatalf("delivery of b = %+v, want retrying", l.Delivery)
		}
		if early, _ := s.DueMail(ctx, now.Add(9*time.Second), time.Minute, 10); len(early) != 0 {
			t.Fatalf("retry handed out before its time: %+v", early)
		}
		late, _ := s.DueMail(ctx, now.Add(11*time.Second), time.Minute, 10)
		if len(late) != 1 || late[0].LinkID != b.ID || late[0].Attempt != 1 {
			t.Fatalf("retry: %+v, want b with attempt 1", late)
		}
		if err := s.MarkMailFailed(ctx, b.ID, 2, time.Time{}, "550 no such user", true); err != nil {
			t.Fatal(err)
		}
		if l, _ := s.LinkByID(ctx, b.ID); l.Delivery.State != "failed" {
			t.Fatalf("delivery of b = %+v, want failed", l.Delivery)
		}
		if after, _ := s.DueMail(ctx, now.Add(time.Hour), time.Minute, 10); len(after) != 0 {
			t.Fatalf("sent or failed jobs came back: %+v", after)
		}
	})

	t.Run("mail queue: concurrent claimers get each job once", func(t *testing.T) {
		s := open(t)
		for i := 0; i < 20; i++ {
			s.CreateLink(ctx, NewLink(t, now, fmt.Sprint("f", i)), []byte("p"))
		}
		var mu sync.Mutex
		seen := map[string]int{}
		var wg sync.WaitGroup
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 5; i++ {
					jobs, err := s.DueMail(ctx, now.Add(time.Second), time.Minute, 3)
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					for _, j := range jobs {
						seen[j.LinkID]++
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if len(seen) != 20 {
			t.Fatalf("claimed %d distinct jobs, want 20", len(seen))
		}
		for id, n := range seen {
			if n != 1 {
				t.Fatalf("job %s claimed %d times", id, n)
			}
		}
	})
}
