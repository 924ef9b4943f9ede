package server

import (
	"io"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
)

// FuzzIssueBody sends arbitrary bodies to POST /v1/links: whatever comes
// in, the answer is 201 or a 4xx with the error shape, never a 5xx.
func FuzzIssueBody(f *testing.F) {
	f.Add(`{"email":"a@example.com","redirect_url":"https://app.example.com/"}`)                    // valid
	f.Add(`{"email":"a@example.com","redirect_url":"https://app.example.com/","ttl_seconds":1e99}`) // huge number
	f.Add(`{"email":"a@example.com","metadata":{"a":[1,2,{"b":null}]},"requester":{"ip":"::ffff:1.2.3.4"}}`)
	f.Add(`{"email":"\u0000@example.com"}`) // NUL in the address
	f.Add(`[]`)                             // not an object
	f.Add(`{"email":"a@example.com","redirect_url":"https://app.example.com/"}garbage`)
	f.Add(`{"ttl_seconds":-5}`)
	h := newHarness(f, "")
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest("POST", "/v1/links", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+testKey)
		res, err := h.srv.App().Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode >= 500 {
			t.Fatalf("body %q: status %d", body, res.StatusCode)
		}
		b, _ := io.ReadAll(res.Body)
		checkContract(t, "POST", "/v1/links", res.StatusCode, res.Header, b)
	})
}

// FuzzReportBody does the same for the collector's report and the code.
func FuzzReportBody(f *testing.F) {
	f.Add(`{"nonce":"x","signals":{"v":2}}`)
	f.Add(`{"nonce":"x","signals":{"v":2,"interaction":{"click":{"trusted":true,"on_continue":true}}},"code":"123456"}`)
	f.Add(`{"nonce":"x","signals":{"automation":{"ua_marks":["a",null]}}}`)
	f.Add(`{"signals":"not an object"}`)
	h := newHarness(f, "")
	l := h.issue("")
	nonce := h.nonce(l.Token)
	f.Fuzz(func(t *testing.T, body string) {
		body = strings.ReplaceAll(body, `"nonce":"x"`, `"nonce":"`+nonce+`"`)
		req := httptest.NewRequest("POST", "/l/"+l.Token+"/verify", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		res, err := h.srv.App().Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode >= 500 {
			t.Fatalf("body %q: status %d", body, res.StatusCode)
		}
	})
}

// FuzzClientIP: whatever the X-Forwarded-For lines hold, the client
// address is the peer or an address the header names, and never a trusted
// proxy unless the walk stopped there (every hop trusted, or a malformed
// one). app.Test's peer is 0.0.0.0, so 0.0.0.0/32 is trusted here, or the
// walk would never run (TestClientIPThroughTrustedProxy uses a real peer).
func FuzzClientIP(f *testing.F) {
	f.Add("203.0.113.9", "")                         // one client
	f.Add("198.51.100.1, 203.0.113.9, 10.0.0.2", "") // spoofed left entry, real client, inner proxy
	f.Add("8.8.8.8", "203.0.113.9")                  // the proxy's own line comes last
	f.Add("garbage, 10.0.0.3", "")
	f.Add("", "")
	f.Add("::ffff:203.0.113.9", "[2001:db8::1]:443")
	f.Add("203.0.113.9:8080", "10.0.0.1")
	s := &Server{opts: Options{TrustedProxies: []netip.Prefix{
		netip.MustParsePrefix("0.0.0.0/32"), netip.MustParsePrefix("10.0.0.0/8")}}}
	app := fiber.New()
	var got netip.Addr
	app.Get("/", func(c *fiber.Ctx) error { got = s.clientIP(c); return nil })
	f.Fuzz(func(t *testing.T, xff1, xff2 string) {
		req := httptest.NewRequest("GET", "/", nil)
		req.Header.Add("X-Forwarded-For", xff1)
		if xff2 != "" {
			req.Header.Add("X-Forwarded-For", xff2)
		}
		got = netip.Addr{}
		if _, err := app.Test(req, -1); err != nil {
			t.Skip() // a header net/http itself refuses
		}
		if !got.IsValid() {
			t.Fatalf("xff %q %q: no client address", xff1, xff2)
		}
		named := false
		for _, e := range strings.Split(xff1+","+xff2, ",") {
			if a, ok := parseHop(e); ok && a == got {
				named = true
			}
		}
		if got.String() != "0.0.0.0" && !named {
			t.Fatalf("xff %q %q: client %s is neither the peer nor named by the header", xff1, xff2, got)
		}
		// The rightmost entry of the last line decides when it is an
		// untrusted address: nothing the client wrote before it counts.
		lines := []string{xff1}
		if xff2 != "" {
			lines = append(lines, xff2)
		}
		last := lines[len(lines)-1]
		if a, ok := parseHop(last[strings.LastIndexByte(last, ',')+1:]); ok && !s.trusted(a) && got != a {
			t.Fatalf("xff %q %q: client %s, want the last entry %s", xff1, xff2, got, a)
		}
	})
}
