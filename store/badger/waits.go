package badger

import (
	"time"

	badger "github.com/dgraph-io/badger/v4"
)

// Where a request's time goes inside the store, besides its own work
// (docs/performance.md, "Where a confirm's time goes"): three waits, each
// counted in a histogram that linkguard_store_wait_seconds publishes.
const (
	// WaitRead is a transaction waiting for its snapshot: Badger makes
	// every new transaction, read-only or not, wait until each commit
	// before it has been applied.
	WaitRead = "read"
	// WaitCommit is a read-write transaction's commit waiting for
	// Badger's one write goroutine to apply it (the memtable's log, then
	// the memtable).
	WaitCommit = "commit"
	// WaitDurable is a committed write waiting for a sync of the group
	// commit to cover it (sync.go); none in memory.
	WaitDurable = "durable"
)

// Waits names the waits that WaitHistogram counts, in the order a write
// meets them.
var Waits = []string{WaitRead, WaitCommit, WaitDurable}

type waits struct{ read, commit, durable durations }

// WaitHistogram is how long the store's transactions waited, for one of
// Waits, since it opened, in the form of a Prometheus histogram
// (metrics.WatchStoreWaits). An unknown name reads all zero.
func (s *Store) WaitHistogram(wait string) (count uint64, sum float64, buckets map[float64]uint64) {
	switch wait {
	case WaitRead:
		return s.waits.read.histogram()
	case WaitCommit:
		return s.waits.commit.histogram()
	case WaitDurable:
		return s.waits.durable.histogram()
	}
	return new(durations).histogram()
}

// begin opens a transaction, counting the wait for its snapshot.
func (s *Store) begin(update bool) (*badger.Txn, error) {
	if s.db.IsClosed() {
		return nil, badger.ErrDBClosed
	}
	began := time.Now()
	txn := s.db.NewTransaction(update)
	s.waits.read.observe(time.Since(began))
	return txn, nil
}

// view runs fn in a read-only transaction, as Badger's DB.View does.
func (s *Store) view(fn func(txn *badger.Txn) error) error {
	txn, err := s.begin(false)
	if err != nil {
		return err
	}
	defer txn.Discard()
	return fn(txn)
}

// transact runs fn in a read-write transaction and commits it, as
// Badger's DB.Update does, counting the wait for its commit to be
// applied.
func (s *Store) transact(fn func(txn *badger.Txn) error) error {
	txn, err := s.begin(true)
	if err != nil {
		return err
	}
	defer txn.Discard()
	if err := fn(txn); err != nil {
		return err
	}
	began := time.Now()
	err = txn.Commit()
	s.waits.commit.observe(time.Since(began))
	return err
}
