package badger

import (
	"context"
	"errors"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/linkguard/linkguard"
)

// The KV (linkguard.KV) of the OpenID provider and other non-link state:
// o/<ns>/<key> → value, TTL as given. keys.go lists the prefix.

var _ linkguard.KV = (*Store)(nil)

func kvKey(ns, key string) []byte { return []byte(prefixKV + ns + "/" + key) }

// PutKV stores val under (ns, key) for ttl (a synced write).
func (s *Store) PutKV(_ context.Context, ns, key string, val []byte, ttl time.Duration) error {
	if err := linkguard.CheckKV(ns, key, val, ttl, true); err != nil {
		return err
	}
	v := append([]byte(nil), val...)
	return s.update(func(txn *badger.Txn) error {
		return txn.SetEntry(badger.NewEntry(kvKey(ns, key), v).WithTTL(ttl))
	})
}

// GetKV returns the value under (ns, key), or linkguard.ErrNotFound.
func (s *Store) GetKV(_ context.Context, ns, key string) ([]byte, error) {
	if err := linkguard.CheckKV(ns, key, nil, 0, false); err != nil {
		return nil, err
	}
	var out []byte
	err := s.view(func(txn *badger.Txn) error {
		it, err := txn.Get(kvKey(ns, key))
		if err != nil {
			return err
		}
		out, err = it.ValueCopy(nil)
		return err
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, linkguard.ErrNotFound
	}
	return out, err
}

// TakeKV reads and deletes the value in one transaction. NB: concurrent
// takers conflict in Badger; update retries the losers, which then find
// the key gone: exactly one gets the value.
func (s *Store) TakeKV(_ context.Context, ns, key string) ([]byte, error) {
	if err := linkguard.CheckKV(ns, key, nil, 0, false); err != nil {
		return nil, err
	}
	k := kvKey(ns, key)
	unlock := s.lock(string(k))
	defer unlock()
	var out []byte
	err := s.update(func(txn *badger.Txn) error {
		out = nil
		it, err := txn.Get(k)
		if err != nil {
			return err
		}
		if out, err = it.ValueCopy(nil); err != nil {
			return err
		}
		return txn.Delete(k)
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, linkguard.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteKV removes the value under (ns, key).
func (s *Store) DeleteKV(_ context.Context, ns, key string) error {
	if err := linkguard.CheckKV(ns, key, nil, 0, false); err != nil {
		return err
	}
	return s.update(func(txn *badger.Txn) error { return txn.Delete(kvKey(ns, key)) })
}
