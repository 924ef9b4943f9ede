// Command oidc-rp is a small relying party that signs people in with
// linkguard's OpenID provider, on github.com/coreos/go-oidc/v3 and
// golang.org/x/oauth2: what any Go web app would do.
//
//	make run                     # linkguard in dev mode on 127.0.0.1:8080
//	go run ./examples/oidc-rp    # this app on http://127.0.0.1:8090
//
// Dev mode configures the public client "example" for it. Against another
// provider: -issuer, -client, -secret (confidential clients), -listen.
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"flag"
	"fmt"
	"html/template"
	"log"
	"net/http"
	"sync"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// defaultListen is where the app listens unless -listen says otherwise:
// dev mode's client "example" redirects there (oidc.ExampleClient). NB:
// not 9090, where Prometheus listens by default, nor 9464, where the
// README puts linkguard's metrics.
const defaultListen = "127.0.0.1:8090"

func main() {
	issuer := flag.String("issuer", "http://127.0.0.1:8080", "the provider's issuer (linkguard's public URL)")
	clientID := flag.String("client", "example", "client_id")
	secret := flag.String("secret", "", "client secret (empty for a public client)")
	listen := flag.String("listen", defaultListen, "address of this app")
	flag.Parse()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	app, err := New(ctx, *issuer, *clientID, *secret, "http://"+*listen+"/callback")
	cancel()
	if err != nil {
		log.Fatalf("oidc-rp: %v (is linkguard running? make run)", err)
	}
	log.Printf("oidc-rp: open http://%s and sign in through %s", *listen, *issuer)
	log.Fatal(http.ListenAndServe(*listen, app))
}

// App is the relying party: / shows who is signed in, /login starts a
// sign-in, /callback finishes it.
type App struct {
	provider *gooidc.Provider
	verifier *gooidc.IDTokenVerifier
	cfg      oauth2.Config
	mu       sync.Mutex
	pending  map[string]pending // by state
	sessions map[string]string  // session cookie → email
}

type pending struct {
	nonce, verifier string
	at              time.Time
}

// New discovers the provider and configures the client.
func New(ctx context.Context, issuer, clientID, secret, redirect string) (*App, error) {
	p, err := gooidc.NewProvider(ctx, issuer)
	if err != nil {
		return nil, fmt.Errorf("discovery at %s: %w", issuer, err)
	}
	ep := p.Endpoint()
	ep.AuthStyle = oauth2.AuthStyleInHeader
	if secret == "" {
		ep.AuthStyle = oauth2.AuthStyleInParams
	}
	return &App{
		provider: p,
		verifier: p.Verifier(&gooidc.Config{ClientID: clientID, SupportedSigningAlgs: []string{gooidc.EdDSA, gooidc.RS256}}),
		cfg: oauth2.Config{ClientID: clientID, ClientSecret: secret, Endpoint: ep, RedirectURL: redirect,
			Scopes: []string{gooidc.ScopeOpenID, "email", "profile"}},
		pending: map[string]pending{}, sessions: map[string]string{},
	}, nil
}

func random() string {
	var b [24]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

var page = template.Must(template.New("").Parse(`<!doctype html>
<meta charset=utf-8><meta name=viewport content="width=device-width"><title>Example app</title>
<style>body{font:16px system-ui;max-width:32rem;margin:4rem auto;padding:0 1rem}</style>
<h1>Example app</h1>
{{if .Email}}<p>Signed in as <strong id=rp-email>{{.Email}}</strong>.</p>
{{else if .Error}}<p id=rp-error>{{.Error}}</p><p><a id=rp-login href="/login">Try again</a></p>
{{else}}<p><a id=rp-login href="/login">Sign in with an email link</a></p>{{end}}
`))

func (a *App) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/":
		var email string
		if c, err := r.Cookie("rp_session"); err == nil {
			a.mu.Lock()
			email = a.sessions[c.Value]
			a.mu.Unlock()
		}
		page.Execute(w, map[string]string{"Email": email})
	case "/login":
		state := random()
		p := pending{nonce: random(), verifier: oauth2.GenerateVerifier(), at: time.Now()}
		a.mu.Lock()
		for s, old := range a.pending { // forget sign-ins never finished
			if time.Since(old.at) > time.Hour {
				delete(a.pending, s)
			}
		}
		a.pending[state] = p
		a.mu.Unlock()
		http.SetCookie(w, &http.Cookie{Name: "rp_state", Value: state, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode, MaxAge: 3600})
		http.Redirect(w, r, a.cfg.AuthCodeURL(state, gooidc.Nonce(p.nonce), oauth2.S256ChallengeOption(p.verifier)), http.StatusFound)
	case "/callback":
		email, err := a.finish(r)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			page.Execute(w, map[string]string{"Error": err.Error()})
			return
		}
		sid := random()
		a.mu.Lock()
		a.sessions[sid] = email
		a.mu.Unlock()
		http.SetCookie(w, &http.Cookie{Name: "rp_session", Value: sid, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
		http.Redirect(w, r, "/", http.StatusSeeOther)
	default:
		http.NotFound(w, r)
	}
}

// finish checks the state against this browser's cookie, exchanges the
// code with the PKCE verifier, and verifies the ID token and its nonce.
func (a *App) finish(r *http.Request) (string, error) {
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		return "", fmt.Errorf("the provider refused: %s %s", e, q.Get("error_description"))
	}
	c, err := r.Cookie("rp_state")
	state := q.Get("state")
	a.mu.Lock()
	p, ok := a.pending[state]
	delete(a.pending, state)
	a.mu.Unlock()
	if err != nil || c.Value != state || !ok {
		return "", fmt.Errorf("this sign-in was not started in this browser")
	}
	tok, err := a.cfg.Exchange(r.Context(), q.Get("code"), oauth2.VerifierOption(p.verifier))
	if err != nil {
		return "", fmt.Errorf("code exchange: %w", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := a.verifier.Verify(r.Context(), raw)
	if err != nil {
		return "", fmt.Errorf("ID token: %w", err)
	}
	var cl struct {
		Email    string `json:"email"`
		Verified bool   `json:"email_verified"`
		Nonce    string `json:"nonce"`
	}
	if err := idt.Claims(&cl); err != nil {
		return "", err
	}
	if cl.Nonce != p.nonce {
		return "", fmt.Errorf("the ID token's nonce is not this sign-in's")
	}
	if !cl.Verified {
		return "", fmt.Errorf("the email address is not verified")
	}
	return cl.Email, nil
}
