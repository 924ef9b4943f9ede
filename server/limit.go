package server

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/linkguard/linkguard"
)

// memLimits is a linkguard.Limiter in this process's memory, for a store
// that keeps no counts. NB: per instance; both stores keep counts.
type memLimits struct {
	mu sync.Mutex
	n  map[string]memCount
}

type memCount struct {
	n   int
	end time.Time
}

func (m *memLimits) Hit(_ context.Context, key string, window time.Duration, max int, now time.Time) (bool, time.Duration, error) {
	start, end, err := linkguard.LimitWindow(key, window, max, now)
	if err != nil {
		return false, 0, err
	}
	k := strconv.FormatInt(int64(window), 10) + "/" + strconv.FormatInt(start.Unix(), 10) + "/" + key
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.n == nil {
		m.n = map[string]memCount{}
	}
	if len(m.n) > 10000 { // prune ended windows, so the map stays small
		for k, c := range m.n {
			if !now.Before(c.end) {
				delete(m.n, k)
			}
		}
	}
	c := m.n[k]
	c.n, c.end = c.n+1, end
	m.n[k] = c
	if c.n > max {
		return false, end.Sub(now), nil
	}
	return true, 0, nil
}
