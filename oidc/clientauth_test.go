package oidc_test

import (
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/linkguard/linkguard/kit"
	lgoidc "github.com/linkguard/linkguard/oidc"
)

// TestClientAuthFlood: wrong secrets sent in parallel from three
// addresses to the token endpoint (refresh grant: op checks the client
// before the token), revocation and introspection never run more bcrypt
// compares at once than the bound, and each address is refused (429,
// Retry-After) after its limit; a client that knows its secret, from
// another address, still exchanges its code; the attackers' next round
// is refused without a single compare.
func TestClientAuthFlood(t *testing.T) {
	_, offHash, err := lgoidc.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	e := startKitWith(t, "", behindProxy, lgoidc.Config{}, lgoidc.ClientConfig{
		ID: "offline", Secret: offHash, RedirectURIs: []string{"https://offline.example/cb"}, RefreshTokens: true})
	all := []string{lgoidc.PathToken, lgoidc.PathRevoke, lgoidc.PathIntrospect}
	attackers := []struct {
		addr, id string
		paths    []string
	}{
		// A known client with refresh tokens, wrong secrets.
		{"203.0.113.1", "offline", all},
		// Unknown ids, made up per request: the token endpoint refuses
		// those before any check, the other two check them.
		{"203.0.113.2", "", all[1:]},
		{"203.0.113.3", "", all[1:]},
	}
	const perAttacker = 30 // over lgoidc.AuthPerAddress
	round := func() map[int]int {
		var mu sync.Mutex
		statuses := map[int]int{}
		var wg sync.WaitGroup
		for _, a := range attackers {
			for i := range perAttacker {
				wg.Add(1)
				go func() {
					defer wg.Done()
					id := a.id
					if id == "" {
						id = "app-" + oauth2.GenerateVerifier()[:12]
					}
					// A new secret each time, as a guesser sends.
					path := a.paths[i%len(a.paths)]
					status, retry, body := clientRequest(t, e, path, id, oauth2.GenerateVerifier(), a.addr)
					switch {
					case status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable:
						if retry == "" || !strings.Contains(body, `"temporarily_unavailable"`) {
							t.Errorf("%d without Retry-After or error code: %s", status, body)
						}
					case status < 400 || status >= 500:
						t.Errorf("%s with a wrong secret: %d %s", path, status, body)
					}
					mu.Lock()
					statuses[status]++
					mu.Unlock()
				}()
			}
		}
		wg.Wait()
		return statuses
	}

	lgoidc.ResetComparePeak()
	before, _ := lgoidc.Compares()
	got := round()
	afterFlood, peak := lgoidc.Compares()
	t.Logf("round 1: statuses %v, %d compares, at most %d at once", got, afterFlood-before, peak)
	if peak > int64(lgoidc.CompareSlots()) {
		t.Errorf("%d bcrypt compares ran at once, want at most %d", peak, lgoidc.CompareSlots())
	}
	if got[http.StatusTooManyRequests] == 0 {
		t.Errorf("no attacker was refused with 429: %v", got)
	}
	if n := afterFlood - before; n < 1 || n > int64(len(attackers)*lgoidc.AuthPerAddress) {
		t.Errorf("%d compares for %d attackers: want 1 to %d", n, len(attackers), len(attackers)*lgoidc.AuthPerAddress)
	}

	// The client with its secret, from its own address: one compare.
	e.t = t
	r := e.rp("web", e.webSecret, webRedirect, "EdDSA")
	s := r.start(false)
	red := e.signIn(s.url, newEmail())
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, &http.Client{Transport: forwardedFor("198.51.100.7")})
	if _, err := r.cfg.Exchange(ctx, red.Query().Get("code")); err != nil {
		t.Fatalf("the client's exchange after the flood: %v", err)
	}
	afterClient, _ := lgoidc.Compares()
	if afterClient != afterFlood+1 {
		t.Errorf("the client's exchange ran %d compares, want 1", afterClient-afterFlood)
	}

	got = round()
	if got[http.StatusTooManyRequests] != len(attackers)*perAttacker {
		t.Errorf("second round: %v, want every request refused with 429", got)
	}
	if n, _ := lgoidc.Compares(); n != afterClient {
		t.Errorf("the second round ran %d compares, want none", n-afterClient)
	}
}

// TestClientAuthRemembered: a client's second exchange with the same
// secret runs no bcrypt compare, nor does its revocation; a wrong secret
// after the good one is still refused; and a provider whose client has
// another secret hash refuses the old secret.
func TestClientAuthRemembered(t *testing.T) {
	e := startKit(t, "", lgoidc.Config{})
	ctx := context.Background()
	exchange := func(secret string) error {
		r := e.rp("web", secret, webRedirect, "EdDSA")
		s := r.start(false)
		_, err := r.cfg.Exchange(ctx, e.signIn(s.url, newEmail()).Query().Get("code"))
		return err
	}
	c0, _ := lgoidc.Compares()
	if err := exchange(e.webSecret); err != nil {
		t.Fatalf("first exchange: %v", err)
	}
	c1, _ := lgoidc.Compares()
	if c1 != c0+1 {
		t.Errorf("first exchange: %d compares, want 1", c1-c0)
	}
	if err := exchange(e.webSecret); err != nil {
		t.Fatalf("second exchange: %v", err)
	}
	if status, _, body := clientRequest(t, e, lgoidc.PathRevoke, "web", e.webSecret, ""); status != http.StatusOK {
		t.Errorf("revoke with the secret: %d %s", status, body)
	}
	c2, _ := lgoidc.Compares()
	if c2 != c1 {
		t.Errorf("second exchange and a revocation with the same secret: %d compares, want none", c2-c1)
	}
	if err := exchange("not-the-secret"); exchangeError(err) != "invalid_client" {
		t.Errorf("a wrong secret after the good one: %v, want invalid_client", err)
	}
	if c3, _ := lgoidc.Compares(); c3 != c2+1 {
		t.Errorf("a wrong secret: %d compares, want 1", c3-c2)
	}

	// Another provider whose "web" has another secret (a new hash in
	// the configuration): the old secret is refused there.
	e2 := startKit(t, "", lgoidc.Config{})
	if status, _, body := clientRequest(t, e2, lgoidc.PathRevoke, "web", e.webSecret, ""); status != http.StatusUnauthorized {
		t.Errorf("the old secret at a provider with a new hash: %d %s, want 401", status, body)
	}
	if status, _, body := clientRequest(t, e2, lgoidc.PathRevoke, "web", e2.webSecret, ""); status != http.StatusOK {
		t.Errorf("the new secret: %d %s", status, body)
	}
}

// behindProxy makes the kit believe X-Forwarded-For from 127.0.0.1, so a
// test chooses each request's client address.
func behindProxy(o *kit.Options) {
	o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
}

// forwardedFor is a transport that says the request comes from addr.
type forwardedFor string

func (f forwardedFor) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Forwarded-For", string(f))
	return http.DefaultTransport.RoundTrip(r)
}

// clientRequest posts a request that authenticates client id with secret
// (HTTP Basic, form-encoded as RFC 6749 2.3.1 says) to path, from addr
// when set; it returns the status, Retry-After and body. Safe in
// goroutines.
func clientRequest(t *testing.T, e *env, path, id, secret, addr string) (int, string, string) {
	form := url.Values{"token": {"not-a-token"}}
	if path == lgoidc.PathToken {
		form = url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"not-a-token"}}
	}
	req, err := http.NewRequest("POST", e.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Error(err)
		return 0, "", ""
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret))))
	if addr != "" {
		req.Header.Set("X-Forwarded-For", addr)
	}
	res, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Errorf("POST %s: %v", path, err)
		return 0, "", ""
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header.Get("Retry-After"), string(b)
}
