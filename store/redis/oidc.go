package redis

import (
	"context"
	"errors"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/linkguard/linkguard"
)

// The KV (linkguard.KV) of the OpenID provider and other non-link state:
// P o:<ns>:<key> → string value, PEXPIRE as given. keys.go lists the prefix.

var _ linkguard.KV = (*Store)(nil)

func (s *Store) kvKey(ns, key string) string { return s.prefix + prefixKV + ns + ":" + key }

// PutKV stores val under (ns, key) for ttl.
func (s *Store) PutKV(ctx context.Context, ns, key string, val []byte, ttl time.Duration) error {
	if err := linkguard.CheckKV(ns, key, val, ttl, true); err != nil {
		return err
	}
	return s.rdb.Set(ctx, s.kvKey(ns, key), val, ttl).Err()
}

// GetKV returns the value under (ns, key), or linkguard.ErrNotFound.
func (s *Store) GetKV(ctx context.Context, ns, key string) ([]byte, error) {
	if err := linkguard.CheckKV(ns, key, nil, 0, false); err != nil {
		return nil, err
	}
	b, err := s.rdb.Get(ctx, s.kvKey(ns, key)).Bytes()
	if errors.Is(err, goredis.Nil) {
		return nil, linkguard.ErrNotFound
	}
	return b, err
}

// TakeKV is GETDEL: Redis runs it as one atomic step, so of concurrent
// takers on any instance exactly one gets the value.
func (s *Store) TakeKV(ctx context.Context, ns, key string) ([]byte, error) {
	if err := linkguard.CheckKV(ns, key, nil, 0, false); err != nil {
		return nil, err
	}
	b, err := s.rdb.GetDel(ctx, s.kvKey(ns, key)).Bytes()
	if errors.Is(err, goredis.Nil) {
		return nil, linkguard.ErrNotFound
	}
	return b, err
}

// DeleteKV removes the value under (ns, key).
func (s *Store) DeleteKV(ctx context.Context, ns, key string) error {
	if err := linkguard.CheckKV(ns, key, nil, 0, false); err != nil {
		return err
	}
	return s.rdb.Del(ctx, s.kvKey(ns, key)).Err()
}
