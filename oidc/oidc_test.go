package oidc_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/assertion"
	lgoidc "github.com/linkguard/linkguard/oidc"
)

// TestDiscoveryAndKeys: the discovery document names the issuer exactly
// as configured, the code flow only, S256, and both algorithms; the JWKS
// holds the Ed25519 key (its kid the assertion key's thumbprint) and an
// RSA key.
func TestDiscoveryAndKeys(t *testing.T) {
	e := startKit(t, "", lgoidc.Config{})
	b := e.browser()
	res, body := do(t, b, "GET", e.base+"/.well-known/openid-configuration", nil)
	if res.StatusCode != 200 {
		t.Fatalf("discovery: %d %s", res.StatusCode, body)
	}
	var d struct {
		Issuer        string   `json:"issuer"`
		Authorization string   `json:"authorization_endpoint"`
		Token         string   `json:"token_endpoint"`
		Userinfo      string   `json:"userinfo_endpoint"`
		JWKS          string   `json:"jwks_uri"`
		EndSession    string   `json:"end_session_endpoint"`
		ResponseTypes []string `json:"response_types_supported"`
		GrantTypes    []string `json:"grant_types_supported"`
		PKCE          []string `json:"code_challenge_methods_supported"`
		Algs          []string `json:"id_token_signing_alg_values_supported"`
		Scopes        []string `json:"scopes_supported"`
		AuthMethods   []string `json:"token_endpoint_auth_methods_supported"`
	}
	if err := json.Unmarshal([]byte(body), &d); err != nil {
		t.Fatal(err)
	}
	if d.Issuer != e.base {
		t.Errorf("issuer %q, want %q", d.Issuer, e.base)
	}
	for name, got := range map[string]string{
		lgoidc.PathAuthorize: d.Authorization, lgoidc.PathToken: d.Token, lgoidc.PathUserinfo: d.Userinfo,
		lgoidc.PathKeys: d.JWKS, lgoidc.PathEndSession: d.EndSession,
	} {
		if got != e.base+name {
			t.Errorf("endpoint %q, want %s", got, e.base+name)
		}
	}
	if !slices.Equal(d.ResponseTypes, []string{"code"}) {
		t.Errorf("response types %v, want [code]", d.ResponseTypes)
	}
	if !slices.Equal(d.PKCE, []string{"S256"}) {
		t.Errorf("PKCE methods %v, want [S256]", d.PKCE)
	}
	if !slices.Contains(d.Algs, "EdDSA") || !slices.Contains(d.Algs, "RS256") {
		t.Errorf("algorithms %v, want EdDSA and RS256", d.Algs)
	}
	if slices.Contains(d.GrantTypes, "refresh_token") {
		t.Errorf("grant types %v: refresh tokens are off unless a client turns them on", d.GrantTypes)
	}
	for _, s := range []string{"openid", "email", "profile"} {
		if !slices.Contains(d.Scopes, s) {
			t.Errorf("scopes %v lack %s", d.Scopes, s)
		}
	}

	res, body = do(t, b, "GET", d.JWKS, nil)
	var set jose.JSONWebKeySet
	if res.StatusCode != 200 || json.Unmarshal([]byte(body), &set) != nil {
		t.Fatalf("jwks: %d %s", res.StatusCode, body)
	}
	var ed, rs int
	for _, k := range set.Keys {
		if !k.IsPublic() {
			t.Fatalf("the JWKS holds a private key (%s)", k.KeyID)
		}
		switch pk := k.Key.(type) {
		case ed25519.PublicKey:
			ed++
			if k.KeyID != assertion.Thumbprint(pk) || k.Algorithm != "EdDSA" {
				t.Errorf("Ed25519 key kid %q alg %q, want the thumbprint and EdDSA", k.KeyID, k.Algorithm)
			}
		default:
			rs++
			if k.Algorithm != "RS256" {
				t.Errorf("key %s alg %q", k.KeyID, k.Algorithm)
			}
		}
	}
	if ed != 1 || rs != 1 {
		t.Errorf("JWKS: %d Ed25519 and %d other keys, want 1 and 1", ed, rs)
	}
}

// TestCodeFlow is the whole flow with an independent relying party
// (go-oidc and x/oauth2) on Badger: a confidential client with EdDSA ID
// tokens, a public one with PKCE and RS256, userinfo, and a replayed code.
func TestCodeFlow(t *testing.T) {
	e := startKit(t, "", lgoidc.Config{})
	codeFlow(t, e)
}

func codeFlow(t *testing.T, e *env) {
	t.Run("confidential client, EdDSA", func(t *testing.T) {
		e.t = t
		r := e.rp("web", e.webSecret, webRedirect, "EdDSA", "email", "profile")
		s := r.start(false)
		email := newEmail()
		tok, idt, c := r.finish(t, s, e.signIn(s.url, email), false)
		if c.Email != email || !c.EmailVerified {
			t.Errorf("ID token email %q verified %v, want %s and true", c.Email, c.EmailVerified, email)
		}
		if idt.Issuer != e.base || !slices.Equal(idt.Audience, []string{"web"}) || idt.Subject == "" || strings.Contains(idt.Subject, "@") {
			t.Errorf("iss %q aud %v sub %q: want the issuer, [web] and an opaque subject", idt.Issuer, idt.Audience, idt.Subject)
		}
		if !slices.Equal(c.AMR, []string{"email_link"}) || time.Since(time.Unix(c.AuthTime, 0)) > time.Minute {
			t.Errorf("amr %v auth_time %d", c.AMR, c.AuthTime)
		}
		ui, err := r.provider.UserInfo(context.Background(), oauth2.StaticTokenSource(tok))
		if err != nil {
			t.Fatalf("userinfo: %v", err)
		}
		var uc struct {
			PreferredUsername string `json:"preferred_username"`
		}
		ui.Claims(&uc)
		if ui.Subject != idt.Subject || ui.Email != email || !ui.EmailVerified || uc.PreferredUsername != email {
			t.Errorf("userinfo %+v %+v, want the subject and email of the ID token", ui, uc)
		}

	})

	t.Run("public client, PKCE, RS256, replayed code refused", func(t *testing.T) {
		e.t = t
		r := e.rp("spa", "", spaRedirect, "RS256", "email", "profile")
		s := r.start(true)
		email := newEmail()
		red := e.signIn(s.url, email)
		_, _, c := r.finish(t, s, red, true)
		if c.Email != email || !c.EmailVerified {
			t.Errorf("email %q verified %v", c.Email, c.EmailVerified)
		}
		// profile is not among spa's scopes: no preferred_username.
		_, err := r.cfg.Exchange(context.Background(), red.Query().Get("code"), oauth2.VerifierOption(s.verifier))
		if got := exchangeError(err); got != "invalid_grant" {
			t.Errorf("replayed code: %q, want invalid_grant", got)
		}
	})
}

// TestRefused: what the provider refuses, each from a fresh sign-in.
func TestRefused(t *testing.T) {
	refused(t, startKit(t, "", lgoidc.Config{CodeTTL: time.Second}))
}

// refused runs the refusals on e, whose codes live one second.
func refused(t *testing.T, e *env) {
	ctx := context.Background()

	t.Run("authorize/unknown redirect_uri is never followed", func(t *testing.T) {
		e.t = t
		r := e.rp("web", e.webSecret, "https://evil.example/callback", "EdDSA")
		s := r.start(false)
		res, body := do(t, e.browser(), "GET", s.url, nil)
		if loc := res.Header.Get("Location"); strings.Contains(loc, "evil.example") || res.StatusCode < 400 {
			t.Errorf("authorize with a foreign redirect_uri: %d to %q (%s)", res.StatusCode, loc, body)
		}
	})
	t.Run("authorize/a redirect_uri that only starts like the client's", func(t *testing.T) {
		e.t = t
		r := e.rp("web", e.webSecret, webRedirect+"/../x", "EdDSA")
		res, _ := do(t, e.browser(), "GET", r.start(false).url, nil)
		if loc := res.Header.Get("Location"); strings.HasPrefix(loc, "https://web.example") || res.StatusCode < 400 {
			t.Errorf("authorize: %d to %q", res.StatusCode, loc)
		}
	})
	t.Run("authorize/public client without PKCE", func(t *testing.T) {
		e.t = t
		r := e.rp("spa", "", spaRedirect, "RS256")
		res, _ := do(t, e.browser(), "GET", r.start(false).url, nil)
		loc, _ := url.Parse(res.Header.Get("Location"))
		if loc == nil || loc.Query().Get("error") != "invalid_request" || strings.HasPrefix(loc.String(), e.base+"/login") {
			t.Errorf("authorize without code_challenge: %d to %v, want invalid_request back at the client", res.StatusCode, loc)
		}
	})
	t.Run("authorize/plain PKCE method", func(t *testing.T) {
		e.t = t
		r := e.rp("spa", "", spaRedirect, "RS256")
		u := r.cfg.AuthCodeURL("st", oauth2.SetAuthURLParam("code_challenge", strings.Repeat("a", 43)), oauth2.SetAuthURLParam("code_challenge_method", "plain"))
		res, _ := do(t, e.browser(), "GET", u, nil)
		if loc := res.Header.Get("Location"); strings.HasPrefix(loc, e.base+"/login") || !strings.Contains(loc, "error=") {
			t.Errorf("plain challenge: %d to %q, want an error", res.StatusCode, loc)
		}
	})
	t.Run("authorize/response_type token", func(t *testing.T) {
		e.t = t
		r := e.rp("web", e.webSecret, webRedirect, "EdDSA")
		u := r.cfg.AuthCodeURL("st", oauth2.SetAuthURLParam("response_type", "id_token token"), oauth2.SetAuthURLParam("nonce", "n"))
		res, _ := do(t, e.browser(), "GET", u, nil)
		if loc := res.Header.Get("Location"); strings.HasPrefix(loc, e.base+"/login") || strings.Contains(loc, "access_token") {
			t.Errorf("implicit flow: %d to %q, want an error", res.StatusCode, loc)
		}
	})

	type exchange struct {
		name     string
		rp       func() *rp
		pkce     bool
		verifier func(s start) string
		redirect string
		wait     time.Duration
		want     string
	}
	web := func() *rp { return e.rp("web", e.webSecret, webRedirect, "EdDSA") }
	spa := func() *rp { return e.rp("spa", "", spaRedirect, "RS256") }
	for _, c := range []exchange{
		{name: "token/wrong client secret", rp: func() *rp { return e.rp("web", "not-the-secret", webRedirect, "EdDSA") }, want: "invalid_client"},
		{name: "token/missing PKCE verifier", rp: spa, pkce: true, verifier: func(start) string { return "" }, want: "invalid_request"},
		{name: "token/wrong PKCE verifier", rp: spa, pkce: true, verifier: func(start) string { return oauth2.GenerateVerifier() }, want: "invalid_grant"},
		{name: "token/wrong redirect_uri", rp: web, redirect: "https://web.example/other", want: "invalid_grant"},
		{name: "token/expired code", rp: web, wait: 2100 * time.Millisecond, want: "invalid_grant"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e.t = t
			r := c.rp()
			s := r.start(c.pkce)
			red := e.signIn(s.url, newEmail())
			if red.Query().Get("code") == "" {
				t.Fatalf("no code: %s", red)
			}
			time.Sleep(c.wait)
			cfg := r.cfg
			if c.redirect != "" {
				cfg.RedirectURL = c.redirect
			}
			var opts []oauth2.AuthCodeOption
			if c.verifier != nil {
				if v := c.verifier(s); v != "" {
					opts = append(opts, oauth2.VerifierOption(v))
				}
			}
			_, err := cfg.Exchange(ctx, red.Query().Get("code"), opts...)
			if got := exchangeError(err); !strings.Contains(got, c.want) {
				t.Errorf("exchange: %q, want %s", got, c.want)
			}
			// A failed exchange spent the code: the right request fails too.
			opts = nil
			if c.pkce {
				opts = append(opts, oauth2.VerifierOption(s.verifier))
			}
			if _, err := web().cfg.Exchange(ctx, red.Query().Get("code"), opts...); err == nil && c.rp().cfg.ClientID == "web" {
				t.Error("the code still worked after a failed exchange")
			}
		})
	}

	t.Run("login done/an lg_code from another link does not finish the request", func(t *testing.T) {
		e.t = t
		r := web()
		s := r.start(false)
		b := e.browser()
		link, _ := e.login(b, s.url, newEmail())
		done := e.open(b, link)
		du, _ := url.Parse(done)
		// The request id of a second authorization, with the first's code.
		s2 := r.start(false)
		b2 := e.browser()
		res, _ := do(t, b2, "GET", s2.url, nil)
		lu, _ := url.Parse(res.Header.Get("Location"))
		ru, _ := url.Parse(lu.Query().Get("redirect_url"))
		mixed := e.base + lgoidc.PathLoginDone + "?id=" + ru.Query().Get("id") + "&lg_code=" + du.Query().Get("lg_code")
		res, body := do(t, b2, "GET", mixed, nil)
		if res.StatusCode != http.StatusBadRequest || res.Header.Get("Location") != "" || strings.Contains(body, "code=") {
			t.Errorf("mixed request and code: %d %q %s", res.StatusCode, res.Header.Get("Location"), body)
		}
	})
	t.Run("authorize callback of op is closed", func(t *testing.T) {
		e.t = t
		res, _ := do(t, e.browser(), "GET", e.base+lgoidc.PathAuthorize+"/callback?id=x", nil)
		if res.StatusCode != http.StatusNotFound {
			t.Errorf("op's callback: %d, want 404", res.StatusCode)
		}
	})

	// Nothing secret reaches the log.
	if logs := e.logs.String(); strings.Contains(logs, e.webSecret) || strings.Contains(logs, "lg_code=") || strings.Contains(logs, "code=") {
		t.Errorf("the log holds a secret, a code or an lg_code")
	}
}

var _ = linkguard.ErrNotFound

// TestRefreshAndEndSession: a client with refresh tokens gets one for
// offline_access, it works once (rotation), and a client without them
// gets none; end-session goes only to a registered post-logout URI.
func TestRefreshAndEndSession(t *testing.T) {
	secret, offHash, err := lgoidc.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	const offRedirect = "https://offline.example/cb"
	e := startKit(t, "", lgoidc.Config{}, lgoidc.ClientConfig{
		ID: "offline", Secret: offHash, RedirectURIs: []string{offRedirect}, RefreshTokens: true,
		PostLogoutRedirectURIs: []string{"https://offline.example/bye"},
	})
	ctx := context.Background()

	r := e.rp("offline", secret, offRedirect, "EdDSA", "email", "offline_access")
	s := r.start(true)
	tok, idt, _ := r.finish(t, s, e.signIn(s.url, newEmail()), true)
	if tok.RefreshToken == "" {
		t.Fatal("no refresh token for offline_access")
	}
	// Refresh: new tokens, the same subject; the old refresh token is spent.
	old := tok.RefreshToken
	tok.Expiry = time.Now().Add(-time.Minute) // make the source refresh
	nt, err := r.cfg.TokenSource(ctx, tok).Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if nt.AccessToken == tok.AccessToken || nt.RefreshToken == "" || nt.RefreshToken == old {
		t.Errorf("refresh gave access %v, refresh %q (old %q)", nt.AccessToken == tok.AccessToken, nt.RefreshToken, old)
	}
	if raw, _ := nt.Extra("id_token").(string); raw != "" {
		it, err := r.provider.Verifier(&gooidc.Config{ClientID: "offline", SupportedSigningAlgs: []string{"EdDSA"}}).Verify(ctx, raw)
		if err != nil || it.Subject != idt.Subject {
			t.Errorf("refreshed ID token: %v, subject %v", err, it)
		}
	}
	stale := *tok
	stale.RefreshToken = old
	if _, err := r.cfg.TokenSource(ctx, &stale).Token(); exchangeError(err) != "invalid_grant" {
		t.Errorf("replayed refresh token: %v, want invalid_grant", err)
	}

	// The web client has no refresh tokens: offline_access is dropped.
	w := e.rp("web", e.webSecret, webRedirect, "EdDSA", "email", "offline_access")
	s = w.start(false)
	if tok, _, _ := w.finish(t, s, e.signIn(s.url, newEmail()), false); tok.RefreshToken != "" {
		t.Error("a client without refresh_tokens got a refresh token")
	}

	// End session: a registered post-logout URI gets the browser and the
	// state; another is never followed.
	b := e.browser()
	for _, c := range []struct {
		uri  string
		want bool
	}{{"https://offline.example/bye", true}, {"https://evil.example/bye", false}} {
		q := url.Values{"id_token_hint": {tok.Extra("id_token").(string)}, "post_logout_redirect_uri": {c.uri}, "state": {"st"}, "client_id": {"offline"}}
		res, _ := do(t, b, "GET", e.base+lgoidc.PathEndSession+"?"+q.Encode(), nil)
		loc := res.Header.Get("Location")
		if got := strings.HasPrefix(loc, c.uri); got != c.want {
			t.Errorf("end session to %s: %d %q", c.uri, res.StatusCode, loc)
		}
		if c.want && !strings.Contains(loc, "state=st") {
			t.Errorf("end session lost the state: %q", loc)
		}
	}
}

// TestAuthorizeBounded: every authorization request is stored until it
// expires, so one client address gets 30 a minute; then 429.
func TestAuthorizeBounded(t *testing.T) {
	e := startKit(t, "", lgoidc.Config{})
	r := e.rp("web", e.webSecret, webRedirect, "EdDSA")
	b := e.browser()
	for i := 1; i <= 31; i++ {
		res, _ := do(t, b, "GET", r.start(false).url, nil)
		want := http.StatusFound
		if i == 31 {
			want = http.StatusTooManyRequests
		}
		if res.StatusCode != want {
			t.Fatalf("authorize #%d: %d, want %d", i, res.StatusCode, want)
		}
	}
}

// TestCORSWithoutCredentials: an app in a browser may call the token
// endpoint from its own origin, but no response invites cookies along.
func TestCORSWithoutCredentials(t *testing.T) {
	e := startKit(t, "", lgoidc.Config{})
	b := e.browser()
	for _, path := range []string{lgoidc.PathToken, lgoidc.PathUserinfo, lgoidc.PathKeys, "/.well-known/openid-configuration"} {
		res, _ := do(t, b, "OPTIONS", e.base+path, nil, "Origin", "https://app.example.com", "Access-Control-Request-Method", "POST")
		if res.Header.Get("Access-Control-Allow-Origin") == "" {
			t.Errorf("%s: no CORS for a browser app (%d)", path, res.StatusCode)
		}
		if res.Header.Get("Access-Control-Allow-Credentials") != "" {
			t.Errorf("%s: Access-Control-Allow-Credentials %q", path, res.Header.Get("Access-Control-Allow-Credentials"))
		}
	}
}
