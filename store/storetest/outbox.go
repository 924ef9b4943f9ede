package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/fingerprint"
)

// outboxOf is an outbox of one job per name, each its own message.
func outboxOf(t *testing.T, now time.Time, names ...string) []linkguard.WebhookJob {
	var jobs []linkguard.WebhookJob
	for _, n := range names {
		j := newJob(t, now, "ep")
		j.LinkID = n // the job's name, for the checks below
		jobs = append(jobs, j)
	}
	return jobs
}

// queued claims every due job and returns their LinkID names, sorted.
func queued(t *testing.T, s linkguard.Store, now time.Time) []string {
	t.Helper()
	due, err := s.DueWebhooks(ctx, now.Add(time.Hour), time.Minute, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, j := range due {
		names = append(names, j.LinkID)
	}
	slices.Sort(names)
	return names
}

// outboxWithChanges: every state change queues its outbox's jobs in its
// own transaction exactly when it is made: a refused change (not pending,
// too many attempts, unknown link) queues nothing, a wrong code queues
// Locked only when it uses the last try, a retried mail queues nothing
// and a given-up one queues its jobs, and a visit's jobs come with the
// visit.
func outboxWithChanges(t *testing.T, open Open) {
	s := open(t)
	now := start()
	h := func(c string) *linkguard.Handoff {
		return &linkguard.Handoff{CodeHash: []byte(c), ExpiresAt: now.Add(time.Minute)}
	}
	v := fingerprint.Verdict{Decision: fingerprint.Consume, Score: 0.9}
	want := func(step string, names ...string) {
		t.Helper()
		if got := queued(t, s, now); !slices.Equal(got, names) {
			t.Fatalf("%s: queued %v, want %v", step, got, names)
		}
	}

	a := NewLink(t, now, "fa")
	if err := s.CreateLink(ctx, a, []byte("sealed"), &linkguard.Outbox{Jobs: outboxOf(t, now, "issued-a", "timer-a")}); err != nil {
		t.Fatal(err)
	}
	want("CreateLink", "issued-a", "timer-a")

	if _, err := s.ConsumeLink(ctx, a.ID, now, v, h("h1"), &linkguard.Outbox{Jobs: outboxOf(t, now, "consumed-a")}); err != nil {
		t.Fatal(err)
	}
	_, err := s.ConsumeLink(ctx, a.ID, now, v, h("h2"), &linkguard.Outbox{Jobs: outboxOf(t, now, "consumed-again")})
	if !errors.Is(err, linkguard.ErrNotPending) {
		t.Fatalf("second consume: %v", err)
	}
	_, err = s.RevokeLink(ctx, a.ID, now, linkguard.RevokeAPI, &linkguard.Outbox{Jobs: outboxOf(t, now, "revoked-consumed")})
	if !errors.Is(err, linkguard.ErrNotPending) {
		t.Fatalf("revoke of a consumed link: %v", err)
	}
	want("ConsumeLink once, then refused changes", "consumed-a")

	b := NewLink(t, now, "fb")
	if err := s.CreateLink(ctx, b, nil, nil); err != nil {
		t.Fatal(err)
	}
	code := func(hash []byte, hc string) error {
		_, err := s.ConsumeWithCode(ctx, b.ID, hash, 3, now, v, h(hc),
			&linkguard.Outbox{Jobs: outboxOf(t, now, "consumed-b-"+hc), Locked: outboxOf(t, now, "locked-b-"+hc)})
		return err
	}
	for i, hc := range []string{"c1", "c2"} {
		if err := code([]byte("wrong"), hc); !errors.Is(err, linkguard.ErrWrongCode) {
			t.Fatalf("wrong code %d: %v", i+1, err)
		}
	}
	want("two wrong codes of three tries")
	if err := code([]byte("wrong"), "c3"); !errors.Is(err, linkguard.ErrWrongCode) {
		t.Fatalf("third wrong code: %v", err)
	}
	want("the last try, wrong", "locked-b-c3")
	if err := code(b.CodeHash, "c4"); !errors.Is(err, linkguard.ErrTooManyAttempts) {
		t.Fatalf("right code after the last try: %v", err)
	}
	want("a try past the limit")

	c := NewLink(t, now, "fc")
	if err := s.CreateLink(ctx, c, []byte("sealed"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ConsumeWithCode(ctx, c.ID, c.CodeHash, 3, now, v, h("c5"),
		&linkguard.Outbox{Jobs: outboxOf(t, now, "consumed-c"), Locked: outboxOf(t, now, "locked-c")}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ConsumeWithCode(ctx, "lnk_00000000000000000000000000", c.CodeHash, 3, now, v, h("c6"),
		&linkguard.Outbox{Jobs: outboxOf(t, now, "consumed-unknown")}); !errors.Is(err, linkguard.ErrNotFound) {
		t.Fatalf("code on an unknown link: %v", err)
	}
	want("right code", "consumed-c")

	if err := s.MarkMailFailed(ctx, c.ID, 1, now.Add(time.Second), "451 try later", false,
		&linkguard.Outbox{Jobs: outboxOf(t, now, "mail-retry")}); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkMailFailed(ctx, c.ID, 2, time.Time{}, "550 no such user", true,
		&linkguard.Outbox{Jobs: outboxOf(t, now, "mail-failed")}); err != nil {
		t.Fatal(err)
	}
	want("mail retried, then given up", "mail-failed")

	d := NewLink(t, now, "fd")
	if err := s.CreateLink(ctx, d, nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RevokeLink(ctx, d.ID, now, linkguard.RevokeAPI, &linkguard.Outbox{Jobs: outboxOf(t, now, "revoked-d")}); err != nil {
		t.Fatal(err)
	}
	want("RevokeLink", "revoked-d")

	vis := &linkguard.Visit{LinkID: d.ID, At: now, Kind: linkguard.VisitConfirm, Outcome: linkguard.VisitOutcomeCode,
		Outbox: &linkguard.Outbox{Jobs: outboxOf(t, now, "scanner-d")}}
	if err := s.AddVisit(ctx, vis); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	var got []string
	for time.Now().Before(deadline) {
		got = append(got, queued(t, s, now)...)
		if len(got) > 0 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if !slices.Equal(got, []string{"scanner-d"}) {
		t.Fatalf("a visit's outbox: queued %v, want [scanner-d]", got)
	}
	if vs, _ := s.Visits(ctx, d.ID); len(vs) != 1 {
		t.Fatalf("the visit with the outbox: %d visits stored, want 1", len(vs))
	}
}

// outboxBound: a full queue drops a change's jobs, says how many, and the
// change is still made; a job queued twice under one id is kept once.
func outboxBound(t *testing.T, open Open) {
	s := open(t)
	now := start()
	if err := s.EnqueueWebhooks(ctx, outboxOf(t, now, "one", "two"), 0); err != nil {
		t.Fatal(err)
	}
	l := NewLink(t, now, "fam")
	out := &linkguard.Outbox{Jobs: outboxOf(t, now, "issued"), Max: 2}
	if err := s.CreateLink(ctx, l, nil, out); err != nil {
		t.Fatal(err)
	}
	if out.Dropped != 1 {
		t.Fatalf("Dropped = %d on a full queue, want 1", out.Dropped)
	}
	if _, err := s.LinkByID(ctx, l.ID); err != nil {
		t.Fatalf("a full queue stopped the change: %v", err)
	}
	out = &linkguard.Outbox{Jobs: outboxOf(t, now, "consumed"), Max: 3}
	if _, err := s.ConsumeLink(ctx, l.ID, now, fingerprint.Verdict{}, &linkguard.Handoff{CodeHash: []byte("h"), ExpiresAt: now.Add(time.Minute)}, out); err != nil {
		t.Fatal(err)
	}
	if out.Dropped != 0 {
		t.Fatalf("Dropped = %d under the bound, want 0", out.Dropped)
	}
	if got := queued(t, s, now); !slices.Equal(got, []string{"consumed", "one", "two"}) {
		t.Fatalf("queued %v", got)
	}

	// Queued again under the same id (a timer run twice): kept once, and
	// a delivered job is not made pending again.
	again := outboxOf(t, now, "again")
	if err := s.EnqueueWebhooks(ctx, again, 0); err != nil {
		t.Fatal(err)
	}
	due, err := s.DueWebhooks(ctx, now.Add(time.Hour), time.Minute, 10)
	if err != nil || len(due) != 1 {
		t.Fatalf("due %+v, %v", due, err)
	}
	due[0].State, due[0].DoneAt = linkguard.WebhookDelivered, now
	if err := s.UpdateWebhook(ctx, &due[0], time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := s.EnqueueWebhooks(ctx, again, 0); err != nil {
		t.Fatal(err)
	}
	// (The three claimed above are due again after their lease: not "again".)
	if got := queued(t, s, now.Add(2*time.Hour)); slices.Contains(got, "again") {
		t.Fatalf("a delivered job queued again under its id is pending again: %v", got)
	}
}
