package server

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
)

// ipEcho serves s.clientIP on a real TCP listener on 127.0.0.1, so the
// peer is a real address (app.Test's peer is always 0.0.0.0) and the
// X-Forwarded-For walk runs as it does in production.
func ipEcho(t *testing.T, trusted ...string) string {
	t.Helper()
	s := &Server{}
	for _, p := range trusted {
		s.opts.TrustedProxies = append(s.opts.TrustedProxies, netip.MustParsePrefix(p))
	}
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Get("/", func(c *fiber.Ctx) error { return c.SendString(s.clientIP(c).String()) })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go app.Listener(ln)
	t.Cleanup(func() { app.Shutdown() })
	return "http://" + ln.Addr().String() + "/"
}

// getIP sends one request whose X-Forwarded-For lines are xff, in order,
// one header line each.
func getIP(t *testing.T, url string, xff ...string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if xff != nil {
		req.Header["X-Forwarded-For"] = xff
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return string(b)
}

func TestClientIPThroughTrustedProxy(t *testing.T) {
	// The peer, 127.0.0.1, is the trusted proxy; 10.0.0.0/8 are inner proxies.
	url := ipEcho(t, "127.0.0.1/32", "10.0.0.0/8")
	for _, tc := range []struct {
		name string
		xff  []string
		want string
	}{
		{"no header: the proxy itself", nil, "127.0.0.1"},
		{"one client", []string{"203.0.113.9"}, "203.0.113.9"},
		{"spoofed left entry", []string{"198.51.100.1, 203.0.113.9"}, "203.0.113.9"},
		{"inner proxy skipped", []string{"198.51.100.1, 203.0.113.9, 10.0.0.2"}, "203.0.113.9"},
		// HAProxy's option forwardfor appends its own line: the client's
		// line comes first and must not be believed.
		{"second line is the proxy's", []string{"8.8.8.8", "203.0.113.9"}, "203.0.113.9"},
		{"walk crosses lines", []string{"8.8.8.8, 203.0.113.9", "10.0.0.7"}, "203.0.113.9"},
		{"walk crosses lines, trusted last", []string{"203.0.113.9", "10.1.1.1, 10.0.0.7"}, "203.0.113.9"},
		{"ip:port", []string{"8.8.8.8", "203.0.113.9:51234"}, "203.0.113.9"},
		{"[v6]:port", []string{"8.8.8.8", "[2001:db8::7]:443"}, "2001:db8::7"},
		{"[v6]", []string{"[2001:db8::7]"}, "2001:db8::7"},
		{"v4-mapped", []string{"::ffff:203.0.113.9"}, "203.0.113.9"},
		{"malformed hop stops the walk", []string{"203.0.113.9, garbage, 10.0.0.3"}, "10.0.0.3"},
		{"empty entry stops the walk", []string{"203.0.113.9,", "10.0.0.3"}, "10.0.0.3"},
		{"every hop trusted", []string{"10.0.0.1, 10.0.0.2"}, "10.0.0.1"},
	} {
		if got := getIP(t, url, tc.xff...); got != tc.want {
			t.Errorf("%s: X-Forwarded-For %q: client %s, want %s", tc.name, tc.xff, got, tc.want)
		}
	}
}

func TestClientIPPeerNotTrusted(t *testing.T) {
	// Only 10.0.0.0/8 is trusted; the real peer, 127.0.0.1, is not: no
	// header counts, however it is written.
	url := ipEcho(t, "10.0.0.0/8")
	for _, xff := range [][]string{nil, {"203.0.113.9"}, {"8.8.8.8", "203.0.113.9"}, {"10.0.0.1"}} {
		if got := getIP(t, url, xff...); got != "127.0.0.1" {
			t.Errorf("X-Forwarded-For %q from an untrusted peer: client %s, want the peer 127.0.0.1", xff, got)
		}
	}
}

func TestParseHop(t *testing.T) {
	for in, want := range map[string]string{
		" 203.0.113.9 ": "203.0.113.9", "203.0.113.9:80": "203.0.113.9", "[2001:db8::1]:80": "2001:db8::1",
		"[2001:db8::1]": "2001:db8::1", "fe80::1%eth0": "fe80::1", "::ffff:1.2.3.4": "1.2.3.4",
		"": "", "unknown": "", "[1.2.3.4]": "", "1.2.3.4:99999": "", "[2001:db8::1": "", "_hidden": "",
	} {
		a, ok := parseHop(in)
		got := ""
		if ok {
			got = a.String()
		}
		if got != want {
			t.Errorf("parseHop(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestLoginLimitKeyedOnProxyLine: behind a proxy that appends its own
// X-Forwarded-For line, a client that writes a new first line on every
// request is still one client to the /login limiter.
func TestLoginLimitKeyedOnProxyLine(t *testing.T) {
	h := newHarness(t, "")
	h.srv.opts.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go h.srv.App().Listener(ln)
	t.Cleanup(func() { h.srv.App().Shutdown() })
	limited := 0
	for i := range 14 {
		req, _ := http.NewRequest("POST", "http://"+ln.Addr().String()+"/login", strings.NewReader("email=a%40example.com"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header["X-Forwarded-For"] = []string{fmt.Sprintf("198.51.100.%d", i+1), "203.0.113.9"}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode == http.StatusTooManyRequests {
			limited++
		}
	}
	if limited == 0 {
		t.Fatal("14 sign-ins from one client behind the proxy, each with a new spoofed first X-Forwarded-For line: none was limited")
	}
}
