package admin_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/admin"
	"github.com/linkguard/linkguard/fingerprint"
	"github.com/linkguard/linkguard/fingerprint/replay"
	"github.com/linkguard/linkguard/server"
	badgerstore "github.com/linkguard/linkguard/store/badger"
	"github.com/linkguard/linkguard/web"
)

const adminEmail = "ops@example.com"

// mailbox keeps what the service would mail: the link and its code.
type mailbox struct {
	mu   sync.Mutex
	sent map[string][2]string // email → url, code
}

func (m *mailbox) get(email string) (string, string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v := m.sent[email]
	return v[0], v[1]
}

type harness struct {
	t       *testing.T
	svc     *linkguard.Service
	engine  *fingerprint.Engine
	srv     *server.Server
	console *admin.Console
	mail    *mailbox
	jar     map[string]string // the browser's cookies
	secrets []string          // what must never appear in a page
	cfgPath string
}

func newHarness(t *testing.T, dev bool, opts ...func(*admin.Options)) *harness {
	t.Helper()
	st, err := badgerstore.Open(badgerstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	keys, _ := linkguard.NewKeys(bytes.Repeat([]byte{7}, 32))
	eng, err := fingerprint.NewEngine(fingerprint.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	pol := linkguard.DefaultPolicy()
	pol.PublicURL = "http://127.0.0.1:8080"
	pol.RedirectOrigins = []string{"http://127.0.0.1:8080", "https://app.example.com"}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	h := &harness{t: t, engine: eng, mail: &mailbox{sent: map[string][2]string{}}, jar: map[string]string{}}
	counter := admin.NewCounter(st, log)
	h.svc = &linkguard.Service{Store: st, Keys: keys, Decider: eng, Policy: pol, Log: log,
		Notify: counter.Event, Visited: counter.Visit}
	h.svc.Mail = func(l *linkguard.Link, req *linkguard.IssueRequest, u, code string) ([]byte, error) {
		h.mail.mu.Lock()
		h.mail.sent[l.Email] = [2]string{u, code}
		h.mail.mu.Unlock()
		return []byte("sealed"), nil
	}
	site, err := web.New(web.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h.srv, err = server.New(server.Options{Service: h.svc, Site: site, Dev: dev, MailConfigured: true, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	h.cfgPath = filepath.Join(t.TempDir(), "linkguard.yaml")
	os.WriteFile(h.cfgPath, []byte("listen: 127.0.0.1:8080\n# keep me\nheuristics:\n  zero_click: false\n"), 0o640)
	o := admin.Options{Service: h.svc, Engine: eng, Emails: []string{"OPS@example.com"}, Dev: dev,
		DeviceCookie: h.srv.DeviceCookie(), Client: h.srv.Client, CSP: h.srv.CSP(), Counter: counter, Log: log,
		SaveHeuristics: admin.SaveToFile(h.cfgPath, eng.Swap)}
	for _, f := range opts {
		f(&o)
	}
	h.console, err = admin.New(o)
	if err != nil {
		t.Fatal(err)
	}
	h.console.Register(h.srv.App())
	return h
}

// do sends a request as the test's browser (its cookies), keeping the
// cookies the answer sets, and checks that no secret is in the answer.
func (h *harness) do(method, path string, form url.Values) (int, http.Header, string) {
	h.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req := httptest.NewRequest(method, path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range h.jar {
		req.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	resp, err := h.srv.App().Test(req, 10000)
	if err != nil {
		h.t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	for _, c := range resp.Cookies() {
		if c.MaxAge < 0 || c.Value == "" {
			delete(h.jar, c.Name)
		} else {
			h.jar[c.Name] = c.Value
		}
	}
	for _, s := range h.secrets {
		if s != "" && strings.Contains(string(b), s) {
			h.t.Fatalf("%s %s: the answer holds a secret (%.8s…):\n%s", method, path, s, b)
		}
	}
	return resp.StatusCode, resp.Header, string(b)
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func csrfOf(t *testing.T, page string) string {
	t.Helper()
	m := csrfRe.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no csrf field in:\n%s", page)
	}
	return m[1]
}

// signIn runs the whole sign-in: the form, the link (consumed by this
// browser, which holds the device cookie) and the callback.
func (h *harness) signIn() {
	t := h.t
	t.Helper()
	_, _, page := h.do("GET", "/admin/login", nil)
	st, _, page := h.do("POST", "/admin/login", url.Values{"email": {adminEmail}, "csrf": {csrfOf(t, page)}})
	h.console.Wait() // the link is issued after the answer
	if st != 200 || !strings.Contains(page, `data-lg-state="sent"`) {
		t.Fatalf("login: %d\n%s", st, page)
	}
	link, code := h.mail.get(adminEmail)
	if link == "" {
		t.Fatal("no sign-in link was mailed to the admin")
	}
	token := link[strings.LastIndex(link, "/")+1:]
	h.secrets = append(h.secrets, token, code)
	res := h.consume(token, h.jar[h.srv.DeviceCookie()])
	cb, _ := url.Parse(res.RedirectURL)
	if cb.Path != "/admin/callback" {
		t.Fatalf("the link leads to %s", res.RedirectURL)
	}
	lgCode := cb.Query().Get("lg_code")
	st, hdr, _ := h.do("GET", cb.RequestURI(), nil)
	if st != http.StatusSeeOther || hdr.Get("Location") != "/admin/" {
		t.Fatalf("callback: %d %v", st, hdr)
	}
	h.secrets = append(h.secrets, lgCode, h.jar[h.srv.DeviceCookie()])
	for name, v := range h.jar {
		if strings.Contains(name, "lg_admin") {
			h.secrets = append(h.secrets, v)
		}
	}
}

// consume spends a link as the browser holding binding would.
func (h *harness) consume(token, binding string) *linkguard.Result {
	h.t.Helper()
	ctx := context.Background()
	cl := &linkguard.Client{Binding: binding}
	page, err := h.svc.View(ctx, token, cl)
	if err != nil {
		h.t.Fatal(err)
	}
	res, err := h.svc.Report(ctx, &linkguard.ReportRequest{Stage: fingerprint.StageVerify, Token: token, Nonce: page.Nonce, Client: *cl})
	if err != nil || res.Outcome != linkguard.OutcomeConsumed {
		h.t.Fatalf("consume: %+v %v", res, err)
	}
	return res
}

func TestNotSignedIn(t *testing.T) {
	h := newHarness(t, true)
	for _, p := range []string{"/admin", "/admin/", "/admin/links", "/admin/tuning", "/admin/export.jsonl"} {
		st, hdr, _ := h.do("GET", p, nil)
		if st != http.StatusSeeOther || hdr.Get("Location") != "/admin/login" {
			t.Fatalf("%s without a session: %d %s", p, st, hdr.Get("Location"))
		}
	}
	st, _, _ := h.do("POST", "/admin/links/lnk_x/revoke", url.Values{"csrf": {"x"}})
	if st != http.StatusSeeOther {
		t.Fatalf("revoke without a session: %d", st)
	}
	// A forged session cookie is no session.
	h.jar["lg_admin"] = "b3BzQGV4YW1wbGUuY29t.9999999999.AAAAAAAAAAAAAAAAAAAAAAAA"
	if st, _, _ := h.do("GET", "/admin/", nil); st != http.StatusSeeOther {
		t.Fatalf("forged session: %d", st)
	}
}

// TestNonAdminGetsTheSamePage: an address that is not an admin's gets the
// same "check your inbox" page, no link and no session.
func TestNonAdminGetsTheSamePage(t *testing.T) {
	h := newHarness(t, true)
	_, _, page := h.do("GET", "/admin/login", nil)
	st, hdr, other := h.do("POST", "/admin/login", url.Values{"email": {"mallory@example.com"}, "csrf": {csrfOf(t, page)}})
	h.console.Wait()
	if st != 200 || !strings.Contains(other, `data-lg-state="sent"`) {
		t.Fatalf("non-admin: %d\n%s", st, other)
	}
	if u, _ := h.mail.get("mallory@example.com"); u != "" {
		t.Fatal("a non-admin got a link")
	}
	if strings.Contains(hdr.Get("Set-Cookie"), "lg_admin") {
		t.Fatal("a non-admin got a session cookie")
	}
	_, _, admin := h.do("POST", "/admin/login", url.Values{"email": {adminEmail}, "csrf": {csrfOf(t, page)}})
	norm := func(s string) string {
		return strings.ReplaceAll(strings.ReplaceAll(s, "mallory@example.com", "X"), adminEmail, "X")
	}
	if norm(admin) != norm(other) {
		t.Fatalf("the pages differ:\n%s\n---\n%s", admin, other)
	}
	// Without the CSRF field: refused, nothing sent.
	if st, _, _ := h.do("POST", "/admin/login", url.Values{"email": {adminEmail}}); st != http.StatusForbidden {
		t.Fatalf("login without csrf: %d", st)
	}
}

// TestAPILinkForAnAdminOpensNoSession: a host backend can issue a link for
// an admin's address with the callback as redirect and spend it itself;
// the callback refuses it.
func TestAPILinkForAnAdminOpensNoSession(t *testing.T) {
	h := newHarness(t, true)
	is, err := h.svc.Issue(context.Background(), &linkguard.IssueRequest{Email: adminEmail,
		RedirectURL: "http://127.0.0.1:8080/admin/callback", Metadata: []byte(`{"lg_admin":"guess"}`)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	page, _ := h.svc.View(ctx, is.Token, &linkguard.Client{})
	res, err := h.svc.Report(ctx, &linkguard.ReportRequest{Stage: fingerprint.StageConfirm, Token: is.Token, Nonce: page.Nonce, Code: is.Code})
	if err != nil || res.Outcome != linkguard.OutcomeConsumed {
		t.Fatalf("%+v %v", res, err)
	}
	cb, _ := url.Parse(res.RedirectURL)
	st, hdr, body := h.do("GET", cb.RequestURI(), nil)
	if st != http.StatusForbidden || strings.Contains(hdr.Get("Set-Cookie"), "lg_admin") {
		t.Fatalf("callback of an API link: %d %v\n%s", st, hdr, body)
	}
	if st, _, _ := h.do("GET", "/admin/", nil); st != http.StatusSeeOther {
		t.Fatalf("a session after an API link: %d", st)
	}
}

func TestConsole(t *testing.T) {
	h := newHarness(t, true)
	h.signIn()
	var session string
	for k, v := range h.jar {
		if k == "lg_admin" {
			session = v
		}
	}
	if session == "" {
		t.Fatalf("no session cookie: %v", h.jar)
	}

	// A host's link, opened by a known mail filter, then consumed by code.
	ctx := context.Background()
	is, err := h.svc.Issue(ctx, &linkguard.IssueRequest{Email: "alice@example.com", RedirectURL: "https://app.example.com/cb"})
	if err != nil {
		t.Fatal(err)
	}
	h.secrets = append(h.secrets, is.Token, is.Code)

	st, _, page := h.do("GET", "/admin/", nil)
	if st != 200 || !strings.Contains(page, "<svg") || !strings.Contains(page, "Links issued") {
		t.Fatalf("overview: %d\n%s", st, page)
	}
	if !regexp.MustCompile(`Links issued</dt><dd>2</dd>`).MatchString(page) {
		t.Fatalf("overview counts 2 issued links (the admin's and alice's):\n%s", page)
	}
	csrf := csrfOf(t, page)

	st, _, page = h.do("GET", "/admin/links?q=alice@", nil)
	if st != 200 || !strings.Contains(page, is.Link.ID) || strings.Contains(page, adminEmail+"</td>") {
		t.Fatalf("search by email: %d\n%s", st, page)
	}
	if _, _, page = h.do("GET", "/admin/links?q="+is.Link.ID, nil); !strings.Contains(page, "alice@example.com") {
		t.Fatalf("search by id:\n%s", page)
	}
	st, _, page = h.do("GET", "/admin/links/"+is.Link.ID, nil)
	if st != 200 || !strings.Contains(page, `id="lg-admin-revoke"`) {
		t.Fatalf("link page: %d\n%s", st, page)
	}
	// Revoke: refused without the session's CSRF token, done with it.
	if st, _, _ := h.do("POST", "/admin/links/"+is.Link.ID+"/revoke", url.Values{"csrf": {"nope"}}); st != http.StatusForbidden {
		t.Fatalf("revoke with a wrong csrf: %d", st)
	}
	if st, hdr, _ := h.do("POST", "/admin/links/"+is.Link.ID+"/revoke", url.Values{"csrf": {csrf}}); st != http.StatusSeeOther ||
		!strings.Contains(hdr.Get("Location"), "revoked=1") {
		t.Fatalf("revoke: %d %v", st, hdr)
	}
	if l, _ := h.svc.Store.LinkByID(ctx, is.Link.ID); l.State != linkguard.Revoked || l.RevokeReason != linkguard.RevokeConsole {
		t.Fatalf("state %s, reason %q after revoke", l.State, l.RevokeReason)
	}

	// Tuning: a what-if over the admin's own consumption, then save.
	st, _, page = h.do("GET", "/admin/tuning", nil)
	if st != 200 || !strings.Contains(page, "heuristics:") {
		t.Fatalf("tuning: %d\n%s", st, page)
	}
	yml := "heuristics:\n  zero_click: true\n"
	st, _, page = h.do("POST", "/admin/tuning", url.Values{"csrf": {csrf}, "yaml": {yml}, "period": {"24h"}, "action": {"replay"}})
	if st != 200 || !strings.Contains(page, `id="lg-admin-whatif"`) || !strings.Contains(page, "of 1 decisions change") {
		t.Fatalf("what-if: %d\n%s", st, page)
	}
	st, _, page = h.do("POST", "/admin/tuning", url.Values{"csrf": {csrf}, "yaml": {"heuristics:\n  zero_clik: true\n"}, "action": {"replay"}})
	if st != 400 || !strings.Contains(page, "zero_clik") {
		t.Fatalf("a typo is named: %d\n%s", st, page)
	}
	before := h.engine.Hash()
	st, _, page = h.do("POST", "/admin/tuning", url.Values{"csrf": {csrf}, "yaml": {yml}, "action": {"save"}})
	if st != 200 || !strings.Contains(page, `id="lg-admin-saved"`) || h.engine.Hash() == before {
		t.Fatalf("save: %d (hash %s → %s)\n%s", st, before, h.engine.Hash(), page)
	}
	saved, _ := os.ReadFile(h.cfgPath)
	if !strings.Contains(string(saved), "zero_click: true") || !strings.Contains(string(saved), "listen: 127.0.0.1:8080") {
		t.Fatalf("the config file:\n%s", saved)
	}

	// Export: the CLI's JSONL.
	st, _, page = h.do("GET", "/admin/export.jsonl?since=24h", nil)
	if st != 200 {
		t.Fatalf("export: %d", st)
	}
	sc := bufio.NewScanner(strings.NewReader(page))
	n := 0
	for sc.Scan() {
		var ev replay.Event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil || ev.Verdict.Decision == "" {
			t.Fatalf("export line %q: %v", sc.Text(), err)
		}
		n++
	}
	if n == 0 {
		t.Fatal("export is empty")
	}
	if st, _, _ := h.do("GET", "/admin/webhooks", nil); st != 200 {
		t.Fatalf("webhooks: %d", st)
	}
	if st, _, _ := h.do("GET", "/admin/export", nil); st != 200 {
		t.Fatalf("export page: %d", st)
	}

	// Sign out needs the CSRF token, then the session is gone.
	if st, _, _ := h.do("POST", "/admin/logout", url.Values{}); st != http.StatusForbidden {
		t.Fatalf("logout without csrf: %d", st)
	}
	h.do("POST", "/admin/logout", url.Values{"csrf": {csrf}})
	if st, _, _ := h.do("GET", "/admin/", nil); st != http.StatusSeeOther {
		t.Fatalf("after sign-out: %d", st)
	}
	// The old cookie value still fails CSRF-less state changes, and the
	// session itself is short-lived (its expiry is signed).
	_ = time.Second
}

// TestHostCookie: outside dev mode the session is a __Host- cookie,
// Secure, HttpOnly and SameSite=Strict.
func TestHostCookie(t *testing.T) {
	h := newHarness(t, false)
	_, _, page := h.do("GET", "/admin/login", nil)
	h.do("POST", "/admin/login", url.Values{"email": {adminEmail}, "csrf": {csrfOf(t, page)}})
	h.console.Wait()
	link, _ := h.mail.get(adminEmail)
	res := h.consume(link[strings.LastIndex(link, "/")+1:], h.jar[h.srv.DeviceCookie()])
	cb, _ := url.Parse(res.RedirectURL)
	req := httptest.NewRequest("GET", cb.RequestURI(), nil)
	resp, err := h.srv.App().Test(req)
	if err != nil {
		t.Fatal(err)
	}
	sc := resp.Header.Get("Set-Cookie")
	for _, want := range []string{"__Host-lg_admin=", "path=/", "HttpOnly", "secure", "SameSite=Strict", "max-age=3600"} {
		if !strings.Contains(sc, want) {
			t.Fatalf("Set-Cookie %q lacks %q", sc, want)
		}
	}
	if strings.Contains(strings.ToLower(sc), "domain=") {
		t.Fatalf("a __Host- cookie names no domain: %s", sc)
	}
}

// TestSignInLimits: an admin address gets at most 5 links per 15 minutes
// (the page stays the same past it), and one client address at most 10
// requests a minute (429).
func TestSignInLimits(t *testing.T) {
	h := newHarness(t, true)
	_, _, page := h.do("GET", "/admin/login", nil)
	csrf := csrfOf(t, page)
	sent := 0
	for i := range 12 {
		h.mail.mu.Lock()
		delete(h.mail.sent, adminEmail)
		h.mail.mu.Unlock()
		st, _, page := h.do("POST", "/admin/login", url.Values{"csrf": {csrf}, "email": {adminEmail}})
		h.console.Wait()
		if u, _ := h.mail.get(adminEmail); u != "" {
			sent++
		}
		switch {
		case i < 10 && (st != http.StatusOK || !strings.Contains(page, `data-lg-state="sent"`)):
			t.Fatalf("request %d: %d\n%s", i+1, st, page)
		case i >= 10 && st != http.StatusTooManyRequests:
			t.Fatalf("request %d: %d, want 429", i+1, st)
		}
	}
	if sent != 5 {
		t.Fatalf("%d links mailed to the admin, want 5", sent)
	}
}

// TestLinkPageSaysWhyRevoked: a revoked link's page says when and, in
// plain words, what revoked it: the console (its own form), the host's
// API, a newer link, a restore; a link revoked before reasons were
// recorded shows its time alone, and a pending one no revocation.
func TestLinkPageSaysWhyRevoked(t *testing.T) {
	h := newHarness(t, true)
	h.signIn()
	ctx := context.Background()
	issue := func(email string) *linkguard.Link {
		t.Helper()
		is, err := h.svc.Issue(ctx, &linkguard.IssueRequest{Email: email, RedirectURL: "https://app.example.com/cb"})
		if err != nil {
			t.Fatal(err)
		}
		h.secrets = append(h.secrets, is.Token, is.Code)
		return is.Link
	}
	console, api, replaced, restored := issue("c@example.com"), issue("a@example.com"), issue("r@example.com"), issue("e@example.com")
	issue("r@example.com") // replaces the first
	_, _, page := h.do("GET", "/admin/links/"+console.ID, nil)
	if st, _, _ := h.do("POST", "/admin/links/"+console.ID+"/revoke", url.Values{"csrf": {csrfOf(t, page)}}); st != http.StatusSeeOther {
		t.Fatalf("revoke in the console: %d", st)
	}
	if err := h.svc.Revoke(ctx, api.ID, linkguard.RevokeAPI); err != nil {
		t.Fatal(err)
	}
	// Revoked before reasons were recorded: as a store of then left it.
	before := issue("b@example.com")
	if _, err := h.svc.Store.RevokeLink(ctx, before.ID, time.Now(), "", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.Store.EndCredentials(ctx, time.Now()); err != nil { // ends the pending rest
		t.Fatal(err)
	}
	pending := issue("p@example.com")

	for _, c := range []struct {
		l    *linkguard.Link
		want string // the words on the page; "" for none
	}{
		{console, "revoked in the console"},
		{api, "revoked by the host's API"},
		{replaced, "replaced by a newer link"},
		{restored, "ended by a restore"},
		{before, ""},
	} {
		st, _, page := h.do("GET", "/admin/links/"+c.l.ID, nil)
		m := regexp.MustCompile(`<dd id="lg-admin-revoked">([^<]*)</dd>`).FindStringSubmatch(page)
		if st != 200 || m == nil {
			t.Fatalf("%s: %d, no revocation on the page\n%s", c.l.Email, st, page)
		}
		shown := html.UnescapeString(m[1])
		for _, r := range linkguard.RevokeReasons {
			if w := r.Words(); strings.Contains(shown, w) != (w == c.want) {
				t.Errorf("%s: revocation %q, want the words %q and no other reason's", c.l.Email, shown, c.want)
			}
		}
	}
	if _, _, page := h.do("GET", "/admin/links/"+pending.ID, nil); strings.Contains(page, "lg-admin-revoked") {
		t.Errorf("a pending link's page shows a revocation")
	}
}
