package redis

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/linkguard/linkguard/internal/redistest"
)

// TestOpenWaitsWhileRedisLoads: a Redis that has just started answers
// LOADING while it reads its dataset (here 3,000 keys at 1 ms each, made
// slow on purpose with redis-server's own key-load-delay); Open waits
// for it within its context, saying so once, and opens once Redis has
// loaded; with a context shorter than the load it fails saying that
// Redis was still loading.
func TestOpenWaitsWhileRedisLoads(t *testing.T) {
	srv := redistest.ForTest(t, "--key-load-delay", "1000", "--loading-process-events-interval-bytes", "1024")
	ctx := context.Background()
	rdb := rawClientAt(t, srv.URL)
	for i := range 30 {
		if err := rdb.Eval(ctx, "for i=1,100 do redis.call('SET', 'k'..ARGV[1]..'-'..i, 'v') end return 1", nil, i).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := rdb.Save(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	restart := func(t *testing.T) {
		t.Helper()
		srv.Kill()
		if err := srv.Restart(); err != nil {
			t.Fatal(err)
		}
		if err := rdb.Ping(ctx).Err(); err == nil || !strings.HasPrefix(err.Error(), "LOADING") {
			t.Fatalf("right after a restart PING answered %v; want LOADING (the load is too quick to test)", err)
		}
	}

	t.Run("waits", func(t *testing.T) {
		restart(t)
		var logs bytes.Buffer
		octx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		s, err := Open(octx, srv.URL, Options{KeyPrefix: freshPrefix(), Log: slog.New(slog.NewTextHandler(&logs, nil))})
		if err != nil {
			t.Fatalf("open while Redis loads: %v", err)
		}
		defer s.Close()
		if n := strings.Count(logs.String(), "loading its dataset"); n != 1 {
			t.Fatalf("said %d times that it waits, want once:\n%s", n, logs.String())
		}
		if n, err := rdb.DBSize(ctx).Result(); err != nil || n < 3000 {
			t.Fatalf("after Open, Redis holds %d keys (%v): Open returned before the load ended", n, err)
		}
	})

	t.Run("gives up with its context", func(t *testing.T) {
		restart(t)
		octx, cancel := context.WithTimeout(ctx, 1500*time.Millisecond) // the load takes 3 s
		defer cancel()
		_, err := Open(octx, srv.URL, Options{KeyPrefix: freshPrefix(), Log: quietLog})
		if err == nil || !strings.Contains(err.Error(), "still loading its dataset") {
			t.Fatalf("open with a context shorter than the load: %v", err)
		}
	})
}

// rawClientAt is a plain client on the server at url.
func rawClientAt(t testing.TB, url string) *goredis.Client {
	t.Helper()
	o, err := goredis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := goredis.NewClient(o)
	t.Cleanup(func() { c.Close() })
	return c
}
