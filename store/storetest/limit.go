package storetest

import (
	"fmt"
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
	{"limit: max per window, then retry at the window's end", limitWindow},
	{"limit: keys and window lengths do not mix", limitKeys},
	{"limit: 100 concurrent hits with max 10: exactly 10 pass", limitConcurrent},
	{"limit: bad arguments are refused", limitBounds},
}

// RunLimiter runs every Limiter case as a subtest named after it.
func RunLimiter(t *testing.T, open OpenLimiter) {
	for _, c := range LimiterCases {
		t.Run(c.Name, func(t *testing.T) { c.Test(t, open) })
	}
}

// limitNow is a real time 10 s into a one-minute window (the stores
// expire counts by their own clocks).
func limitNow() time.Time {
	return time.Now().Truncate(time.Minute).Add(10 * time.Second)
}

func limitWindow(t *testing.T, open OpenLimiter) {
	l, now := open(t), limitNow()
	for i := 1; i <= 3; i++ {
		if ok, _, err := l.Hit(ctx, "k", time.Minute, 3, now.Add(time.Duration(i)*time.Second)); err != nil || !ok {
			t.Fatalf("hit %d of 3: ok %v, %v", i, ok, err)
		}
	}
	ok, retry, err := l.Hit(ctx, "k", time.Minute, 3, now.Add(5*time.Second))
	if err != nil || ok || retry != 45*time.Second {
		t.Fatalf("4th hit: ok %v, retry %v, %v; want refused, retry 45s", ok, retry, err)
	}
	if ok, _, err := l.Hit(ctx, "k", time.Minute, 3, now.Add(time.Minute)); err != nil || !ok {
		t.Fatalf("first hit of the next window: ok %v, %v", ok, err)
	}
}

func limitKeys(t *testing.T, open OpenLimiter) {
	l, now := open(t), limitNow()
	if ok, _, _ := l.Hit(ctx, "a", time.Minute, 1, now); !ok {
		t.Fatal("first hit on a refused")
	}
	if ok, _, _ := l.Hit(ctx, "a", time.Minute, 1, now); ok {
		t.Fatal("second hit on a with max 1 passed")
	}
	if ok, _, _ := l.Hit(ctx, "b", time.Minute, 1, now); !ok {
		t.Fatal("a's count was charged to b")
	}
	if ok, _, _ := l.Hit(ctx, "a", time.Hour, 1, now); !ok {
		t.Fatal("a's one-minute count was charged to its one-hour window")
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

func limitBounds(t *testing.T, open OpenLimiter) {
	l, now := open(t), limitNow()
	for _, tc := range []struct {
		key    string
		window time.Duration
		max    int
	}{
		{"", time.Minute, 1}, {fmt.Sprintf("%0200d", 0), time.Minute, 1},
		{"k", 0, 1}, {"k", 365 * 24 * time.Hour, 1}, {"k", time.Minute, 0},
	} {
		if _, _, err := l.Hit(ctx, tc.key, tc.window, tc.max, now); err == nil {
			t.Errorf("Hit(%d-byte key, %v, %d) was accepted", len(tc.key), tc.window, tc.max)
		}
	}
}
