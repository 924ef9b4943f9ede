package oidc_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/linkguard/linkguard/internal/redistest"
	lgoidc "github.com/linkguard/linkguard/oidc"
	redisstore "github.com/linkguard/linkguard/store/redis"
)

// TestCodeFlowRedis is TestCodeFlow on a real redis-server: auth
// requests, codes and tokens in Redis, the code spent by GETDEL.
func TestCodeFlowRedis(t *testing.T) {
	srv := redistest.ForTest(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := redisstore.Open(ctx, srv.URL, redisstore.Options{
		KeyPrefix: fmt.Sprintf("oidc%d:", os.Getpid()), Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	e := startKit(t, st, lgoidc.Config{})
	codeFlow(t, e)
}
