package redis

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/fingerprint"
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
// link's verdict field holds (visitrec), and reads back with it.
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
	got := waitVisits(t, s, l.ID, 1)
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
