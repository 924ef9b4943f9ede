package main

import (
	"bytes"
	"context"
	"encoding/json"
	"html"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// startSite runs the example on 127.0.0.1:0 until the test ends.
func startSite(t *testing.T, nethttp bool) *site {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s, err := newSite("http://"+ln.Addr().String(), nethttp, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.Start(ctx)
	go s.Serve(ln)
	t.Cleanup(func() {
		cancel()
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

// client is a browser without JavaScript: cookies, no automatic redirects.
type client struct {
	t  *testing.T
	hc *http.Client
}

func newClient(t *testing.T) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, hc: &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (c *client) do(req *http.Request, want int) string {
	c.t.Helper()
	req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.0.0 Safari/537.36")
	res, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		c.t.Fatalf("%s %s: %d, want %d\n%s", req.Method, req.URL, res.StatusCode, want, b)
	}
	return string(b)
}

func (c *client) get(u string, want int) string {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	return c.do(req, want)
}

func (c *client) postForm(u string, form url.Values, want int) string {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	return c.do(req, want)
}

func find(t *testing.T, re, s string) string {
	t.Helper()
	m := regexp.MustCompile(re).FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("no match for %s in:\n%s", re, s)
	}
	return html.UnescapeString(m[1])
}

// finish opens the link without JavaScript, types the code into the
// no-script form, follows the way back to the host's /callback and
// returns the host's page.
func finish(t *testing.T, s *site, link, code string) string {
	t.Helper()
	if !strings.HasPrefix(link, s.base+"/auth/l/") {
		t.Fatalf("link %s is not under the mount point", link)
	}
	c := newClient(t) // another device: no cookie
	landing := c.get(link, http.StatusOK)
	nonce := find(t, `<meta name="lg-nonce" content="([^"]+)"`, landing)
	done := c.postForm(link+"/confirm", url.Values{"nonce": {nonce}, "code": {code}}, http.StatusOK)
	if !strings.Contains(done, `data-lg-state="done"`) {
		t.Fatalf("after the code, the page is not done:\n%s", done)
	}
	back := find(t, `<meta http-equiv="refresh" content="0;url=([^"]+)"`, done)
	if !strings.HasPrefix(back, s.base+"/callback?lg_code=") {
		t.Fatalf("the page sends the browser to %s, want the host's /callback", back)
	}
	return c.get(back, http.StatusOK)
}

// TestSignInThroughMountedKit signs users in through the kit mounted in
// the example, in Fiber and in net/http: once through the hosted form and
// the dev outbox, once through a link the backend issued with the API.
func TestSignInThroughMountedKit(t *testing.T) {
	for _, mode := range []string{"fiber", "nethttp"} {
		t.Run(mode, func(t *testing.T) {
			s := startSite(t, mode == "nethttp")

			t.Run("hosted form", func(t *testing.T) {
				c := newClient(t)
				home := c.get(s.base+"/", http.StatusOK)
				login := find(t, `<a id="sign-in" href="([^"]+)"`, home)
				if want := "/auth/login?redirect_url=" + url.QueryEscape(s.base+"/callback"); login != want {
					t.Errorf("Sign in goes to %s, want %s", login, want)
				}
				form := c.get(s.base+login, http.StatusOK)
				action := find(t, `<form method="post" action="([^"]+)"`, form)
				if action != "/auth/login" {
					t.Errorf("the form posts to %s, want /auth/login", action)
				}
				sent := c.postForm(s.base+action, url.Values{
					"csrf":         {find(t, `name="csrf" value="([^"]+)"`, form)},
					"redirect_url": {find(t, `name="redirect_url" value="([^"]+)"`, form)},
					"email":        {"alice@example.com"},
				}, http.StatusOK)
				if !strings.Contains(sent, "Check your inbox") {
					t.Fatalf("after the form:\n%s", sent)
				}
				var outbox []struct{ To, URL, Code string }
				deadline := time.Now().Add(10 * time.Second)
				for len(outbox) == 0 && time.Now().Before(deadline) {
					if err := json.Unmarshal([]byte(c.get(s.base+"/auth/dev/outbox.json", http.StatusOK)), &outbox); err != nil {
						t.Fatal(err)
					}
					time.Sleep(20 * time.Millisecond)
				}
				if len(outbox) == 0 || outbox[0].To != "alice@example.com" {
					t.Fatalf("outbox %+v, want alice's mail", outbox)
				}
				page := finish(t, s, outbox[0].URL, outbox[0].Code)
				if !strings.Contains(page, "Signed in as <strong>alice@example.com</strong>") {
					t.Errorf("the host's callback says:\n%s", page)
				}
			})

			t.Run("api", func(t *testing.T) {
				body, _ := json.Marshal(map[string]any{"email": "bob@example.com",
					"redirect_url": s.base + "/callback", "send_email": false})
				req, _ := http.NewRequest(http.MethodPost, s.base+"/auth/v1/links", bytes.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+s.apiKey)
				req.Header.Set("Content-Type", "application/json")
				var out struct{ URL, Code string }
				if err := json.Unmarshal([]byte(newClient(t).do(req, http.StatusCreated)), &out); err != nil {
					t.Fatal(err)
				}
				page := finish(t, s, out.URL, out.Code)
				if !strings.Contains(page, "Signed in as <strong>bob@example.com</strong>") {
					t.Errorf("the host's callback says:\n%s", page)
				}
			})

			t.Run("routes", func(t *testing.T) {
				c := newClient(t)
				c.get(s.base+"/auth/healthz", http.StatusOK)
				// The kit is only under its prefix; the host's own pages
				// are the host's.
				c.get(s.base+"/healthz", http.StatusNotFound)
				c.get(s.base+"/login", http.StatusNotFound)
				page := c.get(s.base+"/callback?lg_code=not-a-code", http.StatusBadRequest)
				if !strings.Contains(page, "invalid_code") {
					t.Errorf("a bad lg_code:\n%s", page)
				}
			})
		})
	}
}
