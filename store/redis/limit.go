package redis

import (
	"context"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/linkguard/linkguard"
)

// The sign-in limits (linkguard.Limiter): P r:<window ns>:<start unix>:<key>
// → count, expiring a second after the window's end. keys.go lists the prefix.

var _ linkguard.Limiter = (*Store)(nil)

// hitScript counts one event and sets the expiry with the first, in one
// step: no count outlives its window, whatever instance made it. The
// expiry is relative (PEXPIRE), so that a clock difference between the
// instance and Redis does not end a window early.
var hitScript = goredis.NewScript(`
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n`)

// Hit counts one event in key's window, atomically across instances.
func (s *Store) Hit(ctx context.Context, key string, window time.Duration, max int, now time.Time) (bool, time.Duration, error) {
	start, end, err := linkguard.LimitWindow(key, window, max, now)
	if err != nil {
		return false, 0, err
	}
	k := s.prefix + prefixLimit + strconv.FormatInt(int64(window), 10) + ":" + strconv.FormatInt(start.Unix(), 10) + ":" + key
	n, err := hitScript.Run(ctx, s.rdb, []string{k}, (end.Sub(now) + time.Second).Milliseconds()).Int64()
	if err != nil {
		return false, 0, err
	}
	if n > int64(max) {
		return false, end.Sub(now), nil
	}
	return true, 0, nil
}
