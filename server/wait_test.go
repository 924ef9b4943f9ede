package server

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/web"
)

// mailHarness is the harness with the hosted sign-in on: the mail a link
// would get is kept in memory (its code by address), as the outbox would.
type mailHarness struct {
	*harness
	mu    sync.Mutex
	codes map[string]string
}

func newMailHarness(t *testing.T) *mailHarness {
	t.Helper()
	h := newHarness(t, "")
	m := &mailHarness{harness: h, codes: map[string]string{}}
	h.svc.Mail = func(l *linkguard.Link, _ *linkguard.IssueRequest, _, code string) ([]byte, error) {
		m.mu.Lock()
		m.codes[l.Email] = code
		m.mu.Unlock()
		return []byte("sealed"), nil
	}
	site, err := web.New(web.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Options{Service: h.svc, Site: site, APIKeys: []string{testKey}, Dev: true, MailConfigured: true, Log: h.srv.log})
	if err != nil {
		t.Fatal(err)
	}
	h.srv = srv
	return m
}

func (m *mailHarness) code(email string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.codes[email]
}

// browser is a cookie jar of one browser, for the form routes.
type browser struct {
	h      *mailHarness
	cookie string // the device cookie's value
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// send sends a request as this browser and keeps the device cookie.
func (b *browser) send(method, path string, form url.Values, hdr ...string) resp {
	b.h.t.Helper()
	var rd io.Reader
	if form != nil {
		rd = strings.NewReader(form.Encode())
	}
	req := httptest.NewRequest(method, path, rd)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if b.cookie != "" {
		req.AddCookie(&http.Cookie{Name: "lg_device", Value: b.cookie})
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := b.h.srv.App().Test(req, -1)
	if err != nil {
		b.h.t.Fatal(err)
	}
	for _, c := range res.Cookies() {
		if c.Name == "lg_device" {
			b.cookie = c.Value
		}
	}
	body, _ := io.ReadAll(res.Body)
	return resp{status: res.StatusCode, header: res.Header, body: string(body)}
}

var statusRE = regexp.MustCompile(`data-lg-status="/login/status/([^"]+)"`)

// ask goes through /login for email, as a person would, and returns the
// waiting page, its link id and its CSRF token.
func (b *browser) ask(email string) (page resp, id, csrf string) {
	b.h.t.Helper()
	r := b.send("GET", "/login?redirect_url="+url.QueryEscape("https://app.example.com/cb"), nil)
	m := csrfRE.FindStringSubmatch(r.body)
	if r.status != 200 || m == nil {
		b.h.t.Fatalf("login form: %d %s", r.status, r.body)
	}
	page = b.send("POST", "/login", url.Values{"csrf": {m[1]}, "email": {email}, "redirect_url": {"https://app.example.com/cb"}})
	if page.status != 200 || !strings.Contains(page.body, `data-lg-state="sent"`) {
		b.h.t.Fatalf("waiting page: %d %s", page.status, page.body)
	}
	for _, want := range []string{`id="lg-wait-code"`, `id="lg-wait-submit"`, `action="/login/code"`} {
		if !strings.Contains(page.body, want) {
			b.h.t.Fatalf("waiting page has no %s: %s", want, page.body)
		}
	}
	// The code form's 303 goes to the host's origin, and the host may
	// send the browser on: form-action allows them (Chromium checks a
	// form's redirects); the email form's page names only the kit.
	if csp := page.header.Get("Content-Security-Policy"); !strings.Contains(csp, "; form-action 'self' https:;") {
		b.h.t.Fatalf("waiting page CSP %q: form-action does not allow the redirects after its form", csp)
	}
	if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "; form-action 'self';") {
		b.h.t.Fatalf("sign-in form CSP %q, want form-action 'self' only", csp)
	}
	sm := statusRE.FindStringSubmatch(page.body)
	if sm == nil {
		b.h.t.Fatalf("waiting page names no status route: %s", page.body)
	}
	return page, sm[1], csrfRE.FindStringSubmatch(page.body)[1]
}

func (b *browser) typeCode(id, csrf, code string) resp {
	b.h.t.Helper()
	return b.send("POST", "/login/code", url.Values{"csrf": {csrf}, "link": {id}, "code": {code},
		"email": {"alice@example.com"}, "redirect_url": {"https://app.example.com/cb"}}, "Sec-Fetch-Site", "same-origin")
}

func (b *browser) status(id string) resp {
	b.h.t.Helper()
	return b.send("GET", "/login/status/"+id, nil)
}

func pageState(t *testing.T, r resp) string {
	t.Helper()
	m := stateRE.FindStringSubmatch(r.body)
	if m == nil {
		t.Fatalf("no data-lg-state: %d %s", r.status, r.body)
	}
	return m[1]
}

var stateRE = regexp.MustCompile(`data-lg-state="([a-z]+)"`)

func wrongCode(code string) string { return fmt.Sprintf("%06d", (atoi(code)+1)%1000000) }

// TestWaitingPageCodeSignsInThisBrowser: the code typed on the waiting
// page consumes the link and sends this browser to the redirect with an
// lg_code that the host can exchange; the status route then says so.
func TestWaitingPageCodeSignsInThisBrowser(t *testing.T) {
	h := newMailHarness(t)
	b := &browser{h: h}
	_, id, csrf := b.ask("alice@example.com")
	code := h.code("alice@example.com")

	if r := b.status(id); r.status != 200 || r.json(t)["page_state"] != "sent" || r.json(t)["state"] != "pending" {
		t.Fatalf("status while pending: %d %s", r.status, r.body)
	}
	// Not a code: refused without a try spent.
	r := b.typeCode(id, csrf, "12ab")
	if pageState(t, r) != "sent" || !strings.Contains(r.body, "No try was counted") {
		t.Fatalf("not a code: %s", r.body)
	}
	r = b.typeCode(id, csrf, wrongCode(code))
	if pageState(t, r) != "sent" || !strings.Contains(r.body, "4 tries left") {
		t.Fatalf("wrong code: %s", r.body)
	}
	r = b.typeCode(id, csrf, code)
	loc := r.header.Get("Location")
	if r.status != 303 || !strings.HasPrefix(loc, "https://app.example.com/cb?lg_code=") {
		t.Fatalf("right code: %d Location %q %s", r.status, loc, r.body)
	}
	lgCode := strings.TrimPrefix(loc, "https://app.example.com/cb?lg_code=")
	x := h.api("POST", "/v1/exchange", `{"code":"`+lgCode+`"}`)
	if x.status != 200 || x.json(t)["email"] != "alice@example.com" {
		t.Fatalf("exchange: %d %s", x.status, x.body)
	}
	if r := b.status(id); r.json(t)["state"] != "consumed" {
		t.Fatalf("status after: %s", r.body)
	}
	for _, secret := range []string{code, lgCode} {
		if strings.Contains(b.status(id).body, secret) {
			t.Fatal("the status route carries a secret")
		}
	}
	// Typed again: the page says the link is used, and nothing is spent.
	if r := b.typeCode(id, csrf, code); pageState(t, r) != "elsewhere" {
		t.Fatalf("code after use: %s", r.body)
	}
}

// TestWaitingPageSeesOtherDevice: the link consumed elsewhere (here with
// the code through the API, on the same count) turns the status into
// elsewhere; another browser learns nothing of the link.
func TestWaitingPageSeesOtherDevice(t *testing.T) {
	h := newMailHarness(t)
	b := &browser{h: h}
	_, id, csrf := b.ask("alice@example.com")
	code := h.code("alice@example.com")

	other := &browser{h: h}
	other.send("GET", "/login", nil) // a device cookie of its own
	if r := other.status(id); r.status != 404 {
		t.Fatalf("another browser's status: %d %s", r.status, r.body)
	}
	if r := (&browser{h: h}).status(id); r.status != 404 {
		t.Fatalf("no cookie: %d %s", r.status, r.body)
	}
	// Another browser's code post is refused as if there were no link,
	// and spends no try.
	if r := other.typeCode(id, csrfRE.FindStringSubmatch(other.send("GET", "/login?redirect_url="+url.QueryEscape("https://app.example.com/cb"), nil).body)[1], wrongCode(code)); pageState(t, r) != "expired" {
		t.Fatalf("other browser's code: %s", r.body)
	}
	if n := h.api("POST", "/v1/links/"+id+"/redeem", `{"code":"`+wrongCode(code)+`"}`).json(t)["error"].(map[string]any)["attempts_left"]; n != 4.0 {
		t.Fatalf("attempts left after the other browser's try: %v, want 4", n)
	}
	if r := h.api("POST", "/v1/links/"+id+"/redeem", `{"code":"`+code+`"}`); r.status != 200 {
		t.Fatalf("redeem: %d %s", r.status, r.body)
	}
	r := b.status(id)
	if r.status != 200 || r.json(t)["page_state"] != "elsewhere" {
		t.Fatalf("status after use elsewhere: %d %s", r.status, r.body)
	}
	if r := b.typeCode(id, csrf, code); pageState(t, r) != "elsewhere" || r.status != 200 {
		t.Fatalf("code after use elsewhere: %s", r.body)
	}
}

// TestWaitingPageLocks: wrong codes on the waiting page count with the
// others; when none are left the page is locked, with a new link a
// click away, and even the right code is refused.
func TestWaitingPageLocks(t *testing.T) {
	h := newMailHarness(t)
	b := &browser{h: h}
	_, id, csrf := b.ask("alice@example.com")
	code := h.code("alice@example.com")
	wrong := wrongCode(code)
	// One try on the landing page's count, through the API.
	h.api("POST", "/v1/links/"+id+"/redeem", `{"code":"`+wrong+`"}`)
	var r resp
	for range 4 {
		r = b.typeCode(id, csrf, wrong)
	}
	if pageState(t, r) != "locked" || !strings.Contains(r.body, `id="lg-new-link"`) {
		t.Fatalf("after the last wrong code: %s", r.body)
	}
	if r := b.status(id); r.json(t)["page_state"] != "locked" {
		t.Fatalf("status when locked: %s", r.body)
	}
	if r := b.typeCode(id, csrf, code); pageState(t, r) != "locked" {
		t.Fatalf("right code when locked: %s", r.body)
	}
	if st := h.state(id); st != "pending" {
		t.Fatalf("link is %s, want pending (locked links are not consumed)", st)
	}
}

// TestWaitingPageCSRF: a code post without the page's token, or from
// another site, is refused and spends nothing.
func TestWaitingPageCSRF(t *testing.T) {
	h := newMailHarness(t)
	b := &browser{h: h}
	_, id, csrf := b.ask("alice@example.com")
	code := h.code("alice@example.com")
	if r := b.typeCode(id, "forged", code); r.status != 403 {
		t.Fatalf("forged token: %d", r.status)
	}
	r := b.send("POST", "/login/code", url.Values{"csrf": {csrf}, "link": {id}, "code": {code}}, "Sec-Fetch-Site", "cross-site")
	if r.status != 403 {
		t.Fatalf("cross-site: %d", r.status)
	}
	if st := h.state(id); st != "pending" {
		t.Fatalf("link is %s after refused posts", st)
	}
}

// TestResendKeepsTheWaitingLink: a resend inside the cooldown sends no
// mail but still shows the code form of the link on its way.
func TestResendKeepsTheWaitingLink(t *testing.T) {
	h := newMailHarness(t)
	b := &browser{h: h}
	_, id, csrf := b.ask("alice@example.com")
	r := b.send("POST", "/login", url.Values{"csrf": {csrf}, "email": {"alice@example.com"}, "redirect_url": {"https://app.example.com/cb"}})
	m := statusRE.FindStringSubmatch(r.body)
	if m == nil || m[1] != id {
		t.Fatalf("resend in cooldown: want the waiting page of %s: %s", id, r.body)
	}
}

// TestWaitingPageRateLimit: one client address posts at most waitPerIP
// codes a minute, whatever the links.
func TestWaitingPageRateLimit(t *testing.T) {
	h := newMailHarness(t)
	b := &browser{h: h}
	_, id, csrf := b.ask("alice@example.com")
	var r resp
	for range waitPerIP {
		if r = b.typeCode(id, csrf, "12"); r.status == 429 {
			t.Fatalf("limited before %d posts", waitPerIP)
		}
	}
	if r = b.typeCode(id, csrf, "12"); r.status != 429 || !strings.Contains(r.body, "Too many codes") {
		t.Fatalf("post %d: %d %s", waitPerIP+1, r.status, r.body)
	}
}
