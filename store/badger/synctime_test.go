package badger

import (
	"context"
	"testing"
	"time"

	"github.com/linkguard/linkguard/store/storetest"
)

// TestSyncHistogram: every sync of the group commit is counted once, in
// cumulative buckets that never decrease and end at the count; an
// in-memory store, which syncs nothing, reads all zero.
func TestSyncHistogram(t *testing.T) {
	s := diskStore(t)
	ctx := context.Background()
	now := time.Now().UTC()
	for i := range 20 {
		l := storetest.NewLink(t, now, "fam-hist-"+string(rune('a'+i)))
		if err := s.CreateLink(ctx, l, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	n, sum, buckets := s.SyncHistogram()
	if n < 20 {
		t.Fatalf("count %d, want at least one sync for each of 20 writes in turn", n)
	}
	var each uint64 // every sync in exactly one bucket
	for i := range s.durable.times.buckets {
		each += s.durable.times.buckets[i].Load()
	}
	if each != n {
		t.Errorf("the buckets hold %d syncs, the count %d", each, n)
	}
	if sum <= 0 {
		t.Errorf("sum %v s for %d syncs", sum, n)
	}
	var prev uint64
	for _, b := range syncBounds {
		if buckets[b] < prev || buckets[b] > n {
			t.Errorf("bucket le=%v holds %d after %d, count %d", b, buckets[b], prev, n)
		}
		prev = buckets[b]
	}
	if len(buckets) != len(syncBounds) {
		t.Errorf("%d buckets, want %d", len(buckets), len(syncBounds))
	}
	if n, sum, buckets := memStore(t).SyncHistogram(); n != 0 || sum != 0 || len(buckets) != len(syncBounds) {
		t.Errorf("in-memory store: count %d, sum %v, %d buckets", n, sum, len(buckets))
	}
}
