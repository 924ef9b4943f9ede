package redis

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/fingerprint"
	"github.com/linkguard/linkguard/store/internal/visitq"
	"github.com/linkguard/linkguard/store/internal/visitrec"
	"github.com/linkguard/linkguard/store/storetest"
)

// TestVisitChunk: one batch of the visit writer, two links' views and
// decisions interleaved and a visit with webhook jobs in the middle, is
// recorded as one call per chunk, grouped by link: every visit in its
// ring, each link's history in the order the visits came, the jobs of
// the one visit that had some queued.
func TestVisitChunk(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, "")
	now := time.Now().UTC().Truncate(time.Millisecond)
	a, b := storetest.NewLink(t, now, "a"), storetest.NewLink(t, now, "b")
	s.CreateLink(ctx, a, nil, nil)
	s.CreateLink(ctx, b, nil, nil)
	var batch []*linkguard.Visit
	for i := range 150 { // three chunks
		l, kind := a, linkguard.VisitView
		if i%3 == 1 {
			l = b
		}
		if i%5 == 0 {
			kind = linkguard.VisitVerify
		}
		v := &linkguard.Visit{ID: fmt.Sprintf("v%03d", i), LinkID: l.ID, At: now.Add(time.Duration(i) * time.Millisecond),
			Kind: kind, UserAgent: fmt.Sprint("ua", i)}
		if i == 70 {
			j := linkguard.WebhookJob{ID: "job70", Endpoint: "https://hooks.example.com/", LinkID: l.ID,
				CreatedAt: now, NextAt: now, Body: []byte(`{}`)}
			v.Outbox = &linkguard.Outbox{Jobs: []linkguard.WebhookJob{j}}
		}
		batch = append(batch, v)
	}
	if err := s.writeVisits(batch); err != nil {
		t.Fatal(err)
	}
	for _, l := range []*linkguard.Link{a, b} {
		h, err := s.History(ctx, l.ID)
		if err != nil {
			t.Fatal(err)
		}
		var want []time.Time
		for _, v := range batch {
			if v.LinkID == l.ID {
				want = append(want, v.At)
			}
		}
		want = want[len(want)-linkguard.HistoryLen:]
		if len(h) != len(want) {
			t.Fatalf("%s: %d history entries, want %d", l.Family, len(h), len(want))
		}
		for i := range h {
			if !h[i].At.Equal(want[i]) {
				t.Fatalf("%s: history[%d] at %v, want %v", l.Family, i, h[i].At, want[i])
			}
		}
		vs, _ := s.Visits(ctx, l.ID)
		if len(vs) == 0 || !vs[len(vs)-1].At.Equal(want[len(want)-1]) {
			t.Fatalf("%s: %d visits, the newest not the batch's last", l.Family, len(vs))
		}
		for _, k := range []string{s.visitKey(l.ID), s.decidedKey(l.ID), s.historyKey(l.ID)} {
			if ttl, _ := s.rdb.PTTL(ctx, k).Result(); ttl <= 0 {
				t.Fatalf("%s has no expiry (%v)", k, ttl)
			}
		}
	}
	due, err := s.DueWebhooks(ctx, now.Add(time.Hour), time.Minute, 10)
	if err != nil || len(due) != 1 || due[0].ID != "job70" {
		t.Fatalf("queued jobs: %+v, %v; want job70 alone", due, err)
	}
}

// TestConsumptionRecordLeavesItsVerdict: the record of the decision that
// consumed a link is stored in its ring without the verdict that the
// link's verdict field holds (visitrec), and reads back with it, with no
// wait for the visit writer.
func TestConsumptionRecordLeavesItsVerdict(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, "")
	now := time.Now().UTC().Truncate(time.Millisecond)
	l := storetest.NewLink(t, now, "verdict-once")
	if err := s.CreateLink(ctx, l, nil, nil); err != nil {
		t.Fatal(err)
	}
	v := fingerprint.Verdict{Decision: fingerprint.Consume, Score: 0.9, Config: "cfg",
		Signals: []fingerprint.Contribution{{Signal: "code", Value: 1, Weight: 1, Reason: "the code from the email was typed"}}}
	h := &linkguard.Handoff{CodeHash: []byte("vo"), LinkID: l.ID, ConsumedAt: now, ExpiresAt: now.Add(time.Minute)}
	rec := &linkguard.Visit{LinkID: l.ID, At: now, Kind: linkguard.VisitConfirm, Outcome: linkguard.VisitOutcomeConsumed}
	if _, err := s.ConsumeLink(ctx, l.ID, now, v, h, &linkguard.Outbox{Record: rec}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Visits(ctx, l.ID)
	if err != nil || len(got) != 1 {
		t.Fatalf("visits when ConsumeLink returned: %+v, %v; want the record", got, err)
	}
	if got[0].Verdict == nil || !reflect.DeepEqual(*got[0].Verdict, v) {
		t.Errorf("read back verdict %+v, want %+v", got[0].Verdict, v)
	}
	members, err := s.rdb.ZRange(ctx, s.decidedKey(l.ID), 0, -1).Result()
	if err != nil || len(members) != 1 {
		t.Fatalf("decision ring: %q, %v", members, err)
	}
	if m := members[0]; !strings.Contains(m, `"verdict_of_link":true`) || strings.Contains(m, "signals") {
		t.Errorf("stored record %s: want it marked, without the verdict", m)
	}
}

func sorted(s []string) []string { return slices.Sorted(slices.Values(s)) }

// spyVisits replaces s's visit writer with one that writes nothing and
// keeps what it is given; the function it returns flushes it and returns
// those visits.
func spyVisits(s *Store) func() []*linkguard.Visit {
	var mu sync.Mutex
	var got []*linkguard.Visit
	s.visits.Close()
	s.visits = visitq.New(16, func(b []*linkguard.Visit) error {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, b...)
		return nil
	}, quietLog)
	return func() []*linkguard.Visit {
		s.visits.Close()
		mu.Lock()
		defer mu.Unlock()
		return got
	}
}

// TestConsumptionWritesItsRecord: the decision's visit of a consumption
// (Outbox.Record) is written by the consumption's own script, in the
// consumption's atomic step: it is in the decisions ring, with the bytes,
// score and expiry the visit writer gave it, when ConsumeLink or
// ConsumeWithCode returns, and nothing goes to the visit writer. It
// leaves the history summary alone and queues no event of its own (the
// consumption's are out's Jobs). A
// refused consumption, a wrong code and a code with no try left write
// none.
func TestConsumptionWritesItsRecord(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, "")
	queued := spyVisits(s)
	now := time.Now().UTC().Truncate(time.Millisecond)
	v := fingerprint.Verdict{Decision: fingerprint.Consume, Score: 0.9, Config: "cfg-rec",
		Signals: []fingerprint.Contribution{{Signal: "code", Value: 1, Weight: 1, Reason: "the code from the email was typed"}}}
	job := func(l *linkguard.Link, name string) linkguard.WebhookJob {
		return linkguard.WebhookJob{ID: name + "-" + l.ID, Endpoint: "https://hooks.example.com/", Type: linkguard.EventLinkConsumed,
			LinkID: l.ID, CreatedAt: now, NextAt: now, Body: []byte(`{}`)}
	}
	// The Record carries an Outbox of its own, which no caller gives it
	// (recordArgs): it is not queued, as store/badger does not.
	out := func(l *linkguard.Link, name string) *linkguard.Outbox {
		return &linkguard.Outbox{Jobs: []linkguard.WebhookJob{job(l, name)},
			Record: &linkguard.Visit{ID: name, LinkID: l.ID, At: now, Kind: linkguard.VisitConfirm,
				Outcome: linkguard.VisitOutcomeConsumed, UserAgent: "Mozilla/5.0", Input: &fingerprint.Input{Now: now},
				Outbox: &linkguard.Outbox{Jobs: []linkguard.WebhookJob{job(l, "record-"+name)}}}}
	}
	h := func(name string) *linkguard.Handoff {
		return &linkguard.Handoff{CodeHash: []byte(name), ConsumedAt: now, ExpiresAt: now.Add(time.Minute), Verdict: v}
	}
	issue := func(name string) *linkguard.Link {
		l := storetest.NewLink(t, now, name)
		if err := s.CreateLink(ctx, l, nil, nil); err != nil {
			t.Fatal(err)
		}
		return l
	}
	ring := func(l *linkguard.Link) []goredis.Z {
		t.Helper()
		z, err := s.rdb.ZRangeWithScores(ctx, s.decidedKey(l.ID), 0, -1).Result()
		if err != nil {
			t.Fatal(err)
		}
		return z
	}
	// written checks that l's ring holds o's Record alone, exactly as the
	// visit writer wrote it, and that the consumption left the summary
	// alone and queued its own job only.
	written := func(name string, l *linkguard.Link, o *linkguard.Outbox) {
		t.Helper()
		want := *o.Record
		want.Verdict = &v
		b, err := visitrec.Encode(&want)
		if err != nil {
			t.Fatal(err)
		}
		z := ring(l)
		if len(z) != 1 {
			t.Fatalf("%s: %d records in the decisions ring when the call returned, want 1", name, len(z))
		}
		if z[0].Member != string(b) || z[0].Score != float64(now.UnixMilli()) {
			t.Errorf("%s: stored %v %s, want %d %s", name, z[0].Score, z[0].Member, now.UnixMilli(), b)
		}
		ttl, _ := s.rdb.PTTL(ctx, s.decidedKey(l.ID)).Result()
		lttl, _ := s.rdb.PTTL(ctx, s.linkKey(l.ID)).Result()
		if ttl <= 0 || (ttl-lttl).Abs() > time.Second {
			t.Errorf("%s: the ring expires in %v, the link in %v: want the link's", name, ttl, lttl)
		}
		if n, _ := s.rdb.Exists(ctx, s.historyKey(l.ID)).Result(); n != 0 {
			t.Errorf("%s: the consumption wrote the history summary", name)
		}
		ids, _ := s.rdb.ZRange(ctx, s.prefix+keyWebhookDue, 0, -1).Result()
		if !slices.Contains(ids, o.Jobs[0].ID) {
			t.Errorf("%s: the consumption's job is not queued (%q)", name, ids)
		}
	}
	none := func(name string, l *linkguard.Link) {
		t.Helper()
		if z := ring(l); len(z) != 0 {
			t.Errorf("%s: records %v, want none", name, z)
		}
	}

	click := issue("rec-click")
	o := out(click, "click")
	if _, err := s.ConsumeLink(ctx, click.ID, now, v, h("click"), o); err != nil {
		t.Fatal(err)
	}
	written("ConsumeLink", click, o)
	if _, err := s.ConsumeLink(ctx, click.ID, now, v, h("click-again"), out(click, "click-again")); !errors.Is(err, linkguard.ErrNotPending) {
		t.Fatalf("second ConsumeLink: %v, want ErrNotPending", err)
	}
	if z := ring(click); len(z) != 1 || !strings.Contains(fmt.Sprint(z[0].Member), `"id":"click"`) {
		t.Errorf("after a refused second consumption: %v, want the first record alone", z)
	}

	revoked := issue("rec-revoked")
	if _, err := s.RevokeLink(ctx, revoked.ID, now, linkguard.RevokeAPI, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ConsumeLink(ctx, revoked.ID, now, v, h("revoked"), out(revoked, "revoked")); !errors.Is(err, linkguard.ErrNotPending) {
		t.Fatalf("ConsumeLink of a revoked link: %v, want ErrNotPending", err)
	}
	none("a refused ConsumeLink", revoked)
	if _, err := s.ConsumeWithCode(ctx, revoked.ID, revoked.CodeHash, 5, now, v, h("revoked-code"), out(revoked, "revoked-code")); !errors.Is(err, linkguard.ErrNotPending) {
		t.Fatalf("ConsumeWithCode on a revoked link: %v, want ErrNotPending", err)
	}
	none("a refused ConsumeWithCode", revoked)

	code := issue("rec-code")
	if _, err := s.ConsumeWithCode(ctx, code.ID, []byte("wrong"), 5, now, v, h("wrong"), out(code, "wrong")); !errors.Is(err, linkguard.ErrWrongCode) {
		t.Fatalf("wrong code: %v, want ErrWrongCode", err)
	}
	none("a wrong code", code)
	o = out(code, "code")
	if _, err := s.ConsumeWithCode(ctx, code.ID, code.CodeHash, 5, now, v, h("code"), o); err != nil {
		t.Fatal(err)
	}
	written("ConsumeWithCode", code, o)

	locked := issue("rec-locked")
	if _, err := s.ConsumeWithCode(ctx, locked.ID, []byte("wrong"), 1, now, v, h("last"), out(locked, "last")); !errors.Is(err, linkguard.ErrWrongCode) {
		t.Fatalf("wrong code on the last try: %v, want ErrWrongCode", err)
	}
	if _, err := s.ConsumeWithCode(ctx, locked.ID, locked.CodeHash, 1, now, v, h("locked"), out(locked, "locked")); !errors.Is(err, linkguard.ErrTooManyAttempts) {
		t.Fatalf("the right code with no try left: %v, want ErrTooManyAttempts", err)
	}
	none("too many attempts", locked)

	// A ring full of decisions (the visit writer's) keeps its newest
	// KeptDecisions with the record, and its expiry.
	full := issue("rec-full")
	var earlier []*linkguard.Visit
	for i := range linkguard.KeptDecisions {
		earlier = append(earlier, &linkguard.Visit{ID: fmt.Sprintf("d%03d", i), LinkID: full.ID,
			At: now.Add(time.Duration(i-linkguard.KeptDecisions) * time.Second), Kind: linkguard.VisitVerify, Outcome: linkguard.VisitOutcomeCode})
	}
	if err := s.writeVisits(earlier); err != nil {
		t.Fatal(err)
	}
	if err := s.rdb.PExpire(ctx, s.decidedKey(full.ID), time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ConsumeLink(ctx, full.ID, now, v, h("full"), out(full, "full")); err != nil {
		t.Fatal(err)
	}
	z := ring(full)
	if len(z) != linkguard.KeptDecisions || !strings.Contains(fmt.Sprint(z[0].Member), `"id":"d001"`) ||
		!strings.Contains(fmt.Sprint(z[len(z)-1].Member), `"id":"full"`) {
		t.Errorf("a full ring after the consumption: %d records, from %v to %v; want %d, d001 to the record",
			len(z), z[0].Member, z[len(z)-1].Member, linkguard.KeptDecisions)
	}
	if ttl, _ := s.rdb.PTTL(ctx, s.decidedKey(full.ID)).Result(); ttl > time.Hour || ttl < time.Hour-time.Minute {
		t.Errorf("a ring that had an expiry expires in %v, want it kept (an hour)", ttl)
	}

	// The webhook queue holds the consumptions' own jobs, and nothing
	// for their records (nor for the refused calls).
	ids, _ := s.rdb.ZRange(ctx, s.prefix+keyWebhookDue, 0, -1).Result()
	if want := []string{"click-" + click.ID, "code-" + code.ID, "full-" + full.ID}; !reflect.DeepEqual(sorted(ids), sorted(want)) {
		t.Errorf("webhook jobs %q, want %q", ids, want)
	}
	if got := queued(); len(got) != 0 {
		t.Errorf("%d visits went to the visit writer, want none: %+v", len(got), got[0])
	}
}
