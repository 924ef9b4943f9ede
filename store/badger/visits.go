package badger

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/linkguard/linkguard"
)

// errClosed is returned by AddVisit after Close.
var errClosed = errors.New("store is closed")

// maxVisitsPerLink bounds what one link can cost in storage and in every
// decision's history: a link opened in a loop stops recording (its
// outcome is unaffected).
const maxVisitsPerLink = 200

// AddVisit implements linkguard.Store. It queues the visit for the
// background writer and returns without waiting for the disk. When the
// queue is full (the disk cannot keep up with a flood of page views) the
// visit is dropped and counted: visits are evidence, and a request must
// never wait on them.
func (s *Store) AddVisit(ctx context.Context, v *linkguard.Visit) error {
	if v.ID == "" {
		v.ID = newVisitID(v.At)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return errClosed
	}
	select {
	case s.visits <- v:
		return nil
	default:
		if n := s.dropped.Add(1); n&(n-1) == 0 { // log at 1, 2, 4, 8, ... drops
			s.log.Warn("visit queue full: visits dropped", "dropped", n)
		}
		return nil
	}
}

// DroppedVisits is how many visits were dropped because the queue was full.
func (s *Store) DroppedVisits() uint64 { return s.dropped.Load() }

// visitSeq orders visits of the same instant in the order they were added.
var visitSeq atomic.Uint32

// newVisitID sorts by time: 8 bytes of Unix nanoseconds, then a counter.
func newVisitID(at time.Time) string {
	var b [12]byte
	binary.BigEndian.PutUint64(b[:8], uint64(at.UnixNano()))
	binary.BigEndian.PutUint32(b[8:], visitSeq.Add(1))
	return hex.EncodeToString(b[:])
}

// visitWriter drains the queue in batches: one synced transaction per
// batch instead of one per visit.
func (s *Store) visitWriter() {
	defer s.done.Done()
	batch := make([]*linkguard.Visit, 0, 256)
	for v := range s.visits {
		batch = append(batch[:0], v)
	fill:
		for len(batch) < cap(batch) {
			select {
			case v, ok := <-s.visits:
				if !ok {
					break fill
				}
				batch = append(batch, v)
			default:
				break fill
			}
		}
		if err := s.writeVisits(batch); err != nil {
			s.log.Error("write visits", "count", len(batch), "err", err)
		}
	}
}

func (s *Store) writeVisits(batch []*linkguard.Visit) error {
	wb := s.db.NewWriteBatch()
	defer wb.Cancel()
	counts := map[string]int{}
	for _, v := range batch {
		n, ok := counts[v.LinkID]
		if !ok {
			n = s.countVisits(v.LinkID)
		}
		if n >= maxVisitsPerLink {
			continue
		}
		counts[v.LinkID] = n + 1
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		key := append(visitPrefix(v.LinkID), v.ID...)
		if err := wb.SetEntry(badger.NewEntry(key, b).WithTTL(8 * 24 * time.Hour)); err != nil {
			return err
		}
	}
	return wb.Flush()
}

func (s *Store) countVisits(linkID string) int {
	n := 0
	s.db.View(func(txn *badger.Txn) error {
		o := badger.DefaultIteratorOptions
		o.PrefetchValues = false
		o.Prefix = visitPrefix(linkID)
		it := txn.NewIterator(o)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			n++
		}
		return nil
	})
	return n
}

// Visits implements linkguard.Store.
func (s *Store) Visits(ctx context.Context, linkID string) ([]linkguard.Visit, error) {
	var out []linkguard.Visit
	err := s.db.View(func(txn *badger.Txn) error {
		o := badger.DefaultIteratorOptions
		o.Prefix = visitPrefix(linkID)
		it := txn.NewIterator(o)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			var v linkguard.Visit
			if err := it.Item().Value(func(b []byte) error { return json.Unmarshal(b, &v) }); err != nil {
				return err
			}
			out = append(out, v)
		}
		return nil
	})
	return out, err
}

// ScanVisits implements linkguard.Store.
func (s *Store) ScanVisits(ctx context.Context, since time.Time, fn func(*linkguard.Visit) error) error {
	return s.db.View(func(txn *badger.Txn) error {
		o := badger.DefaultIteratorOptions
		o.Prefix = []byte(prefixVisit)
		it := txn.NewIterator(o)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			var v linkguard.Visit
			if err := it.Item().Value(func(b []byte) error { return json.Unmarshal(b, &v) }); err != nil {
				return err
			}
			if v.At.Before(since) {
				continue
			}
			if err := fn(&v); err != nil {
				return err
			}
		}
		return nil
	})
}
