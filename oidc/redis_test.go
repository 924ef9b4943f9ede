package oidc_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/linkguard/linkguard/internal/logbuf"
	"github.com/linkguard/linkguard/internal/redistest"
	"github.com/linkguard/linkguard/internal/smtptest"
	"github.com/linkguard/linkguard/kit"
	lgoidc "github.com/linkguard/linkguard/oidc"
)

// TestCodeFlowRedis is TestCodeFlow on a real redis-server: auth
// requests, codes and tokens in Redis, the code spent by GETDEL.
func TestCodeFlowRedis(t *testing.T) {
	codeFlow(t, startKit(t, openRedis(t), lgoidc.Config{}))
}

// TestRefusedRedis is TestRefused on Redis.
func TestRefusedRedis(t *testing.T) {
	refused(t, startKit(t, openRedis(t), lgoidc.Config{CodeTTL: time.Second}))
}

// openRedis starts a redis-server for the test and returns the kit's store
// URL for it.
func openRedis(t *testing.T) string {
	return withPrefix(t, redistest.ForTest(t).URL, fmt.Sprintf("oidc%d:", os.Getpid()))
}

// withPrefix is the store URL of the Redis at raw with the key prefix.
func withPrefix(t *testing.T, raw, prefix string) string {
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("key_prefix", prefix)
	u.RawQuery = q.Encode()
	return u.String()
}

// TestTwoInstancesOneRedis: two kits share one Redis, one data folder's
// key files and one server key, behind a balancer that alternates
// between them at every request. The whole flow works across them, and
// one code exchanged at both at once works exactly once.
func TestTwoInstancesOneRedis(t *testing.T) {
	srv := redistest.ForTest(t)
	pln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, base: "http://" + pln.Addr().String(), logs: &logbuf.Buffer{}}
	e.relay = smtptest.Start(t, smtptest.Options{ImplicitTLS: true})
	secret, hash, err := lgoidc.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	e.webSecret = secret
	cfg := lgoidc.Config{Clients: []lgoidc.ClientConfig{
		{ID: "web", Secret: hash, RedirectURIs: []string{webRedirect}},
		{ID: "spa", Public: true, RedirectURIs: []string{spaRedirect}, IDTokenAlg: "RS256", Scopes: []string{"email"}},
	}}
	dir, serverKey, prefix := t.TempDir(), make([]byte, 32), fmt.Sprintf("two%d:", os.Getpid())
	rand.Read(serverKey)
	var backends []*url.URL
	var hits [2]atomic.Int64
	for i := 0; i < 2; i++ {
		k, err := kit.New(kit.Options{
			PublicURL: e.base, Dev: true, Store: withPrefix(t, srv.URL, prefix), DataDir: dir, SecretKey: serverKey, MailFrom: "signin@example.com",
			SMTPURL: e.relay.URL(),
			OIDC:    cfg, Log: slog.New(slog.NewTextHandler(e.logs, nil)),
		})
		if err != nil {
			t.Fatal(err)
		}
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		kctx, kcancel := context.WithCancel(context.Background())
		k.Start(kctx)
		go k.App().Listener(ln)
		t.Cleanup(func() { k.App().ShutdownWithTimeout(5 * time.Second); kcancel(); k.Close() })
		u, _ := url.Parse("http://" + ln.Addr().String())
		backends = append(backends, u)
	}
	var next atomic.Int64
	balancer := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := next.Add(1) % 2
		hits[i].Add(1)
		p := httputil.NewSingleHostReverseProxy(backends[i])
		// Keep the Host: both instances believe they are e.base.
		d := p.Director
		p.Director = func(r *http.Request) { host := r.Host; d(r); r.Host = host }
		p.ServeHTTP(w, r)
	})}
	go balancer.Serve(pln)
	t.Cleanup(func() { balancer.Close() })

	codeFlow(t, e)
	if hits[0].Load() < 5 || hits[1].Load() < 5 {
		t.Fatalf("the balancer sent %d and %d requests: both instances must serve", hits[0].Load(), hits[1].Load())
	}

	t.Run("one code exchanged at both instances at once works once", func(t *testing.T) {
		e.t = t
		r := e.rp("web", e.webSecret, webRedirect, "EdDSA")
		s := r.start(false)
		code := e.signIn(s.url, newEmail()).Query().Get("code")
		var ok, refused atomic.Int32
		var wg sync.WaitGroup
		for i := 0; i < 20; i++ {
			cfg := r.cfg
			cfg.Endpoint.TokenURL = backends[i%2].String() + lgoidc.PathToken
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := cfg.Exchange(context.Background(), code)
				if err == nil {
					ok.Add(1)
				} else if exchangeError(err) == "invalid_grant" {
					refused.Add(1)
				} else {
					t.Errorf("exchange: %v", err)
				}
			}()
		}
		wg.Wait()
		if ok.Load() != 1 || refused.Load() != 19 {
			t.Errorf("%d exchanges worked, %d refused; want 1 and 19", ok.Load(), refused.Load())
		}
	})
}
