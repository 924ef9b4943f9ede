package mail

import (
	"math/rand/v2"
	"time"
)

// Backoff is the retry schedule: Base after the first failure, doubling
// each time, capped at Max, each delay shortened by up to Jitter of itself
// at random so that mails queued together while the relay was down do not
// all retry in the same second.
type Backoff struct {
	Base   time.Duration
	Max    time.Duration
	Jitter float64 // 0..1; the fraction of a delay that may be cut
	// Rand returns a number in [0, 1). Nil means math/rand/v2's Float64;
	// tests pass a constant.
	Rand func() float64
}

// DefaultBackoff retries after about 5s, 10s, 20s, 40s ... up to 10 min.
var DefaultBackoff = Backoff{Base: 5 * time.Second, Max: 10 * time.Minute, Jitter: 0.2}

// Delay returns how long to wait after the attempt-th failed attempt
// (attempt counts from 1; smaller values are taken as 1).
func (b Backoff) Delay(attempt int) time.Duration {
	base, limit := b.Base, b.Max
	if base <= 0 {
		base = DefaultBackoff.Base
	}
	if limit <= 0 {
		limit = DefaultBackoff.Max
	}
	if limit < base {
		limit = base
	}
	if attempt < 1 {
		attempt = 1
	}
	d := base
	// Doubling stops at the cap, which also keeps d from overflowing.
	for i := 1; i < attempt && d < limit; i++ {
		d *= 2
	}
	if d > limit {
		d = limit
	}
	j := b.Jitter
	if j <= 0 {
		return d
	}
	if j > 1 {
		j = 1
	}
	r := rand.Float64
	if b.Rand != nil {
		r = b.Rand
	}
	f := r()
	if f < 0 || f >= 1 {
		f = 0
	}
	return d - time.Duration(float64(d)*j*f)
}
