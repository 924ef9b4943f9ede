package redis

import (
	"context"
	"testing"

	"github.com/linkguard/linkguard/store/storetest"
)

// The benchmarks run against the test binary's redis-server (127.0.0.1,
// no persistence), 64 calls in flight on 2 cores as the Badger ones, so
// they measure the client, the scripts and the loopback round trip, not a
// disk: with appendfsync always, Redis's fsync adds to each write.

// BenchmarkCreateLink is one script per link (token, family, revoke-older).
func BenchmarkCreateLink(b *testing.B) { storetest.BenchCreateLink(b, openStore(b, "")) }

// BenchmarkConsumeLink is the compare-and-set that spends a link, with
// its handoff.
func BenchmarkConsumeLink(b *testing.B) { storetest.BenchConsumeLink(b, openStore(b, "")) }

// BenchmarkConsumeLinkFsync is BenchmarkConsumeLink on a Redis of its
// own with appendonly yes and appendfsync always, the settings
// docs/redis.md asks for: Redis fsyncs the AOF once per event-loop turn,
// for all the clients served in it (a group commit, like Badger's).
func BenchmarkConsumeLinkFsync(b *testing.B) { storetest.BenchConsumeLink(b, openFsyncStore(b)) }

// openFsyncStore opens a Store on a Redis of its own with appendonly yes
// and appendfsync always, stopped at the end of the benchmark.
func openFsyncStore(b *testing.B) *Store {
	needServer(b)
	srv, err := startServer("--appendonly", "yes", "--appendfsync", "always")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(srv.Stop)
	s, err := Open(context.Background(), srv.URL, Options{Log: quietLog})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// BenchmarkLinkByTokenHash is the read behind every landing page.
func BenchmarkLinkByTokenHash(b *testing.B) { storetest.BenchLinkByTokenHash(b, openStore(b, "")) }

// BenchmarkClusterCreateLink and BenchmarkClusterConsumeLink are the same
// on the test cluster (three primaries, no persistence): every call goes
// to the primary of the deployment's slot, as it would to one server.
func BenchmarkClusterCreateLink(b *testing.B) { storetest.BenchCreateLink(b, openClusterStore(b, "")) }

func BenchmarkClusterConsumeLink(b *testing.B) {
	storetest.BenchConsumeLink(b, openClusterStore(b, ""))
}
