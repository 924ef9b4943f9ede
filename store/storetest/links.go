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
	if err := s.CreateLink(ctx, l, nil, nil); err != nil {
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
		if err := s.CreateLink(ctx, l, nil, nil); err != nil {
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
	if err := s.CreateLink(ctx, l, nil, nil); err != nil {
		t.Fatal(err)
	}
	h := &linkguard.Handoff{CodeHash: []byte("h1"), LinkID: l.ID, Email: l.Email, ConsumedAt: now, ExpiresAt: now.Add(time.Minute)}
	v := fingerprint.Verdict{Decision: fingerprint.Consume, Score: 0.9}
	if _, err := s.ConsumeLink(ctx, l.ID, now, v, h, nil); err != nil {
		t.Fatal(err)
	}
	got, err := s.ConsumeLink(ctx, l.ID, now, v, &linkguard.Handoff{CodeHash: []byte("h2"), ExpiresAt: now.Add(time.Minute)}, nil)
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
	if err := s.CreateLink(ctx, l, nil, nil); err != nil {
		t.Fatal(err)
	}
	h := &linkguard.Handoff{CodeHash: []byte("x"), ExpiresAt: now.Add(time.Minute)}
	if _, err := s.ConsumeLink(ctx, l.ID, l.ExpiresAt, fingerprint.Verdict{}, h, nil); !errors.Is(err, linkguard.ErrNotPending) {
		t.Fatalf("consume at expiry: err = %v, want ErrNotPending", err)
	}
	if _, err := s.ConsumeLink(ctx, l.ID, now, fingerprint.Verdict{}, h, nil); err != nil {
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
	s.CreateLink(ctx, l, nil, nil)
	if _, err := s.RevokeLink(ctx, l.ID, now, linkguard.RevokeAPI, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RevokeLink(ctx, l.ID, now, linkguard.RevokeAPI, nil); !errors.Is(err, linkguard.ErrNotPending) {
		t.Fatalf("second revoke: %v", err)
	}
	if _, err := s.ConsumeLink(ctx, l.ID, now, fingerprint.Verdict{}, &linkguard.Handoff{CodeHash: []byte("r"), ExpiresAt: now.Add(time.Minute)}, nil); !errors.Is(err, linkguard.ErrNotPending) {
		t.Fatalf("consume revoked: %v", err)
	}
	if _, err := s.RevokeLink(ctx, "lnk_00000000000000000000000000", now, linkguard.RevokeAPI, nil); !errors.Is(err, linkguard.ErrNotFound) {
		t.Fatalf("revoke unknown: %v", err)
	}
}

// revokeReasons checks: each way a link is revoked records its reason
// (RevokeLink's, CreateLink's replaced, EndCredentials' restore), a
// refused revocation keeps the first one, and a link that is not revoked
// has none; the reason reads back the same by id, by token, with the
// history (LinkHistoryReader), from a link read just before the change
// (a cache must not keep the old one), and after the link's mail is
// canceled (a store that rebuilds the link's record then, as Redis's
// json, must keep it).
func revokeReasons(t *testing.T, open Open) {
	now := start()
	s := open(t)
	api, console := NewLink(t, now, "api"), NewLink(t, now, "console")
	older, newer := NewLink(t, now, "fam"), NewLink(t, now.Add(time.Second), "fam")
	pending, consumed := NewLink(t, now, "pending"), NewLink(t, now, "consumed")
	all := []*linkguard.Link{api, console, older, pending, consumed}
	for _, l := range all {
		if err := s.CreateLink(ctx, l, []byte("sealed "+l.ID), nil); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]linkguard.RevokeReason{api.ID: linkguard.RevokeAPI, console.ID: linkguard.RevokeConsole,
		older.ID: linkguard.RevokeReplaced, pending.ID: linkguard.RevokeRestore, consumed.ID: ""}
	check := func(step string, ls ...*linkguard.Link) {
		t.Helper()
		for _, l := range ls {
			byID, err := s.LinkByID(ctx, l.ID)
			if err != nil {
				t.Fatalf("%s: %v", step, err)
			}
			byToken, err := s.LinkByTokenHash(ctx, l.TokenHash)
			if err != nil {
				t.Fatalf("%s: %v", step, err)
			}
			got := []*linkguard.Link{byID, byToken}
			if hr, ok := s.(linkguard.LinkHistoryReader); ok {
				withHistory, _, err := hr.LinkAndHistoryByTokenHash(ctx, l.TokenHash)
				if err != nil {
					t.Fatalf("%s: %v", step, err)
				}
				got = append(got, withHistory)
			}
			for i, g := range got {
				if g.RevokeReason != want[l.ID] || (want[l.ID] != "") != (g.State == linkguard.Revoked) {
					t.Fatalf("%s: link %s read %d of 3: %s, reason %q; want reason %q", step, l.ID, i+1, g.State, g.RevokeReason, want[l.ID])
				}
			}
		}
	}
	for _, l := range all { // every link read (and cached) while pending
		if got, err := s.LinkByID(ctx, l.ID); err != nil || got.RevokeReason != "" {
			t.Fatalf("pending link %s: reason %q, %v", l.ID, got.RevokeReason, err)
		}
		s.LinkByTokenHash(ctx, l.TokenHash)
	}

	for _, c := range []struct {
		l   *linkguard.Link
		why linkguard.RevokeReason
	}{{api, linkguard.RevokeAPI}, {console, linkguard.RevokeConsole}} {
		got, err := s.RevokeLink(ctx, c.l.ID, now, c.why, nil)
		if err != nil || got.State != linkguard.Revoked || got.RevokeReason != c.why {
			t.Fatalf("RevokeLink for %s: %+v, %v", c.why, got, err)
		}
	}
	if err := s.CreateLink(ctx, newer, nil, nil); err != nil {
		t.Fatal(err)
	}
	want[newer.ID] = linkguard.RevokeRestore
	h := &linkguard.Handoff{CodeHash: []byte("reasons-h"), LinkID: consumed.ID, ExpiresAt: now.Add(time.Minute)}
	if _, err := s.ConsumeLink(ctx, consumed.ID, now, fingerprint.Verdict{Decision: fingerprint.Consume}, h, nil); err != nil {
		t.Fatal(err)
	}
	got, err := s.RevokeLink(ctx, api.ID, now.Add(time.Second), linkguard.RevokeConsole, nil)
	if !errors.Is(err, linkguard.ErrNotPending) || got.RevokeReason != linkguard.RevokeAPI || !got.RevokedAt.Equal(now) {
		t.Fatalf("revoked again, for another reason: %+v, %v; want ErrNotPending and the first reason and time", got, err)
	}
	if got, err := s.RevokeLink(ctx, consumed.ID, now, linkguard.RevokeAPI, nil); !errors.Is(err, linkguard.ErrNotPending) || got.RevokeReason != "" {
		t.Fatalf("a consumed link revoked: %+v, %v; want ErrNotPending and no reason", got, err)
	}
	want[pending.ID] = ""
	check("revoked", api, console, older, pending, consumed)

	if n, err := s.EndCredentials(ctx, now.Add(2*time.Second)); err != nil || n.Links != 2 {
		t.Fatalf("EndCredentials: %+v, %v; want 2 links ended", n, err)
	}
	want[pending.ID] = linkguard.RevokeRestore
	all = append(all, newer)
	check("after EndCredentials", all...)

	// The mails of the links revoked before they went out: canceled.
	jobs, err := s.DueMail(ctx, now.Add(time.Minute), time.Minute, 10)
	if err != nil || len(jobs) != len(all)-1 {
		t.Fatalf("claim: %d jobs, %v; want %d", len(jobs), err, len(all)-1)
	}
	for _, j := range jobs {
		if err := s.MarkMailCanceled(ctx, j.LinkID, 0, "the link was "+want[j.LinkID].Words()); err != nil {
			t.Fatal(err)
		}
	}
	check("after the mails were canceled", all...)
}

// codeAttemptsBounded checks: 200 parallel wrong codes count exactly max
// attempts; every later try is refused, even the right code.
func codeAttemptsBounded(t *testing.T, open Open) {
	now := start()
	s := open(t)
	l := NewLink(t, now, "fam")
	s.CreateLink(ctx, l, nil, nil)
	var wrong, refused atomic.Int32
	var wg sync.WaitGroup
	begin := make(chan struct{})
	for i := 0; i < 200; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-begin
			h := &linkguard.Handoff{CodeHash: []byte(fmt.Sprint("w", i)), LinkID: l.ID, ExpiresAt: now.Add(time.Minute)}
			got, err := s.ConsumeWithCode(ctx, l.ID, []byte("not the code"), 5, now, fingerprint.Verdict{}, h, nil)
			switch {
			case errors.Is(err, linkguard.ErrWrongCode):
				if got == nil || got.CodeAttempts < 1 || got.CodeAttempts > 5 {
					t.Errorf("wrong code: returned link %+v, want its attempts counted (1..5)", got)
				}
				wrong.Add(1)
			case errors.Is(err, linkguard.ErrTooManyAttempts):
				refused.Add(1)
			default:
				t.Error(err)
			}
		}(i)
	}
	close(begin)
	wg.Wait()
	if wrong.Load() != 5 || refused.Load() != 195 {
		t.Fatalf("wrong codes compared = %d, refused = %d; want 5 and 195", wrong.Load(), refused.Load())
	}
	h := &linkguard.Handoff{CodeHash: []byte("right"), LinkID: l.ID, ExpiresAt: now.Add(time.Minute)}
	if _, err := s.ConsumeWithCode(ctx, l.ID, l.CodeHash, 5, now, fingerprint.Verdict{}, h, nil); !errors.Is(err, linkguard.ErrTooManyAttempts) {
		t.Fatalf("right code after the limit: err = %v, want ErrTooManyAttempts", err)
	}
	if got, _ := s.LinkByID(ctx, l.ID); got.State != linkguard.Pending || got.CodeAttempts != 5 {
		t.Fatalf("after the limit: state %s, attempts %d; want pending and 5", got.State, got.CodeAttempts)
	}
	if _, err := s.TakeHandoff(ctx, []byte("right"), now); !errors.Is(err, linkguard.ErrNotFound) {
		t.Fatalf("a refused code left a handoff: %v", err)
	}
}

// codeConsumesOnce checks: a wrong code counts and changes nothing else;
// the right code consumes with its handoff in the same step; a code on a
// consumed, revoked or unknown link is refused without counting.
func codeConsumesOnce(t *testing.T, open Open) {
	now := start()
	s := open(t)
	l := NewLink(t, now, "fam")
	s.CreateLink(ctx, l, nil, nil)
	hand := func(c string) *linkguard.Handoff {
		return &linkguard.Handoff{CodeHash: []byte(c), LinkID: l.ID, ExpiresAt: now.Add(time.Minute)}
	}
	got, err := s.ConsumeWithCode(ctx, l.ID, []byte("wrong"), 5, now, fingerprint.Verdict{}, hand("h0"), nil)
	if !errors.Is(err, linkguard.ErrWrongCode) || got.CodeAttempts != 1 || got.State != linkguard.Pending {
		t.Fatalf("wrong code: err = %v, link = %+v; want ErrWrongCode, 1 attempt, pending", err, got)
	}
	if stored, _ := s.LinkByID(ctx, l.ID); stored.CodeAttempts != 1 {
		t.Fatalf("a wrong code's attempt was not stored: %d", stored.CodeAttempts)
	}
	if _, err := s.TakeHandoff(ctx, []byte("h0"), now); !errors.Is(err, linkguard.ErrNotFound) {
		t.Fatalf("a wrong code left a handoff: %v", err)
	}
	v := fingerprint.Verdict{Decision: fingerprint.Consume, Score: 0.7}
	got, err = s.ConsumeWithCode(ctx, l.ID, l.CodeHash, 5, now, v, hand("h1"), nil)
	if err != nil || got.State != linkguard.Consumed || got.CodeAttempts != 2 || got.Verdict == nil || got.Verdict.Score != 0.7 {
		t.Fatalf("right code: err = %v, link = %+v; want consumed with 2 attempts and the verdict", err, got)
	}
	if hh, err := s.TakeHandoff(ctx, []byte("h1"), now); err != nil || hh.LinkID != l.ID {
		t.Fatalf("right code's handoff: %v %+v", err, hh)
	}
	got, err = s.ConsumeWithCode(ctx, l.ID, l.CodeHash, 5, now, v, hand("h2"), nil)
	if !errors.Is(err, linkguard.ErrNotPending) || got == nil || got.State != linkguard.Consumed || got.CodeAttempts != 2 {
		t.Fatalf("code on a consumed link: err = %v, link = %+v; want ErrNotPending, not counted", err, got)
	}
	if _, err := s.ConsumeWithCode(ctx, "lnk_00000000000000000000000000", l.CodeHash, 5, now, v, hand("h3"), nil); !errors.Is(err, linkguard.ErrNotFound) {
		t.Fatalf("code on an unknown link: %v", err)
	}
	exp := NewLink(t, now, "fam2")
	s.CreateLink(ctx, exp, nil, nil)
	if _, err := s.ConsumeWithCode(ctx, exp.ID, exp.CodeHash, 5, exp.ExpiresAt, v, hand("h4"), nil); !errors.Is(err, linkguard.ErrNotPending) {
		t.Fatalf("right code at expiry: %v, want ErrNotPending", err)
	}
}

// parallelCodeAndClick checks: the right code and a click consuming at
// once spend the link once, with one handoff.
func parallelCodeAndClick(t *testing.T, open Open) {
	now := start()
	s := open(t)
	for round := 0; round < 20; round++ {
		l := NewLink(t, now, fmt.Sprint("fam", round))
		s.CreateLink(ctx, l, nil, nil)
		var won atomic.Int32
		var wg sync.WaitGroup
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				h := &linkguard.Handoff{CodeHash: []byte(fmt.Sprint(l.ID, i)), LinkID: l.ID, ExpiresAt: now.Add(time.Minute)}
				var err error
				if i%2 == 0 {
					_, err = s.ConsumeWithCode(ctx, l.ID, l.CodeHash, 5, now, fingerprint.Verdict{}, h, nil)
				} else {
					_, err = s.ConsumeLink(ctx, l.ID, now, fingerprint.Verdict{}, h, nil)
				}
				switch {
				case err == nil:
					won.Add(1)
				case errors.Is(err, linkguard.ErrNotPending):
				default:
					t.Error(err)
				}
			}(i)
		}
		wg.Wait()
		if won.Load() != 1 {
			t.Fatalf("round %d: %d consumptions, want 1", round, won.Load())
		}
	}
}

// concurrentConsumesOneWins checks: 200 concurrent consumes: exactly one wins.
func concurrentConsumesOneWins(t *testing.T, open Open) {
	now := start()
	s := open(t)
	l := NewLink(t, now, "fam")
	s.CreateLink(ctx, l, nil, nil)
	var won, lost atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < 200; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			h := &linkguard.Handoff{CodeHash: []byte(fmt.Sprint("c", i)), ExpiresAt: now.Add(time.Minute)}
			_, err := s.ConsumeLink(ctx, l.ID, now, fingerprint.Verdict{}, h, nil)
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

// familyStorm checks: 16 parallel issues for one family, while mail jobs
// are claimed and retried, all succeed (contention is never an error),
// and the family ends with exactly one pending link, the one its index
// names.
func familyStorm(t *testing.T, open Open) {
	now := start()
	s := open(t)
	const workers, each = 16, 8
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var mailer sync.WaitGroup
	for m := 0; m < 2; m++ { // the deliverer, failing every job once, then sending
		mailer.Add(1)
		go func() {
			defer mailer.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				jobs, err := s.DueMail(ctx, now.Add(time.Hour), time.Second, 4)
				if err != nil {
					t.Error("claim:", err)
					return
				}
				for _, j := range jobs {
					if j.Attempt == 0 {
						err = s.MarkMailFailed(ctx, j.LinkID, 1, now, "421 try later", false, nil)
					} else {
						err = s.MarkMailSent(ctx, j.LinkID, now)
					}
					if err != nil {
						t.Error("finish:", err)
					}
				}
			}
		}()
	}
	ids := make(chan string, workers*each)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				l := NewLink(t, now, "storm")
				if err := s.CreateLink(ctx, l, []byte("sealed"), nil); err != nil {
					t.Errorf("issue under contention: %v", err)
					return
				}
				ids <- l.ID
			}
		}()
	}
	wg.Wait()
	close(stop)
	mailer.Wait()
	close(ids)
	pending := 0
	for id := range ids {
		l, err := s.LinkByID(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if l.State == linkguard.Pending {
			pending++
		}
	}
	if pending != 1 {
		t.Fatalf("%d links of one family are pending after the storm, want 1", pending)
	}
}
