package badger

import (
	"context"
	"testing"
	"time"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/fingerprint"
	"github.com/linkguard/linkguard/store/storetest"
)

// BenchmarkCreateLink is one synced transaction per link, 64 at a time:
// Badger groups concurrent commits into one fsync.
func BenchmarkCreateLink(b *testing.B) {
	s, err := Open(Options{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	now := time.Now()
	b.SetParallelism(32)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			l := storetest.NewLink(b, now, "")
			l.Family = l.ID
			if err := s.CreateLink(context.Background(), l, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkConsumeLink is the compare-and-set that spends a link, with
// its handoff, on distinct links 64 at a time.
func BenchmarkConsumeLink(b *testing.B) {
	s, err := Open(Options{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	now := time.Now()
	ids := make(chan string, b.N)
	for i := 0; i < b.N; i++ {
		l := storetest.NewLink(b, now, "")
		l.Family = l.ID
		s.CreateLink(context.Background(), l, nil)
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
			if _, err := s.ConsumeLink(context.Background(), id, now, fingerprint.Verdict{}, h); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkLinkByTokenHash is the read behind every landing page.
func BenchmarkLinkByTokenHash(b *testing.B) {
	s, err := Open(Options{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	l := storetest.NewLink(b, time.Now(), "f")
	s.CreateLink(context.Background(), l, nil)
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
