package badger

import (
	"context"
	"encoding/json"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/store/internal/visitq"
)

// AddVisit implements linkguard.Store. It queues the visit for the
// background writer and returns without waiting for the disk; a full
// queue drops the visit (see store/internal/visitq).
func (s *Store) AddVisit(ctx context.Context, v *linkguard.Visit) error {
	return s.visits.Add(v)
}

// DroppedVisits is how many visits were dropped because the queue was full.
func (s *Store) DroppedVisits() uint64 { return s.visits.Dropped() }

// writeVisits writes one batch in one synced write batch, keeping at most
// visitq.MaxPerLink visits a link.
func (s *Store) writeVisits(batch []*linkguard.Visit) error {
	wb := s.db.NewWriteBatch()
	defer wb.Cancel()
	counts := map[string]int{}
	for _, v := range batch {
		n, ok := counts[v.LinkID]
		if !ok {
			n = s.countVisits(v.LinkID)
		}
		if n >= visitq.MaxPerLink {
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
