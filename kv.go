package linkguard

import (
	"context"
	"fmt"
	"time"
)

// KV is a small namespaced key-value store with expiry, kept beside the
// links, for state that is not a link: the OpenID provider's auth
// requests, authorization codes and tokens. store/badger and
// store/redis implement it (in their oidc.go) and pass
// storetest.RunKV, so several instances on one Redis share it.
//
// A value is durable when the call returns, as link state is. Expiry is
// at second granularity: a value may outlive its ttl by up to a second,
// so a caller that needs an exact deadline stores it in the value too.
type KV interface {
	// PutKV stores val under (ns, key) for ttl, replacing any value.
	PutKV(ctx context.Context, ns, key string, val []byte, ttl time.Duration) error
	// GetKV returns the value under (ns, key), or ErrNotFound when there
	// is none or it has expired.
	GetKV(ctx context.Context, ns, key string) ([]byte, error)
	// TakeKV returns and deletes the value under (ns, key) as one
	// compare-and-set: of any number of concurrent takers (in any number
	// of processes sharing the store) exactly one gets the value, the
	// others ErrNotFound. It is how a one-time code is spent.
	TakeKV(ctx context.Context, ns, key string) ([]byte, error)
	// DeleteKV removes the value under (ns, key); absent is not an error.
	DeleteKV(ctx context.Context, ns, key string) error
}

// Namespaces of the OpenID provider's KV entries (oidc/storage.go).
// Keys of codes and tokens are hashes, never the values a client holds.
const (
	KVOIDCRequest = "oidc_req"  // auth request id → auth request
	KVOIDCCode    = "oidc_code" // sha256(code) → auth request id
	KVOIDCAccess  = "oidc_at"   // access token id → access token
	KVOIDCRefresh = "oidc_rt"   // sha256(refresh token) → refresh token
)

// KVCredentials returns the KV namespaces whose entries are credentials
// that are spent, rotated or revoked by deleting them: a restore deletes
// them all (store/badger's Restore), since any of them may have been
// deleted after the backup was taken, and a copy from before would work
// again. A new namespace of that kind is added here.
func KVCredentials() []string {
	return []string{KVOIDCRequest, KVOIDCCode, KVOIDCAccess, KVOIDCRefresh}
}

// Bounds of what a KV accepts: every size from outside is bounded.
const (
	MaxKVKey   = 512
	MaxKVValue = 64 << 10
	MaxKVTTL   = 400 * 24 * time.Hour
)

// CheckKV validates the arguments of a KV call: ns is 1 to 32 of
// [a-z0-9_] (so that it cannot run into the key), key 1 to MaxKVKey
// bytes, val at most MaxKVValue bytes, ttl from 1s to MaxKVTTL (pass 0
// for calls without a value). Implementations call it first.
func CheckKV(ns, key string, val []byte, ttl time.Duration, put bool) error {
	if len(ns) == 0 || len(ns) > 32 {
		return fmt.Errorf("kv: namespace %q: want 1 to 32 characters", ns)
	}
	for _, r := range ns {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
			return fmt.Errorf("kv: namespace %q: want only a-z, 0-9 and _", ns)
		}
	}
	if len(key) == 0 || len(key) > MaxKVKey {
		return fmt.Errorf("kv: key of %d bytes: want 1 to %d", len(key), MaxKVKey)
	}
	if !put {
		return nil
	}
	if len(val) > MaxKVValue {
		return fmt.Errorf("kv: value of %d bytes: want at most %d", len(val), MaxKVValue)
	}
	if ttl < time.Second || ttl > MaxKVTTL {
		return fmt.Errorf("kv: ttl %s: want 1s to %s", ttl, MaxKVTTL)
	}
	return nil
}
