package server

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/linkguard/linkguard"
)

// memLimits is a linkguard.Limiter in this process's memory, for a store
// that keeps no limits. NB: per instance; both stores keep them.
type memLimits struct {
	mu sync.Mutex
	n  map[string]memRecord
}

// memRecord is one key's record (linkguard.LimitStep) and when it is no
// longer needed.
type memRecord struct {
	times []int64
	end   time.Time
}

func (m *memLimits) Hit(_ context.Context, key string, window time.Duration, max int, now time.Time) (bool, time.Duration, error) {
	if err := linkguard.LimitArgs(key, window, max, now); err != nil {
		return false, 0, err
	}
	k := strconv.FormatInt(int64(window), 10) + "/" + key
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.n == nil {
		m.n = map[string]memRecord{}
	}
	if len(m.n) > 10000 { // prune idle keys, so the map stays small
		for k, r := range m.n {
			if !now.Before(r.end) {
				delete(m.n, k)
			}
		}
	}
	keep, ok, retry := linkguard.LimitStep(m.n[k].times, window, max, now)
	if !ok {
		return false, retry, nil
	}
	m.n[k] = memRecord{times: keep, end: now.Add(linkguard.LimitExpiry(keep[len(keep)-1], window, now))}
	return true, 0, nil
}
