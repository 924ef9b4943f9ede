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

// The sign-in limits (linkguard.Limiter): r/s/<window ns>/<key> → the
// times of the newest allowed hits (linkguard.LimitStep), oldest first,
// 8 bytes each (Unix ns, big endian). TTL: linkguard.LimitExpiry.
// NB: the fixed-window counts before them were r/<window>/<start>/<key>
// (a digit after r/, never the s/ here); they expire within a window.

var _ linkguard.Limiter = (*Store)(nil)

// errLimited ends a refused hit's transaction without a write, and so
// without a sync to wait for.
var errLimited = errors.New("limited")

// Hit allows one event for key if the window holds room for it (a synced
// write: one transaction, the key's stripe held so that concurrent hits
// queue instead of conflicting). A refused hit writes nothing.
func (s *Store) Hit(_ context.Context, key string, window time.Duration, max int, now time.Time) (bool, time.Duration, error) {
	if err := linkguard.LimitArgs(key, window, max, now); err != nil {
		return false, 0, err
	}
	k := []byte(prefixLimit + "s/" + strconv.FormatInt(int64(window), 10) + "/" + key)
	unlock := s.lock(string(k))
	defer unlock()
	var retry time.Duration
	err := s.update(func(txn *badger.Txn) error {
		var times []int64
		it, err := txn.Get(k)
		switch {
		case err == nil:
			if err := it.Value(func(v []byte) error {
				times = make([]int64, 0, len(v)/8)
				for ; len(v) >= 8; v = v[8:] {
					times = append(times, int64(binary.BigEndian.Uint64(v)))
				}
				return nil
			}); err != nil {
				return err
			}
		case !errors.Is(err, badger.ErrKeyNotFound):
			return err
		}
		keep, ok, r := linkguard.LimitStep(times, window, max, now)
		if !ok {
			retry = r
			return errLimited
		}
		v := make([]byte, 0, 8*len(keep))
		for _, t := range keep {
			v = binary.BigEndian.AppendUint64(v, uint64(t))
		}
		return txn.SetEntry(badger.NewEntry(k, v).WithTTL(linkguard.LimitExpiry(keep[len(keep)-1], window, now)))
	})
	switch {
	case errors.Is(err, errLimited):
		return false, retry, nil
	case err != nil:
		return false, 0, err
	}
	return true, 0, nil
}
