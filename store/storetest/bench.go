package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/fingerprint"
)

// The benchmarks every store runs, 64 calls in flight (on 2 cores), so
// that their figures compare. Each store's bench_test.go calls them with
// a store of its own; see docs/performance.md.

// BenchCreateLink issues distinct links, one store write each.
func BenchCreateLink(b *testing.B, s linkguard.Store) {
	now := time.Now()
	b.SetParallelism(32)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			l := NewLink(b, now, "")
			l.Family = l.ID
			if err := s.CreateLink(context.Background(), l, nil, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchConsumeLink spends distinct links: the compare-and-set, with its
// handoff.
func BenchConsumeLink(b *testing.B, s linkguard.Store) {
	now := time.Now()
	ids := make(chan string, b.N)
	for i := 0; i < b.N; i++ {
		l := NewLink(b, now, "")
		l.Family = l.ID
		if err := s.CreateLink(context.Background(), l, nil, nil); err != nil {
			b.Fatal(err)
		}
		ids <- l.ID
	}
	close(ids)
	b.SetParallelism(32)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := <-ids
			h := &linkguard.Handoff{CodeHash: []byte(id), LinkID: id, ExpiresAt: now.Add(time.Minute)}
			if _, err := s.ConsumeLink(context.Background(), id, now, fingerprint.Verdict{}, h, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchLinkByTokenHash is the read behind every landing page.
func BenchLinkByTokenHash(b *testing.B, s linkguard.Store) {
	l := NewLink(b, time.Now(), "f")
	if err := s.CreateLink(context.Background(), l, nil, nil); err != nil {
		b.Fatal(err)
	}
	b.SetParallelism(32)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.LinkByTokenHash(context.Background(), l.TokenHash); err != nil {
				b.Fatal(err)
			}
		}
	})
}
