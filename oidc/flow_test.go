package oidc_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/linkguard/linkguard/internal/logbuf"
	"github.com/linkguard/linkguard/internal/smtptest"
	"github.com/linkguard/linkguard/kit"
	lgoidc "github.com/linkguard/linkguard/oidc"
)

const chromeWindows = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"

// The relying parties of the tests. Their redirect URIs are never
// followed by the HTTP tests: the Location header is the result.
const (
	webRedirect = "https://web.example/callback"
	spaRedirect = "http://127.0.0.1:7777/spa"
)

// env is a whole kit in dev mode (real Badger or Redis, real SMTP relay)
// listening on 127.0.0.1, with the OpenID Provider on.
type env struct {
	t         *testing.T
	base      string
	k         *kit.Kit
	relay     *smtptest.Relay
	webSecret string
	logs      *logbuf.Buffer
}

// startKit starts the kit on the store URL st ("": Badger in memory). extra clients are
// added to the two of every test ("web", confidential, EdDSA; "spa",
// public, RS256).
func startKit(t *testing.T, st string, cfg lgoidc.Config, extra ...lgoidc.ClientConfig) *env {
	t.Helper()
	return startKitWith(t, st, nil, cfg, extra...)
}

// startKitWith is startKit with the kit's options changed by opts.
func startKitWith(t *testing.T, st string, opts func(*kit.Options), cfg lgoidc.Config, extra ...lgoidc.ClientConfig) *env {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, base: "http://" + ln.Addr().String(), logs: &logbuf.Buffer{}}
	e.relay = smtptest.Start(t, smtptest.Options{ImplicitTLS: true})
	secret, hash, err := lgoidc.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	e.webSecret = secret
	cfg.Clients = append([]lgoidc.ClientConfig{
		{ID: "web", Secret: hash, RedirectURIs: []string{webRedirect}},
		{ID: "spa", Public: true, RedirectURIs: []string{spaRedirect}, IDTokenAlg: "RS256", Scopes: []string{"email"}},
	}, extra...)
	ko := kit.Options{
		PublicURL: e.base, Dev: true, Store: st, MailFrom: "signin@example.com",
		SMTPURL: e.relay.URL(),
		OIDC:    cfg,
		Log:     slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if opts != nil {
		opts(&ko)
	}
	e.k, err = kit.New(ko)
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.k.Start(ctx)
	go e.k.App().Listener(ln)
	t.Cleanup(func() {
		_ = e.k.App().ShutdownWithTimeout(5 * time.Second)
		cancel()
		e.k.Close()
	})
	return e
}

// rp is a relying party on go-oidc and x/oauth2, configured from the
// provider's discovery document as any app would be.
type rp struct {
	provider *gooidc.Provider
	cfg      oauth2.Config
	alg      string
}

func (e *env) rp(clientID, secret, redirect, alg string, scopes ...string) *rp {
	e.t.Helper()
	p, err := gooidc.NewProvider(context.Background(), e.base)
	if err != nil {
		e.t.Fatalf("discovery: %v", err)
	}
	// One way of sending the client's credentials: x/oauth2's default
	// tries the header, then the form, and a first failed try has spent
	// the code already.
	ep := p.Endpoint()
	ep.AuthStyle = oauth2.AuthStyleInHeader
	if secret == "" {
		ep.AuthStyle = oauth2.AuthStyleInParams
	}
	return &rp{provider: p, alg: alg, cfg: oauth2.Config{
		ClientID: clientID, ClientSecret: secret, Endpoint: ep, RedirectURL: redirect,
		Scopes: append([]string{gooidc.ScopeOpenID}, scopes...),
	}}
}

// start is one authorization request: its URL, state, nonce, verifier.
type start struct {
	url, state, nonce, verifier string
}

func (r *rp) start(pkce bool) start {
	s := start{state: oauth2.GenerateVerifier(), nonce: oauth2.GenerateVerifier(), verifier: oauth2.GenerateVerifier()}
	opts := []oauth2.AuthCodeOption{gooidc.Nonce(s.nonce)}
	if pkce {
		opts = append(opts, oauth2.S256ChallengeOption(s.verifier))
	}
	s.url = r.cfg.AuthCodeURL(s.state, opts...)
	return s
}

var (
	csrfRe     = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	nonceRe    = regexp.MustCompile(`<meta name="lg-nonce" content="([^"]*)"`)
	redirectRe = regexp.MustCompile(`name="redirect_url" value="([^"]+)"`)
	continueRe = regexp.MustCompile(`<a id=lg-oidc-continue href="([^"]+)"`)
	mailSeq    atomic.Int64
)

// browser is an HTTP client with a cookie jar that does not follow
// redirects, so each step is seen.
func (e *env) browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func do(t *testing.T, c *http.Client, method, u string, body io.Reader, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("User-Agent", chromeWindows)
	req.Header.Set("Accept-Language", "en-GB,en;q=0.9")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

// newEmail is an address no other sign-in of this run uses.
func newEmail() string { return fmt.Sprintf("person%d@example.com", mailSeq.Add(1)) }

// login follows authorize to the hosted sign-in and sends the form; it
// returns the link and code from the mail.
func (e *env) login(b *http.Client, authURL, email string) (link, code string) {
	t := e.t
	t.Helper()
	res, body := do(t, b, "GET", authURL, nil)
	if res.StatusCode != http.StatusFound && res.StatusCode != http.StatusSeeOther {
		t.Fatalf("authorize: %d %s", res.StatusCode, body)
	}
	loc := res.Header.Get("Location")
	if !strings.HasPrefix(loc, e.base+"/login?redirect_url=") {
		t.Fatalf("authorize sent the browser to %q, want the hosted sign-in", loc)
	}
	res, body = do(t, b, "GET", loc, nil)
	csrf, red := csrfRe.FindStringSubmatch(body), redirectRe.FindStringSubmatch(body)
	if res.StatusCode != 200 || csrf == nil || red == nil {
		t.Fatalf("GET /login: %d\n%s", res.StatusCode, body)
	}
	form := url.Values{"email": {email}, "csrf": {csrf[1]}, "redirect_url": {html.UnescapeString(red[1])}}
	res, body = do(t, b, "POST", e.base+"/login", strings.NewReader(form.Encode()),
		"Content-Type", "application/x-www-form-urlencoded", "Origin", e.base, "Sec-Fetch-Site", "same-origin")
	if res.StatusCode != 200 {
		t.Fatalf("POST /login: %d\n%s", res.StatusCode, body)
	}
	p := smtptest.Parse(t, e.relay.WaitFor(t, email, 10*time.Second).Data)
	link = regexp.MustCompile(regexp.QuoteMeta(e.base) + `/l/[A-Za-z0-9_-]{43}`).FindString(p.Text)
	m := regexp.MustCompile(`(?m)^\s+(\d{6})\s*$`).FindStringSubmatch(p.Text)
	if link == "" || m == nil {
		t.Fatalf("no link or code in the mail:\n%s", p.Text)
	}
	return link, m[1]
}

// open is the same browser opening the link: the landing page, then its
// report with no signals (as a page whose collector found nothing). The
// device cookie signs it in with no click; it returns where the page
// sends the browser.
func (e *env) open(b *http.Client, link string) string {
	t := e.t
	t.Helper()
	res, body := do(t, b, "GET", link, nil)
	m := nonceRe.FindStringSubmatch(body)
	if res.StatusCode != 200 || m == nil {
		t.Fatalf("GET %s: %d, no nonce", link, res.StatusCode)
	}
	rb, _ := json.Marshal(map[string]any{"nonce": m[1]})
	res, body = do(t, b, "POST", link+"/verify", bytes.NewReader(rb), "Content-Type", "application/json")
	var out struct {
		Outcome     string `json:"outcome"`
		RedirectURL string `json:"redirect_url"`
	}
	if res.StatusCode != 200 || json.Unmarshal([]byte(body), &out) != nil || out.Outcome != "consumed" {
		t.Fatalf("POST verify: %d %s, want consumed", res.StatusCode, body)
	}
	return out.RedirectURL
}

// signIn runs the whole browser side: authorize, hosted sign-in, mail,
// link, back to the provider; it returns the redirect to the client.
func (e *env) signIn(authURL, email string) *url.URL {
	t := e.t
	t.Helper()
	b := e.browser()
	link, _ := e.login(b, authURL, email)
	done := e.open(b, link)
	if !strings.HasPrefix(done, e.base+lgoidc.PathLoginDone+"?id=") || !strings.Contains(done, "lg_code=") {
		t.Fatalf("the link sent the browser to %q, want %s with lg_code", done, lgoidc.PathLoginDone)
	}
	res, body := do(t, b, "GET", done, nil)
	// A page that moves on by itself (see loginDone), to the client.
	m := continueRe.FindStringSubmatch(body)
	if res.StatusCode != http.StatusOK || m == nil || !strings.Contains(body, `http-equiv=refresh content="0;url=`+m[1]+`"`) {
		t.Fatalf("login done: %d %s", res.StatusCode, body)
	}
	u, err := url.Parse(html.UnescapeString(m[1]))
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// claims are the ID token claims the tests read.
type claims struct {
	Email         string   `json:"email"`
	EmailVerified bool     `json:"email_verified"`
	Nonce         string   `json:"nonce"`
	AMR           []string `json:"amr"`
	AuthTime      int64    `json:"auth_time"`
}

// finish exchanges the code as the relying party and verifies the ID
// token; it returns the token and the claims.
func (r *rp) finish(t *testing.T, s start, redirect *url.URL, pkce bool) (*oauth2.Token, *gooidc.IDToken, claims) {
	t.Helper()
	q := redirect.Query()
	if got := redirect.Scheme + "://" + redirect.Host + redirect.Path; got != r.cfg.RedirectURL {
		t.Fatalf("sent to %s, want the client's redirect_uri %s", got, r.cfg.RedirectURL)
	}
	if q.Get("state") != s.state || q.Get("code") == "" {
		t.Fatalf("redirect %s: want the state back and a code", redirect)
	}
	var opts []oauth2.AuthCodeOption
	if pkce {
		opts = append(opts, oauth2.VerifierOption(s.verifier))
	}
	tok, err := r.cfg.Exchange(context.Background(), q.Get("code"), opts...)
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		t.Fatal("no id_token in the token response")
	}
	v := r.provider.Verifier(&gooidc.Config{ClientID: r.cfg.ClientID, SupportedSigningAlgs: []string{r.alg}})
	idt, err := v.Verify(context.Background(), raw)
	if err != nil {
		t.Fatalf("verify the ID token (%s): %v", r.alg, err)
	}
	var c claims
	if err := idt.Claims(&c); err != nil {
		t.Fatal(err)
	}
	if c.Nonce != s.nonce {
		t.Errorf("nonce %q, want %q", c.Nonce, s.nonce)
	}
	return tok, idt, c
}

// exchangeError is the OAuth error of a failed exchange.
func exchangeError(err error) string {
	if re, ok := err.(*oauth2.RetrieveError); ok {
		return re.ErrorCode
	}
	if err == nil {
		return ""
	}
	return err.Error()
}
