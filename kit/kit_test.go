package kit_test

// The kit assembled as a host would: a real Badger store in memory, the
// Fiber server listening on 127.0.0.1, and a real SMTP relay in-process
// (internal/smtptest: go-smtp, implicit TLS, AUTH PLAIN) that the kit
// reaches through LINKGUARD_SMTP_URL's syntax.

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/linkguard/linkguard/internal/logbuf"
	"github.com/linkguard/linkguard/internal/smtptest"
	"github.com/linkguard/linkguard/kit"
	"github.com/linkguard/linkguard/metrics"
)

const (
	apiKey = "test-api-key-0123456789"
	// chromeWindows is the browser that asks for links in these tests.
	chromeWindows = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.0.0 Safari/537.36"
)

// ---- the SMTP relay (internal/smtptest) ----

// newRelay starts a relay with implicit TLS.
func newRelay(t *testing.T) *smtptest.Relay {
	return smtptest.Start(t, smtptest.Options{ImplicitTLS: true})
}

// ---- the kit ----

// harness is one kit listening on 127.0.0.1.
type harness struct {
	t    *testing.T
	k    *kit.Kit
	base string
	logs *logbuf.Buffer
	hc   *http.Client
}

// newKit starts a kit whose mail goes to r (nil: no SMTP), in dev mode or
// not, and stops it when the test ends.
func newKit(t *testing.T, r *smtptest.Relay, dev bool) *harness {
	t.Helper()
	return newKitWith(t, r, dev, nil)
}

// newKitWith is newKit with edit applied to the options (nil: none).
func newKitWith(t *testing.T, r *smtptest.Relay, dev bool, edit func(*kit.Options)) *harness {
	t.Helper()
	return newKitMetrics(t, r, dev, edit, nil)
}

// newKitMetrics is newKitWith with the kit instrumented with m before it
// starts (nil: no metrics).
func newKitMetrics(t *testing.T, r *smtptest.Relay, dev bool, edit func(*kit.Options), m *metrics.Metrics) *harness {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, base: "http://" + ln.Addr().String(), logs: &logbuf.Buffer{},
		hc: &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}}}
	opts := kit.Options{
		PublicURL: h.base, APIKeys: []string{apiKey}, Dev: dev, MailFrom: "signin@example.com",
		Log: slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if r != nil {
		opts.SMTPURL = r.URL()
	}
	if edit != nil {
		edit(&opts)
	}
	h.k, err = kit.New(opts)
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	if m != nil {
		h.k.Instrument(m, false)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.k.Start(ctx)
	go h.k.App().Listener(ln)
	t.Cleanup(func() {
		_ = h.k.App().ShutdownWithTimeout(5 * time.Second)
		cancel()
		if err := h.k.Close(); err != nil {
			t.Errorf("close kit: %v", err)
		}
	})
	return h
}

// do sends a request and returns the status, headers and body.
func (h *harness) do(req *http.Request) (*http.Response, string) {
	h.t.Helper()
	res, err := h.hc.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return res, string(b)
}

// api calls a /v1 route with the API key; body is encoded as JSON.
func (h *harness) api(method, path string, body any, out any) int {
	h.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, h.base+path, rd)
	req.Header.Set("Authorization", "Bearer "+apiKey)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, text := h.do(req)
	if out != nil && res.StatusCode < 300 {
		if err := json.Unmarshal([]byte(text), out); err != nil {
			h.t.Fatalf("%s %s: %v in %s", method, path, err, text)
		}
	}
	return res.StatusCode
}

type issued struct {
	ID   string `json:"id"`
	URL  string `json:"url"`
	Code string `json:"code"`
}

func (h *harness) issue(email string) issued {
	h.t.Helper()
	var out issued
	if st := h.api("POST", "/v1/links", map[string]any{
		"email": email, "redirect_url": h.base + "/callback", "send_email": true,
		"requester": map[string]string{"user_agent": chromeWindows},
	}, &out); st != http.StatusCreated {
		h.t.Fatalf("POST /v1/links for %s: %d", email, st)
	}
	return out
}

type delivery struct {
	State     string    `json:"state"`
	Attempts  int       `json:"attempts"`
	LastError string    `json:"last_error"`
	SentAt    time.Time `json:"sent_at"`
	NextAt    time.Time `json:"next_at"`
}

func (h *harness) delivery(id string) delivery {
	h.t.Helper()
	var l struct {
		Delivery *delivery `json:"delivery"`
	}
	if st := h.api("GET", "/v1/links/"+id, nil, &l); st != http.StatusOK {
		h.t.Fatalf("GET /v1/links/%s: %d", id, st)
	}
	if l.Delivery == nil {
		h.t.Fatalf("link %s has no delivery", id)
	}
	return *l.Delivery
}

// waitDelivery polls the link until its delivery is in state, and returns it.
func (h *harness) waitDelivery(id, state string, d time.Duration) delivery {
	h.t.Helper()
	deadline := time.Now().Add(d)
	var got delivery
	for time.Now().Before(deadline) {
		if got = h.delivery(id); got.State == state {
			return got
		}
		time.Sleep(25 * time.Millisecond)
	}
	h.t.Fatalf("link %s: delivery %+v, want state %q within %s", id, got, state, d)
	return got
}

// ---- tests ----

// TestMailArrives: a link issued through the API is mailed through the
// relay, over TLS with AUTH, with its link and code in both parts, and the
// API then says it was sent.
func TestMailArrives(t *testing.T) {
	r := newRelay(t)
	h := newKit(t, r, false)
	l := h.issue("alice@example.com")
	m := r.WaitFor(t, "alice@example.com", 10*time.Second)
	if !m.TLS || m.User != smtptest.User {
		t.Errorf("mail came over TLS %v as user %q; want TLS as %q", m.TLS, m.User, smtptest.User)
	}
	p := smtptest.Parse(t, m.Data)
	if p.Subject == "" {
		t.Error("no subject")
	}
	for name, part := range map[string]string{"text": p.Text, "html": p.HTML} {
		if !strings.Contains(part, l.URL) {
			t.Errorf("%s part lacks the link %s:\n%s", name, l.URL, part)
		}
		if !strings.Contains(part, l.Code) {
			t.Errorf("%s part lacks the code %s", name, l.Code)
		}
		if !strings.Contains(part, "Chrome on Windows") {
			t.Errorf("%s part does not say where the request came from (Chrome on Windows)", name)
		}
	}
	d := h.waitDelivery(l.ID, "sent", 5*time.Second)
	if d.Attempts != 1 || d.SentAt.IsZero() || d.LastError != "" {
		t.Errorf("delivery %+v, want sent at the first attempt", d)
	}
}

// TestRelayComesBack: while the relay refuses connections, or accepts them
// and then says nothing, the mail waits in the queue with the failure
// visible; once the relay is back on the same address the mail is
// delivered, once.
func TestRelayComesBack(t *testing.T) {
	for _, mode := range []string{"refused", "timeout"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			r := newRelay(t)
			addr := r.Addr
			r.Stop()
			stopHole := func() {}
			if mode == "timeout" {
				stopHole = smtptest.StartBlackhole(t, addr).Close
			}
			h := newKit(t, r, false)
			start := time.Now()
			l := h.issue("alice@example.com")
			d := h.waitDelivery(l.ID, "retrying", 10*time.Second)
			if d.Attempts != 1 || d.LastError == "" || d.NextAt.IsZero() {
				t.Errorf("after a failed attempt: %+v, want attempts 1 with last_error and next_at", d)
			}
			t.Logf("%s: first attempt failed after %s: %s", mode, time.Since(start).Round(time.Millisecond), d.LastError)

			stopHole()
			r.Restart(t)
			back := time.Now()
			// Retries back off from 5 s and the queue is polled every 5 s:
			// the mail should go within about 10 s of the relay's return.
			r.WaitFor(t, "alice@example.com", 25*time.Second)
			t.Logf("%s: delivered %s after the relay came back", mode, time.Since(back).Round(time.Millisecond))
			d = h.waitDelivery(l.ID, "sent", 5*time.Second)
			if d.Attempts < 2 || d.LastError != "" {
				t.Errorf("after delivery: %+v, want sent after 2+ attempts, no last_error", d)
			}

			// Another mail goes through the same queue: by the time it
			// arrives, a duplicate of the first would have too.
			h.issue("bob@example.com")
			r.WaitFor(t, "bob@example.com", 10*time.Second)
			if n := len(r.To("alice@example.com")); n != 1 {
				t.Errorf("alice got %d mails, want exactly 1", n)
			}
		})
	}
}

// TestPermanentFailure: a 550 for the recipient is not retried, and the
// API shows the failure and its reason.
func TestPermanentFailure(t *testing.T) {
	r := newRelay(t)
	h := newKit(t, r, false)
	l := h.issue("nobody@example.com")
	d := h.waitDelivery(l.ID, "failed", 10*time.Second)
	if !strings.Contains(d.LastError, "550") || d.Attempts != 1 || !d.NextAt.IsZero() {
		t.Errorf("delivery %+v, want failed after 1 attempt with the 550 in last_error and no next_at", d)
	}
	if len(r.Mails()) != 0 {
		t.Errorf("the relay accepted %d mails", len(r.Mails()))
	}
}

var (
	csrfRe  = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	nonceRe = regexp.MustCompile(`<meta name="lg-nonce" content="([^"]*)"`)
)

// browser is what a test client keeps between requests: the device
// cookie, and the headers a browser sends. Cookies are handled by hand
// because outside dev mode the cookie is Secure and the kit plain http.
type browser struct {
	h      *harness
	cookie *http.Cookie
	ua     string
}

func (b *browser) req(method, path string, body io.Reader) *http.Request {
	req, _ := http.NewRequest(method, b.h.base+path, body)
	req.Header.Set("User-Agent", b.ua)
	req.Header.Set("Accept-Language", "en-GB,en;q=0.9")
	if b.cookie != nil {
		req.AddCookie(&http.Cookie{Name: b.cookie.Name, Value: b.cookie.Value})
	}
	return req
}

// loginForm GETs /login, keeps the device cookie, and returns the CSRF token.
func (b *browser) loginForm(redirect string) string {
	t := b.h.t
	t.Helper()
	res, body := b.h.do(b.req("GET", "/login?redirect_url="+url.QueryEscape(redirect), nil))
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /login: %d\n%s", res.StatusCode, body)
	}
	for _, c := range res.Cookies() {
		if c.Name == "__Host-lg_device" || c.Name == "lg_device" {
			if b.cookie == nil {
				b.cookie = c
			}
		}
	}
	m := csrfRe.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no CSRF field in the login form:\n%s", body)
	}
	return m[1]
}

// login POSTs the sign-in form.
func (b *browser) login(form url.Values, fetchSite string) (int, string) {
	b.h.t.Helper()
	req := b.req("POST", "/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", b.h.base)
	if fetchSite != "" {
		req.Header.Set("Sec-Fetch-Site", fetchSite)
	}
	res, body := b.h.do(req)
	return res.StatusCode, body
}

// open GETs the landing page and reports with no signals, as a page
// whose collector found nothing would, and returns the outcome.
func (b *browser) open(link string) (outcome, redirect string) {
	t := b.h.t
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	res, body := b.h.do(b.req("GET", u.Path, nil))
	m := nonceRe.FindStringSubmatch(body)
	if res.StatusCode != http.StatusOK || m == nil {
		t.Fatalf("GET %s: %d, nonce %v", u.Path, res.StatusCode, m)
	}
	rb, _ := json.Marshal(map[string]any{"nonce": m[1]})
	req := b.req("POST", u.Path+"/verify", bytes.NewReader(rb))
	req.Header.Set("Content-Type", "application/json")
	res, body = b.h.do(req)
	var out struct {
		Outcome     string `json:"outcome"`
		RedirectURL string `json:"redirect_url"`
	}
	if res.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &out) != nil {
		t.Fatalf("POST %s/verify: %d %s", u.Path, res.StatusCode, body)
	}
	return out.Outcome, out.RedirectURL
}

// TestHostedSignIn walks the hosted sign-in outside dev mode: CSRF, the
// page that says nothing about the address, the resend cooldown, the
// mail, the device binding, and a log that never holds a secret.
func TestHostedSignIn(t *testing.T) {
	r := newRelay(t)
	h := newKit(t, r, false)
	cb := h.base + "/callback"
	b := &browser{h: h, ua: chromeWindows}
	csrf := b.loginForm(cb)
	if b.cookie == nil || b.cookie.Name != "__Host-lg_device" {
		t.Fatalf("GET /login set no __Host-lg_device cookie (got %+v)", b.cookie)
	}
	if c := b.cookie; !c.HttpOnly || !c.Secure || c.Path != "/" || c.SameSite != http.SameSiteLaxMode || len(c.Value) < 43 {
		t.Errorf("device cookie %+v: want HttpOnly, Secure, Path=/, SameSite=Lax, 256 bits", c)
	}
	form := func(email, csrf string) url.Values {
		v := url.Values{"email": {email}, "redirect_url": {cb}}
		if csrf != "" {
			v.Set("csrf", csrf)
		}
		return v
	}

	for _, tc := range []struct {
		name      string
		form      url.Values
		fetchSite string
		status    int
		want      string
	}{
		{"403/no csrf", form("alice@example.com", ""), "same-origin", 403, "expired"},
		{"403/wrong csrf", form("alice@example.com", otherFirst(csrf)), "same-origin", 403, "expired"},
		{"403/cross-site", form("alice@example.com", csrf), "cross-site", 403, "expired"},
		{"400/bad email", form("not-an-address", csrf), "same-origin", 400, "valid email"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, body := b.login(tc.form, tc.fetchSite)
			if st != tc.status || !strings.Contains(body, tc.want) {
				t.Errorf("status %d, want %d with %q:\n%s", st, tc.status, tc.want, body)
			}
			if strings.Contains(body, "Check your inbox") {
				t.Error("a refused form says check your inbox")
			}
		})
	}
	if n := len(r.Mails()); n != 0 {
		t.Fatalf("refused forms sent %d mails", n)
	}

	// Valid addresses, deliverable or not, get the same page.
	st, alicePage := b.login(form("alice@example.com", csrf), "same-origin")
	if st != 200 || !strings.Contains(alicePage, "Check your inbox") {
		t.Fatalf("POST /login: %d\n%s", st, alicePage)
	}
	st, nobodyPage := b.login(form("nobody@example.com", csrf), "same-origin")
	if st != 200 {
		t.Fatalf("POST /login for nobody: %d", st)
	}
	// Only the link id (the waiting page's, which only this browser can
	// use) may differ.
	ids := regexp.MustCompile(`lnk_[0-9A-Za-z_-]+`)
	alicePage, nobodyPage = ids.ReplaceAllString(alicePage, "ID"), ids.ReplaceAllString(nobodyPage, "ID")
	if a, n := strings.ReplaceAll(alicePage, "alice@example.com", "X"), strings.ReplaceAll(nobodyPage, "nobody@example.com", "X"); a != n {
		t.Errorf("the page differs between a deliverable address and another:\n%s\n----\n%s", a, n)
	}

	m := r.WaitFor(t, "alice@example.com", 10*time.Second)
	p := smtptest.Parse(t, m.Data)
	linkURL := regexp.MustCompile(regexp.QuoteMeta(h.base) + `/l/[A-Za-z0-9_-]{43}`).FindString(p.Text)
	code := regexp.MustCompile(`(?m)^\s+(\d{6})\s*$`).FindStringSubmatch(p.Text)
	if linkURL == "" || code == nil {
		t.Fatalf("no link or code in the text part:\n%s", p.Text)
	}
	if !strings.Contains(p.HTML, linkURL) || !strings.Contains(p.HTML, code[1]) {
		t.Error("the HTML part lacks the link or the code")
	}
	if !strings.Contains(p.Text, "Requested from Chrome on Windows") {
		t.Errorf("the mail does not say the request came from Chrome on Windows:\n%s", p.Text)
	}

	// A second request within the cooldown shows the same page, with the
	// time left, and sends nothing.
	st, again := b.login(form("alice@example.com", csrf), "same-origin")
	if st != 200 || !strings.Contains(again, "Check your inbox") {
		t.Errorf("resend within the cooldown: %d\n%s", st, again)
	}
	b.login(form("carol@example.com", csrf), "same-origin")
	r.WaitFor(t, "carol@example.com", 10*time.Second)
	if n := len(r.To("alice@example.com")); n != 1 {
		t.Errorf("alice got %d mails after asking twice within 30 s, want 1", n)
	}

	// Another device (no cookie) is not signed in by opening the link...
	other := &browser{h: h, ua: chromeWindows}
	if out, _ := other.open(linkURL); out != "code" && out != "confirm" {
		t.Errorf("a browser without the cookie got %q, want confirm or code", out)
	}
	// ...the browser that asked is, with no click.
	out, redirect := b.open(linkURL)
	if out != "consumed" || !strings.HasPrefix(redirect, cb+"?lg_code=") {
		t.Fatalf("the asking browser got %q %q, want consumed with a redirect to %s", out, redirect, cb)
	}
	ru, _ := url.Parse(redirect)
	lgCode := ru.Query().Get("lg_code")
	var ex struct {
		Email string `json:"email"`
	}
	if st := h.api("POST", "/v1/exchange", map[string]string{"code": lgCode}, &ex); st != 200 || ex.Email != "alice@example.com" {
		t.Errorf("exchange: %d %+v", st, ex)
	}

	// Wait for the failing mail to be given up on, so its log lines are in.
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(h.logs.String(), "giving up") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	logs := h.logs.String()
	if !strings.Contains(logs, "link issued") {
		t.Fatalf("the log capture caught nothing useful:\n%s", logs)
	}
	token := linkURL[strings.LastIndex(linkURL, "/")+1:]
	for name, secret := range map[string]string{
		"token": token, "code": code[1], "lg_code": lgCode, "cookie": b.cookie.Value, "csrf": csrf,
		"relay password": smtptest.Password,
	} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log holds the %s:\n%s", name, logs)
		}
	}
}

// TestOutboxJSON: in dev mode with SMTP, every mail also goes to the
// outbox, whose JSON has exactly docs/api.md's fields, newest first.
func TestOutboxJSON(t *testing.T) {
	r := newRelay(t)
	h := newKit(t, r, true)
	first := h.issue("alice@example.com")
	r.WaitFor(t, "alice@example.com", 10*time.Second)
	second := h.issue("bob@example.com")
	r.WaitFor(t, "bob@example.com", 10*time.Second)

	var raw []map[string]json.RawMessage
	deadline := time.Now().Add(5 * time.Second)
	for len(raw) < 2 && time.Now().Before(deadline) {
		res, body := h.do(mustReq("GET", h.base+"/dev/outbox.json"))
		if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
			t.Fatalf("/dev/outbox.json: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
		}
		if err := json.Unmarshal([]byte(body), &raw); err != nil {
			t.Fatalf("%v: %s", err, body)
		}
	}
	if len(raw) != 2 {
		t.Fatalf("outbox has %d entries, want 2", len(raw))
	}
	want := []string{"code", "sent_at", "subject", "to", "url"}
	for i, e := range raw {
		keys := make([]string, 0, len(e))
		for k := range e {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if !slices.Equal(keys, want) {
			t.Errorf("entry %d has fields %v, want exactly %v", i, keys, want)
		}
	}
	var entries []struct {
		To, Subject, URL, Code string
		SentAt                 time.Time `json:"sent_at"`
	}
	b, _ := json.Marshal(raw)
	json.Unmarshal(b, &entries)
	if entries[0].To != "bob@example.com" || entries[0].URL != second.URL || entries[0].Code != second.Code ||
		entries[1].To != "alice@example.com" || entries[1].URL != first.URL || entries[1].Code != first.Code {
		t.Errorf("outbox %+v, want bob's then alice's mail", entries)
	}
	if entries[0].SentAt.Before(entries[1].SentAt) || entries[0].SentAt.Location() != time.UTC || entries[0].Subject == "" {
		t.Errorf("outbox times or subject: %+v", entries)
	}
	if res, body := h.do(mustReq("GET", h.base+"/dev/outbox")); res.StatusCode != 200 || !strings.Contains(body, first.URL) {
		t.Errorf("/dev/outbox: %d", res.StatusCode)
	}
}

// TestDevRoutesOnlyInDevMode: outside dev mode the outbox and the demo do
// not exist.
func TestDevRoutesOnlyInDevMode(t *testing.T) {
	r := newRelay(t)
	h := newKit(t, r, false)
	for _, p := range []string{"/dev/outbox", "/dev/outbox.json", "/demo", "/demo/callback"} {
		if res, _ := h.do(mustReq("GET", h.base+p)); res.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404 outside dev mode", p, res.StatusCode)
		}
	}
	if h.k.Outbox != nil {
		t.Error("the kit has an outbox outside dev mode")
	}
}

func mustReq(method, u string) *http.Request {
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		panic(err)
	}
	return req
}

// TestHandlerUnderStripPrefix: the net/http face of a kit whose public URL
// has a path, mounted as Handler's comment says, with http.StripPrefix.
func TestHandlerUnderStripPrefix(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	k, err := kit.New(kit.Options{PublicURL: base + "/auth", APIKeys: []string{apiKey}, Dev: true,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/auth/", http.StripPrefix("/auth", k.Handler()))
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	t.Cleanup(func() {
		srv.Close()
		k.Close()
	})
	for _, tc := range []struct {
		path, want string
		status     int
	}{
		{"/auth/healthz", "ok", 200},
		{"/auth/login?redirect_url=" + url.QueryEscape(base+"/cb"), `action="/auth/login"`, 200},
		{"/auth/v1/links/lnk_x", "unauthorized", 401},
	} {
		res, err := http.Get(base + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != tc.status || !strings.Contains(string(b), tc.want) {
			t.Errorf("GET %s: %d, want %d with %q\n%s", tc.path, res.StatusCode, tc.status, tc.want, b)
		}
	}
}

// TestMountedBodyLimit: docs/api.md's 413 for bodies over 64 KiB holds however
// the kit is served: its own listener, mounted in a Fiber app, or as a
// net/http handler.
func TestMountedBodyLimit(t *testing.T) {
	k, err := kit.New(kit.Options{PublicURL: "http://127.0.0.1:1/auth", APIKeys: []string{apiKey}, Dev: true,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	parent := fiber.New(fiber.Config{DisableStartupMessage: true})
	k.Mount(parent, "/auth")
	mux := http.NewServeMux()
	mux.Handle("/auth/", http.StripPrefix("/auth", k.Handler()))

	big := `{"email":"alice@example.com","metadata":{"pad":"` + strings.Repeat("x", 100<<10) + `"}}`
	newReq := func() *http.Request {
		req, _ := http.NewRequest("POST", "/auth/v1/links", strings.NewReader(big))
		req.Header.Set("Authorization", "Bearer "+apiKey)
		req.Header.Set("Content-Type", "application/json")
		return req
	}
	res, err := parent.Test(newReq(), -1)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("mounted in Fiber: %d, want 413", res.StatusCode)
	}
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, newReq())
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("as a net/http handler: %d, want 413", rec.Code)
	}
}

// otherFirst is s with its first character changed: "x"+s[1:] is s
// itself when s begins with x (one token in 64).
func otherFirst(s string) string {
	if strings.HasPrefix(s, "x") {
		return "y" + s[1:]
	}
	return "x" + s[1:]
}
