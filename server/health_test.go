package server

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/fingerprint"
	"github.com/linkguard/linkguard/internal/redistest"
	redisstore "github.com/linkguard/linkguard/store/redis"
	"github.com/linkguard/linkguard/web"
)

func wantReady(t *testing.T, h *harness, ready bool, why string) {
	t.Helper()
	r := h.do("GET", "/readyz", "")
	if ready {
		if r.status != 200 || !strings.Contains(r.body, `"ready"`) {
			t.Fatalf("/readyz: %d %s, want 200", r.status, r.body)
		}
	} else {
		m := r.json(t)
		e, _ := m["error"].(map[string]any)
		if r.status != 503 || e["code"] != "not_ready" || !strings.Contains(e["message"].(string), why) {
			t.Fatalf("/readyz: %d %s, want 503 not_ready naming %q", r.status, r.body, why)
		}
	}
	if r := h.do("GET", "/healthz", ""); r.status != 200 {
		t.Fatalf("/healthz: %d, want 200 (liveness) whatever the store", r.status)
	}
}

// TestReadyzBadger: ready while the store takes writes, not ready once
// it is closed; a failing extra check is named.
func TestReadyzBadger(t *testing.T) {
	h := newHarness(t, t.TempDir())
	wantReady(t, h, true, "")
	var geoErr error
	site, err := web.New(web.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h.srv, err = New(Options{Service: h.svc, Site: site, APIKeys: []string{testKey}, Log: h.svc.Log,
		ReadyChecks: []ReadyCheck{{Name: "geoip", Check: func(context.Context) error { return geoErr }}}})
	if err != nil {
		t.Fatal(err)
	}
	wantReady(t, h, true, "")
	geoErr = errors.New("the last reload failed: open GeoLite2-City.mmdb: no such file")
	wantReady(t, h, false, "geoip: the last reload failed")
	geoErr = nil
	h.store.Close()
	wantReady(t, h, false, "store: the Badger database is closed")
}

// TestReadyzRedis: a real redis-server killed and started again flips
// /readyz to 503 and back; /healthz stays 200.
func TestReadyzRedis(t *testing.T) {
	rs := redistest.ForTest(t)
	// NB: not one timeout for the whole test: the kill, the restart and
	// the wait for /readyz take most of ten seconds on a loaded machine,
	// and the replica step's commands then failed on a spent context.
	ctx := t.Context()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := redisstore.Open(ctx, rs.URL, redisstore.Options{Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	h := newHarness(t, t.TempDir())
	eng, _ := fingerprint.NewEngine(fingerprint.DefaultConfig())
	h.svc = &linkguard.Service{Store: st, Keys: h.svc.Keys, Decider: eng, Policy: h.svc.Policy, Log: quiet}
	site, err := web.New(web.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if h.srv, err = New(Options{Service: h.svc, Site: site, APIKeys: []string{testKey}, Log: quiet}); err != nil {
		t.Fatal(err)
	}
	wantReady(t, h, true, "")
	rs.Kill()
	wantReady(t, h, false, "unreachable")
	if err := rs.Restart(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for h.do("GET", "/readyz", "").status != 200 {
		if time.Now().After(deadline) {
			t.Fatal("/readyz stayed 503 after redis-server came back")
		}
		time.Sleep(50 * time.Millisecond)
	}
	wantReady(t, h, true, "")
	// A replica refuses writes: not ready, and said so.
	admin := goredis.NewClient(&goredis.Options{Addr: rs.Addr})
	defer admin.Close()
	if err := admin.Do(ctx, "REPLICAOF", "127.0.0.1", "1").Err(); err != nil {
		t.Fatal(err)
	}
	wantReady(t, h, false, "store: Redis refuses writes")
	if err := admin.Do(ctx, "REPLICAOF", "NO", "ONE").Err(); err != nil {
		t.Fatal(err)
	}
	wantReady(t, h, true, "")
}

// TestClientInfo: /v1/client says which address the network signals
// read: the peer, or, from a trusted proxy, the forwarded client.
func TestClientInfo(t *testing.T) {
	h := newHarness(t, t.TempDir())
	r := h.do("GET", "/v1/client", "", "Authorization", "Bearer "+testKey, "X-Forwarded-For", "203.0.113.9")
	m := r.json(t)
	if r.status != 200 || m["ip"] != m["peer"] || m["forwarded"] != false {
		t.Fatalf("untrusted peer: %d %s", r.status, r.body)
	}
	peer, _ := netip.ParseAddr(m["peer"].(string))
	h.srv.opts.TrustedProxies = []netip.Prefix{netip.PrefixFrom(peer, peer.BitLen())}
	r = h.do("GET", "/v1/client", "", "Authorization", "Bearer "+testKey, "X-Forwarded-For", "203.0.113.9")
	if m = r.json(t); m["ip"] != "203.0.113.9" || m["forwarded"] != true {
		t.Fatalf("trusted proxy: %s", r.body)
	}
	if r := h.do("GET", "/v1/client", ""); r.status != 401 {
		t.Fatalf("without a key: %d", r.status)
	}
}
