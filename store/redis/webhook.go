package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/linkguard/linkguard"
)

// The webhook queue and the console's counters (keys.go lists the rest):
//
//	P w:<job id>     string: WebhookJob JSON. Pending: no expiry; done:
//	                 PEXPIRE keep.
//	P wq             sorted set: pending job ids scored by next attempt (ms).
//	P wl             sorted set: job ids with an endpoint, scored by creation
//	                 (ms), the newest recentWebhooks kept; members whose w:
//	                 key is gone are skipped and dropped by readers.
//	P c:<hour unix>  hash: that hour's counters (HINCRBY). EXPIRE: CountsKeep.
const (
	prefixWebhook    = "w:"
	keyWebhookDue    = "wq"
	keyWebhookList   = "wl"
	prefixCounts     = "c:"
	recentWebhookLen = 1000
)

func (s *Store) webhookKey(id string) string { return s.prefix + prefixWebhook + id }
func (s *Store) countsKey(h time.Time) string {
	return s.prefix + prefixCounts + strconv.FormatInt(h.Unix(), 10)
}

// enqueueWebhookScript stores jobs unless the queue is full.
//
// KEYS: wq, wl. ARGV: an outbox (Store.outboxArgs) whose first group is
// the jobs. Result: the jobs dropped (all of them) when full, else 0.
var enqueueWebhookScript = goredis.NewScript(luaQueue + `
return queue(KEYS[1], KEYS[2], 1, 1)
`)

// outboxArgs appends an outbox to a script's KEYS (the webhook queue and
// the recent list) and ARGV (appendOutbox).
func (s *Store) outboxArgs(keys []string, args []any, out *linkguard.Outbox) ([]string, []any, error) {
	keys = append(keys, s.prefix+keyWebhookDue, s.prefix+keyWebhookList)
	args, err := s.appendOutbox(args, out)
	return keys, args, err
}

// appendOutbox appends an outbox to a script's ARGV as luaQueue reads
// it: the job key prefix, the bound, the recent list's length, then out's
// Jobs and its Locked, each a count and 5 values a job.
func (s *Store) appendOutbox(args []any, out *linkguard.Outbox) ([]any, error) {
	max := 0
	if out != nil {
		max = out.Max
	}
	args = append(args, s.prefix+prefixWebhook, max, recentWebhookLen)
	for _, locked := range []bool{false, true} {
		jobs := out.Queued(locked)
		args = append(args, len(jobs))
		for i := range jobs {
			j := jobs[i]
			j.State = linkguard.WebhookPending
			b, err := json.Marshal(&j)
			if err != nil {
				return nil, err
			}
			listed := "0"
			if j.Endpoint != "" {
				listed = "1"
			}
			args = append(args, j.ID, b, j.NextAt.UnixMilli(), j.CreatedAt.UnixMilli(), listed)
		}
	}
	return args, nil
}

// dropped records, on out, the jobs a script's reply says it dropped.
func dropped(out *linkguard.Outbox, n int64) {
	if out != nil {
		out.Dropped = int(n)
	}
}

// dueWebhookScript claims up to max due jobs by moving each one's score
// to the end of its lease.
//
// KEYS: wq. ARGV: now (ms), lease end (ms), max, job key prefix.
// Result: json, json, ...
var dueWebhookScript = goredis.NewScript(`
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for _, id in ipairs(ids) do
  local j = redis.call('GET', ARGV[4] .. id)
  if not j then
    redis.call('ZREM', KEYS[1], id)
  else
    redis.call('ZADD', KEYS[1], ARGV[2], id)
    out[#out + 1] = j
  end
end
return out
`)

// updateWebhookScript writes a job back: pending again, or done.
//
// KEYS: job, wq. ARGV: id, json, pending (1 or 0), due (ms), keep (ms).
// Result: 0 when there is no such job.
var updateWebhookScript = goredis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('ZREM', KEYS[2], ARGV[1])
if ARGV[3] == '1' then
  redis.call('SET', KEYS[1], ARGV[2])
  redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
else
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[5])
end
return 1
`)

// EnqueueWebhooks implements linkguard.WebhookQueue.
func (s *Store) EnqueueWebhooks(ctx context.Context, jobs []linkguard.WebhookJob, max int) error {
	if len(jobs) == 0 {
		return nil
	}
	keys, args, err := s.outboxArgs(nil, nil, &linkguard.Outbox{Jobs: jobs, Max: max})
	if err != nil {
		return err
	}
	n, err := enqueueWebhookScript.Run(ctx, s.rdb, keys, args...).Int()
	if err != nil {
		return fmt.Errorf("enqueue webhooks: %w", err)
	}
	if n > 0 {
		return linkguard.ErrQueueFull
	}
	return nil
}

// DueWebhooks implements linkguard.WebhookQueue.
func (s *Store) DueWebhooks(ctx context.Context, now time.Time, lease time.Duration, max int) ([]linkguard.WebhookJob, error) {
	if max <= 0 {
		return nil, nil
	}
	reply, err := dueWebhookScript.Run(ctx, s.rdb, []string{s.prefix + keyWebhookDue},
		now.UnixMilli(), now.Add(lease).UnixMilli(), max, s.prefix+prefixWebhook).StringSlice()
	if err != nil {
		return nil, fmt.Errorf("claim webhooks: %w", err)
	}
	out := make([]linkguard.WebhookJob, 0, len(reply))
	for _, b := range reply {
		var j linkguard.WebhookJob
		if err := json.Unmarshal([]byte(b), &j); err != nil {
			return nil, fmt.Errorf("claim webhooks: %w", err)
		}
		j.NextAt = now.Add(lease)
		out = append(out, j)
	}
	return out, nil
}

// UpdateWebhook implements linkguard.WebhookQueue.
func (s *Store) UpdateWebhook(ctx context.Context, j *linkguard.WebhookJob, keep time.Duration) error {
	b, err := json.Marshal(j)
	if err != nil {
		return err
	}
	pending := "0"
	if j.State == linkguard.WebhookPending {
		pending = "1"
	}
	n, err := updateWebhookScript.Run(ctx, s.rdb, []string{s.webhookKey(j.ID), s.prefix + keyWebhookDue},
		j.ID, b, pending, j.NextAt.UnixMilli(), max(keep, time.Minute).Milliseconds()).Int()
	if err != nil {
		return fmt.Errorf("webhook job %s: %w", j.ID, err)
	}
	if n == 0 {
		return fmt.Errorf("webhook job %s: %w", j.ID, linkguard.ErrNotFound)
	}
	return nil
}

// RecentWebhooks implements linkguard.WebhookQueue.
func (s *Store) RecentWebhooks(ctx context.Context, max int) ([]linkguard.WebhookJob, error) {
	if max <= 0 {
		return nil, nil
	}
	ids, err := s.rdb.ZRevRange(ctx, s.prefix+keyWebhookList, 0, int64(max)-1).Result()
	if err != nil {
		return nil, fmt.Errorf("recent webhooks: %w", err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = s.webhookKey(id)
	}
	vals, err := s.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, fmt.Errorf("recent webhooks: %w", err)
	}
	var out []linkguard.WebhookJob
	var gone []any
	for i, v := range vals {
		str, ok := v.(string)
		if !ok {
			gone = append(gone, ids[i])
			continue
		}
		var j linkguard.WebhookJob
		if err := json.Unmarshal([]byte(str), &j); err != nil {
			return nil, fmt.Errorf("recent webhooks: %w", err)
		}
		out = append(out, j)
	}
	if len(gone) > 0 {
		s.rdb.ZRem(ctx, s.prefix+keyWebhookList, gone...)
	}
	return out, nil
}

// AddCounts implements linkguard.Counts.
func (s *Store) AddCounts(ctx context.Context, at time.Time, deltas map[string]int64) error {
	if len(deltas) == 0 {
		return nil
	}
	k := s.countsKey(at.UTC().Truncate(time.Hour))
	_, err := s.rdb.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		for n, d := range deltas {
			p.HIncrBy(ctx, k, n, d)
		}
		p.Expire(ctx, k, linkguard.CountsKeep)
		return nil
	})
	if err != nil {
		return fmt.Errorf("add counts: %w", err)
	}
	return nil
}

// CountsBetween implements linkguard.Counts: one HGETALL per hour, pipelined.
func (s *Store) CountsBetween(ctx context.Context, from, to time.Time) (map[time.Time]map[string]int64, error) {
	from, to = from.UTC().Truncate(time.Hour), to.UTC().Truncate(time.Hour)
	var hours []time.Time
	for h := from; !h.After(to); h = h.Add(time.Hour) {
		hours = append(hours, h)
	}
	out := map[time.Time]map[string]int64{}
	if len(hours) == 0 {
		return out, nil
	}
	cmds := make([]*goredis.MapStringStringCmd, len(hours))
	_, err := s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, h := range hours {
			cmds[i] = p.HGetAll(ctx, s.countsKey(h))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read counts: %w", err)
	}
	for i, c := range cmds {
		if len(c.Val()) == 0 {
			continue
		}
		m := make(map[string]int64, len(c.Val()))
		for k, v := range c.Val() {
			n, _ := strconv.ParseInt(v, 10, 64)
			m[k] = n
		}
		out[hours[i]] = m
	}
	return out, nil
}

// ScanLinks implements linkguard.Counts. NB: it walks the link keys with
// SCAN, so it costs O(keys in the database).
func (s *Store) ScanLinks(ctx context.Context, fn func(*linkguard.Link) error) error {
	seen := map[string]bool{}
	err := s.scan(ctx, globEscape(s.prefix+prefixLink)+"*", func(k string) error {
		if seen[k] || strings.Contains(k[len(s.prefix+prefixLink):], ":") {
			return nil
		}
		seen[k] = true
		f, err := s.rdb.HMGet(ctx, k, linkFieldNames...).Result()
		if err != nil {
			return fmt.Errorf("scan links: %w", err)
		}
		js, ok, err := linkJSON(f)
		if err != nil {
			return fmt.Errorf("scan links: %s: %w", k, err)
		}
		if !ok {
			return nil
		}
		var l linkguard.Link
		if err := json.Unmarshal([]byte(js), &l); err != nil {
			return fmt.Errorf("scan links: %s: %w", k, err)
		}
		if err := fn(&l); err != nil {
			return errStop{err}
		}
		return nil
	})
	var stop errStop
	if errors.As(err, &stop) {
		return stop.err
	}
	return err
}
