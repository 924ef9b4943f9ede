package badger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/linkguard/linkguard"
)

// The webhook queue and the console's counters (keys.go lists them):
//
//	w/<job id>              → WebhookJob (JSON). Pending: no TTL; done: kept for UpdateWebhook's keep.
//	wq/<due nanos>/<job id> → empty: the pending jobs ordered by next attempt.
//	c/<hour, 12-digit unix> → map[string]int64 (JSON): that hour's counters. TTL: CountsKeep.
const (
	prefixWebhook    = "w/"
	prefixWebhookDue = "wq/"
	prefixCounts     = "c/"
)

func webhookKey(id string) []byte { return []byte(prefixWebhook + id) }

func webhookDueKey(at time.Time, id string) []byte {
	return []byte(fmt.Sprintf("%s%020d/%s", prefixWebhookDue, at.UnixNano(), id))
}

func countsKey(hour time.Time) []byte {
	return []byte(fmt.Sprintf("%s%012d", prefixCounts, hour.Unix()))
}

// setter is a transaction or a write batch.
type setter interface {
	SetEntry(e *badger.Entry) error
}

func (s *Store) putWebhook(txn setter, j *linkguard.WebhookJob, keep time.Duration) error {
	b, err := json.Marshal(j)
	if err != nil {
		return err
	}
	e := badger.NewEntry(webhookKey(j.ID), b)
	if j.State != linkguard.WebhookPending {
		return txn.SetEntry(e.WithTTL(max(keep, time.Minute)))
	}
	if err := txn.SetEntry(e); err != nil {
		return err
	}
	return txn.SetEntry(badger.NewEntry(webhookDueKey(j.NextAt, j.ID), nil))
}

// pendingWebhooks counts the pending jobs, stopping at limit.
func pendingWebhooks(txn *badger.Txn, limit int) int {
	o := badger.DefaultIteratorOptions
	o.PrefetchValues = false
	o.Prefix = []byte(prefixWebhookDue)
	it := txn.NewIterator(o)
	defer it.Close()
	n := 0
	for it.Rewind(); it.Valid() && n < limit; it.Next() {
		n++
	}
	return n
}

// EnqueueWebhooks implements linkguard.WebhookQueue.
func (s *Store) EnqueueWebhooks(ctx context.Context, jobs []linkguard.WebhookJob, max int) error {
	if len(jobs) == 0 {
		return nil
	}
	full, err := s.queueFull(max)
	if err != nil {
		return err
	}
	if full {
		return linkguard.ErrQueueFull
	}
	var n int
	err = s.update(func(txn *badger.Txn) error {
		n = 0
		for i := range jobs {
			j := jobs[i]
			if _, err := txn.Get(webhookKey(j.ID)); err == nil {
				continue // queued already: sent once
			} else if !errors.Is(err, badger.ErrKeyNotFound) {
				return err
			}
			j.State = linkguard.WebhookPending
			if err := s.putWebhook(txn, &j, 0); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err == nil {
		s.pending.add(int64(n))
	}
	return err
}

// queueFull reports whether max > 0 jobs are pending.
func (s *Store) queueFull(max int) (bool, error) {
	if max <= 0 {
		return false, nil
	}
	n, err := s.pending.get(s.db)
	return n >= int64(max), err
}

// outbox is the webhook jobs of one change, written in the change's own
// transaction (linkguard.Outbox). Make it before the transaction; call
// write inside it (every time it runs: a conflict runs it again), and
// done after a commit.
type outbox struct {
	out    *linkguard.Outbox
	full   bool
	queued int
}

func (s *Store) outbox(out *linkguard.Outbox) (*outbox, error) {
	o := &outbox{out: out}
	if out == nil || len(out.Jobs)+len(out.Locked) == 0 {
		return o, nil
	}
	var err error
	o.full, err = s.queueFull(out.Max)
	return o, err
}

// write queues the jobs of a change that happened: out.Locked when it
// locked the link, else out.Jobs.
func (o *outbox) write(s *Store, txn setter, locked bool) error {
	jobs := o.out.Queued(locked)
	o.queued = 0
	if o.full {
		o.out.Dropped = len(jobs)
		return nil
	}
	for i := range jobs {
		j := jobs[i]
		j.State = linkguard.WebhookPending
		if err := s.putWebhook(txn, &j, 0); err != nil {
			return err
		}
	}
	o.queued = len(jobs)
	return nil
}

// reset forgets a run of the transaction that did not happen.
func (o *outbox) reset() { o.queued = 0 }

// done counts the queued jobs once the transaction committed.
func (o *outbox) done(s *Store, err error) {
	if err == nil {
		s.pending.add(int64(o.queued))
	}
}

// webhookCount is how many pending jobs the due index holds: counted once,
// on first use, then kept as transactions commit, so that the queue's
// bound costs no scan per event (a scan of a receiver's backlog on every
// request was 8 ms at 20,000 waiting). NB: one process owns a Badger
// folder, so the count is this process's to keep; a commit racing the
// first count may be counted twice, which a bound tolerates.
type webhookCount struct {
	mu      sync.Mutex
	counted bool
	n       int64
}

func (c *webhookCount) get(db *badger.DB) (int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.counted {
		err := db.View(func(txn *badger.Txn) error {
			c.n = int64(pendingWebhooks(txn, math.MaxInt))
			return nil
		})
		if err != nil {
			return 0, err
		}
		c.counted = true
	}
	return c.n, nil
}

func (c *webhookCount) add(d int64) {
	c.mu.Lock()
	if c.counted {
		c.n = max(c.n+d, 0)
	}
	c.mu.Unlock()
}

// DueWebhooks implements linkguard.WebhookQueue.
func (s *Store) DueWebhooks(ctx context.Context, now time.Time, lease time.Duration, max int) ([]linkguard.WebhookJob, error) {
	var out []linkguard.WebhookJob
	var dropped int64 // index entries removed without a job to claim
	err := s.update(func(txn *badger.Txn) error {
		out, dropped = out[:0], 0
		o := badger.DefaultIteratorOptions
		o.PrefetchValues = false
		o.Prefix = []byte(prefixWebhookDue)
		it := txn.NewIterator(o)
		var keys [][]byte
		limit := string(webhookDueKey(now, "\xff"))
		for it.Rewind(); it.Valid() && len(keys) < max; it.Next() {
			k := it.Item().KeyCopy(nil)
			if string(k) > limit {
				break
			}
			keys = append(keys, k)
		}
		it.Close()
		for _, k := range keys {
			id := string(k[len(prefixWebhookDue)+21:])
			if err := txn.Delete(k); err != nil {
				return err
			}
			var j linkguard.WebhookJob
			if err := getJSON(txn, webhookKey(id), &j); errors.Is(err, linkguard.ErrNotFound) {
				dropped++
				continue // an index entry that outlived its job
			} else if err != nil {
				return err
			}
			if j.State != linkguard.WebhookPending {
				dropped++
				continue
			}
			j.NextAt = now.Add(lease)
			if err := s.putWebhook(txn, &j, 0); err != nil {
				return err
			}
			out = append(out, j)
		}
		return nil
	})
	if err == nil {
		s.pending.add(-dropped)
	}
	return out, err
}

// UpdateWebhook implements linkguard.WebhookQueue.
func (s *Store) UpdateWebhook(ctx context.Context, j *linkguard.WebhookJob, keep time.Duration) error {
	defer s.lock(prefixWebhook + j.ID)()
	var delta int64
	err := s.update(func(txn *badger.Txn) error {
		var old linkguard.WebhookJob
		if err := getJSON(txn, webhookKey(j.ID), &old); err != nil {
			return fmt.Errorf("webhook job %s: %w", j.ID, err)
		}
		delta = 0
		if old.State == linkguard.WebhookPending {
			delta--
			if err := txn.Delete(webhookDueKey(old.NextAt, j.ID)); err != nil {
				return err
			}
		}
		if j.State == linkguard.WebhookPending {
			delta++
		}
		return s.putWebhook(txn, j, keep)
	})
	if err == nil {
		s.pending.add(delta)
	}
	return err
}

// RecentWebhooks implements linkguard.WebhookQueue. Job ids start with
// their message id, which sorts by time.
func (s *Store) RecentWebhooks(ctx context.Context, max int) ([]linkguard.WebhookJob, error) {
	var out []linkguard.WebhookJob
	err := s.view(func(txn *badger.Txn) error {
		o := badger.DefaultIteratorOptions
		o.Reverse = true
		o.Prefix = []byte(prefixWebhook)
		it := txn.NewIterator(o)
		defer it.Close()
		for it.Seek([]byte(prefixWebhook + "\xff")); it.Valid() && len(out) < max; it.Next() {
			var j linkguard.WebhookJob
			if err := it.Item().Value(func(b []byte) error { return json.Unmarshal(b, &j) }); err != nil {
				return err
			}
			if j.Endpoint != "" {
				out = append(out, j)
			}
		}
		return nil
	})
	return out, err
}

// AddCounts implements linkguard.Counts.
func (s *Store) AddCounts(ctx context.Context, at time.Time, deltas map[string]int64) error {
	if len(deltas) == 0 {
		return nil
	}
	k := countsKey(at.UTC().Truncate(time.Hour))
	defer s.lock(string(k))()
	return s.update(func(txn *badger.Txn) error {
		m := map[string]int64{}
		if err := getJSON(txn, k, &m); err != nil && !errors.Is(err, linkguard.ErrNotFound) {
			return err
		}
		for n, d := range deltas {
			m[n] += d
		}
		b, err := json.Marshal(m)
		if err != nil {
			return err
		}
		return txn.SetEntry(badger.NewEntry(k, b).WithTTL(linkguard.CountsKeep))
	})
}

// CountsBetween implements linkguard.Counts.
func (s *Store) CountsBetween(ctx context.Context, from, to time.Time) (map[time.Time]map[string]int64, error) {
	out := map[time.Time]map[string]int64{}
	last := string(countsKey(to.UTC().Truncate(time.Hour)))
	err := s.view(func(txn *badger.Txn) error {
		o := badger.DefaultIteratorOptions
		o.Prefix = []byte(prefixCounts)
		it := txn.NewIterator(o)
		defer it.Close()
		for it.Seek(countsKey(from.UTC().Truncate(time.Hour))); it.Valid(); it.Next() {
			k := string(it.Item().Key())
			if k > last {
				break
			}
			sec, err := strconv.ParseInt(k[len(prefixCounts):], 10, 64)
			if err != nil {
				continue
			}
			m := map[string]int64{}
			if err := it.Item().Value(func(b []byte) error { return json.Unmarshal(b, &m) }); err != nil {
				return err
			}
			out[time.Unix(sec, 0).UTC()] = m
		}
		return nil
	})
	return out, err
}

// ScanLinks implements linkguard.Counts.
func (s *Store) ScanLinks(ctx context.Context, fn func(*linkguard.Link) error) error {
	return s.view(func(txn *badger.Txn) error {
		o := badger.DefaultIteratorOptions
		o.Prefix = []byte(prefixLink)
		it := txn.NewIterator(o)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			var l linkguard.Link
			if err := it.Item().Value(func(b []byte) error { return decodeLink(b, &l) }); err != nil {
				return err
			}
			if err := fn(&l); err != nil {
				return err
			}
		}
		return nil
	})
}
