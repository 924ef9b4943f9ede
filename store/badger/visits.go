package badger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/fingerprint"
	"github.com/linkguard/linkguard/store/internal/visitrec"
)

// summary is a link's s/ key: how many views and decisions were written
// (the next ring slot of each), and the history summary.
type summary struct {
	Views     uint64                  `json:"views"`
	Decisions uint64                  `json:"decisions"`
	History   []fingerprint.PastVisit `json:"history"`
}

// AddVisit implements linkguard.Store. It queues the visit for the
// background writer and returns without waiting for the disk; a full
// queue drops the visit (see store/internal/visitq).
func (s *Store) AddVisit(ctx context.Context, v *linkguard.Visit) error {
	return s.visits.Add(v)
}

// DroppedVisits is how many visits were dropped because the queue was full.
func (s *Store) DroppedVisits() uint64 { return s.visits.Dropped() }

// writeVisits writes one batch in one write batch: each visit into the
// next slot of its link's ring, and each link's summary once. A slot
// that a later visit of the same batch takes again is written once, with
// the later visit (a flood of views of one link writes at most
// KeptViews of them a batch, not every one it overwrites).
//
// NB: the writer is the only one that writes v/ and s/ keys (one per
// process, and a Badger folder has one process), so reading a summary
// outside the batch and writing it back cannot lose another's update.
func (s *Store) writeVisits(batch []*linkguard.Visit) error {
	wb := s.db.NewWriteBatch()
	defer wb.Cancel()
	sums := map[string]*summary{}
	type slotted struct {
		key []byte
		v   *linkguard.Visit
	}
	var slots []slotted
	taken := map[string]int{} // slot key → index in slots
	visitTTL := linkguard.VisitTTL(s.opts.Retention)
	var jobs []linkguard.WebhookJob // the visits' events, written in the same batch
	// The batch's summaries, in one read transaction: each transaction
	// waits for Badger's read watermark, so one per link was a wait in
	// line with the writes for every link of the batch.
	err := s.view(func(txn *badger.Txn) error {
		for _, v := range batch {
			if sums[v.LinkID] != nil {
				continue
			}
			sm := &summary{}
			if err := getJSON(txn, summaryKey(v.LinkID), sm); err != nil && !errors.Is(err, linkguard.ErrNotFound) {
				return err
			}
			sums[v.LinkID] = sm
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, v := range batch {
		jobs = append(jobs, v.Outbox.Queued(false)...)
		sm := sums[v.LinkID]
		key := visitPrefix(v.LinkID)
		if v.IsDecision() {
			key = fmt.Appendf(key, "d%02d", sm.Decisions%linkguard.KeptDecisions)
			sm.Decisions++
		} else {
			key = fmt.Appendf(key, "v%02d", sm.Views%linkguard.KeptViews)
			sm.Views++
		}
		sm.History = linkguard.AppendHistory(sm.History, v.Past())
		if i, ok := taken[string(key)]; ok {
			slots[i].v = v
			continue
		}
		taken[string(key)] = len(slots)
		slots = append(slots, slotted{key, v})
	}
	for _, sl := range slots {
		b, err := visitrec.Encode(sl.v)
		if err != nil {
			return err
		}
		if err := wb.SetEntry(badger.NewEntry(sl.key, pack(b)).WithTTL(visitTTL)); err != nil {
			return err
		}
	}
	for id, sm := range sums {
		b, err := json.Marshal(sm)
		if err != nil {
			return err
		}
		if err := wb.SetEntry(badger.NewEntry(summaryKey(id), b).WithTTL(visitTTL)); err != nil {
			return err
		}
	}
	ob, err := s.outbox(&linkguard.Outbox{Jobs: jobs, Max: maxOf(batch)})
	if err != nil {
		return err
	}
	if err := ob.write(s, wb, false); err != nil {
		return err
	}
	if ob.out.Dropped > 0 {
		s.log.Warn("webhook queue full: visit events not queued", "jobs", ob.out.Dropped)
	}
	err = wb.Flush()
	ob.done(s, err)
	if err == nil {
		err = s.durable.wait()
	}
	if s.durable != nil && len(batch) < visitBatchFull {
		// NB: a batch is synced alone (nothing else writes during a
		// flood of GETs), so the writer pauses before the next one:
		// views pile up in the queue meanwhile and go in one batch and
		// one sync, and a link's summary is written once for all of
		// them (docs/performance.md: this was a sync per ~20 views).
		time.Sleep(visitPause)
	}
	return err
}

// visitPause is how long the visit writer waits after a batch that was
// not full; visitBatchFull is a batch that skips it (a quarter of the
// queue's largest, so a backlog drains at full speed).
const (
	visitPause     = 2 * time.Millisecond
	visitBatchFull = 64
)

// maxOf is the queue bound the batch's outboxes name.
func maxOf(batch []*linkguard.Visit) int {
	m := 0
	for _, v := range batch {
		if v.Outbox != nil {
			m = max(m, v.Outbox.Max)
		}
	}
	return m
}

// History implements linkguard.Store.
func (s *Store) History(ctx context.Context, linkID string) ([]fingerprint.PastVisit, error) {
	var sm summary
	err := s.view(func(txn *badger.Txn) error { return getJSON(txn, summaryKey(linkID), &sm) })
	if errors.Is(err, linkguard.ErrNotFound) {
		return nil, nil
	}
	return sm.History, err
}

// Visits implements linkguard.Store.
func (s *Store) Visits(ctx context.Context, linkID string) ([]linkguard.Visit, error) {
	var out []linkguard.Visit
	err := s.view(func(txn *badger.Txn) error {
		return scanPrefix(txn, visitPrefix(linkID), func(v *linkguard.Visit) error {
			out = append(out, *v)
			return nil
		})
	})
	sortVisits(out)
	return out, err
}

func sortVisits(vs []linkguard.Visit) {
	slices.SortFunc(vs, func(a, b linkguard.Visit) int {
		if c := a.At.Compare(b.At); c != 0 {
			return c
		}
		return cmpString(a.ID, b.ID)
	})
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func scanPrefix(txn *badger.Txn, prefix []byte, fn func(*linkguard.Visit) error) error {
	o := badger.DefaultIteratorOptions
	o.Prefix = prefix
	it := txn.NewIterator(o)
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		var r visitrec.Record
		if err := it.Item().Value(func(b []byte) (err error) {
			if b, err = unpack(b); err != nil {
				return fmt.Errorf("stored visit: %w", err)
			}
			r, err = visitrec.Decode(b)
			return err
		}); err != nil {
			return err
		}
		if r.VerdictOfLink { // the consumption's verdict, kept with its link (visitrec)
			var l linkguard.Link
			if err := getLink(txn, linkKey(r.LinkID), &l); err != nil && !errors.Is(err, linkguard.ErrNotFound) {
				return fmt.Errorf("the link of a stored visit: %w", err)
			}
			r.Visit.Verdict = l.Verdict // nil only if the record outlived its link (consumedTTL)
		}
		if err := fn(&r.Visit); err != nil {
			return err
		}
	}
	return nil
}

// ScanVisits implements linkguard.Store. A link's kept visits are read
// together (at most KeptViews + KeptDecisions) and given in time order.
func (s *Store) ScanVisits(ctx context.Context, since time.Time, fn func(*linkguard.Visit) error) error {
	return s.view(func(txn *badger.Txn) error {
		var link string
		var group []linkguard.Visit
		flush := func() error {
			sortVisits(group)
			for i := range group {
				if err := fn(&group[i]); err != nil {
					return err
				}
			}
			group = group[:0]
			return nil
		}
		err := scanPrefix(txn, []byte(prefixVisit), func(v *linkguard.Visit) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			if v.LinkID != link {
				if err := flush(); err != nil {
					return err
				}
				link = v.LinkID
			}
			if !v.At.Before(since) {
				group = append(group, *v)
			}
			return nil
		})
		if err != nil {
			return err
		}
		return flush()
	})
}

// LinkBytes is what a link's records take (keys and values, before
// compression): the link, its token and family index, its mail job, its
// kept visits and summary. For the size checks and docs/performance.md.
func (s *Store) LinkBytes(ctx context.Context, id string) (int64, error) {
	var n int64
	err := s.view(func(txn *badger.Txn) error {
		var l linkguard.Link
		if err := getLink(txn, linkKey(id), &l); err != nil && !errors.Is(err, linkguard.ErrNotFound) {
			return err
		}
		keys := [][]byte{linkKey(id), summaryKey(id), mailKey(id)}
		if l.ID != "" {
			keys = append(keys, tokenKey(l.TokenHash), familyKey(l.Family))
		}
		for _, k := range keys {
			if item, err := txn.Get(k); err == nil {
				n += int64(len(k)) + item.ValueSize()
			}
		}
		o := badger.DefaultIteratorOptions
		o.PrefetchValues = false
		o.Prefix = visitPrefix(id)
		it := txn.NewIterator(o)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			n += int64(it.Item().KeySize()) + it.Item().ValueSize()
		}
		return nil
	})
	return n, err
}
