package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/linkguard/linkguard"
)

// The dev demo: `make run` starts with the console on, and a console
// with nothing in it shows a newcomer nothing. So when dev mode's console
// has no figure for the last 30 days (a fresh data folder), the server
// plays, once, over HTTP against itself and through the real routes, what
// the console is for: a link for demoEmail is issued through the API, two
// mail filters open it (Microsoft Safe Links, whose sandbox also runs the
// page and is turned away, and Barracuda), then the person opens it and
// types its code, and the demo site exchanges the handoff. No counter is
// written by hand: the console counts these visits as it counts any.
const (
	demoEmail    = "demo@example.com"
	demoPersonUA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.0.0 Safari/537.36"
	demoSafeUA   = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.0.0 Safari/537.36 MicrosoftPreview/2.0"
	demoCudaUA   = "Mozilla/5.0 Barracuda Sentinel (EE)"
)

// demoSandboxReport is what the page's collector reports from a
// detonation sandbox's automated Chrome: navigator.webdriver set, no
// plugins, no pointer, a small virtual screen.
const demoSandboxReport = `{"v":3,"stage":"verify","automation":{"webdriver":true,"chrome_object":true,` +
	`"plugins":0,"mime_types":0,"pdf_viewer":false},"device":{"user_agent":"` + demoSafeUA + `","platform":"Win32",` +
	`"hardware_concurrency":2,"screen":{"width":800,"height":600,"avail_width":800,"avail_height":600,` +
	`"color_depth":24,"pixel_ratio":1}}}`

var demoNonceRe = regexp.MustCompile(`<meta name="lg-nonce" content="([^"]+)"`)

// demoPlayer talks to the server through its listener, whatever host the
// public URL names (a proxy may stand in front of it).
type demoPlayer struct {
	base, public, apiKey string
	hc                   *http.Client
}

// devDemo plays the demo when the console has nothing to show; it
// answers the link's id, or "" when the console already had figures.
func devDemo(ctx context.Context, svc *linkguard.Service, publicURL, addr, apiKey string) (string, error) {
	now := time.Now()
	counts, err := svc.Store.CountsBetween(ctx, now.Add(-30*24*time.Hour), now)
	if err != nil {
		return "", err
	}
	for _, m := range counts {
		if len(m) > 0 {
			return "", nil
		}
	}
	d := &net.Dialer{Timeout: 5 * time.Second}
	p := &demoPlayer{base: "http://" + addr, public: strings.TrimRight(publicURL, "/"), apiKey: apiKey,
		hc: &http.Client{Timeout: 10 * time.Second,
			Transport: &http.Transport{Proxy: nil, DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return d.DialContext(ctx, "tcp", addr)
			}},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	defer p.hc.CloseIdleConnections()
	return p.play(ctx)
}

func (p *demoPlayer) play(ctx context.Context) (string, error) {
	var link struct{ ID, URL, Code string }
	body := fmt.Sprintf(`{"email":%q,"redirect_url":%q,"send_email":false,"ttl_seconds":900,`+
		`"metadata":{"linkguard_dev_demo":"played by the dev server at start"},`+
		`"requester":{"ip":"127.0.0.1","user_agent":%q,"accept_language":"en-GB,en;q=0.9"}}`,
		demoEmail, p.public+"/demo/callback", demoPersonUA)
	b, err := p.do(ctx, http.MethodPost, p.base+"/v1/links", "", body, http.StatusCreated)
	if err != nil {
		return "", err
	}
	if err := json.Unmarshal(b, &link); err != nil || link.ID == "" || link.Code == "" {
		return "", fmt.Errorf("POST /v1/links: an answer without id and code (%v)", err)
	}
	u := p.local(link.URL)
	// Safe Links: a HEAD, a GET, then its sandbox runs the page, whose
	// report the engine vetoes (the user agent names the filter).
	if _, err := p.do(ctx, http.MethodHead, u, demoSafeUA, "", http.StatusOK); err != nil {
		return link.ID, err
	}
	nonce, err := p.page(ctx, u, demoSafeUA)
	if err != nil {
		return link.ID, err
	}
	if _, err := p.do(ctx, http.MethodPost, u+"/verify", demoSafeUA, `{"nonce":"`+nonce+`","signals":`+demoSandboxReport+`}`, http.StatusOK); err != nil {
		return link.ID, err
	}
	// Barracuda's link protection fetches it too.
	if _, err := p.page(ctx, u, demoCudaUA); err != nil {
		return link.ID, err
	}
	// The person opens the mail on another device and types the code.
	if nonce, err = p.page(ctx, u, demoPersonUA); err != nil {
		return link.ID, err
	}
	b, err = p.do(ctx, http.MethodPost, u+"/confirm", demoPersonUA, `{"nonce":"`+nonce+`","code":"`+link.Code+`"}`, http.StatusOK)
	if err != nil {
		return link.ID, err
	}
	var out struct {
		Outcome     string `json:"outcome"`
		RedirectURL string `json:"redirect_url"`
	}
	if json.Unmarshal(b, &out) != nil || out.Outcome != "consumed" {
		return link.ID, fmt.Errorf("the person's code: outcome %q, want consumed", out.Outcome)
	}
	// The demo site, as a host's backend, exchanges the handoff.
	_, err = p.do(ctx, http.MethodGet, p.local(out.RedirectURL), demoPersonUA, "", http.StatusOK)
	return link.ID, err
}

// local is u (a public URL) on the listener.
func (p *demoPlayer) local(u string) string {
	if rest, ok := strings.CutPrefix(u, p.public); ok {
		return p.base + rest
	}
	return u
}

// page GETs the landing page as ua and answers its nonce.
func (p *demoPlayer) page(ctx context.Context, u, ua string) (string, error) {
	b, err := p.do(ctx, http.MethodGet, u, ua, "", http.StatusOK)
	if err != nil {
		return "", err
	}
	m := demoNonceRe.FindSubmatch(b)
	if m == nil {
		return "", errors.New("the landing page has no nonce")
	}
	return string(m[1]), nil
}

// do sends one request (ua "": the API, with the key) and wants status.
// Errors name the route, never the link's token.
func (p *demoPlayer) do(ctx context.Context, method, u, ua, body string, status int) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	if ua == "" {
		req.Header.Set("Authorization", "Bearer "+p.apiKey)
	} else {
		req.Header.Set("User-Agent", ua)
		req.Header.Set("Accept-Language", "en-GB,en;q=0.9")
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	route := req.URL.Path
	if parts := strings.Split(route, "/"); len(parts) >= 3 && parts[1] == "l" {
		parts[2] = "…" // the token
		route = strings.Join(parts, "/")
	}
	res, err := p.hc.Do(req)
	if ue := (*url.Error)(nil); errors.As(err, &ue) {
		err = ue.Err // its message quotes the URL
	}
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, route, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err == nil && res.StatusCode != status {
		err = fmt.Errorf("%s %s: status %d, want %d: %.200s", method, route, res.StatusCode, status, bytes.TrimSpace(b))
	}
	return b, err
}
