package assertion

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// RemoteKeys is a host's view of the kit's JWKS
// (GET <public URL>/.well-known/jwks.json): fetched on first use, kept for
// MaxAge, and fetched again at once when a token names a kid it lacks (a
// key rotation), at most once per MinRefresh. It is safe for concurrent
// use.
type RemoteKeys struct {
	URL        string
	Client     *http.Client  // nil: a client with a 10 s timeout
	MaxAge     time.Duration // 0: 5 minutes
	MinRefresh time.Duration // 0: 30 seconds
	Now        func() time.Time

	mu      sync.Mutex
	keys    *KeySet
	fetched time.Time
}

// NewRemoteKeys returns a RemoteKeys for jwksURL with the defaults.
func NewRemoteKeys(jwksURL string) *RemoteKeys { return &RemoteKeys{URL: jwksURL} }

// Verify is Verify with the remote key set: on ErrUnknownKey it fetches
// the JWKS again (at most once per MinRefresh) and retries once.
func (r *RemoteKeys) Verify(ctx context.Context, token string, want VerifyOptions) (*Claims, error) {
	keys, err := r.get(ctx, false)
	if err != nil {
		return nil, err
	}
	c, err := Verify(token, keys, want)
	if !errors.Is(err, ErrUnknownKey) {
		return c, err
	}
	fresh, ferr := r.get(ctx, true)
	if ferr != nil || fresh == keys {
		return nil, err
	}
	return Verify(token, fresh, want)
}

// Keys returns the current key set, fetching it if it is missing or older
// than MaxAge.
func (r *RemoteKeys) Keys(ctx context.Context) (*KeySet, error) { return r.get(ctx, false) }

func (r *RemoteKeys) get(ctx context.Context, unknownKid bool) (*KeySet, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	if r.Now != nil {
		now = r.Now()
	}
	maxAge, minRefresh := r.MaxAge, r.MinRefresh
	if maxAge <= 0 {
		maxAge = 5 * time.Minute
	}
	if minRefresh <= 0 {
		minRefresh = 30 * time.Second
	}
	age := now.Sub(r.fetched)
	if r.keys != nil && age < maxAge && (!unknownKid || age < minRefresh) {
		return r.keys, nil
	}
	keys, err := r.fetch(ctx)
	if err != nil {
		if r.keys != nil && !unknownKid {
			// Keep verifying with the keys we have while the kit is
			// unreachable; a rotation shows up as ErrUnknownKey.
			return r.keys, nil
		}
		return nil, err
	}
	r.keys, r.fetched = keys, now
	return keys, nil
}

func (r *RemoteKeys) fetch(ctx context.Context) (*KeySet, error) {
	client := r.Client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.URL, nil)
	if err != nil {
		return nil, fmt.Errorf("fetch JWKS: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch JWKS: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch JWKS %s: status %s", r.URL, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxJWKSSize+1))
	if err != nil {
		return nil, fmt.Errorf("fetch JWKS: %w", err)
	}
	keys, err := ParseJWKS(body)
	if err != nil {
		return nil, fmt.Errorf("fetch JWKS %s: %w", r.URL, err)
	}
	return keys, nil
}
