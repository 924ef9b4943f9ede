package redis

import (
	"context"
	"testing"
	"time"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/fingerprint"
	"github.com/linkguard/linkguard/store/storetest"
)

// The benchmarks run against the test binary's redis-server (127.0.0.1,
// no persistence), 64 calls in flight on 2 cores as the Badger ones, so
// they measure the client, the scripts and the loopback round trip, not a
// disk: with appendfsync always, Redis's fsync adds to each write.

// BenchmarkCreateLink is one script per link (token, family, revoke-older).
func BenchmarkCreateLink(b *testing.B) {
	s := openStore(b, "")
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
	benchConsume(b, openStore(b, ""))
}

// BenchmarkConsumeLinkFsync is BenchmarkConsumeLink on a Redis of its
// own with appendonly yes and appendfsync always, the settings
// docs/redis.md asks for: Redis fsyncs the AOF once per event-loop turn,
// for all the clients served in it (a group commit, like Badger's).
func BenchmarkConsumeLinkFsync(b *testing.B) {
	needServer(b)
	srv, err := startServer("--appendonly", "yes", "--appendfsync", "always")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(srv.stop)
	s, err := Open(context.Background(), srv.url, Options{Log: quietLog})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	benchConsume(b, s)
}

func benchConsume(b *testing.B, s *Store) {
	now := time.Now()
	ids := make(chan string, b.N)
	for i := 0; i < b.N; i++ {
		l := storetest.NewLink(b, now, "")
		l.Family = l.ID
		if err := s.CreateLink(context.Background(), l, nil); err != nil {
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
			if _, err := s.ConsumeLink(context.Background(), id, now, fingerprint.Verdict{}, h); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkLinkByTokenHash is the read behind every landing page.
func BenchmarkLinkByTokenHash(b *testing.B) {
	s := openStore(b, "")
	l := storetest.NewLink(b, time.Now(), "f")
	if err := s.CreateLink(context.Background(), l, nil); err != nil {
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
