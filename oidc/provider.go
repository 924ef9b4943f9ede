// Package oidc is linkguard as an OpenID Provider: any relying party
// that speaks OpenID Connect signs people in with linkguard's
// scanner-proof email links, unchanged.
//
// The protocol is github.com/zitadel/oidc/v3's op package (certified);
// this package decides what it stores, signs and hands over:
// authorization code flow only, PKCE (S256) required for public clients,
// ID tokens signed EdDSA with the assertion key or RS256 per client,
// opaque access tokens, refresh tokens only for clients that turn them
// on. Auth requests, codes and tokens live in the linkguard.KV beside the
// links, so several instances on one Redis work; a code is spent with
// one compare-and-set.
//
// The sign-in itself is the hosted one: /authorize sends the browser to
// /login with a redirect_url back to /oidc/login/done; the consumed link
// (or the code typed on the waiting page) arrives there with lg_code,
// which is exchanged here, and the browser goes on to the client's
// redirect_uri with the authorization code.
package oidc

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/rs/cors"
	zoidc "github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/linkguard/linkguard"
)

// Paths, relative to the issuer (the public URL).
const (
	PathPrefix     = "/oidc/"
	PathDiscovery  = "/.well-known/openid-configuration"
	PathAuthorize  = "/oidc/authorize"
	PathToken      = "/oidc/token"
	PathUserinfo   = "/oidc/userinfo"
	PathKeys       = "/oidc/keys"
	PathEndSession = "/oidc/end_session"
	PathRevoke     = "/oidc/revoke"
	PathIntrospect = "/oidc/introspect"
	// PathLoginDone is where the hosted sign-in sends the browser back.
	PathLoginDone = "/oidc/login/done"
)

// Config is the YAML's oidc section.
type Config struct {
	Clients []ClientConfig `yaml:"clients"`
	// AuthRequestTTL: how long a person has to sign in (default 30m).
	AuthRequestTTL time.Duration `yaml:"auth_request_ttl"`
	// CodeTTL: how long an authorization code works (default 1m).
	CodeTTL time.Duration `yaml:"code_ttl"`
	// AccessTokenTTL and IDTokenTTL default to 1h.
	AccessTokenTTL time.Duration `yaml:"access_token_ttl"`
	IDTokenTTL     time.Duration `yaml:"id_token_ttl"`
	// RefreshTokenTTL defaults to 30 days (clients with refresh_tokens).
	RefreshTokenTTL time.Duration `yaml:"refresh_token_ttl"`
}

// DefaultConfig is the one home of the provider's defaults.
func DefaultConfig() Config {
	return Config{AuthRequestTTL: 30 * time.Minute, CodeTTL: time.Minute,
		AccessTokenTTL: time.Hour, IDTokenTTL: time.Hour, RefreshTokenTTL: 30 * 24 * time.Hour}
}

// Validate checks the lifetimes and every client, naming the setting.
func (c *Config) Validate(dev bool) error {
	var errs []error
	for _, d := range []struct {
		name     string
		v        time.Duration
		min, max time.Duration
	}{
		{"oidc.auth_request_ttl", c.AuthRequestTTL, time.Minute, 24 * time.Hour},
		{"oidc.code_ttl", c.CodeTTL, time.Second, 10 * time.Minute},
		{"oidc.access_token_ttl", c.AccessTokenTTL, time.Minute, 24 * time.Hour},
		{"oidc.id_token_ttl", c.IDTokenTTL, time.Minute, 24 * time.Hour},
		{"oidc.refresh_token_ttl", c.RefreshTokenTTL, time.Hour, 365 * 24 * time.Hour},
	} {
		if d.v != 0 && (d.v < d.min || d.v > d.max) {
			errs = append(errs, fmt.Errorf("%s %s: want between %s and %s", d.name, d.v, d.min, d.max))
		}
	}
	seen := map[string]bool{}
	for i := range c.Clients {
		if err := c.Clients[i].Validate(dev); err != nil {
			errs = append(errs, err)
		}
		if seen[c.Clients[i].ID] {
			errs = append(errs, fmt.Errorf("oidc.clients %q: listed twice", c.Clients[i].ID))
		}
		seen[c.Clients[i].ID] = true
	}
	return errors.Join(errs...)
}

// Options configure a Provider. Zero durations take DefaultConfig's.
type Options struct {
	// Issuer is the public URL exactly as configured, without a trailing
	// slash.
	Issuer string
	// KV keeps auth requests, codes and tokens (the Store, when it is one).
	KV linkguard.KV
	// Service exchanges the hosted sign-in's lg_code for the person.
	Service *linkguard.Service
	Keys    *Keys
	// Secret derives the key that encrypts codes and access tokens and
	// the key of subjects: the server key, shared by instances.
	Secret []byte
	// Dev allows an http issuer and http redirect URIs.
	Dev bool
	// Config holds the clients and lifetimes.
	Config
	// Limiter counts client authentications per client address and per
	// client id (clientauth.go); default: KV, when it is one.
	Limiter linkguard.Limiter
	// ClientAddr, when set, is the client address of a request as the
	// server in front resolved it (trusted proxies applied); an invalid
	// address, or none set, means the peer's.
	ClientAddr func(*http.Request) netip.Addr
	Now        func() time.Time
	Rand       io.Reader
	Log        *slog.Logger
}

// Provider is the OpenID Provider, an http.Handler for PathDiscovery and
// everything under PathPrefix.
type Provider struct {
	opts    Options
	op      *op.Provider
	kv      linkguard.KV
	keys    *Keys
	clients map[string]*client
	subKey  []byte
	auth    *clientAuth
	rand    io.Reader
	log     *slog.Logger
	issuer  *op.IssuerInterceptor
}

// New builds a Provider; every client is validated first.
func New(o Options) (*Provider, error) {
	if o.KV == nil || o.Service == nil || o.Keys == nil {
		return nil, errors.New("oidc: KV, Service and Keys are required")
	}
	dummyHash() // now, not on the first unknown client's request
	if o.Limiter == nil {
		o.Limiter, _ = o.KV.(linkguard.Limiter)
	}
	if o.Limiter == nil || o.Service.Keys == nil {
		return nil, errors.New("oidc: a Limiter and the Service's Keys are required (client authentications are counted per address)")
	}
	if len(o.Secret) < 32 {
		return nil, errors.New("oidc: a secret of at least 32 bytes is required")
	}
	u, err := url.Parse(o.Issuer)
	if err != nil || u.Host == "" || (u.Scheme != "https" && !(o.Dev && u.Scheme == "http")) || strings.HasSuffix(o.Issuer, "/") || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("oidc: issuer %q: want the https public URL without a trailing slash (http only in dev mode)", o.Issuer)
	}
	if len(o.Clients) == 0 {
		return nil, errors.New("oidc: no clients configured")
	}
	if err := o.Config.Validate(o.Dev); err != nil {
		return nil, err
	}
	d := DefaultConfig()
	o.AuthRequestTTL = or(o.AuthRequestTTL, d.AuthRequestTTL)
	o.CodeTTL = or(o.CodeTTL, d.CodeTTL)
	o.AccessTokenTTL = or(o.AccessTokenTTL, d.AccessTokenTTL)
	o.IDTokenTTL = or(o.IDTokenTTL, d.IDTokenTTL)
	o.RefreshTokenTTL = or(o.RefreshTokenTTL, d.RefreshTokenTTL)
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	p := &Provider{opts: o, kv: o.KV, keys: o.Keys, clients: map[string]*client{},
		rand: o.Rand, log: o.Log, subKey: derive(o.Secret, "oidc subject")}
	for _, c := range o.Clients {
		p.clients[c.ID] = &client{cfg: c, loginURL: p.loginURL, idTTL: o.IDTokenTTL, dev: o.Dev}
	}
	if p.auth, err = newClientAuth(p.clients, o.Limiter, o.Service.Keys, o.Now, o.Log); err != nil {
		return nil, fmt.Errorf("oidc: %w", err)
	}
	var cryptoKey [32]byte
	copy(cryptoKey[:], derive(o.Secret, "oidc crypto"))
	cfg := &op.Config{
		CryptoKey:      cryptoKey,
		CodeMethodS256: true,
		AuthMethodPost: true,
		GrantTypeRefreshToken: func() bool {
			for _, c := range p.clients {
				if c.cfg.RefreshTokens {
					return true
				}
			}
			return false
		}(),
		SupportedScopes: knownScopes,
		SupportedClaims: []string{"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "amr", "azp", "at_hash", "c_hash", "email", "email_verified", "preferred_username"},
	}
	ep := func(path string) *op.Endpoint { return op.NewEndpoint(strings.TrimPrefix(path, "/")) }
	opts := []op.Option{
		op.WithCustomEndpoints(ep(PathAuthorize), ep(PathToken), ep(PathUserinfo), ep(PathRevoke), ep(PathEndSession), ep(PathKeys)),
		op.WithCustomIntrospectionEndpoint(ep(PathIntrospect)),
		op.WithLogger(o.Log),
		op.WithCORSOptions(&corsOptions),
		// The verifier of id_token_hint (end-session) knows RS256 only
		// unless told: ours are EdDSA too.
		op.WithIDTokenHintVerifierOpts(op.WithSupportedIDTokenHintSigningAlgorithms(string(jose.EdDSA), string(jose.RS256))),
		op.WithAccessTokenVerifierOpts(op.WithSupportedAccessTokenSigningAlgorithms(string(jose.EdDSA), string(jose.RS256))),
	}
	if o.Dev {
		opts = append(opts, op.WithAllowInsecure())
	}
	p.op, err = op.NewProvider(cfg, &storage{p}, op.StaticIssuer(o.Issuer), opts...)
	if err != nil {
		return nil, fmt.Errorf("oidc: %w", err)
	}
	p.issuer = op.NewIssuerInterceptor(p.op.IssuerFromRequest)
	return p, nil
}

func or[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

func derive(secret []byte, label string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("linkguard " + label))
	return m.Sum(nil)
}

func (p *Provider) now() time.Time { return p.opts.Now() }

// Subject is the stable, opaque sub of an email address: the same for
// every client, never the address itself.
func (p *Provider) Subject(email string) string {
	m := hmac.New(sha256.New, p.subKey)
	m.Write([]byte(strings.ToLower(strings.TrimSpace(email))))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:18])
}

// loginURL is where /authorize sends the browser: the hosted sign-in,
// which comes back to PathLoginDone with lg_code.
func (p *Provider) loginURL(id string) string {
	return p.opts.Issuer + "/login?redirect_url=" + url.QueryEscape(p.doneURL(id))
}

func (p *Provider) doneURL(id string) string {
	return p.opts.Issuer + PathLoginDone + "?id=" + url.QueryEscape(id)
}

// corsOptions let browsers' apps (public clients) call discovery, token,
// userinfo and keys from any origin, but never with cookies: the
// provider has no session, and the device cookie must not ride along
// (op's default allows credentials from every origin).
var corsOptions = cors.Options{
	AllowOriginFunc: func(string) bool { return true },
	AllowedMethods:  []string{http.MethodGet, http.MethodHead, http.MethodPost},
	AllowedHeaders:  []string{"Accept", "Accept-Language", "Authorization", "Content-Type"},
}

type ctxKey struct{}

// algFor is the ID token algorithm of the client the request is from.
func (p *Provider) algFor(ctx context.Context) jose.SignatureAlgorithm {
	if id, ok := ctx.Value(ctxKey{}).(string); ok {
		if c, ok := p.clients[id]; ok && c.cfg.IDTokenAlg == "RS256" {
			return jose.RS256
		}
	}
	return jose.EdDSA
}

// ServeHTTP answers PathDiscovery and everything under PathPrefix, with
// or without the issuer's path in front (mounted or behind a proxy that
// strips it).
func (p *Provider) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	if i := strings.Index(path, PathPrefix); i > 0 {
		path = path[i:]
	} else if strings.HasSuffix(path, PathDiscovery) {
		path = PathDiscovery
	}
	if path != r.URL.Path {
		r2 := new(http.Request)
		*r2 = *r
		u := *r.URL
		u.Path, u.RawPath = path, ""
		r2.URL = &u
		r = r2
	}
	switch {
	case path == PathDiscovery:
		cors.New(corsOptions).Handler(p.issuer.HandlerFunc(p.discovery)).ServeHTTP(w, r)
		return
	case path == PathLoginDone:
		p.issuer.HandlerFunc(p.loginDone)(w, r)
		return
	case strings.HasPrefix(path, PathAuthorize+"/"):
		// op's own callback would issue a code to whoever knows a
		// finished request's id; PathLoginDone issues it instead, in the
		// one request that spent the sign-in's lg_code.
		http.NotFound(w, r)
		return
	case path == PathToken || path == PathRevoke || path == PathIntrospect:
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		if err := r.ParseForm(); err != nil {
			http.Error(w, `{"error":"invalid_request","error_description":"the form could not be read"}`, http.StatusBadRequest)
			return
		}
		w, r = p.withClientAuth(w, r)
		if path == PathToken {
			// The client's ID token algorithm: op asks
			// Storage.SigningKey with only the request's context.
			id := r.PostForm.Get("client_id")
			if u, _, ok := r.BasicAuth(); ok {
				if v, err := url.QueryUnescape(u); err == nil {
					id = v
				}
			}
			r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, id))
		}
	}
	p.op.ServeHTTP(w, r)
}

// discovery is op's document, saying only what this provider does: the
// code flow, no device flow, refresh tokens only when a client has them.
func (p *Provider) discovery(w http.ResponseWriter, r *http.Request) {
	d := op.CreateDiscoveryConfig(r.Context(), p.op, p.op.Storage())
	d.ResponseTypesSupported = []string{string(zoidc.ResponseTypeCode)}
	d.ResponseModesSupported = []string{string(zoidc.ResponseModeQuery)}
	d.GrantTypesSupported = []zoidc.GrantType{zoidc.GrantTypeCode}
	if p.op.GrantTypeRefreshTokenSupported() {
		d.GrantTypesSupported = append(d.GrantTypesSupported, zoidc.GrantTypeRefreshToken)
	}
	d.DeviceAuthorizationEndpoint, d.CheckSessionIframe = "", ""
	w.Header().Set("Cache-Control", "public, max-age=300")
	op.Discover(w, d)
}

// loginDone is where the hosted sign-in comes back: it exchanges lg_code
// for the person, marks the auth request signed in, and sends the
// browser to the client's redirect_uri with the authorization code.
func (p *Provider) loginDone(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	st := &storage{p}
	a, err := st.request(ctx, q.Get("id"))
	if err != nil {
		p.page(w, http.StatusBadRequest, "This sign-in request has expired. Please go back to the site and sign in again.")
		return
	}
	if a.IsDone {
		p.page(w, http.StatusBadRequest, "This sign-in request was already used. Please go back to the site and sign in again.")
		return
	}
	h, err := p.opts.Service.Exchange(ctx, q.Get("lg_code"))
	if err != nil {
		p.page(w, http.StatusBadRequest, "This sign-in link was already used or has expired. Please go back to the site and sign in again.")
		return
	}
	// The link must have been issued for this very auth request: a code
	// from another flow (the API, another request) does not finish it.
	l, err := p.opts.Service.Store.LinkByID(ctx, h.LinkID)
	if err != nil || l.RedirectURL != p.doneURL(a.ID) || h.Purpose.OrDefault() != linkguard.PurposeSignIn {
		p.log.Warn("oidc: a handoff of another link arrived at an auth request", "link_id", h.LinkID)
		p.page(w, http.StatusBadRequest, "This sign-in link belongs to another sign-in. Please go back to the site and sign in again.")
		return
	}
	a.Subject, a.Email, a.AuthTime, a.AMR, a.IsDone = p.Subject(h.Email), h.Email, h.ConsumedAt, []string{"email_link"}, true
	if a.AuthTime.IsZero() {
		a.AuthTime = p.now()
	}
	if err := st.put(ctx, nsRequest, a.ID, a, a.ExpiresAt); err != nil {
		p.log.Error("oidc: store the signed-in auth request", "err", err)
		p.page(w, http.StatusInternalServerError, "Something went wrong on our side. Please try again.")
		return
	}
	p.log.Info("oidc: signed in", "client_id", a.ClientID, "link_id", h.LinkID)
	// NB: the browser may have come here by a redirect from a form (the
	// code typed on the waiting page), and a page's CSP form-action
	// 'self' then forbids the next redirect to the client's origin: the
	// navigation stops silently. So the redirect op answers becomes a
	// page that moves on by itself (meta refresh), which is a new
	// navigation and works wherever it came from, without script.
	rec := &captured{header: http.Header{}}
	op.AuthResponse(a, p.op, rec, r)
	loc := rec.header.Get("Location")
	if rec.status != http.StatusFound && rec.status != http.StatusSeeOther || loc == "" {
		for k, v := range rec.header {
			w.Header()[k] = v
		}
		w.WriteHeader(or(rec.status, http.StatusOK))
		w.Write(rec.body.Bytes())
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; base-uri 'none'; frame-ancestors 'none'")
	esc := html.EscapeString(loc)
	fmt.Fprintf(w, "<!doctype html><meta charset=utf-8><meta http-equiv=refresh content=\"0;url=%s\"><meta name=viewport content=\"width=device-width\"><title>Signed in</title><p>Signed in. <a id=lg-oidc-continue href=\"%s\">Continue</a></p>\n", esc, esc)
}

// captured is a ResponseWriter that keeps what op answers.
type captured struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (c *captured) Header() http.Header { return c.header }
func (c *captured) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	return c.body.Write(b)
}
func (c *captured) WriteHeader(s int) {
	if c.status == 0 {
		c.status = s
	}
}

// page answers a browser with a short sentence.
func (p *Provider) page(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<!doctype html><meta charset=utf-8><meta name=viewport content=\"width=device-width\"><title>Sign-in</title><p id=lg-oidc-error>%s</p>\n", html.EscapeString(msg))
}
