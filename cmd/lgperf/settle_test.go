package main

import (
	"context"
	"testing"
	"time"
)

// TestSettle: an idle process settles in a window or two; a busy one
// does not settle within settleMax, and then the round's runs after it
// stop waiting (busy), so a busy machine does not add settleMax to every
// run of make perf; the next round, on fresh stores, waits again.
func TestSettle(t *testing.T) {
	defer func(d time.Duration) { settleMax = d }(settleMax)
	settleMax = 2 * time.Second
	h := &harness{}
	if d, ok := h.settle(); !ok || d > settleMax {
		t.Fatalf("an idle process: settled %v after %s", ok, d)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { // a core kept busy
		for ctx.Err() == nil {
		}
	}()
	h.settled()
	if !h.busy || h.unsettled {
		t.Fatalf("a busy process: busy %v, unsettled %v; want the round busy and -unsettled untouched", h.busy, h.unsettled)
	}
	h.nextRound()
	if h.busy {
		t.Fatal("a new round starts without waiting for its runs to settle")
	}
}
