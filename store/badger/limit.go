package badger

import (
	"context"
	"encoding/binary"
	"errors"
	"strconv"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/linkguard/linkguard"
)

// The sign-in limits (linkguard.Limiter): r/<window ns>/<start unix>/<key>
// → count (uint32, big endian), TTL: to the window's end plus a second.

var _ linkguard.Limiter = (*Store)(nil)

// Hit counts one event in key's window (a synced write: one transaction,
// the key's stripe held so that concurrent hits queue instead of
// conflicting).
func (s *Store) Hit(_ context.Context, key string, window time.Duration, max int, now time.Time) (bool, time.Duration, error) {
	start, end, err := linkguard.LimitWindow(key, window, max, now)
	if err != nil {
		return false, 0, err
	}
	k := []byte(prefixLimit + strconv.FormatInt(int64(window), 10) + "/" + strconv.FormatInt(start.Unix(), 10) + "/" + key)
	unlock := s.lock(string(k))
	defer unlock()
	var n uint32
	err = s.update(func(txn *badger.Txn) error {
		n = 0
		it, err := txn.Get(k)
		switch {
		case err == nil:
			if err := it.Value(func(v []byte) error {
				if len(v) == 4 {
					n = binary.BigEndian.Uint32(v)
				}
				return nil
			}); err != nil {
				return err
			}
		case !errors.Is(err, badger.ErrKeyNotFound):
			return err
		}
		if n < 1<<31 {
			n++
		}
		return txn.SetEntry(badger.NewEntry(k, binary.BigEndian.AppendUint32(nil, n)).WithTTL(end.Sub(now) + time.Second))
	})
	if err != nil {
		return false, 0, err
	}
	if int64(n) > int64(max) {
		return false, end.Sub(now), nil
	}
	return true, 0, nil
}
