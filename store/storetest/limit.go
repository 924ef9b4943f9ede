package storetest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/linkguard/linkguard"
)

// OpenLimiter returns a fresh, empty Limiter; the caller's cleanup closes it.
type OpenLimiter func(t *testing.T) linkguard.Limiter

// LimiterCases are the conformance tests of a linkguard.Limiter.
var LimiterCases = []struct {
	Name string
	Test func(t *testing.T, open OpenLimiter)
}{
	{"limit: max at once, then one as each leaves the window; retry exact", limitBurst},
	{"limit: 1 per 30s at :29 and :31: the second waits until :59", limitEdge},
	{"limit: a random run decides as a brute-force sliding count", limitRandom},
	{"limit: keys and window lengths do not mix", limitKeys},
	{"limit: 100 concurrent hits with max 10: exactly 10 pass", limitConcurrent},
	{"limit: a hit late in time order counts against the earlier ones", limitLate},
	{"limit: concurrent hits out of time order: never max+1 in a window", limitConcurrentSpread},
	{"limit: bad arguments are refused", limitBounds},
}

// RunLimiter runs every Limiter case as a subtest named after it.
func RunLimiter(t *testing.T, open OpenLimiter) {
	for _, c := range LimiterCases {
		t.Run(c.Name, func(t *testing.T) { c.Test(t, open) })
	}
}

// limitNow is a real time (the stores expire records by their own
// clocks), on no particular boundary: a limit has none.
func limitNow() time.Time { return time.Now() }

// hit is one Hit that must not fail.
func hit(t *testing.T, l linkguard.Limiter, key string, window time.Duration, max int, at time.Time) (bool, time.Duration) {
	t.Helper()
	ok, retry, err := l.Hit(ctx, key, window, max, at)
	if err != nil {
		t.Fatalf("Hit(%q, %v, %d): %v", key, window, max, err)
	}
	return ok, retry
}

// wantHit checks one Hit's answer: allowed, or refused with retry.
func wantHit(t *testing.T, l linkguard.Limiter, what string, window time.Duration, max int, at time.Time, wantOK bool, wantRetry time.Duration) {
	t.Helper()
	ok, retry := hit(t, l, "k", window, max, at)
	if ok != wantOK || (!ok && retry != wantRetry) {
		t.Fatalf("%s: ok %v, retry %v; want ok %v, retry %v", what, ok, retry, wantOK, wantRetry)
	}
}

func limitBurst(t *testing.T, open OpenLimiter) {
	l, t0 := open(t), limitNow()
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	for i := 1; i <= 3; i++ {
		wantHit(t, l, fmt.Sprintf("hit %d of 3", i), time.Minute, 3, at(time.Duration(i)*time.Second), true, 0)
	}
	// The first hit (t0+1s) leaves the window at t0+61s, to the nanosecond.
	wantHit(t, l, "4th hit at +5s", time.Minute, 3, at(5*time.Second), false, 56*time.Second)
	wantHit(t, l, "a nanosecond before the first leaves", time.Minute, 3, at(61*time.Second-1), false, 1)
	wantHit(t, l, "as the first leaves", time.Minute, 3, at(61*time.Second), true, 0)
	wantHit(t, l, "again at once", time.Minute, 3, at(61*time.Second), false, time.Second)
	wantHit(t, l, "as the second leaves", time.Minute, 3, at(62*time.Second), true, 0)
	// After a quiet window, max at once.
	for i := 1; i <= 3; i++ {
		wantHit(t, l, fmt.Sprintf("after a quiet minute, hit %d of 3 at once", i), time.Minute, 3, at(3*time.Minute), true, 0)
	}
	wantHit(t, l, "after a quiet minute, hit 4 at once", time.Minute, 3, at(3*time.Minute), false, time.Minute)
}

// limitEdge is the fixed window's flaw: 1 per 30 s let :29 and :31 both
// through, one on each side of :30. Refused probes in between do not
// push the wait back.
func limitEdge(t *testing.T, open OpenLimiter) {
	l := open(t)
	t29 := limitNow().Truncate(time.Minute).Add(29 * time.Second)
	at := func(d time.Duration) time.Time { return t29.Add(d) }
	wantHit(t, l, ":29", 30*time.Second, 1, t29, true, 0)
	wantHit(t, l, ":31", 30*time.Second, 1, at(2*time.Second), false, 28*time.Second)
	for s := 3; s < 30; s += 5 {
		wantHit(t, l, fmt.Sprintf(":%d", 29+s), 30*time.Second, 1, at(time.Duration(s)*time.Second), false, time.Duration(30-s)*time.Second)
	}
	wantHit(t, l, ":59 less a nanosecond", 30*time.Second, 1, at(30*time.Second-1), false, 1)
	wantHit(t, l, ":59", 30*time.Second, 1, at(30*time.Second), true, 0)
	wantHit(t, l, ":59 again", 30*time.Second, 1, at(30*time.Second), false, 30*time.Second)
}

// limitRandom plays a seeded run of hits in time order (bursts, pauses,
// probes at retry and a nanosecond before it) and checks each answer
// against a brute-force count of the allowed hits in (now-window, now],
// then that no window-long interval holds more than max of them.
func limitRandom(t *testing.T, open OpenLimiter) {
	const window, max, hits = 10 * time.Second, 4, 400
	l, now := open(t), limitNow()
	rnd := rand.New(rand.NewPCG(7, 11))
	var allowed []time.Time
	var retry time.Duration
	for i := range hits {
		switch p := rnd.IntN(100); {
		case retry > 0 && p < 20:
			now = now.Add(retry)
		case retry > 0 && p < 30:
			now = now.Add(retry - 1)
		case p < 55: // at once
		case p < 60: // a pause longer than the window
			now = now.Add(window + time.Duration(rnd.Int64N(int64(window))))
		default:
			now = now.Add(time.Duration(rnd.Int64N(int64(window / 3))))
		}
		in := 0
		for _, a := range allowed {
			if a.After(now.Add(-window)) {
				in++
			}
		}
		wantOK, wantRetry := in < max, time.Duration(0)
		if !wantOK {
			wantRetry = allowed[len(allowed)-max].Add(window).Sub(now)
		}
		var ok bool
		ok, retry = hit(t, l, "k", window, max, now)
		if ok != wantOK || retry != wantRetry {
			t.Fatalf("hit %d, %d allowed in the window before it: ok %v, retry %v; want ok %v, retry %v", i, in, ok, retry, wantOK, wantRetry)
		}
		if ok {
			allowed = append(allowed, now)
		}
	}
	noneOver(t, allowed, window, max)
	if len(allowed) < hits/4 || len(allowed) > hits*3/4 {
		t.Fatalf("%d of %d hits allowed: the run tests little", len(allowed), hits)
	}
}

// noneOver fails if some interval of length window holds more than max
// of the times.
func noneOver(t *testing.T, times []time.Time, window time.Duration, max int) {
	t.Helper()
	slices.SortFunc(times, time.Time.Compare)
	for i := 0; i+max < len(times); i++ {
		if d := times[i+max].Sub(times[i]); d < window {
			t.Fatalf("%d hits allowed within %v (from %v): want at most %d in any %v", max+1, d, times[i].Format(time.RFC3339Nano), max, window)
		}
	}
}

func limitKeys(t *testing.T, open OpenLimiter) {
	l, now := open(t), limitNow()
	if ok, _ := hit(t, l, "a", time.Minute, 1, now); !ok {
		t.Fatal("first hit on a refused")
	}
	if ok, _ := hit(t, l, "a", time.Minute, 1, now); ok {
		t.Fatal("second hit on a with max 1 passed")
	}
	if ok, _ := hit(t, l, "b", time.Minute, 1, now); !ok {
		t.Fatal("a's hit was charged to b")
	}
	if ok, _ := hit(t, l, "a", time.Hour, 1, now); !ok {
		t.Fatal("a's one-minute hit was charged to its one-hour limit")
	}
}

func limitConcurrent(t *testing.T, open OpenLimiter) {
	l, now := open(t), limitNow()
	var passed atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, _, err := l.Hit(ctx, "storm", time.Minute, 10, now)
			if err != nil {
				t.Error(err)
			}
			if ok {
				passed.Add(1)
			}
		}()
	}
	wg.Wait()
	if passed.Load() != 10 {
		t.Fatalf("%d of 100 concurrent hits passed, want exactly 10", passed.Load())
	}
}

// limitLate: a hit that arrives after a later one (another instance's
// clock, a caller that took now before it queued) must not pass beside
// hits that the later one's window has left behind.
func limitLate(t *testing.T, open OpenLimiter) {
	l, t0 := open(t), limitNow()
	wantHit(t, l, "+0s", 10*time.Second, 2, t0, true, 0)
	wantHit(t, l, "+0s again", 10*time.Second, 2, t0, true, 0)
	wantHit(t, l, "+11s", 10*time.Second, 2, t0.Add(11*time.Second), true, 0)
	wantHit(t, l, "+5s, arriving last", 10*time.Second, 2, t0.Add(5*time.Second), false, 5*time.Second)
}

// limitConcurrentSpread: callers in parallel, each with its own times
// over several windows, arrive out of time order (as instances with
// their own clocks do); the allowed ones still never put max+1 in one
// window-long interval.
func limitConcurrentSpread(t *testing.T, open OpenLimiter) {
	const window, max, callers, each = 10 * time.Second, 3, 8, 40
	l, t0 := open(t), limitNow()
	var mu sync.Mutex
	var allowed []time.Time
	var wg sync.WaitGroup
	for c := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := rand.New(rand.NewPCG(uint64(c), 3))
			for range each {
				at := t0.Add(time.Duration(rnd.Int64N(int64(5 * window))))
				ok, _, err := l.Hit(ctx, "spread", window, max, at)
				if err != nil {
					t.Error(err)
					return
				}
				if ok {
					mu.Lock()
					allowed = append(allowed, at)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	noneOver(t, allowed, window, max)
	if len(allowed) < max {
		t.Fatalf("%d of %d hits allowed, want at least %d", len(allowed), callers*each, max)
	}
}

func limitBounds(t *testing.T, open OpenLimiter) {
	l, now := open(t), limitNow()
	for _, tc := range []struct {
		key    string
		window time.Duration
		max    int
		now    time.Time
	}{
		{"", time.Minute, 1, now}, {fmt.Sprintf("%0200d", 0), time.Minute, 1, now},
		{"k", 0, 1, now}, {"k", 365 * 24 * time.Hour, 1, now}, {"k", time.Minute, 0, now},
		{"k", time.Minute, linkguard.MaxLimitMax + 1, now}, {"k", time.Minute, 1, time.Time{}},
	} {
		if _, _, err := l.Hit(ctx, tc.key, tc.window, tc.max, tc.now); err == nil {
			t.Errorf("Hit(%d-byte key, %v, %d, %v) was accepted", len(tc.key), tc.window, tc.max, tc.now)
		}
	}
}
