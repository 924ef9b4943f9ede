package linkguard

import (
	"context"
	"fmt"
	"time"
)

// Limiter counts events per key in fixed time windows, kept in the store
// so that every instance sharing it shares the counts: the hosted sign-in's
// limits per client address, per email address and per device. store/badger
// and store/redis implement it (limit.go) and pass storetest.RunLimiter.
type Limiter interface {
	// Hit counts one event for key in the window of length window that
	// holds now (windows start at multiples of window since the Unix
	// epoch), as one atomic step, and reports whether the window's count
	// is now at most max. Over it, retry is the time left in the window.
	// The count is durable enough for a limit: a crash may lose it.
	Hit(ctx context.Context, key string, window time.Duration, max int, now time.Time) (ok bool, retry time.Duration, err error)
}

// Bounds of a Limiter's arguments: keys are made by the caller (hashes),
// never taken from outside as they are.
const (
	MaxLimitKey    = 128
	MaxLimitWindow = 31 * 24 * time.Hour
)

// LimitWindow checks Hit's arguments and returns the window's start and
// end. Implementations call it first.
func LimitWindow(key string, window time.Duration, max int, now time.Time) (start, end time.Time, err error) {
	if len(key) == 0 || len(key) > MaxLimitKey {
		return start, end, fmt.Errorf("limit: key of %d bytes: want 1 to %d", len(key), MaxLimitKey)
	}
	if window < time.Second || window > MaxLimitWindow {
		return start, end, fmt.Errorf("limit: window %s: want 1s to %s", window, MaxLimitWindow)
	}
	if max < 1 {
		return start, end, fmt.Errorf("limit: max %d: want at least 1", max)
	}
	start = now.Truncate(window)
	return start, start.Add(window), nil
}
