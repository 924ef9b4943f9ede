package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/fingerprint"
)

// endCredentials: EndCredentials revokes the pending links (also one a
// reader has just read, so a cache cannot keep it pending), deletes the
// handoffs and the OpenID Provider's entries, keeps consumed, revoked and
// expired links and other KV entries, queues no webhook job, and a second
// call finds nothing left to end.
func endCredentials(t *testing.T, open Open) {
	now := start()
	s := open(t)
	kv, ok := s.(linkguard.KV)
	if !ok {
		t.Fatalf("%T is not a linkguard.KV", s)
	}
	pending, consumed, revoked, expired := NewLink(t, now, "p"), NewLink(t, now, "c"), NewLink(t, now, "r"), NewLink(t, now.Add(-time.Hour), "e")
	for _, l := range []*linkguard.Link{pending, consumed, revoked, expired} {
		if err := s.CreateLink(ctx, l, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	h := &linkguard.Handoff{CodeHash: []byte("end-h1"), LinkID: consumed.ID, Email: consumed.Email, ConsumedAt: now, ExpiresAt: now.Add(time.Minute)}
	if _, err := s.ConsumeLink(ctx, consumed.ID, now, fingerprint.Verdict{Decision: fingerprint.Consume}, h, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RevokeLink(ctx, revoked.ID, now, linkguard.RevokeAPI, nil); err != nil {
		t.Fatal(err)
	}
	for ns, key := range map[string]string{linkguard.KVOIDCRefresh: "rt1", linkguard.KVOIDCCode: "code1", "login_last": "keep"} {
		if err := kv.PutKV(ctx, ns, key, []byte("v"), time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	// Read the pending link both ways first: a store that caches it must
	// not serve it pending afterwards.
	if l, err := s.LinkByID(ctx, pending.ID); err != nil || l.State != linkguard.Pending {
		t.Fatalf("pending link before: %+v, %v", l, err)
	}
	if _, err := s.LinkByTokenHash(ctx, pending.TokenHash); err != nil {
		t.Fatal(err)
	}
	queued(t, s, now) // claims the jobs of the changes above, if any

	at := now.Add(time.Second)
	got, err := s.EndCredentials(ctx, at)
	if err != nil {
		t.Fatal(err)
	}
	if want := (linkguard.Ended{Links: 1, Handoffs: 1, OIDC: 2}); got != want {
		t.Fatalf("ended %+v, want %+v", got, want)
	}
	for _, c := range []struct {
		l     *linkguard.Link
		state linkguard.State
	}{{pending, linkguard.Revoked}, {consumed, linkguard.Consumed}, {revoked, linkguard.Revoked}, {expired, linkguard.Expired}} {
		l, err := s.LinkByID(ctx, c.l.ID)
		if err != nil || l.StateAt(at) != c.state {
			t.Fatalf("link %s after: %+v, %v; want %s", c.l.ID, l, err, c.state)
		}
	}
	if l, err := s.LinkByTokenHash(ctx, pending.TokenHash); err != nil || l.State != linkguard.Revoked || !l.RevokedAt.Equal(at) {
		t.Fatalf("pending link by token after: %+v, %v; want revoked at %s", l, err, at)
	}
	if l, _ := s.LinkByID(ctx, revoked.ID); !l.RevokedAt.Equal(now) {
		t.Fatalf("a revoked link keeps its revocation time: %s, want %s", l.RevokedAt, now)
	}
	if _, err := s.ConsumeLink(ctx, pending.ID, at, fingerprint.Verdict{Decision: fingerprint.Consume},
		&linkguard.Handoff{CodeHash: []byte("end-h2"), ExpiresAt: at.Add(time.Minute)}, nil); !errors.Is(err, linkguard.ErrNotPending) {
		t.Fatalf("consume a revoked link: %v, want ErrNotPending", err)
	}
	if _, err := s.TakeHandoff(ctx, h.CodeHash, at); !errors.Is(err, linkguard.ErrNotFound) {
		t.Fatalf("take an ended handoff: %v, want ErrNotFound", err)
	}
	for ns, key := range map[string]string{linkguard.KVOIDCRefresh: "rt1", linkguard.KVOIDCCode: "code1"} {
		if _, err := kv.GetKV(ctx, ns, key); !errors.Is(err, linkguard.ErrNotFound) {
			t.Fatalf("%s entry after: %v, want ErrNotFound", ns, err)
		}
	}
	if v, err := kv.GetKV(ctx, "login_last", "keep"); err != nil || string(v) != "v" {
		t.Fatalf("login_last entry after: %q, %v; want it kept", v, err)
	}
	if q := queued(t, s, at); len(q) > 0 {
		t.Fatalf("ending credentials queued webhook jobs: %v", q)
	}
	if again, err := s.EndCredentials(ctx, at); err != nil || again != (linkguard.Ended{}) {
		t.Fatalf("second call ended %+v, %v; want nothing", again, err)
	}
}
