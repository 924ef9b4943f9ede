package main

import (
	"fmt"
	"runtime"
	"time"
)

// settleWindow, settleIdle and settleMax define "idle" for settle: a
// window of settleWindow in which this process and the store's server
// used under settleIdle of one core (the stall watcher alone uses about
// 1 %), waited for at most settleMax.
const (
	settleWindow = 250 * time.Millisecond
	settleIdle   = 0.05
)

var settleMax = 30 * time.Second // a variable for the tests

// settle returns once the work an earlier run left behind is done, so
// that each run pays for its own work only, as db_bench's
// waitforcompaction does between its phases. Without it a run pays for
// the one before it: Badger flushes the memtables the earlier run (or
// the links issued for a confirm run) filled and compacts their tables
// in the background, and the CPU, the disk and the Ps that takes are
// counted against the next run, whichever it is (the product's confirm
// ran after 230,000 issued links; the durable-write ceiling, on a store
// of its own, after nothing). It first collects the garbage, as the
// testing package does before each benchmark, then waits for a window of
// settleWindow with under settleIdle of a core used, at most settleMax.
// It returns the time waited and whether the process did settle.
func (h *harness) settle() (time.Duration, bool) {
	start := time.Now()
	runtime.GC()
	prev, _ := h.cpu()
	for time.Since(start) < settleMax {
		time.Sleep(settleWindow)
		now, _ := h.cpu()
		if float64(now-prev) < settleIdle*float64(settleWindow) {
			return time.Since(start), true
		}
		prev = now
	}
	return time.Since(start), false
}

// settled runs settle and says so when it took long or did not end: a
// run that starts unsettled is measured with another's work in it. Once
// settle has not ended, the process is busy with more than its own
// background work (something else on the machine, most likely), so the
// round's runs after it start at once: waiting settleMax before each of
// them would add half an hour to make perf and settle nothing. The next
// round, on fresh stores, waits again (h.busy is the round's).
func (h *harness) settled() {
	if h.unsettled || h.busy {
		return // -unsettled, or the round's settle did not end
	}
	d, ok := h.settle()
	switch {
	case !ok:
		h.busy = true
		fmt.Printf("lgperf: NB: still busy after %s; measuring anyway, and the round's runs after this one start without waiting\n", d.Round(time.Millisecond))
	case d > 2*time.Second:
		fmt.Printf("lgperf: waited %s for the last run's background work\n", d.Round(100*time.Millisecond))
	}
}
