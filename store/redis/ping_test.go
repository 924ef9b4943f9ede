package redis

import (
	"context"
	"testing"
	"time"

	"github.com/linkguard/linkguard/store/storetest"
)

// TestPingAndQueueDepth: a working store pings; the mail queue's depth
// counts a queued email until it is sent; a closed store does not ping.
func TestPingAndQueueDepth(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, "")
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("ping: %v", err)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	l := storetest.NewLink(t, now, "fam-depth")
	if err := s.CreateLink(ctx, l, []byte("sealed mail"), nil); err != nil {
		t.Fatal(err)
	}
	if n, err := s.MailQueueDepth(ctx); err != nil || n != 1 {
		t.Fatalf("depth %d (%v), want 1", n, err)
	}
	if err := s.MarkMailSent(ctx, l.ID, now); err != nil {
		t.Fatal(err)
	}
	if n, err := s.MailQueueDepth(ctx); err != nil || n != 0 {
		t.Fatalf("depth after sending %d (%v), want 0", n, err)
	}
	s.Close()
	if err := s.Ping(ctx); err == nil {
		t.Fatal("a closed store pings")
	}
}
