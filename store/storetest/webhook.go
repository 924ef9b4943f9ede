package storetest

import (
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/linkguard/linkguard"
)

func newJob(t *testing.T, now time.Time, endpoint string) linkguard.WebhookJob {
	t.Helper()
	id, err := linkguard.NewMsgID(rand.Reader, now)
	if err != nil {
		t.Fatal(err)
	}
	return linkguard.WebhookJob{ID: id + "." + endpoint, MsgID: id, Endpoint: endpoint,
		Type: linkguard.EventLinkConsumed, LinkID: "lnk_x", Body: []byte(`{"type":"link.consumed"}`),
		CreatedAt: now, NextAt: now}
}

// webhookQueueLifecycle: enqueue, claim under a lease, retry, deliver,
// fail; the queue's bound; the recent list.
func webhookQueueLifecycle(t *testing.T, open Open) {
	s := open(t)
	now := start()
	a, b := newJob(t, now, "a"), newJob(t, now.Add(time.Millisecond), "b")
	b.NextAt = now
	timer := newJob(t, now, "")
	timer.NextAt = now.Add(time.Hour)
	if err := s.EnqueueWebhooks(ctx, []linkguard.WebhookJob{a, b, timer}, 10); err != nil {
		t.Fatal(err)
	}
	if err := s.EnqueueWebhooks(ctx, []linkguard.WebhookJob{newJob(t, now, "c")}, 3); !errors.Is(err, linkguard.ErrQueueFull) {
		t.Fatalf("a fourth job over a bound of 3: err %v, want ErrQueueFull", err)
	}
	due, err := s.DueWebhooks(ctx, now, time.Minute, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(due) != 2 || due[0].ID != a.ID || due[1].ID != b.ID || string(due[0].Body) != string(a.Body) {
		t.Fatalf("due: %+v, want a and b (the timer is not due)", due)
	}
	if again, _ := s.DueWebhooks(ctx, now.Add(30*time.Second), time.Minute, 10); len(again) != 0 {
		t.Fatalf("claimed jobs are hidden during their lease, got %d", len(again))
	}
	if again, _ := s.DueWebhooks(ctx, now.Add(61*time.Second), time.Minute, 10); len(again) != 2 {
		t.Fatalf("a lapsed lease makes jobs due again, got %d", len(again))
	}
	// a fails once and is retried at next; b is delivered.
	ja := due[0]
	ja.Attempt, ja.LastError, ja.NextAt = 1, "500 Internal Server Error", now.Add(5*time.Minute)
	if err := s.UpdateWebhook(ctx, &ja, time.Hour); err != nil {
		t.Fatal(err)
	}
	jb := due[1]
	jb.State, jb.DoneAt = linkguard.WebhookDelivered, now
	if err := s.UpdateWebhook(ctx, &jb, time.Hour); err != nil {
		t.Fatal(err)
	}
	if d, _ := s.DueWebhooks(ctx, now.Add(4*time.Minute), time.Minute, 10); len(d) != 0 {
		t.Fatalf("nothing is due before the retry time, got %+v", d)
	}
	d, err := s.DueWebhooks(ctx, now.Add(5*time.Minute), time.Minute, 10)
	if err != nil || len(d) != 1 || d[0].ID != a.ID || d[0].Attempt != 1 || d[0].LastError == "" {
		t.Fatalf("the retry: %+v %v", d, err)
	}
	d[0].State, d[0].Attempt = linkguard.WebhookFailed, 2
	if err := s.UpdateWebhook(ctx, &d[0], time.Hour); err != nil {
		t.Fatal(err)
	}
	if d, _ := s.DueWebhooks(ctx, now.Add(24*time.Hour), time.Minute, 10); len(d) != 1 || d[0].Endpoint != "" {
		t.Fatalf("only the timer is left: %+v", d)
	}
	recent, err := s.RecentWebhooks(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(recent) != 2 || recent[0].ID != b.ID || recent[0].State != linkguard.WebhookDelivered ||
		recent[1].ID != a.ID || recent[1].State != linkguard.WebhookFailed || recent[1].Attempt != 2 {
		t.Fatalf("recent, newest first, timers left out: %+v", recent)
	}
	missing := newJob(t, now, "z")
	if err := s.UpdateWebhook(ctx, &missing, time.Hour); !errors.Is(err, linkguard.ErrNotFound) {
		t.Fatalf("update of an unknown job: %v, want ErrNotFound", err)
	}
}

// webhookQueueConcurrentClaimers: claimers in parallel get each job once.
func webhookQueueConcurrentClaimers(t *testing.T, open Open) {
	s := open(t)
	now := start()
	var jobs []linkguard.WebhookJob
	for i := range 40 {
		jobs = append(jobs, newJob(t, now, fmt.Sprint("e", i)))
	}
	if err := s.EnqueueWebhooks(ctx, jobs, 0); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	got := map[string]int{}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				d, err := s.DueWebhooks(ctx, now, time.Hour, 3)
				if err != nil {
					t.Error(err)
					return
				}
				if len(d) == 0 {
					return
				}
				mu.Lock()
				for _, j := range d {
					got[j.ID]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(got) != len(jobs) {
		t.Fatalf("claimed %d distinct jobs, want %d", len(got), len(jobs))
	}
	for id, n := range got {
		if n != 1 {
			t.Fatalf("job %s claimed %d times", id, n)
		}
	}
}

// countsAndLinks: per-hour counters add up and are read back by hour;
// ScanLinks sees every link.
func countsAndLinks(t *testing.T, open Open) {
	s := open(t)
	h := start().Truncate(time.Hour)
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.AddCounts(ctx, h.Add(10*time.Minute), map[string]int64{"issued": 1, "consumed.code": 2}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if err := s.AddCounts(ctx, h.Add(-2*time.Hour), map[string]int64{"issued": 5}); err != nil {
		t.Fatal(err)
	}
	got, err := s.CountsBetween(ctx, h.Add(-3*time.Hour), h.Add(59*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[h]["issued"] != 10 || got[h]["consumed.code"] != 20 || got[h.Add(-2*time.Hour)]["issued"] != 5 {
		t.Fatalf("counts: %v", got)
	}
	if got, _ := s.CountsBetween(ctx, h.Add(-time.Hour), h.Add(-time.Hour)); len(got) != 0 {
		t.Fatalf("an hour without counts: %v", got)
	}
	want := map[string]bool{}
	for i := range 5 {
		l := NewLink(t, start(), fmt.Sprint("fam-scan-", i))
		if err := s.CreateLink(ctx, l, nil, nil); err != nil {
			t.Fatal(err)
		}
		want[l.ID] = true
	}
	seen := map[string]bool{}
	if err := s.ScanLinks(ctx, func(l *linkguard.Link) error { seen[l.ID] = true; return nil }); err != nil {
		t.Fatal(err)
	}
	for id := range want {
		if !seen[id] {
			t.Fatalf("ScanLinks missed %s (saw %d)", id, len(seen))
		}
	}
}
