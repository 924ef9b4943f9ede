package redis

import (
	"context"
	"fmt"
	"net"
	"os"
	"sync/atomic"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/linkguard/linkguard/internal/redistest"
)

// A real redis-server for the whole test binary, on a free port of
// 127.0.0.1, without persistence. Tests share it and keep apart by key
// prefix (see freshPrefix).
var (
	serverURL  string // redis://127.0.0.1:port/0, "" when absent
	serverSkip string // why the Redis tests skip
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	if ok, why, mustFail := redistest.Available(); !ok {
		if mustFail {
			fmt.Fprintln(os.Stderr, "store/redis:", why+", and CI is set")
			return 1
		}
		serverSkip = why + "; the Redis tests are skipped"
		return m.Run()
	}
	srv, err := startServer()
	if err != nil {
		fmt.Fprintln(os.Stderr, "store/redis: start redis-server:", err)
		return 1
	}
	defer srv.Stop()
	serverURL = srv.URL
	defer stopCluster()
	return m.Run()
}

// startServer starts another redis-server (with extra arguments) for a
// test of its own; see internal/redistest.
func startServer(extra ...string) (*redistest.Server, error) { return redistest.Start(extra...) }

// freePort is a port on 127.0.0.1 where nothing listens.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// needServer skips the test when there is no redis-server (outside CI).
func needServer(t testing.TB) {
	t.Helper()
	if serverURL == "" {
		t.Skip(serverSkip)
	}
}

var prefixSeq atomic.Int64

// freshPrefix is a key prefix no other test in this run uses.
func freshPrefix() string {
	return fmt.Sprintf("t%d-%d:", os.Getpid(), prefixSeq.Add(1))
}

// opener opens a Store on a test server (or cluster) with a fresh
// prefix (or the given one), closed at the end of the test.
type opener func(t testing.TB, prefix string) *Store

// openStore opens a Store on the test server with a fresh prefix (or the
// given one), closed at the end of the test.
func openStore(t testing.TB, prefix string) *Store {
	t.Helper()
	needServer(t)
	if prefix == "" {
		prefix = freshPrefix()
	}
	s, err := Open(context.Background(), serverURL, Options{KeyPrefix: prefix, Log: quietLog})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// rawClient is a plain client on the test server, for looking at keys.
func rawClient(t testing.TB) *goredis.Client {
	t.Helper()
	needServer(t)
	o, err := goredis.ParseURL(serverURL)
	if err != nil {
		t.Fatal(err)
	}
	c := goredis.NewClient(o)
	t.Cleanup(func() { c.Close() })
	return c
}
