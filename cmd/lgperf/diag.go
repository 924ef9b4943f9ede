package main

import (
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	badgerstore "github.com/linkguard/linkguard/store/badger"
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

// syncCounts is the instances' syncs so far: all of them, those over
// 25 ms and over 100 ms, and their total duration in seconds.
type syncCounts struct {
	all, over25, over100 uint64
	sum                  float64
}

func countSyncs(insts []*instance) (c syncCounts, ok bool) {
	for _, in := range insts {
		y, is := in.kit.Service.Store.(syncHistogram)
		if !is {
			continue
		}
		n, sum, b := y.SyncHistogram()
		c.all += n
		c.sum += sum
		c.over25 += n - b[0.025]
		c.over100 += n - b[0.1]
		ok = true
	}
	return c, ok
}

// waitHistogram is store/badger's WaitHistogram.
type waitHistogram interface {
	WaitHistogram(wait string) (count uint64, sum float64, buckets map[float64]uint64)
}

// waitSum is one wait of the store so far, over the instances: how many,
// their sum in seconds, and how many took over 25 ms.
type waitSum struct {
	n, over25 uint64
	sum       float64
}

func sumWaits(insts []*instance) map[string]waitSum {
	c := map[string]waitSum{}
	for _, in := range insts {
		y, is := in.kit.Service.Store.(waitHistogram)
		if !is {
			continue
		}
		for _, w := range badgerstore.Waits {
			n, sum, b := y.WaitHistogram(w)
			t := c[w]
			t.n, t.sum, t.over25 = t.n+n, t.sum+sum, t.over25+n-b[0.025]
			c[w] = t
		}
	}
	return c
}

// waitLine says, for each of the store's waits in a run, its mean and how
// many of them took over 25 ms.
func waitLine(before, after map[string]waitSum) string {
	var parts []string
	for _, w := range badgerstore.Waits {
		b, a := before[w], after[w]
		n := a.n - b.n
		if n == 0 {
			continue
		}
		mean := time.Duration((a.sum - b.sum) / float64(n) * float64(time.Second))
		parts = append(parts, fmt.Sprintf("%s %s (%d of %d over 25 ms)", w, ms(mean.Microseconds()), a.over25-b.over25, n))
	}
	return strings.Join(parts, ", ")
}

// diagnosed runs fn (a wrk run against insts) and prints what its tail
// is made of, when the store syncs.
func diagnosed(store, name string, insts []*instance, fn func() (result, error)) (result, error) {
	before, ok := countSyncs(insts)
	w0 := sumWaits(insts)
	s0 := stalls.Load()
	r, err := fn()
	if err != nil || !ok {
		return r, err
	}
	after, _ := countSyncs(insts)
	n := after.all - before.all
	var mean time.Duration
	if n > 0 {
		mean = time.Duration((after.sum - before.sum) / float64(n) * float64(time.Second))
	}
	fmt.Printf("%s: %s: %s; %d syncs (mean %s), %d of them over 25 ms (%d over 100 ms); the process stalled %v or more %d times\n",
		store, name, r.tail(), n, ms(mean.Microseconds()), after.over25-before.over25, after.over100-before.over100,
		stallAt, stalls.Load()-s0)
	fmt.Printf("%s: %s: the store's waits, mean: %s\n", store, name, waitLine(w0, sumWaits(insts)))
	return r, err
}

// tail is the shape of r's latency past its median.
func (r result) tail() string {
	return fmt.Sprintf("p50 %s, p90 %s, p99 %s, p99.9 %s, max %s", ms(r.P50US), ms(r.P90US), ms(r.P99US), ms(r.P999US), ms(r.MaxUS))
}
