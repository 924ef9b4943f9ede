package badger

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// readyKey is the key Ping writes; no other key has this name.
var readyKey = []byte("ready")

// Ping implements linkguard.Pinger: the database is open and takes a
// synced write (a full disk or a read-only folder fails it).
func (s *Store) Ping(ctx context.Context) error {
	if s.db.IsClosed() {
		return errors.New("the Badger database is closed")
	}
	err := s.db.Update(func(txn *badger.Txn) error {
		return txn.SetEntry(badger.NewEntry(readyKey, nil).WithTTL(time.Minute))
	})
	if errors.Is(err, badger.ErrDBClosed) {
		return errors.New("the Badger database is closed")
	}
	if err == nil {
		err = s.durable.wait()
	}
	if err != nil {
		return fmt.Errorf("the Badger database refuses writes: %w", err)
	}
	return nil
}

// MailQueueDepth is how many emails wait in the queue (sent and given-up
// jobs leave it).
func (s *Store) MailQueueDepth(ctx context.Context) (int, error) {
	n := 0
	err := s.view(func(txn *badger.Txn) error {
		o := badger.DefaultIteratorOptions
		o.PrefetchValues = false
		o.Prefix = []byte(prefixDue)
		it := txn.NewIterator(o)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			n++
		}
		return nil
	})
	return n, err
}
