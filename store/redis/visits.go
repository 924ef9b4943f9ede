package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/fingerprint"
	"github.com/linkguard/linkguard/store/internal/visitrec"
)

// writeTimeout bounds one pipelined batch of visits: the round trips to
// Redis, not the encoding before them.
const writeTimeout = 5 * time.Second

// AddVisit implements linkguard.Store. It queues the visit for the
// background writer and returns without waiting for Redis; a full queue
// (Redis slow or away) drops the visit (see store/internal/visitq).
func (s *Store) AddVisit(ctx context.Context, v *linkguard.Visit) error {
	return s.visits.Add(v)
}

// DroppedVisits is how many visits were dropped because the queue was full.
func (s *Store) DroppedVisits() uint64 { return s.visits.Dropped() }

// visitChunk is the most visits one visitsScript call records: Redis
// runs a call whole, so a chunk bounds how long others wait for it.
const visitChunk = 64

// visitLinger is how long the writer waits after a batch smaller than a
// chunk, so that the visits of a busy moment go in fewer, fuller calls
// (each costs Redis a script call, an AOF write and an fsync), at the
// cost of recording a visit up to this much later.
const visitLinger = 2 * time.Millisecond

// writeVisits sends a batch as pipelined calls of visitsScript, a chunk
// of visits each. When Redis has lost its script cache (a restart, SCRIPT
// FLUSH) the script is loaded again and the refused chunks are sent once
// more.
func (s *Store) writeVisits(batch []*linkguard.Visit) error {
	if len(batch) < visitChunk {
		defer time.Sleep(visitLinger)
	}
	var calls []visitsCall
	total := len(batch)
	for len(batch) > 0 {
		chunk := batch[:min(len(batch), visitChunk)]
		batch = batch[len(chunk):]
		c, err := s.encodeChunk(chunk)
		if err != nil {
			return err
		}
		calls = append(calls, c)
	}
	// NB: the clock starts once the batch is encoded. Encoding a full
	// batch of large decision records is CPU work that a busy machine
	// stretches past writeTimeout; counted in, it left no time for Redis
	// and the whole batch was lost.
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	for try := 0; try < 2 && len(calls) > 0; try++ {
		pipe := s.rdb.Pipeline()
		cmds := make([]*goredis.Cmd, len(calls))
		for i, c := range calls {
			cmds[i] = visitsScript.EvalSha(ctx, pipe, c.keys, c.args...)
		}
		pipe.Exec(ctx) // errors are per command, below
		var again []visitsCall
		var errs []error
		lost := 0
		for i, cmd := range cmds {
			switch err := cmd.Err(); {
			case err == nil:
				if n, _ := cmd.Int64(); n > 0 {
					s.log.Warn("webhook queue full: visit events not queued", "jobs", n)
				}
			case goredis.HasErrorPrefix(err, "NOSCRIPT"):
				again = append(again, calls[i])
			default:
				errs = append(errs, err)
				lost += calls[i].n
			}
		}
		if len(errs) > 0 {
			return fmt.Errorf("%d of %d visits not written: %w", lost, total, errs[0])
		}
		if len(again) > 0 {
			home, err := s.scriptNode(ctx)
			if err != nil {
				return fmt.Errorf("load visit script: %w", err)
			}
			if err := visitsScript.Load(ctx, home).Err(); err != nil {
				return fmt.Errorf("load visit script: %w", err)
			}
		}
		calls = again
	}
	if len(calls) > 0 {
		lost := 0
		for _, c := range calls {
			lost += c.n
		}
		return fmt.Errorf("%d visits not written: the script cache keeps losing the visit script", lost)
	}
	return nil
}

// visitsCall is one call of visitsScript: its KEYS and ARGV, and how
// many visits it records.
type visitsCall struct {
	keys []string
	args []any
	n    int
}

// encodeChunk encodes a chunk of visits for one visitsScript call, grouped
// by link, each link's visits in the order they came.
func (s *Store) encodeChunk(chunk []*linkguard.Visit) (visitsCall, error) {
	c := visitsCall{keys: []string{s.prefix + keyWebhookDue, s.prefix + keyWebhookList},
		args: make([]any, 0, 3+16*len(chunk)), n: len(chunk)}
	c.args = append(c.args, linkguard.KeptViews, linkguard.KeptDecisions, linkguard.HistoryLen)
	var order []string
	groups := map[string][]*linkguard.Visit{}
	for _, v := range chunk {
		if _, ok := groups[v.LinkID]; !ok {
			order = append(order, v.LinkID)
		}
		groups[v.LinkID] = append(groups[v.LinkID], v)
	}
	for _, id := range order {
		c.keys = append(c.keys, s.visitKey(id), s.decidedKey(id), s.historyKey(id), s.linkKey(id))
		var err error
		if c.args, err = s.appendLinkVisits(c.args, groups[id]); err != nil {
			return c, err
		}
	}
	return c, nil
}

// appendLinkVisits appends one link's visits to a visitsScript ARGV:
// their count and the rings' expiry, each visit's ring, time, record and
// history entry, then each visit's outbox (its ARGV's length, 0 for
// none, then appendOutbox's).
func (s *Store) appendLinkVisits(args []any, vs []*linkguard.Visit) ([]any, error) {
	var pxat int64
	for _, v := range vs {
		pxat = max(pxat, v.At.Add(linkguard.VisitTTL(s.opts.Retention)).UnixMilli())
	}
	args = append(args, len(vs), pxat)
	for _, v := range vs {
		b, err := visitrec.Encode(v)
		if err != nil {
			return nil, err
		}
		past, err := json.Marshal(v.Past())
		if err != nil {
			return nil, err
		}
		ring := "v"
		if v.IsDecision() {
			ring = "d"
		}
		args = append(args, ring, v.At.UnixMilli(), b, past)
	}
	for _, v := range vs {
		if len(v.Outbox.Queued(false)) == 0 {
			args = append(args, 0)
			continue
		}
		at := len(args)
		args = append(args, 0)
		var err error
		if args, err = s.appendOutbox(args, v.Outbox); err != nil {
			return nil, err
		}
		args[at] = len(args) - at - 1
	}
	return args, nil
}

// Visits implements linkguard.Store.
func (s *Store) Visits(ctx context.Context, linkID string) ([]linkguard.Visit, error) {
	pipe := s.rdb.Pipeline()
	views := pipe.ZRange(ctx, s.visitKey(linkID), 0, -1)
	decided := pipe.ZRange(ctx, s.decidedKey(linkID), 0, -1)
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, goredis.Nil) {
		return nil, fmt.Errorf("read visits of %s: %w", linkID, err)
	}
	var out []linkguard.Visit
	for _, m := range append(views.Val(), decided.Val()...) {
		v, err := s.decodeVisit(ctx, m)
		if err != nil {
			return nil, fmt.Errorf("decode visit of %s: %w", linkID, err)
		}
		out = append(out, v)
	}
	sortVisits(out)
	return out, nil
}

// decodeVisit reads a ring's member, and the verdict of a consumption's
// record from its link (visitrec), whose key outlives the rings (they
// take its TTL: luaRing).
func (s *Store) decodeVisit(ctx context.Context, m string) (linkguard.Visit, error) {
	r, err := visitrec.Decode([]byte(m))
	if err != nil || !r.VerdictOfLink {
		return r.Visit, err
	}
	l, err := s.LinkByID(ctx, r.LinkID)
	if errors.Is(err, linkguard.ErrNotFound) {
		return r.Visit, nil // the link is gone: the record goes with it
	}
	if err != nil {
		return r.Visit, fmt.Errorf("the verdict of %s: %w", r.LinkID, err)
	}
	r.Verdict = l.Verdict
	return r.Visit, nil
}

func sortVisits(vs []linkguard.Visit) {
	slices.SortStableFunc(vs, func(a, b linkguard.Visit) int {
		if c := a.At.Compare(b.At); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}

// History implements linkguard.Store.
func (s *Store) History(ctx context.Context, linkID string) ([]fingerprint.PastVisit, error) {
	entries, err := s.rdb.LRange(ctx, s.historyKey(linkID), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("read history of %s: %w", linkID, err)
	}
	out := make([]fingerprint.PastVisit, 0, len(entries))
	for _, e := range entries {
		var p fingerprint.PastVisit
		if err := json.Unmarshal([]byte(e), &p); err != nil {
			return nil, fmt.Errorf("decode history of %s: %w", linkID, err)
		}
		out = append(out, p)
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
	// Both rings: a link may have decisions and no views kept.
	err := s.scan(ctx, globEscape(s.prefix)+"[vd]:*", func(key string) error {
		if err := ctx.Err(); err != nil {
			return errStop{err}
		}
		id := key[len(s.prefix)+len(prefixVisit):]
		if seen[id] {
			return nil
		}
		seen[id] = true
		var group []linkguard.Visit
		for _, k := range []string{s.visitKey(id), s.decidedKey(id)} {
			members, err := s.rdb.ZRangeByScore(ctx, k, &goredis.ZRangeBy{Min: min, Max: "+inf"}).Result()
			if err != nil {
				return fmt.Errorf("%s: %w", k, err)
			}
			for _, m := range members {
				v, err := s.decodeVisit(ctx, m)
				if err != nil {
					return fmt.Errorf("decode %s: %w", k, err)
				}
				if !v.At.Before(since) {
					group = append(group, v)
				}
			}
		}
		sortVisits(group)
		for i := range group {
			if err := fn(&group[i]); err != nil {
				return errStop{err}
			}
		}
		return nil
	})
	var stop errStop
	if errors.As(err, &stop) {
		return stop.err
	}
	if err != nil {
		return fmt.Errorf("scan visits: %w", err)
	}
	return ctx.Err()
}

// errStop carries the error of a scan's caller through scan unwrapped.
type errStop struct{ err error }

func (e errStop) Error() string { return e.err.Error() }

// scan calls fn with every key that matches match, on the one server or
// on every primary of a cluster, one key at a time, until fn returns an
// error. A key may come more than once (SCAN's promise).
func (s *Store) scan(ctx context.Context, match string, fn func(key string) error) error {
	nodes, err := s.nodes(ctx, false)
	if err != nil {
		return err
	}
	for _, n := range nodes {
		iter := n.Scan(ctx, 0, match, 1000).Iterator()
		for iter.Next(ctx) {
			if err := fn(iter.Val()); err != nil {
				return err
			}
		}
		if err := iter.Err(); err != nil {
			return err
		}
	}
	return nil
}

// LinkBytes is what a link's keys take in Redis (MEMORY USAGE, which
// counts Redis's own overheads): the link, its token and family index,
// its mail job, its visit rings and history. For the size checks and
// docs/performance.md.
func (s *Store) LinkBytes(ctx context.Context, id string) (int64, error) {
	keys := []string{s.linkKey(id), s.mailKey(id), s.visitKey(id), s.decidedKey(id), s.historyKey(id)}
	if l, err := s.LinkByID(ctx, id); err == nil {
		keys = append(keys, s.tokenKey(l.TokenHash), s.familyKey(l.Family))
	}
	var n int64
	for _, k := range keys {
		b, err := s.rdb.MemoryUsage(ctx, k, 0).Result()
		if errors.Is(err, goredis.Nil) {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("memory usage of %s: %w", k, err)
		}
		n += b
	}
	return n, nil
}
