package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/linkguard/linkguard/metrics"
	"github.com/linkguard/linkguard/web"
)

// commit is set by make dist (-ldflags -X main.commit=...).
var commit = "unknown"

// LogConfig is how the server logs (docs/operations.md).
type LogConfig struct {
	// Format is text (logfmt) or json (one object per line).
	Format string `yaml:"format"`
	// Level is debug, info, warn or error.
	Level string `yaml:"level"`
}

// newLogger makes the server's logger from c.
func newLogger(c LogConfig, w io.Writer) (*slog.Logger, error) {
	var lv slog.Level
	switch strings.ToLower(c.Level) {
	case "", "info":
		lv = slog.LevelInfo
	case "debug":
		lv = slog.LevelDebug
	case "warn", "warning":
		lv = slog.LevelWarn
	case "error":
		lv = slog.LevelError
	default:
		return nil, fmt.Errorf("log.level %q: want debug, info, warn or error (LINKGUARD_LOG_LEVEL)", c.Level)
	}
	o := &slog.HandlerOptions{Level: lv}
	switch strings.ToLower(c.Format) {
	case "", "text":
		return slog.New(slog.NewTextHandler(w, o)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, o)), nil
	}
	return nil, fmt.Errorf("log.format %q: want text or json (LINKGUARD_LOG_FORMAT)", c.Format)
}

// serveMetrics serves m at GET /metrics on its own listener until ctx ends.
func serveMetrics(ctx context.Context, addr string, m *metrics.Metrics, log *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("metrics_listen %s: %w", addr, err)
	}
	srv := &http.Server{Handler: m.Mux(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics listener", "err", err)
		}
	}()
	log.Info("metrics listening", "addr", ln.Addr().String())
	return nil
}

// errNoCollector is serve's answer when the binary has no collector.
var errNoCollector = errors.New(`this binary has no WebAssembly collector (go install and go build cannot build it), so every visitor without the device cookie would be asked for the code.
Build a complete binary from a clone:
    git clone https://github.com/linkguard/linkguard && cd linkguard && make build    # bin/linkguard
or use a release archive (make dist) or the OCI image (make image).
Set LINKGUARD_ALLOW_NO_COLLECTOR=1 to start anyway (tests only)`)

// hasCollector reports whether the binary embeds the collector.
func hasCollector() bool {
	s, err := web.New(web.Options{})
	return err == nil && s.HasCollector()
}

func printVersion(w io.Writer) {
	col := "embedded"
	if !hasCollector() {
		col = "MISSING (build with make)"
	}
	fmt.Fprintf(w, "linkguard %s\ncommit %s\n%s %s/%s\ncollector %s\n", version, commit, runtime.Version(), runtime.GOOS, runtime.GOARCH, col)
}

// geoStatus is the last GeoIP reload's error, for /readyz.
type geoStatus struct{ err atomic.Pointer[error] }

func (g *geoStatus) set(err error) { g.err.Store(&err) }
func (g *geoStatus) check(context.Context) error {
	if p := g.err.Load(); p != nil && *p != nil {
		return fmt.Errorf("the last reload failed: %w", *p)
	}
	return nil
}
