package redis

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/linkguard/linkguard"
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
