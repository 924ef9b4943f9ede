package badger

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/store/storetest"
)

// waitCounts is each wait's count so far.
func waitCounts(s *Store) map[string]uint64 {
	c := map[string]uint64{}
	for _, w := range Waits {
		n, _, _ := s.WaitHistogram(w)
		c[w] = n
	}
	return c
}

func wantWaits(t *testing.T, what string, before, after map[string]uint64, want map[string]uint64) {
	t.Helper()
	for _, w := range Waits {
		if got := after[w] - before[w]; got != want[w] {
			t.Errorf("%s: %d %s waits counted, want %d", what, got, w, want[w])
		}
	}
}

// TestWaitHistogram: a write waits once for its snapshot, once for its
// commit and, on disk, once for a sync; a read once for its snapshot; a
// transaction that refuses commits nothing and waits for no sync. An
// in-memory store counts no durable wait, an unknown name reads zero.
func TestWaitHistogram(t *testing.T) {
	ctx := context.Background()
	now := time.Now().UTC()
	s := diskStore(t)

	l := storetest.NewLink(t, now, "fam-waits")
	before := waitCounts(s)
	if err := s.CreateLink(ctx, l, nil, nil); err != nil {
		t.Fatal(err)
	}
	after := waitCounts(s)
	wantWaits(t, "issue", before, after, map[string]uint64{WaitRead: 1, WaitCommit: 1, WaitDurable: 1})
	if _, sum, _ := s.WaitHistogram(WaitDurable); sum <= 0 {
		t.Errorf("durable waits sum to %v s: a sync takes time", sum)
	}

	before = after
	if _, _, err := s.LinkAndHistoryByTokenHash(ctx, l.TokenHash); err != nil {
		t.Fatal(err)
	}
	after = waitCounts(s)
	wantWaits(t, "read", before, after, map[string]uint64{WaitRead: 1})

	before = after
	if _, err := s.RevokeLink(ctx, "no-such-link", now, linkguard.RevokeAPI, nil); !errors.Is(err, linkguard.ErrNotFound) {
		t.Fatalf("revoke of a missing link: %v, want ErrNotFound", err)
	}
	after = waitCounts(s)
	wantWaits(t, "refused write", before, after, map[string]uint64{WaitRead: 1})

	var prev uint64
	n, _, buckets := s.WaitHistogram(WaitRead)
	for _, b := range syncBounds {
		if buckets[b] < prev || buckets[b] > n {
			t.Errorf("read bucket le=%v holds %d after %d, count %d", b, buckets[b], prev, n)
		}
		prev = buckets[b]
	}

	m := memStore(t)
	before = waitCounts(m)
	if err := m.CreateLink(ctx, storetest.NewLink(t, now, "fam-waits-mem"), nil, nil); err != nil {
		t.Fatal(err)
	}
	wantWaits(t, "in-memory issue", before, waitCounts(m), map[string]uint64{WaitRead: 1, WaitCommit: 1})

	if n, sum, buckets := s.WaitHistogram("lunch"); n != 0 || sum != 0 || len(buckets) != len(syncBounds) {
		t.Errorf("unknown wait: count %d, sum %v, %d buckets", n, sum, len(buckets))
	}
}
