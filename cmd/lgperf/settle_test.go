package main

import (
	"context"
	"testing"
	"time"
)

// TestSettle: an idle process settles in a window or two; a busy one
// does not settle within settleMax, and then the runs after it stop
// waiting (unsettled), so a busy machine does not add settleMax to every
// run of make perf.
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
	if !h.unsettled {
		t.Fatal("a busy process settled, or the runs after it still wait")
	}
}
