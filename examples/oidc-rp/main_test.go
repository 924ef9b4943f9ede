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
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/linkguard/linkguard/kit"
	lgoidc "github.com/linkguard/linkguard/oidc"
)

// TestExampleSignsIn runs the example against a real kit in dev mode (as
// `make run` serves it, the mail in the outbox): the example's sign-in
// link, the hosted form, the mail's link in the same client, and the
// example shows the address.
func TestExampleSignsIn(t *testing.T) {
	kln, _ := net.Listen("tcp", "127.0.0.1:0")
	rln, _ := net.Listen("tcp", "127.0.0.1:0")
	base, rp := "http://"+kln.Addr().String(), "http://"+rln.Addr().String()
	client := lgoidc.ExampleClient()
	client.RedirectURIs = []string{rp + "/callback"}
	k, err := kit.New(kit.Options{PublicURL: base, Dev: true, OIDC: lgoidc.Config{Clients: []lgoidc.ClientConfig{client}},
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	k.Start(ctx)
	go k.App().Listener(kln)
	defer func() { k.App().Shutdown(); cancel(); k.Close() }()

	app, err := New(ctx, base, client.ID, "", rp+"/callback")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: app}
	go srv.Serve(rln)
	defer srv.Close()

	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	get := func(u string) (*http.Response, string) {
		res, err := hc.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, string(b)
	}
	field := func(body, name string) string {
		m := regexp.MustCompile(`name="` + name + `" value="([^"]+)"`).FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("no %s field in:\n%s", name, body)
		}
		return html.UnescapeString(m[1])
	}

	res, body := get(rp + "/login") // → authorize → the hosted form
	if !strings.HasPrefix(res.Request.URL.String(), base+"/login?") {
		t.Fatalf("the example sent the browser to %s", res.Request.URL)
	}
	form := url.Values{"email": {"alice@example.com"}, "csrf": {field(body, "csrf")}, "redirect_url": {field(body, "redirect_url")}}
	if res, err = hc.PostForm(base+"/login", form); err != nil || res.StatusCode != 200 {
		t.Fatalf("POST /login: %v %v", res, err)
	}
	res.Body.Close()

	var link string
	for deadline := time.Now().Add(10 * time.Second); link == "" && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		_, out := get(base + "/dev/outbox.json")
		var mails []struct{ To, URL string }
		json.Unmarshal([]byte(out), &mails)
		for _, m := range mails {
			if m.To == "alice@example.com" {
				link = m.URL
			}
		}
	}
	if link == "" {
		t.Fatal("no mail in the outbox")
	}
	// The same client opens the link: the landing page reports (with no
	// signals, as a page whose collector found nothing) and is consumed.
	_, body = get(link)
	nonce := regexp.MustCompile(`<meta name="lg-nonce" content="([^"]*)"`).FindStringSubmatch(body)
	if nonce == nil {
		t.Fatalf("no nonce on the landing page")
	}
	rb, _ := json.Marshal(map[string]string{"nonce": nonce[1]})
	res, err = hc.Post(link+"/verify", "application/json", bytes.NewReader(rb))
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		Outcome     string `json:"outcome"`
		RedirectURL string `json:"redirect_url"`
	}
	json.NewDecoder(res.Body).Decode(&out)
	res.Body.Close()
	if out.Outcome != "consumed" {
		t.Fatalf("verify: %+v", out)
	}
	_, body = get(out.RedirectURL) // the provider's page that moves on
	m := regexp.MustCompile(`<a id=lg-oidc-continue href="([^"]+)"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("login done:\n%s", body)
	}
	_, body = get(html.UnescapeString(m[1])) // the example's callback → /
	if !strings.Contains(body, `<strong id=rp-email>alice@example.com</strong>`) {
		t.Fatalf("the example does not show the address:\n%s", body)
	}
}

// TestDefaultListenIsTheExampleClients: with no flag, the app listens
// where dev mode's client "example" redirects.
func TestDefaultListenIsTheExampleClients(t *testing.T) {
	if want := "http://" + defaultListen + "/callback"; !slices.Contains(lgoidc.ExampleClient().RedirectURIs, want) {
		t.Errorf("ExampleClient redirects to %v, not to %s", lgoidc.ExampleClient().RedirectURIs, want)
	}
}
