package linkguard

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"
)

// Limiter limits events per key to max in any interval of length window
// (a sliding window: no interval is aligned to the clock), kept in the
// store so that every instance sharing it shares the limits: the hosted
// sign-in's limits per client address, per email address and per
// device, and the console's. store/badger and store/redis implement it
// (limit.go), as server's memLimits does for a store without one; all
// pass storetest.RunLimiter.
type Limiter interface {
	// Hit allows one event for key at now if fewer than max events were
	// allowed for key in the window before it, (now-window, now] (or
	// after it: another caller's clock may run ahead), and records it,
	// as one atomic step. So max events may come at once after a quiet
	// window, and never more than max in any interval of length window,
	// wherever it starts: a limit of 1 per 30 s refuses a second event
	// until exactly 30 s after the first. A refused event is not
	// recorded, so a client that keeps trying does not push back its own
	// wait, and retry is exact: the time from now until a hit would be
	// allowed, when the oldest of the max events leaves the window. The
	// record is durable enough for a limit: a crash may lose it. A key
	// keeps at most max times and expires a second after the newest
	// leaves the window.
	Hit(ctx context.Context, key string, window time.Duration, max int, now time.Time) (ok bool, retry time.Duration, err error)
}

// Bounds of a Limiter's arguments: keys are made by the caller (hashes),
// never taken from outside as they are; max bounds what a key keeps.
const (
	MaxLimitKey    = 128
	MaxLimitWindow = 31 * 24 * time.Hour
	MaxLimitMax    = 1000
)

// limitNowMin and limitNowMax bound Hit's now: times are kept as Unix
// nanoseconds, and Redis compares them as 20-digit strings (no sign).
var (
	limitNowMin = time.Unix(0, int64(MaxLimitWindow))
	limitNowMax = time.Unix(0, math.MaxInt64-int64(MaxLimitWindow))
)

// LimitArgs checks Hit's arguments. Implementations call it first.
func LimitArgs(key string, window time.Duration, max int, now time.Time) error {
	if len(key) == 0 || len(key) > MaxLimitKey {
		return fmt.Errorf("limit: key of %d bytes: want 1 to %d", len(key), MaxLimitKey)
	}
	if window < time.Second || window > MaxLimitWindow {
		return fmt.Errorf("limit: window %s: want 1s to %s", window, MaxLimitWindow)
	}
	if max < 1 || max > MaxLimitMax {
		return fmt.Errorf("limit: max %d: want 1 to %d", max, MaxLimitMax)
	}
	if now.Before(limitNowMin) || now.After(limitNowMax) {
		return fmt.Errorf("limit: now %s: want %s to %s", now.UTC(), limitNowMin.UTC(), limitNowMax.UTC())
	}
	return nil
}

// LimitStep is Hit's decision on one key's record, for a Limiter that
// keeps it as a list: times are the Unix nanoseconds of the newest events
// allowed, oldest first, as stored (at most max of them when max stays
// the same). When ok, keep is the record to store in their place: times
// with now's added, the newest max. When refused, the record stays as it
// is and retry says for how long.
//
// Why times and not one theoretical arrival time (GCRA, as redis-cell and
// throttled keep): GCRA lets max through at once only with a tolerance
// of window-window/max, and then one more every window/max, so up to
// 2*max-1 in a window (10 a minute would pass 19); without the tolerance it
// refuses a second hit within window/max (a double post, a retyped
// code). Max at once and never more than max in any window together
// need the times themselves; max is small (MaxLimitMax bounds it).
//
// Why the newest max times and not "the times in the last window": the
// two decide alike when hits come in time order, but instances' clocks
// differ and concurrent callers take now before they queue, so a hit may
// arrive after a later one. Dropping times that a later hit's window left
// behind would let such a late hit pass beside them; the newest max
// times always count against it, so max in any window holds whatever
// the order (storetest's limitLate).
func LimitStep(times []int64, window time.Duration, max int, now time.Time) (keep []int64, ok bool, retry time.Duration) {
	t := now.UnixNano()
	if n := len(times); n >= max && times[n-max] > t-int64(window) {
		return nil, false, time.Duration(times[n-max] + int64(window) - t)
	}
	i, _ := slices.BinarySearch(times, t)
	keep = slices.Insert(slices.Clip(times), i, t) // Clip: a copy, never the caller's array
	if d := len(keep) - max; d > 0 {
		keep = keep[d:]
	}
	return keep, true, 0
}

// LimitExpiry is how long a key's record (newest: its newest time) is
// still needed at now: until the newest leaves the window, and a second.
func LimitExpiry(newest int64, window time.Duration, now time.Time) time.Duration {
	return max(time.Duration(newest-now.UnixNano()), 0) + window + time.Second
}
