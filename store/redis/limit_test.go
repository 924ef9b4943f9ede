package redis

import (
	"strconv"
	"testing"
	"time"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/store/storetest"
)

func TestLimiterConformance(t *testing.T) {
	needServer(t)
	storetest.RunLimiter(t, func(t *testing.T) linkguard.Limiter { return openStore(t, "") })
}

// Two instances on one Redis share the records: what one allowed, the
// other counts, to the nanosecond of its retry, wherever the window falls.
func TestLimiterTwoInstances(t *testing.T) {
	needServer(t)
	prefix := freshPrefix()
	a, b := openStore(t, prefix), openStore(t, prefix)
	t29 := time.Now().Truncate(time.Minute).Add(29 * time.Second)
	if ok, _, err := a.Hit(t.Context(), "k", 30*time.Second, 1, t29); err != nil || !ok {
		t.Fatalf("hit on a at :29: %v, %v", ok, err)
	}
	if ok, retry, err := b.Hit(t.Context(), "k", 30*time.Second, 1, t29.Add(2*time.Second)); err != nil || ok || retry != 28*time.Second {
		t.Fatalf("hit on b at :31: ok %v, retry %v, %v; want refused, retry 28s", ok, retry, err)
	}
	if ok, _, err := b.Hit(t.Context(), "k", 30*time.Second, 1, t29.Add(30*time.Second)); err != nil || !ok {
		t.Fatalf("hit on b at :59: ok %v, %v; want allowed", ok, err)
	}
	if ok, retry, err := a.Hit(t.Context(), "k", 30*time.Second, 1, t29.Add(30*time.Second)); err != nil || ok || retry != 30*time.Second {
		t.Fatalf("hit on a at :59, after b's: ok %v, retry %v, %v; want refused, retry 30s", ok, retry, err)
	}
}

// TestLimiterRecordBounded: a key keeps the newest max times and expires
// a second after the newest leaves the window (later, for a time ahead
// of now), so an idle key costs nothing.
func TestLimiterRecordBounded(t *testing.T) {
	s := openStore(t, "")
	t0 := time.Now()
	var want string
	for i := range 10 {
		at := t0.Add(time.Duration(i) * 25 * time.Second)
		if ok, _, err := s.Hit(t.Context(), "k", time.Minute, 3, at); err != nil || !ok {
			t.Fatalf("hit %d, 25 s apart: ok %v, %v; want allowed", i, ok, err)
		}
		if i >= 7 {
			want += nanos(at)
		}
	}
	k := s.prefix + prefixLimit + "s:" + strconv.FormatInt(int64(time.Minute), 10) + ":k"
	if got, err := s.rdb.Get(t.Context(), k).Result(); err != nil || got != want {
		t.Fatalf("record %q, %v; want the newest 3 times %q", got, err, want)
	}
	// The expiry counts from the write by Redis's clock: the newest time
	// is the last hit's now, so a window and a second (5 s of slack for a
	// slow machine between the write and this read).
	ttl, err := s.rdb.PTTL(t.Context(), k).Result()
	if err != nil || ttl > time.Minute+time.Second || ttl < time.Minute-5*time.Second {
		t.Fatalf("PTTL %v, %v; want a second more than the window, 1m1s", ttl, err)
	}
	if ok, _, err := s.Hit(t.Context(), "k", time.Minute, 3, t0.Add(10*time.Minute)); err != nil || !ok {
		t.Fatalf("hit 10 min on: %v, %v", ok, err)
	}
	if ok, _, err := s.Hit(t.Context(), "k", time.Minute, 3, t0.Add(5*time.Minute)); err != nil || !ok {
		t.Fatalf("hit 5 min on, after the one at 10: %v, %v", ok, err)
	}
	if ttl, err := s.rdb.PTTL(t.Context(), k).Result(); err != nil || ttl < 6*time.Minute-5*time.Second || ttl > 6*time.Minute+time.Second {
		t.Fatalf("PTTL after a hit 5 min behind the newest: %v, %v; want 6m1s (the newest's)", ttl, err)
	}
}
