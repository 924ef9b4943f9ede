package badger

import (
	"sync/atomic"
	"time"
)

// syncBounds are the upper bounds of the sync-time histogram, in seconds:
// from a quiet disk's fraction of a millisecond to the stalls a busy
// virtual disk shows while Badger compacts (docs/performance.md).
var syncBounds = [...]float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5}

// durations is a histogram of durations over syncBounds: how long the
// group commit's syncs took (every durable write of the store waits for
// one, so their tail is the tail of every write path), and how long
// transactions waited (waits.go). Lock-free: an observation adds to one
// bucket, a scrape reads them.
type durations struct {
	buckets [len(syncBounds) + 1]atomic.Uint64 // the last: over every bound
	count   atomic.Uint64
	sumNs   atomic.Uint64
}

func (h *durations) observe(d time.Duration) {
	s := d.Seconds()
	i := 0
	for i < len(syncBounds) && s > syncBounds[i] {
		i++
	}
	h.buckets[i].Add(1)
	h.sumNs.Add(uint64(d))
	h.count.Add(1)
}

// SyncHistogram is how long the store's syncs took since it opened, in
// the form of a Prometheus histogram (metrics.WatchStoreSyncs): their
// count, their sum in seconds, and the cumulative count at or under each
// upper bound. An in-memory store syncs nothing: all zero.
func (s *Store) SyncHistogram() (count uint64, sum float64, buckets map[float64]uint64) {
	if s.durable == nil {
		return new(durations).histogram()
	}
	return s.durable.times.histogram()
}

// histogram is h in the form of a Prometheus histogram: count, sum in
// seconds, and the cumulative count at or under each upper bound.
func (h *durations) histogram() (count uint64, sum float64, buckets map[float64]uint64) {
	buckets = make(map[float64]uint64, len(syncBounds))
	// NB: read the buckets before the count, so that a sync observed
	// meanwhile makes the count at least every bucket's cumulative sum
	// (a Prometheus histogram's +Inf bucket is the count).
	var cum uint64
	for i, b := range syncBounds {
		cum += h.buckets[i].Load()
		buckets[b] = cum
	}
	cum += h.buckets[len(syncBounds)].Load()
	return max(h.count.Load(), cum), time.Duration(h.sumNs.Load()).Seconds(), buckets
}
