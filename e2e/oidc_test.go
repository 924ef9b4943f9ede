package e2e

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/oauth2"

	"github.com/linkguard/linkguard/internal/smtptest"
	"github.com/linkguard/linkguard/kit"
	lgoidc "github.com/linkguard/linkguard/oidc"
)

// oidcEnv is the kit with the OpenID Provider on, its mail going to a
// real SMTP relay, and a relying party app (go-oidc and x/oauth2) on its
// own 127.0.0.1 port, as a separate site would be.
type oidcEnv struct {
	t     *testing.T
	base  string // the provider (the kit)
	rp    string // the relying party app
	relay *smtptest.Relay
}

func newOIDCEnv(t *testing.T) *oidcEnv {
	t.Helper()
	chrome := chromiumPath(t)
	shared.once.Do(func() { setup(chrome) })
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	kln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &oidcEnv{t: t, base: "http://" + kln.Addr().String(), rp: "http://" + rln.Addr().String()}
	e.relay = smtptest.Start(t, smtptest.Options{ImplicitTLS: true})
	// NB: the client's secret is hashed at bcrypt's lowest cost, not at
	// NewSecret's default: one compare at the default cost takes 1.1 s
	// under -race on an idle core and took 4.5 to 14 s on a loaded one,
	// inside the browser's 60 s, for nothing this test checks. The secret
	// is still checked by bcrypt at the token endpoint.
	secret := random()
	h, err := bcrypt.GenerateFromPassword([]byte(secret), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	hash := string(h)
	k, err := kit.New(kit.Options{
		PublicURL: e.base, Dev: true, MailFrom: "signin@example.com",
		SMTPURL: fmt.Sprintf("smtps://%s:%s@%s?insecure_skip_verify=1&timeout=1s", smtptest.User, url.QueryEscape(smtptest.Password), e.relay.Addr),
		OIDC: lgoidc.Config{Clients: []lgoidc.ClientConfig{
			{ID: "app", Secret: hash, RedirectURIs: []string{e.rp + "/callback"}},
		}},
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	k.Start(ctx)
	go k.App().Listener(kln)

	provider, err := gooidc.NewProvider(ctx, e.base)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	app := &rpApp{provider: provider, pending: map[string]rpPending{}, cfg: oauth2.Config{
		ClientID: "app", ClientSecret: secret, RedirectURL: e.rp + "/callback",
		Endpoint: provider.Endpoint(), Scopes: []string{gooidc.ScopeOpenID, "email", "profile"},
	}}
	app.cfg.Endpoint.AuthStyle = oauth2.AuthStyleInHeader
	rs := &http.Server{Handler: app}
	go rs.Serve(rln)
	t.Cleanup(func() {
		rs.Close()
		_ = k.App().ShutdownWithTimeout(5 * time.Second)
		cancel()
		k.Close()
	})
	return e
}

// rpApp is a relying party: / starts a sign-in (state in a cookie, nonce
// and PKCE verifier kept server-side), /callback checks the state,
// exchanges the code and verifies the ID token, then shows the email.
type rpApp struct {
	provider *gooidc.Provider
	cfg      oauth2.Config
	mu       sync.Mutex
	pending  map[string]rpPending
}

type rpPending struct{ nonce, verifier string }

func random() string {
	var b [24]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func (a *rpApp) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/":
		state, p := random(), rpPending{nonce: random(), verifier: oauth2.GenerateVerifier()}
		a.mu.Lock()
		a.pending[state] = p
		a.mu.Unlock()
		http.SetCookie(w, &http.Cookie{Name: "rp_state", Value: state, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
		http.Redirect(w, r, a.cfg.AuthCodeURL(state, gooidc.Nonce(p.nonce), oauth2.S256ChallengeOption(p.verifier)), http.StatusFound)
	case "/callback":
		c, err := r.Cookie("rp_state")
		state := r.URL.Query().Get("state")
		a.mu.Lock()
		p, ok := a.pending[state]
		delete(a.pending, state)
		a.mu.Unlock()
		if err != nil || c.Value != state || !ok {
			http.Error(w, "state mismatch", http.StatusBadRequest)
			return
		}
		tok, err := a.cfg.Exchange(r.Context(), r.URL.Query().Get("code"), oauth2.VerifierOption(p.verifier))
		if err != nil {
			http.Error(w, "exchange: "+err.Error(), http.StatusBadGateway)
			return
		}
		raw, _ := tok.Extra("id_token").(string)
		idt, err := a.provider.Verifier(&gooidc.Config{ClientID: a.cfg.ClientID, SupportedSigningAlgs: []string{"EdDSA"}}).Verify(r.Context(), raw)
		if err != nil {
			http.Error(w, "id token: "+err.Error(), http.StatusBadGateway)
			return
		}
		var cl struct {
			Email    string `json:"email"`
			Verified bool   `json:"email_verified"`
			Nonce    string `json:"nonce"`
		}
		if err := idt.Claims(&cl); err != nil || cl.Nonce != p.nonce || !cl.Verified {
			http.Error(w, "claims: nonce or email_verified wrong", http.StatusBadGateway)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<!doctype html><title>RP</title><p>Signed in as <span id=rp-email>%s</span></p>", html.EscapeString(cl.Email))
	default:
		http.NotFound(w, r)
	}
}

// start opens the relying party in the browser, which goes through
// authorize to the hosted sign-in; it types address and waits for
// "check your inbox".
func (e *oidcEnv) start(ctx context.Context, address string) {
	e.t.Helper()
	if err := chromedp.Do(ctx,
		chromedp.Navigate(e.rp+"/"),
		chromedp.WaitVisible(chromedp.CSS("#lg-email")),
	); err != nil {
		e.t.Fatalf("relying party → hosted sign-in: %v", err)
	}
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS("#lg-email"), address),
		chromedp.Click(chromedp.CSS("#lg-login-submit")),
		chromedp.WaitVisible(chromedp.CSS(`body[data-lg-state="sent"]`)),
	); err != nil {
		e.t.Fatalf("sign-in form: %v", err)
	}
	if !strings.HasPrefix(loc, e.base+"/login?redirect_url=") {
		e.t.Fatalf("the relying party sent the browser to %s, want the hosted sign-in", loc)
	}
}

// mail waits for the relay's mail to address: its link and code.
func (e *oidcEnv) mail(address string) (link, code string) {
	e.t.Helper()
	p := smtptest.Parse(e.t, e.relay.WaitFor(e.t, address, 15*time.Second).Data)
	link = regexp.MustCompile(regexp.QuoteMeta(e.base) + `/l/[A-Za-z0-9_-]{43}`).FindString(p.Text)
	m := regexp.MustCompile(`(?m)^\s+(\d{6})\s*$`).FindStringSubmatch(p.Text)
	if link == "" || m == nil {
		e.t.Fatalf("no link or code in the mail:\n%s", p.Text)
	}
	return link, m[1]
}

// signedIn waits until the browser shows the relying party's page.
func (e *oidcEnv) signedIn(ctx context.Context, address string) {
	e.t.Helper()
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS("#rp-email"))); err != nil {
		tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		loc, _ := chromedp.Run(tctx, chromedp.Location())
		body, _ := chromedp.Run(tctx, chromedp.Evaluate[string](`document.body.outerHTML`))
		e.t.Fatalf("not signed in at the relying party: %v (at %s)\n%s", err, loc, body)
	}
	got, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#rp-email")))
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	if got != address || !strings.HasPrefix(loc, e.rp+"/callback?") {
		e.t.Errorf("the relying party shows %q at %s, want %s at /callback", got, loc, address)
	}
}

// TestOIDCSameBrowserNoClick: relying party → authorize → hosted
// sign-in → mail → the same browser opens the link → signed in at the
// relying party, with no click after opening the mail.
func TestOIDCSameBrowserNoClick(t *testing.T) {
	e := newOIDCEnv(t)
	ctx := (&env{t: t, root: shared.root}).browser(60 * time.Second)
	e.start(ctx, "alice@example.com")
	link, _ := e.mail("alice@example.com")
	if err := chromedp.Do(ctx, chromedp.Navigate(link)); err != nil {
		t.Fatal(err)
	}
	e.signedIn(ctx, "alice@example.com")
}

// TestOIDCCodeOnWaitingPage: the mail is read elsewhere; its code typed
// on the waiting page signs this browser in at the relying party.
func TestOIDCCodeOnWaitingPage(t *testing.T) {
	e := newOIDCEnv(t)
	ctx := (&env{t: t, root: shared.root}).browser(60 * time.Second)
	e.start(ctx, "bob@example.com")
	_, code := e.mail("bob@example.com")
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS("#lg-wait-code"), code),
		chromedp.Click(chromedp.CSS("#lg-wait-submit")),
	); err != nil {
		t.Fatal(err)
	}
	e.signedIn(ctx, "bob@example.com")
}
