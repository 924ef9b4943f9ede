package selftest_test

// The self-test against a real kit: Badger in memory, the Fiber server
// listening on 127.0.0.1, reached directly or through a reverse proxy
// (httputil.ReverseProxy, which adds X-Forwarded-For) that the self-test
// reaches from 127.0.0.2, so that the proxy's address and the
// self-test's differ.

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/linkguard/linkguard/kit"
	"github.com/linkguard/linkguard/selftest"
	"github.com/linkguard/linkguard/selftest/chromium"
)

const apiKey = "selftest-api-key-0123456789"

// startKit runs a kit on ln whose links start with public.
func startKit(t *testing.T, ln net.Listener, public string, trusted []netip.Prefix) {
	t.Helper()
	k, err := kit.New(kit.Options{
		PublicURL: public, APIKeys: []string{apiKey}, TrustedProxies: trusted,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	k.Start(ctx)
	go k.App().Listener(ln)
	t.Cleanup(func() {
		_ = k.App().ShutdownWithTimeout(5 * time.Second)
		cancel()
		if err := k.Close(); err != nil {
			t.Errorf("close kit: %v", err)
		}
	})
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// behindProxy starts a kit and a reverse proxy in front of it, both on
// 127.0.0.1, and answers the proxy's URL (the kit's public URL).
func behindProxy(t *testing.T, trusted []netip.Prefix) string {
	t.Helper()
	kln, pln := listen(t), listen(t)
	public := "http://" + pln.Addr().String()
	startKit(t, kln, public, trusted)
	target, _ := url.Parse("http://" + kln.Addr().String())
	rp := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(target)
		r.SetXForwarded() // X-Forwarded-For: the self-test's 127.0.0.2
		r.Out.Host = r.In.Host
	}}
	srv := &http.Server{Handler: rp, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(pln)
	t.Cleanup(func() { srv.Close() })
	return public
}

// chromium is the browser for the headless step, "off" without one
// (CI has one: there its absence fails).
func findChromium(t *testing.T) string {
	for _, n := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no Chromium on CI: the headless-browser step cannot run")
	}
	return "off"
}

func run(t *testing.T, o selftest.Options) *selftest.Report {
	t.Helper()
	o.APIKey = apiKey
	rep, err := selftest.Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	_ = rep.Print(&b)
	t.Logf("report:\n%s", b.String())
	return rep
}

// TestPassesAgainstAKit: every step passes against a kit reached
// directly, the headless browser included when Chromium is installed.
func TestPassesAgainstAKit(t *testing.T) {
	ln := listen(t)
	base := "http://" + ln.Addr().String()
	startKit(t, ln, base, nil)
	rep := run(t, selftest.Options{URL: base, Chromium: findChromium(t), Browser: chromium.Play})
	if err := rep.Err(); err != nil {
		t.Fatal(err)
	}
	want := []string{selftest.StepReady, selftest.StepIssue, selftest.StepStaleUA, selftest.StepNoUA, selftest.StepCrawler,
		selftest.StepCollector, selftest.StepBrowser, selftest.StepPending, selftest.StepCode, selftest.StepExchange, selftest.StepAddress}
	var got []string
	for _, s := range rep.Steps {
		got = append(got, s.Name)
	}
	if !slices.Equal(got, want) {
		t.Errorf("steps %v, want %v", got, want)
	}
	if s, _ := rep.Step(selftest.StepAddress); !strings.Contains(s.Detail, "127.0.0.1") {
		t.Errorf("client-address: %q does not name 127.0.0.1", s.Detail)
	}
}

// TestFailsBehindAnUntrustedProxy: a kit that does not trust the proxy in
// front of it takes the proxy's address for every client; the self-test
// says so, and only that.
func TestFailsBehindAnUntrustedProxy(t *testing.T) {
	public := behindProxy(t, nil)
	rep := run(t, selftest.Options{URL: public, Source: netip.MustParseAddr("127.0.0.2"), Chromium: "off"})
	err := rep.Err()
	if err == nil || !strings.Contains(err.Error(), selftest.StepAddress) {
		t.Fatalf("error %v, want one naming %s", err, selftest.StepAddress)
	}
	if f := rep.Failed(); !slices.Equal(f, []string{selftest.StepAddress}) {
		t.Errorf("failed steps %v, want only %s", f, selftest.StepAddress)
	}
	s, _ := rep.Step(selftest.StepAddress)
	for _, w := range []string{"127.0.0.1", "127.0.0.2", "LINKGUARD_TRUSTED_PROXIES"} {
		if !strings.Contains(s.Detail, w) {
			t.Errorf("client-address detail %q does not name %s", s.Detail, w)
		}
	}
}

// TestPassesBehindATrustedProxy: the same proxy, trusted, passes: the
// kit takes the self-test's own 127.0.0.2 from X-Forwarded-For. Run as
// the server binary runs it, without a browser driver: the browser step
// is skipped and names the binary that has one.
func TestPassesBehindATrustedProxy(t *testing.T) {
	public := behindProxy(t, []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")})
	rep := run(t, selftest.Options{URL: public, Source: netip.MustParseAddr("127.0.0.2")})
	if err := rep.Err(); err != nil {
		t.Fatal(err)
	}
	if s, _ := rep.Step(selftest.StepAddress); !strings.Contains(s.Detail, "127.0.0.2") || !strings.Contains(s.Detail, "trusted proxy") {
		t.Errorf("client-address: %q", s.Detail)
	}
	if s, _ := rep.Step(selftest.StepBrowser); s.Status != selftest.Skip || !strings.Contains(s.Detail, selftest.Helper) {
		t.Errorf("headless-browser without a driver: %s %q, want skip naming %s", s.Status, s.Detail, selftest.Helper)
	}
}

// TestRefusesBadOptions: options that keep every step from running are
// an error that names them.
func TestRefusesBadOptions(t *testing.T) {
	for _, o := range []selftest.Options{{URL: "kit.example.com", APIKey: apiKey}, {URL: "https://kit.example.com"}} {
		if _, err := selftest.Run(context.Background(), o); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
}
