package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/linkguard/linkguard"
)

// mailQueueLifecycle checks: mail queue: claim, lease, retry, sent, failed.
func mailQueueLifecycle(t *testing.T, open Open) {
	now := start()
	s := open(t)
	a := NewLink(t, now, "fa")
	b := NewLink(t, now.Add(time.Millisecond), "fb")
	s.CreateLink(ctx, a, []byte("sealed-a"), nil)
	s.CreateLink(ctx, b, []byte("sealed-b"), nil)
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
	if err := s.MarkMailFailed(ctx, b.ID, 1, now.Add(10*time.Second), "connection refused", false, nil); err != nil {
		t.Fatal(err)
	}
	if l, _ := s.LinkByID(ctx, a.ID); l.Delivery == nil || l.Delivery.State != linkguard.DeliverySent {
		t.Fatalf("delivery of a = %+v, want sent", l.Delivery)
	}
	if l, _ := s.LinkByID(ctx, b.ID); l.Delivery == nil || l.Delivery.State != linkguard.DeliveryRetrying || l.Delivery.LastError != "connection refused" {
		t.Fatalf("delivery of b = %+v, want retrying", l.Delivery)
	}
	if early, _ := s.DueMail(ctx, now.Add(9*time.Second), time.Minute, 10); len(early) != 0 {
		t.Fatalf("retry handed out before its time: %+v", early)
	}
	late, _ := s.DueMail(ctx, now.Add(11*time.Second), time.Minute, 10)
	if len(late) != 1 || late[0].LinkID != b.ID || late[0].Attempt != 1 {
		t.Fatalf("retry: %+v, want b with attempt 1", late)
	}
	if err := s.MarkMailFailed(ctx, b.ID, 2, time.Time{}, "550 no such user", true, nil); err != nil {
		t.Fatal(err)
	}
	if l, _ := s.LinkByID(ctx, b.ID); l.Delivery.State != linkguard.DeliveryFailed {
		t.Fatalf("delivery of b = %+v, want failed", l.Delivery)
	}
	if after, _ := s.DueMail(ctx, now.Add(time.Hour), time.Minute, 10); len(after) != 0 {
		t.Fatalf("sent or failed jobs came back: %+v", after)
	}
}

// mailQueueCanceled checks: a retried mail whose link was revoked is
// canceled: the job ends, the Delivery says why, and the link keeps its
// state and queues no webhook job.
func mailQueueCanceled(t *testing.T, open Open) {
	now := start()
	s := open(t)
	a := NewLink(t, now, "fa")
	if err := s.CreateLink(ctx, a, []byte("sealed-a"), nil); err != nil {
		t.Fatal(err)
	}
	if got, err := s.DueMail(ctx, now.Add(time.Second), time.Minute, 10); err != nil || len(got) != 1 {
		t.Fatalf("first claim: %v %+v", err, got)
	}
	if err := s.MarkMailFailed(ctx, a.ID, 1, now.Add(10*time.Second), "connection refused", false, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RevokeLink(ctx, a.ID, now.Add(5*time.Second), linkguard.RevokeAPI, nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.DueMail(ctx, now.Add(11*time.Second), time.Minute, 10); len(got) != 1 || got[0].Attempt != 1 {
		t.Fatalf("retry of a revoked link's mail: %+v, want it handed out (the mailer decides)", got)
	}
	const why = "the link was revoked before its mail was sent"
	if err := s.MarkMailCanceled(ctx, a.ID, 1, why); err != nil {
		t.Fatal(err)
	}
	l, err := s.LinkByID(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := linkguard.Delivery{State: linkguard.DeliveryCanceled, Attempts: 1, LastError: why}
	if l.Delivery == nil || *l.Delivery != want {
		t.Fatalf("delivery = %+v, want %+v", l.Delivery, want)
	}
	if l.State != linkguard.Revoked || !l.RevokedAt.Equal(now.Add(5*time.Second)) {
		t.Fatalf("the cancel changed the link: state %s, revoked at %s", l.State, l.RevokedAt)
	}
	if after, _ := s.DueMail(ctx, now.Add(time.Hour), time.Minute, 10); len(after) != 0 {
		t.Fatalf("a canceled job came back: %+v", after)
	}
	if err := s.MarkMailCanceled(ctx, a.ID, 1, why); !errors.Is(err, linkguard.ErrNotFound) {
		t.Fatalf("cancel of an ended job: %v, want ErrNotFound", err)
	}
	if q := queued(t, s, now); len(q) != 0 {
		t.Fatalf("a cancel queued webhook jobs: %v", q)
	}
}

// mailQueueConcurrentClaimers checks: mail queue: concurrent claimers get each job once.
func mailQueueConcurrentClaimers(t *testing.T, open Open) {
	now := start()
	s := open(t)
	for i := 0; i < 20; i++ {
		s.CreateLink(ctx, NewLink(t, now, fmt.Sprint("f", i)), []byte("p"), nil)
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
}
