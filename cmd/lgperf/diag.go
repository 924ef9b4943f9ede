package main

import (
	"fmt"
	"sync/atomic"
	"time"
)

// What a run's tail is made of (docs/performance.md, "The confirm's
// tail, traced"): how many of the store's syncs were slow, and how often
// this process could not run a goroutine for 20 ms or more. Both are
// printed after each run of the product on a store that syncs.

// stallAt is the lateness that counts as a stall of the whole process.
const stallAt = 20 * time.Millisecond

// stalls counts the wake-ups of a goroutine that sleeps 1 ms in a loop
// and woke stallAt late or more: the P its timer was on was held by a
// goroutine that could not be preempted (a page-faulting copy of
// Badger's, docs/performance.md, "The confirm's tail, traced"), and every
// goroutine queued on that P, requests among them, waited with it.
var stalls atomic.Uint64

func watchStalls() {
	go func() {
		for {
			t := time.Now()
			time.Sleep(time.Millisecond)
			if time.Since(t) >= stallAt {
				stalls.Add(1)
			}
		}
	}()
}

// syncHistogram is store/badger's SyncHistogram (metrics' form).
type syncHistogram interface {
	SyncHistogram() (count uint64, sum float64, buckets map[float64]uint64)
}

// syncCounts is the instances' syncs so far: all of them, and those over
// 25 ms and over 100 ms.
type syncCounts struct{ all, over25, over100 uint64 }

func countSyncs(insts []*instance) (c syncCounts, ok bool) {
	for _, in := range insts {
		y, is := in.kit.Service.Store.(syncHistogram)
		if !is {
			continue
		}
		n, _, b := y.SyncHistogram()
		c.all += n
		c.over25 += n - b[0.025]
		c.over100 += n - b[0.1]
		ok = true
	}
	return c, ok
}

// diagnosed runs fn (a wrk run against insts) and prints what its tail
// is made of, when the store syncs.
func diagnosed(store, name string, insts []*instance, fn func() (result, error)) (result, error) {
	before, ok := countSyncs(insts)
	s0 := stalls.Load()
	r, err := fn()
	if err != nil || !ok {
		return r, err
	}
	after, _ := countSyncs(insts)
	fmt.Printf("%s: %s: %s; %d syncs, %d of them over 25 ms (%d over 100 ms); the process stalled %v or more %d times\n",
		store, name, r.tail(), after.all-before.all, after.over25-before.over25, after.over100-before.over100,
		stallAt, stalls.Load()-s0)
	return r, err
}

// tail is the shape of r's latency past its median.
func (r result) tail() string {
	return fmt.Sprintf("p50 %s, p90 %s, p99 %s, p99.9 %s, max %s", ms(r.P50US), ms(r.P90US), ms(r.P99US), ms(r.P999US), ms(r.MaxUS))
}
