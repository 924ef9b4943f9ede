package visitq

import (
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/linkguard/linkguard"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestCloseWritesEverythingQueued(t *testing.T) {
	var mu sync.Mutex
	var got []*linkguard.Visit
	q := New(100, func(b []*linkguard.Visit) error {
		mu.Lock()
		got = append(got, b...)
		mu.Unlock()
		return nil
	}, quiet)
	now := time.Now()
	for i := 0; i < 50; i++ {
		if err := q.Add(&linkguard.Visit{LinkID: "l", At: now}); err != nil {
			t.Fatal(err)
		}
	}
	q.Close()
	q.Close() // twice is fine
	if len(got) != 50 {
		t.Fatalf("wrote %d visits, want 50", len(got))
	}
	for i := 1; i < len(got); i++ {
		if got[i].ID <= got[i-1].ID {
			t.Fatalf("ids of one instant do not sort in the order added: %s then %s", got[i-1].ID, got[i].ID)
		}
	}
	if err := q.Add(&linkguard.Visit{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Add after Close: %v", err)
	}
}

func TestFullQueueDropsInsteadOfWaiting(t *testing.T) {
	release := make(chan struct{})
	q := New(2, func([]*linkguard.Visit) error { <-release; return nil }, quiet)
	start := time.Now()
	for i := 0; i < 100; i++ {
		q.Add(&linkguard.Visit{At: time.Now()})
	}
	if time.Since(start) > time.Second {
		t.Fatal("Add waited for the writer")
	}
	if q.Dropped() == 0 {
		t.Fatal("a full queue dropped nothing")
	}
	close(release)
	q.Close()
}
