package assertion

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

func TestRemoteKeys(t *testing.T) {
	var jwks atomic.Value
	var hits atomic.Int32
	var down atomic.Bool
	old := NewSigner(otherKey, testIss, func() time.Time { return testNow })
	jwks.Store(old.JWKS())
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(jwks.Load().([]byte))
	}))
	defer srv.Close()

	clock := testNow
	rk := &RemoteKeys{URL: srv.URL, Client: srv.Client(), Now: func() time.Time { return clock }}
	ctx := context.Background()
	tokOld, _ := old.Sign(validClaims())
	if _, err := rk.Verify(ctx, tokOld, testOpts); err != nil {
		t.Fatal(err)
	}
	if _, err := rk.Verify(ctx, tokOld, testOpts); err != nil || hits.Load() != 1 {
		t.Fatalf("cached: %v, %d fetches", err, hits.Load())
	}

	// Rotation: the new kid is unknown to the cache; one refetch finds it,
	// once MinRefresh has passed since the last fetch.
	cur := NewSigner(testKey, testIss, func() time.Time { return testNow }, WithPrevious(otherPub))
	jwks.Store(cur.JWKS())
	tokNew, _ := cur.Sign(validClaims())
	clock = clock.Add(31 * time.Second)
	if _, err := rk.Verify(ctx, tokNew, testOpts); err != nil || hits.Load() != 2 {
		t.Fatalf("after rotation: %v, %d fetches", err, hits.Load())
	}
	// An unknown kid does not make every request fetch.
	stranger := sign(otherKey, hdr("stranger"), payload(t, nil))
	for range 5 {
		if _, err := rk.Verify(ctx, stranger, testOpts); !errors.Is(err, ErrUnknownKey) {
			t.Fatal(err)
		}
	}
	if hits.Load() != 2 {
		t.Errorf("%d fetches for unknown kids within MinRefresh", hits.Load())
	}
	// The kit down: the cached keys keep working past MaxAge.
	down.Store(true)
	clock = clock.Add(10 * time.Minute)
	if _, err := rk.Verify(ctx, tokNew, testOpts); err != nil {
		t.Errorf("with the kit down: %v", err)
	}
	// No keys at all and the kit down: an error, not an acceptance.
	fresh := &RemoteKeys{URL: srv.URL, Client: srv.Client()}
	if _, err := fresh.Verify(ctx, tokNew, testOpts); err == nil {
		t.Error("verified without keys")
	}
}
