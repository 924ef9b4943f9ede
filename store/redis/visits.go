package redis

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/store/internal/visitq"
)

// writeTimeout bounds one pipelined batch of visits.
const writeTimeout = 5 * time.Second

// AddVisit implements linkguard.Store. It queues the visit for the
// background writer and returns without waiting for Redis; a full queue
// (Redis slow or away) drops the visit (see store/internal/visitq).
func (s *Store) AddVisit(ctx context.Context, v *linkguard.Visit) error {
	return s.visits.Add(v)
}

// DroppedVisits is how many visits were dropped because the queue was full.
func (s *Store) DroppedVisits() uint64 { return s.visits.Dropped() }

// writeVisits sends a batch as pipelined EVALSHAs. When Redis has lost
// its script cache (a restart, SCRIPT FLUSH) the script is loaded again
// and the refused visits are sent once more.
func (s *Store) writeVisits(batch []*linkguard.Visit) error {
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	type call struct {
		keys []string
		args []any
	}
	calls := make([]call, 0, len(batch))
	for _, v := range batch {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		calls = append(calls, call{
			keys: []string{s.visitKey(v.LinkID), s.linkKey(v.LinkID)},
			args: []any{v.At.UnixMilli(), b, visitq.MaxPerLink,
				v.At.Add(s.opts.Retention + 24*time.Hour).UnixMilli()},
		})
	}
	for try := 0; try < 2 && len(calls) > 0; try++ {
		pipe := s.rdb.Pipeline()
		cmds := make([]*goredis.Cmd, len(calls))
		for i, c := range calls {
			cmds[i] = visitScript.EvalSha(ctx, pipe, c.keys, c.args...)
		}
		pipe.Exec(ctx) // errors are per command, below
		var again []call
		var errs []error
		for i, cmd := range cmds {
			switch err := cmd.Err(); {
			case err == nil:
			case goredis.HasErrorPrefix(err, "NOSCRIPT"):
				again = append(again, calls[i])
			default:
				errs = append(errs, err)
			}
		}
		if len(errs) > 0 {
			return fmt.Errorf("%d of %d visits not written: %w", len(errs), len(calls), errs[0])
		}
		if len(again) > 0 {
			if err := visitScript.Load(ctx, s.rdb).Err(); err != nil {
				return fmt.Errorf("load visit script: %w", err)
			}
		}
		calls = again
	}
	if len(calls) > 0 {
		return fmt.Errorf("%d visits not written: the script cache keeps losing the visit script", len(calls))
	}
	return nil
}

// Visits implements linkguard.Store.
func (s *Store) Visits(ctx context.Context, linkID string) ([]linkguard.Visit, error) {
	members, err := s.rdb.ZRange(ctx, s.visitKey(linkID), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("read visits of %s: %w", linkID, err)
	}
	var out []linkguard.Visit
	for _, m := range members {
		var v linkguard.Visit
		if err := json.Unmarshal([]byte(m), &v); err != nil {
			return nil, fmt.Errorf("decode visit of %s: %w", linkID, err)
		}
		out = append(out, v)
	}
	return out, nil
}

// ScanVisits implements linkguard.Store.
//
// NB: it walks the visit keys with SCAN, so it costs O(keys in the
// database), whatever since is, and remembers the keys it has seen (SCAN
// may return a key twice). It is meant for offline work (replay, export),
// not for a request path. Visits written during the scan may or may not
// be seen.
func (s *Store) ScanVisits(ctx context.Context, since time.Time, fn func(*linkguard.Visit) error) error {
	seen := map[string]bool{}
	min := strconv.FormatInt(since.UnixMilli(), 10)
	iter := s.rdb.Scan(ctx, 0, globEscape(s.prefix+prefixVisit)+"*", 1000).Iterator()
	for iter.Next(ctx) {
		if err := ctx.Err(); err != nil {
			return err
		}
		key := iter.Val()
		if seen[key] {
			continue
		}
		seen[key] = true
		members, err := s.rdb.ZRangeByScore(ctx, key, &goredis.ZRangeBy{Min: min, Max: "+inf"}).Result()
		if err != nil {
			return fmt.Errorf("scan visits: %s: %w", key, err)
		}
		for _, m := range members {
			var v linkguard.Visit
			if err := json.Unmarshal([]byte(m), &v); err != nil {
				return fmt.Errorf("scan visits: decode %s: %w", key, err)
			}
			if v.At.Before(since) {
				continue
			}
			if err := fn(&v); err != nil {
				return err
			}
		}
	}
	if err := iter.Err(); err != nil {
		return fmt.Errorf("scan visits: %w", err)
	}
	return ctx.Err()
}
