package oidc

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/crypto/bcrypt"
)

// ClientConfig is one relying party, as the YAML's oidc.clients lists it.
type ClientConfig struct {
	// ID is the client_id the relying party sends.
	ID string `yaml:"id"`
	// Secret is the bcrypt hash of the client secret ("$2a$..."), as
	// `linkguard oidc add-client` prints it. The secret itself is never
	// stored. Empty for a public client.
	Secret string `yaml:"secret"`
	// Public marks a client without a secret (a single-page or native
	// app): it must use PKCE with S256.
	Public bool `yaml:"public"`
	// RedirectURIs are matched exactly, byte for byte.
	RedirectURIs []string `yaml:"redirect_uris"`
	// PostLogoutRedirectURIs are where end-session may send the browser.
	PostLogoutRedirectURIs []string `yaml:"post_logout_redirect_uris"`
	// Scopes the client may ask for; empty: openid, email and profile.
	Scopes []string `yaml:"scopes"`
	// IDTokenAlg is EdDSA (the default) or RS256, for relying parties
	// that cannot verify Ed25519 signatures.
	IDTokenAlg string `yaml:"id_token_alg"`
	// RefreshTokens lets the client ask for offline_access and get a
	// refresh token (off by default).
	RefreshTokens bool `yaml:"refresh_tokens"`
}

// Scopes the provider knows.
const (
	ScopeOpenID        = oidc.ScopeOpenID
	ScopeEmail         = oidc.ScopeEmail
	ScopeProfile       = oidc.ScopeProfile
	ScopeOfflineAccess = oidc.ScopeOfflineAccess
)

var knownScopes = []string{ScopeOpenID, ScopeEmail, ScopeProfile, ScopeOfflineAccess}

// Validate checks c; every message names the client and the setting.
func (c *ClientConfig) Validate(dev bool) error {
	var errs []error
	bad := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("oidc.clients %q: "+format, append([]any{c.ID}, a...)...))
	}
	if c.ID == "" || len(c.ID) > 128 || strings.ContainsAny(c.ID, " \t\r\n:") {
		bad("id: want 1 to 128 characters without spaces or colons")
	}
	switch {
	case c.Public && c.Secret != "":
		bad("a public client has no secret: remove secret or public")
	case !c.Public && c.Secret == "":
		bad("secret: set the bcrypt hash that `linkguard oidc add-client` prints, or public: true")
	case !c.Public:
		if _, err := bcrypt.Cost([]byte(c.Secret)); err != nil {
			bad("secret: want a bcrypt hash ($2a$...), never the secret itself (`linkguard oidc add-client` makes one)")
		}
	}
	if len(c.RedirectURIs) == 0 {
		bad("redirect_uris: at least one is required")
	}
	for _, list := range [][]string{c.RedirectURIs, c.PostLogoutRedirectURIs} {
		for _, r := range list {
			if err := checkRedirectURI(r, dev); err != nil {
				bad("redirect URI %q: %v", r, err)
			}
		}
	}
	for _, s := range c.Scopes {
		if !slices.Contains(knownScopes, s) {
			bad("scope %q: want some of %s", s, strings.Join(knownScopes, ", "))
		}
	}
	switch c.IDTokenAlg {
	case "", "EdDSA", "RS256":
	default:
		bad("id_token_alg %q: want EdDSA or RS256", c.IDTokenAlg)
	}
	return errors.Join(errs...)
}

// checkRedirectURI accepts an absolute URL without a fragment; plain http
// only for loopback (native apps, RFC 8252) or in dev mode.
func checkRedirectURI(raw string, dev bool) error {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return errors.New("want an absolute URL like https://app.example.com/callback")
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return errors.New("a redirect URI has no fragment")
	}
	if u.User != nil {
		return errors.New("a redirect URI has no user or password")
	}
	switch u.Scheme {
	case "https":
	case "http":
		h := u.Hostname()
		if !dev && h != "localhost" && h != "127.0.0.1" && h != "::1" {
			return errors.New("plain http only for localhost, or in dev mode: use https")
		}
	default:
		return errors.New("want http or https")
	}
	return nil
}

// NewSecret makes a client secret (256 random bits) and its bcrypt hash:
// print the secret once, store the hash.
func NewSecret() (secret, hash string, err error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", err
	}
	secret = base64.RawURLEncoding.EncodeToString(b[:])
	h, err := bcrypt.GenerateFromPassword([]byte(secret), bcrypt.DefaultCost)
	if err != nil {
		return "", "", err
	}
	return secret, string(h), nil
}

// client is a ClientConfig as op.Client.
type client struct {
	cfg      ClientConfig
	loginURL func(id string) string
	idTTL    time.Duration
	dev      bool
}

var _ op.Client = (*client)(nil)

func (c *client) GetID() string                    { return c.cfg.ID }
func (c *client) RedirectURIs() []string           { return c.cfg.RedirectURIs }
func (c *client) PostLogoutRedirectURIs() []string { return c.cfg.PostLogoutRedirectURIs }
func (c *client) ApplicationType() op.ApplicationType {
	if c.cfg.Public {
		// NB: native, not user_agent: op allows a user_agent client only
		// the implicit flow's rules for redirect URIs; native allows
		// loopback http, which desktop apps need.
		return op.ApplicationTypeNative
	}
	return op.ApplicationTypeWeb
}
func (c *client) AuthMethod() oidc.AuthMethod {
	if c.cfg.Public {
		return oidc.AuthMethodNone
	}
	return oidc.AuthMethodBasic
}
func (c *client) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}
func (c *client) GrantTypes() []oidc.GrantType {
	g := []oidc.GrantType{oidc.GrantTypeCode}
	if c.cfg.RefreshTokens {
		g = append(g, oidc.GrantTypeRefreshToken)
	}
	return g
}
func (c *client) LoginURL(id string) string            { return c.loginURL(id) }
func (c *client) AccessTokenType() op.AccessTokenType  { return op.AccessTokenTypeBearer }
func (c *client) IDTokenLifetime() time.Duration       { return c.idTTL }
func (c *client) DevMode() bool                        { return c.dev }
func (c *client) ClockSkew() time.Duration             { return 0 }
func (c *client) IDTokenUserinfoClaimsAssertion() bool { return true }
func (c *client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

// IsScopeAllowed is asked only for scopes op does not know itself.
func (c *client) IsScopeAllowed(scope string) bool { return c.allows(scope) }

func (c *client) allows(scope string) bool {
	if scope == ScopeOfflineAccess {
		return c.cfg.RefreshTokens
	}
	if len(c.cfg.Scopes) == 0 {
		return scope == ScopeOpenID || scope == ScopeEmail || scope == ScopeProfile
	}
	return scope == ScopeOpenID || slices.Contains(c.cfg.Scopes, scope)
}

// ExampleClient is the client dev mode adds when none is configured, so
// that `make run` and `go run ./examples/oidc-rp` work together: public
// (PKCE), redirecting to the example on 127.0.0.1:8090.
func ExampleClient() ClientConfig {
	return ClientConfig{ID: "example", Public: true,
		RedirectURIs: []string{"http://127.0.0.1:8090/callback", "http://localhost:8090/callback"}}
}
