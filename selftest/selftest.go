// Package selftest plays, against a running deployment, what mail
// scanners do to a link, then what a person does, and checks the
// outcome of each: `linkguard selftest` is its command.
//
// It talks to the deployment as it is, proxies included, over plain
// HTTP(S): it issues a test link (send_email false), sends HEAD and GET
// with a stale Chrome user agent and with none, posts every form of the
// landing page as a crawler does, posts the collector's reports without
// running the page, and, when a Chromium and a browser driver are at
// hand (Options.Browser; the linkguard-selftest binary has one), lets a
// headless browser click everything. The link must still be pending
// after all of them; then the code consumes it, the exchange answers
// once, and the address the server takes for this machine must be this
// machine's.
package selftest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/netip"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/linkguard/linkguard/internal/clip"
)

// Step names, as the table and the error name them.
const (
	StepReady     = "ready"
	StepIssue     = "issue"
	StepStaleUA   = "scanner-stale-ua"
	StepNoUA      = "scanner-no-ua"
	StepCrawler   = "crawler-forms"
	StepCollector = "collector-posts"
	StepBrowser   = "headless-browser"
	StepPending   = "still-pending"
	StepCode      = "code"
	StepExchange  = "exchange"
	StepAddress   = "client-address"
)

// staleChrome is a Chrome that no person has run for years: what many
// scanners still send.
const staleChrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/79.0.3945.130 Safari/537.36"

// maxBody bounds what is read of any answer.
const maxBody = 1 << 20

// Options says which deployment to test and how.
type Options struct {
	// URL is the deployment's public URL, with the path it is mounted
	// under ("https://kit.example.com", "https://example.com/auth").
	URL string
	// APIKey is one of the deployment's API keys.
	APIKey string
	// RedirectURL is the test link's redirect; empty: the public URL's
	// origin + "/" (allowed unless redirect_origins says otherwise).
	RedirectURL string
	// Email is the test link's address; no mail is sent to it.
	Email string
	// Source, when valid, is the local address every request leaves from.
	Source netip.Addr
	// ExpectIP, when valid, is the address the server must see for this
	// machine (its public address behind a NAT); otherwise the local
	// address of the connection.
	ExpectIP netip.Addr
	// Chromium is the browser for the headless step; empty: looked up
	// (chromium, chromium-browser, google-chrome); "off": skipped.
	Chromium string
	// Browser drives Chromium for the headless step; nil skips the step
	// (a binary without a browser driver: see Helper).
	Browser Browser
	// Timeout bounds each request (default 15 s); the browser step has
	// its own bound of four times that.
	Timeout time.Duration
}

// Status is a step's result.
type Status string

// The results of a step.
const (
	Pass Status = "pass"
	Fail Status = "fail"
	Skip Status = "skip"
)

// Step is one row of the report.
type Step struct {
	Name   string
	Status Status
	Detail string
}

// Report is every step, in the order run.
type Report struct {
	Steps []Step
}

// Failed names the steps that failed.
func (r *Report) Failed() []string {
	var out []string
	for _, s := range r.Steps {
		if s.Status == Fail {
			out = append(out, s.Name)
		}
	}
	return out
}

// Step returns the step named name, and whether it ran.
func (r *Report) Step(name string) (Step, bool) {
	for _, s := range r.Steps {
		if s.Name == name {
			return s, true
		}
	}
	return Step{}, false
}

// Print writes the report as a table.
func (r *Report) Print(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STEP\tRESULT\tDETAIL")
	for _, s := range r.Steps {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", s.Name, s.Status, s.Detail)
	}
	return tw.Flush()
}

// Err is nil when no step failed, else an error naming the failed steps.
func (r *Report) Err() error {
	if f := r.Failed(); len(f) > 0 {
		return fmt.Errorf("selftest failed: %s", strings.Join(f, ", "))
	}
	return nil
}

// tester holds one run's state.
type tester struct {
	opts Options
	base string // the public URL without a trailing slash
	hc   *http.Client
	rep  Report
	link issued
	// handoff is the lg_code of the consumed test link.
	handoff string
}

type issued struct {
	ID   string `json:"id"`
	URL  string `json:"url"`
	Code string `json:"code"`
}

// Run plays every step against the deployment and returns the report; the
// error is for options that keep any step from running.
func Run(ctx context.Context, opts Options) (*Report, error) {
	t, err := newTester(opts)
	if err != nil {
		return nil, err
	}
	t.run(ctx)
	return &t.rep, nil
}

func newTester(opts Options) (*tester, error) {
	u, err := url.Parse(opts.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("--url %q: want the deployment's public URL, http(s)://host[:port][/path]", opts.URL)
	}
	if opts.APIKey == "" {
		return nil, errors.New("--api-key is required (one of the deployment's LINKGUARD_API_KEYS)")
	}
	if opts.Email == "" {
		opts.Email = "selftest@example.com"
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 15 * time.Second
	}
	base := strings.TrimRight(u.String(), "/")
	if opts.RedirectURL == "" {
		opts.RedirectURL = u.Scheme + "://" + u.Host + "/"
	}
	d := &net.Dialer{Timeout: opts.Timeout}
	if opts.Source.IsValid() {
		d.LocalAddr = &net.TCPAddr{IP: opts.Source.AsSlice()}
	}
	tr := &http.Transport{
		// NB: no proxy from the environment: the address check needs the
		// connection to reach the deployment from this machine.
		Proxy: nil, DialContext: d.DialContext, ForceAttemptHTTP2: true,
		TLSHandshakeTimeout: opts.Timeout, MaxIdleConnsPerHost: 4, IdleConnTimeout: 30 * time.Second,
	}
	hc := &http.Client{Transport: tr, Timeout: opts.Timeout, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse // a scanner's answer is the first one
	}}
	return &tester{opts: opts, base: base, hc: hc}, nil
}

func (t *tester) add(name string, st Status, format string, args ...any) {
	t.rep.Steps = append(t.rep.Steps, Step{Name: name, Status: st, Detail: fmt.Sprintf(format, args...)})
}

func (t *tester) run(ctx context.Context) {
	defer t.hc.CloseIdleConnections()
	t.ready(ctx)
	if t.issue(ctx) {
		t.scanner(ctx, StepStaleUA, staleChrome)
		t.scanner(ctx, StepNoUA, "")
		t.crawler(ctx)
		t.collector(ctx)
		t.browser(ctx)
		pending := t.stillPending(ctx)
		if pending && t.consume(ctx) {
			t.exchange(ctx)
		}
		t.revoke(ctx)
	}
	t.address(ctx)
}

// ---- HTTP ----

type answer struct {
	status int
	header http.Header
	body   []byte
	local  netip.Addr // the local address of the connection
}

func (t *tester) do(ctx context.Context, method, u string, hdr map[string]string, body []byte) (*answer, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	a := &answer{}
	trace := &httptrace.ClientTrace{GotConn: func(ci httptrace.GotConnInfo) {
		if ap, err := netip.ParseAddrPort(ci.Conn.LocalAddr().String()); err == nil {
			a.local = ap.Addr().Unmap()
		}
	}}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), method, u, rd)
	if err != nil {
		return nil, err
	}
	for k, v := range hdr {
		req.Header[http.CanonicalHeaderKey(k)] = []string{v} // "" for User-Agent sends none
	}
	res, err := t.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	a.status, a.header = res.StatusCode, res.Header
	if a.body, err = io.ReadAll(io.LimitReader(res.Body, maxBody)); err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, redact(u), err)
	}
	return a, nil
}

// api calls a /v1 route with the API key; body, when not nil, is JSON.
func (t *tester) api(ctx context.Context, method, path string, body any, out any) (*answer, error) {
	hdr := map[string]string{"Authorization": "Bearer " + t.opts.APIKey}
	var b []byte
	if body != nil {
		var err error
		if b, err = json.Marshal(body); err != nil {
			return nil, err
		}
		hdr["Content-Type"] = "application/json"
	}
	a, err := t.do(ctx, method, t.base+path, hdr, b)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if out != nil && a.status < 300 {
		if err := json.Unmarshal(a.body, out); err != nil {
			return nil, fmt.Errorf("%s %s: %d with a body that is not the expected JSON: %v", method, path, a.status, err)
		}
	}
	return a, nil
}

// apiError is the error code and message of an error body, or the start
// of the body when it is none.
func apiError(a *answer) string {
	var e struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if json.Unmarshal(a.body, &e) == nil && e.Error.Code != "" {
		return fmt.Sprintf("%d %s: %s", a.status, e.Error.Code, e.Error.Message)
	}
	s := strings.TrimSpace(string(a.body))
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return fmt.Sprintf("%d %s", a.status, s)
}

// redact cuts the token out of a link's address: tokens are never printed.
func redact(u string) string {
	if i := strings.Index(u, "/l/"); i >= 0 {
		return u[:i] + "/l/…"
	}
	return u
}

// ---- steps ----

func (t *tester) ready(ctx context.Context) {
	a, err := t.do(ctx, http.MethodGet, t.base+"/readyz", nil, nil)
	switch {
	case err != nil:
		t.add(StepReady, Fail, "GET /readyz: %v", err)
	case a.status != http.StatusOK:
		t.add(StepReady, Fail, "GET /readyz: %s", apiError(a))
	default:
		t.add(StepReady, Pass, "GET /readyz 200")
	}
}

func (t *tester) issue(ctx context.Context) bool {
	body := map[string]any{
		"email": t.opts.Email, "redirect_url": t.opts.RedirectURL, "send_email": false, "ttl_seconds": 600,
		"metadata": map[string]any{"linkguard_selftest": true},
	}
	a, err := t.api(ctx, http.MethodPost, "/v1/links", body, &t.link)
	switch {
	case err != nil:
		t.add(StepIssue, Fail, "%v", err)
		return false
	case a.status == http.StatusBadRequest && strings.Contains(string(a.body), "redirect_not_allowed"):
		t.add(StepIssue, Fail, "POST /v1/links: %s (pass --redirect-url with an allowed origin)", apiError(a))
		return false
	case a.status != http.StatusCreated:
		t.add(StepIssue, Fail, "POST /v1/links: %s", apiError(a))
		return false
	case t.link.ID == "" || t.link.Code == "" || !strings.Contains(t.link.URL, "/l/"):
		t.add(StepIssue, Fail, "POST /v1/links: 201 without an id, url and code")
		return false
	}
	t.add(StepIssue, Pass, "%s, send_email false", t.link.ID)
	return true
}

// state is the link's state from GET /v1/links/{id}.
func (t *tester) state(ctx context.Context) (string, error) {
	var l struct {
		State string `json:"state"`
	}
	a, err := t.api(ctx, http.MethodGet, "/v1/links/"+t.link.ID, nil, &l)
	if err != nil {
		return "", err
	}
	if a.status != http.StatusOK {
		return "", fmt.Errorf("GET /v1/links/%s: %s", t.link.ID, apiError(a))
	}
	return l.State, nil
}

// afterPlay ends a scanner step: it passes when the link is still
// pending, whatever the play saw.
func (t *tester) afterPlay(ctx context.Context, name, did string) {
	st, err := t.state(ctx)
	switch {
	case err != nil:
		t.add(name, Fail, "%s; then %v", did, err)
	case st != "pending":
		t.add(name, Fail, "%s; the link is now %s", did, st)
	default:
		t.add(name, Pass, "%s; link pending", did)
	}
}

// scanner sends HEAD then GET with ua ("" sends no User-Agent).
func (t *tester) scanner(ctx context.Context, name, ua string) {
	hdr := map[string]string{"User-Agent": ua, "Accept": "*/*"}
	var did []string
	for _, m := range []string{http.MethodHead, http.MethodGet} {
		a, err := t.do(ctx, m, t.link.URL, hdr, nil)
		if err != nil {
			t.add(name, Fail, "%v", err)
			return
		}
		if a.status != http.StatusOK {
			t.add(name, Fail, "%s /l/…: %d, want 200 (the landing page, for any visitor)", m, a.status)
			return
		}
		did = append(did, fmt.Sprintf("%s 200", m))
	}
	t.afterPlay(ctx, name, strings.Join(did, ", "))
}

// page is a GET of the landing page as a crawler does it.
func (t *tester) page(ctx context.Context) ([]byte, error) {
	a, err := t.do(ctx, http.MethodGet, t.link.URL, map[string]string{"User-Agent": staleChrome}, nil)
	if err != nil {
		return nil, err
	}
	if a.status != http.StatusOK {
		return nil, fmt.Errorf("GET /l/…: %d, want 200", a.status)
	}
	return a.body, nil
}

// crawler posts every form of the landing page with the values it
// carries, as a link-following crawler does; never the "email me a new
// link" form (it would mail the test address).
func (t *tester) crawler(ctx context.Context) {
	body, err := t.page(ctx)
	if err != nil {
		t.add(StepCrawler, Fail, "%v", err)
		return
	}
	pageURL, _ := url.Parse(t.link.URL)
	posted, skipped := 0, 0
	for _, f := range parseForms(body) {
		if f.values.Get("new") != "" {
			skipped++
			continue
		}
		action, err := pageURL.Parse(f.action)
		if err != nil {
			t.add(StepCrawler, Fail, "form action %q: %v", redact(f.action), err)
			return
		}
		var a *answer
		hdr := map[string]string{"User-Agent": staleChrome}
		if f.method == http.MethodPost {
			hdr["Content-Type"] = "application/x-www-form-urlencoded"
			a, err = t.do(ctx, http.MethodPost, action.String(), hdr, []byte(f.values.Encode()))
		} else {
			action.RawQuery = f.values.Encode()
			a, err = t.do(ctx, http.MethodGet, action.String(), hdr, nil)
		}
		if err != nil {
			t.add(StepCrawler, Fail, "%v", err)
			return
		}
		if a.status >= 500 {
			t.add(StepCrawler, Fail, "%s %s: %d", f.method, redact(action.String()), a.status)
			return
		}
		posted++
	}
	if posted == 0 {
		t.add(StepCrawler, Fail, "the landing page has no form to post (the code form is missing)")
		return
	}
	did := fmt.Sprintf("%d forms posted", posted)
	if skipped > 0 {
		did += fmt.Sprintf(", %d new-link form left alone", skipped)
	}
	t.afterPlay(ctx, StepCrawler, did)
}

// collector posts what the page's collector posts, without running the
// page: an empty report to /verify and a click to /confirm with the
// rendered nonce, and a report without a nonce.
func (t *tester) collector(ctx context.Context) {
	body, err := t.page(ctx)
	if err != nil {
		t.add(StepCollector, Fail, "%v", err)
		return
	}
	nonce := metaNonce(body)
	if nonce == "" {
		t.add(StepCollector, Fail, `the landing page has no <meta name="lg-nonce">`)
		return
	}
	hdr := map[string]string{"User-Agent": staleChrome, "Content-Type": "application/json"}
	var did []string
	for _, p := range []struct {
		route string
		body  string
		want  int
	}{
		{"verify", `{"nonce":` + jsonString(nonce) + `,"signals":{}}`, http.StatusOK},
		{"confirm", `{"nonce":` + jsonString(nonce) + `,"signals":{}}`, http.StatusOK},
		{"verify", `{"signals":{}}`, http.StatusBadRequest},
	} {
		a, err := t.do(ctx, http.MethodPost, t.link.URL+"/"+p.route, hdr, []byte(p.body))
		if err != nil {
			t.add(StepCollector, Fail, "%v", err)
			return
		}
		var out struct {
			Outcome string `json:"outcome"`
		}
		_ = json.Unmarshal(a.body, &out)
		if out.Outcome == "consumed" {
			t.add(StepCollector, Fail, "POST /l/…/%s without a page run consumed the link", p.route)
			return
		}
		if a.status != p.want {
			t.add(StepCollector, Fail, "POST /l/…/%s: %s, want %d", p.route, apiError(a), p.want)
			return
		}
		if out.Outcome != "" {
			did = append(did, p.route+" → "+out.Outcome)
		} else {
			did = append(did, fmt.Sprintf("%s → %d", p.route, a.status))
		}
	}
	t.afterPlay(ctx, StepCollector, strings.Join(did, ", "))
}

func (t *tester) stillPending(ctx context.Context) bool {
	st, err := t.state(ctx)
	switch {
	case err != nil:
		t.add(StepPending, Fail, "%v", err)
		return false
	case st != "pending":
		t.add(StepPending, Fail, "the link is %s after the scanners, want pending", st)
		return false
	}
	t.add(StepPending, Pass, "GET /v1/links/%s: pending", t.link.ID)
	return true
}

// consume types the code on the landing page (JSON, as the page's code
// form does) and keeps the handoff code for the exchange.
func (t *tester) consume(ctx context.Context) bool {
	body, err := t.page(ctx)
	if err != nil {
		t.add(StepCode, Fail, "%v", err)
		return false
	}
	nonce := metaNonce(body)
	hdr := map[string]string{"User-Agent": staleChrome, "Content-Type": "application/json"}
	a, err := t.do(ctx, http.MethodPost, t.link.URL+"/confirm", hdr,
		[]byte(`{"nonce":`+jsonString(nonce)+`,"code":`+jsonString(t.link.Code)+`}`))
	if err != nil {
		t.add(StepCode, Fail, "%v", err)
		return false
	}
	var out struct {
		Outcome     string `json:"outcome"`
		RedirectURL string `json:"redirect_url"`
	}
	if a.status != http.StatusOK || json.Unmarshal(a.body, &out) != nil {
		t.add(StepCode, Fail, "POST /l/…/confirm with the code: %s", apiError(a))
		return false
	}
	if out.Outcome != "consumed" {
		t.add(StepCode, Fail, "POST /l/…/confirm with the code: outcome %q, want consumed", out.Outcome)
		return false
	}
	ru, err := url.Parse(out.RedirectURL)
	if err != nil || ru.Query().Get("lg_code") == "" {
		t.add(StepCode, Fail, "the redirect after the code carries no lg_code")
		return false
	}
	if !strings.HasPrefix(out.RedirectURL, strings.SplitN(t.opts.RedirectURL, "#", 2)[0]) {
		t.add(StepCode, Fail, "the redirect goes to %s, not to the link's redirect_url", ru.Redacted())
		return false
	}
	t.handoff = ru.Query().Get("lg_code")
	t.add(StepCode, Pass, "consumed; redirect to %s with lg_code", strings.SplitN(out.RedirectURL, "?", 2)[0])
	return true
}

// exchange spends the handoff code, then checks it is spent.
func (t *tester) exchange(ctx context.Context) {
	var out struct {
		LinkID   string          `json:"link_id"`
		Email    string          `json:"email"`
		Metadata json.RawMessage `json:"metadata"`
		Verdict  struct {
			Decision string `json:"decision"`
		} `json:"verdict"`
	}
	a, err := t.api(ctx, http.MethodPost, "/v1/exchange", map[string]string{"code": t.handoff}, &out)
	switch {
	case err != nil:
		t.add(StepExchange, Fail, "%v", err)
		return
	case a.status != http.StatusOK:
		t.add(StepExchange, Fail, "POST /v1/exchange: %s", apiError(a))
		return
	case out.LinkID != t.link.ID || !strings.EqualFold(out.Email, t.opts.Email):
		t.add(StepExchange, Fail, "POST /v1/exchange: link %s for %s, want %s for %s", out.LinkID, out.Email, t.link.ID, t.opts.Email)
		return
	case !bytes.Contains(out.Metadata, []byte(`"linkguard_selftest"`)):
		t.add(StepExchange, Fail, "POST /v1/exchange: metadata %s lost the link's", clip.Ellipsis(string(out.Metadata), 60))
		return
	}
	again, err := t.api(ctx, http.MethodPost, "/v1/exchange", map[string]string{"code": t.handoff}, nil)
	if err != nil {
		t.add(StepExchange, Fail, "%v", err)
		return
	}
	if again.status != http.StatusBadRequest {
		t.add(StepExchange, Fail, "a second POST /v1/exchange with the same code: %d, want 400 invalid_code", again.status)
		return
	}
	st, err := t.state(ctx)
	if err != nil || st != "consumed" {
		t.add(StepExchange, Fail, "after the exchange the link is %q (%v), want consumed", st, err)
		return
	}
	t.add(StepExchange, Pass, "identity, metadata and verdict %q once; the second try 400; link consumed", out.Verdict.Decision)
}

// revoke ends a test link that is still pending (a step failed).
func (t *tester) revoke(ctx context.Context) {
	if st, err := t.state(ctx); err == nil && st == "pending" {
		_, _ = t.api(ctx, http.MethodDelete, "/v1/links/"+t.link.ID, nil, nil)
	}
}

// address compares the address the server takes for this machine with
// this machine's own (or --expect-ip).
func (t *tester) address(ctx context.Context) {
	var c struct {
		IP        string `json:"ip"`
		Peer      string `json:"peer"`
		Forwarded bool   `json:"forwarded"`
	}
	a, err := t.api(ctx, http.MethodGet, "/v1/client", nil, &c)
	if err != nil {
		t.add(StepAddress, Fail, "%v", err)
		return
	}
	if a.status != http.StatusOK {
		t.add(StepAddress, Fail, "GET /v1/client: %s", apiError(a))
		return
	}
	got, err := netip.ParseAddr(c.IP)
	if err != nil {
		t.add(StepAddress, Fail, "GET /v1/client: ip %q is not an address", clip.Ellipsis(c.IP, 60))
		return
	}
	own, what := a.local, "this machine's address"
	if t.opts.ExpectIP.IsValid() {
		own, what = t.opts.ExpectIP.Unmap(), "--expect-ip"
	}
	ownIs := own.String()
	if t.opts.ExpectIP.IsValid() {
		ownIs += " (--expect-ip)"
	}
	got = got.Unmap()
	if got == own {
		via := "directly"
		if c.Forwarded && c.Peer != got.String() {
			via = "through a trusted proxy (" + c.Peer + ")"
		}
		t.add(StepAddress, Pass, "the server sees %s, %s, %s", got, what, via)
		return
	}
	msg := fmt.Sprintf("the server takes %s for this machine, whose address is %s", got, ownIs)
	switch {
	case !c.Forwarded:
		msg += fmt.Sprintf(": it sees the peer %s and trusts no proxy there, so a proxy in front hides every client; set LINKGUARD_TRUSTED_PROXIES to the proxy's address", c.Peer)
	default:
		msg += fmt.Sprintf(": the trusted proxy %s forwarded %s, so a hop before it is not trusted or rewrites X-Forwarded-For", c.Peer, got)
	}
	if !t.opts.ExpectIP.IsValid() && (own.IsPrivate() || own.IsLoopback()) && !got.IsPrivate() && !got.IsLoopback() {
		msg += "; behind a NAT, pass --expect-ip with this machine's public address"
	}
	t.add(StepAddress, Fail, "%s", msg)
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
