package redis

import (
	"context"
	"fmt"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/linkguard/linkguard"
)

// The sign-in limits (linkguard.Limiter): P r:s:<window ns>:<key> → the
// times of the newest allowed hits, oldest first, each 20 digits (Unix
// ns, zero-padded), expiring as linkguard.LimitExpiry says. keys.go lists
// the prefix. NB: the fixed-window counts before them were
// P r:<window>:<start>:<key> (a digit after r:, never the s: here).

var _ linkguard.Limiter = (*Store)(nil)

// hitScript is linkguard.LimitStep in one step on one key, so that the
// limit holds across instances (and, one key a call, on a cluster).
// ARGV: now, now-window (both 20 digits, compared as strings: Lua's
// numbers are doubles and cannot hold nanoseconds), max, and the window
// plus a second in ms. It answers 1 when allowed, or else the time (20
// digits) whose leaving the window lets a hit in: the caller, holding
// now and the window exactly, works out the retry. A refused hit writes
// nothing. The expiry is relative (PX), so that a clock difference
// between the instance and Redis does not end a record early.
var hitScript = goredis.NewScript(`
local v = redis.call('GET', KEYS[1]) or ''
local now, cut, max = ARGV[1], ARGV[2], tonumber(ARGV[3])
local ts = {}
for i = 1, #v - 19, 20 do ts[#ts + 1] = string.sub(v, i, i + 19) end
local n = #ts
if n >= max and ts[n - max + 1] > cut then return ts[n - max + 1] end
local i = n + 1
while i > 1 and ts[i - 1] > now do ts[i] = ts[i - 1]; i = i - 1 end
ts[i] = now
n = n + 1
local ahead = math.max(0, math.ceil((tonumber(ts[n]) - tonumber(now)) / 1e6))
redis.call('SET', KEYS[1], table.concat(ts, '', math.max(1, n - max + 1), n), 'PX', tonumber(ARGV[4]) + ahead)
return 1`)

// Hit allows one event for key if the window holds room for it,
// atomically across instances.
func (s *Store) Hit(ctx context.Context, key string, window time.Duration, max int, now time.Time) (bool, time.Duration, error) {
	if err := linkguard.LimitArgs(key, window, max, now); err != nil {
		return false, 0, err
	}
	k := s.prefix + prefixLimit + "s:" + strconv.FormatInt(int64(window), 10) + ":" + key
	t := now.UnixNano()
	res, err := hitScript.Run(ctx, s.rdb, []string{k}, nanos(now), nanos(now.Add(-window)), max, (window + time.Second).Milliseconds()).Result()
	if err != nil {
		return false, 0, err
	}
	switch r := res.(type) {
	case int64:
		return true, 0, nil
	case string:
		oldest, err := strconv.ParseInt(r, 10, 64)
		if err != nil {
			return false, 0, fmt.Errorf("limit: stored time %q: %w", r, err)
		}
		return false, time.Duration(oldest + int64(window) - t), nil
	}
	return false, 0, fmt.Errorf("limit: script answered %T", res)
}
