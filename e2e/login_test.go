package e2e

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/linkguard/linkguard/fingerprint"
	"github.com/linkguard/linkguard/fingerprint/fingerprinttest"
	"github.com/linkguard/linkguard/kit"
)

// kitEnv is the whole kit as `make run` serves it (dev mode: the demo
// site and the outbox), sharing the package's Chromium.
type kitEnv struct {
	*env
	k *kit.Kit
}

// newKitEnv starts a kit in dev mode; decider nil keeps the default engine;
// each of with may change the kit's options before it starts.
func newKitEnv(t *testing.T, decider fingerprint.Decider, with ...func(*kit.Options)) *kitEnv {
	t.Helper()
	chrome := chromiumPath(t)
	shared.once.Do(func() { setup(chrome) })
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return newKitEnvOn(t, shared.root, decider, with...)
}

// newKitEnvOn starts a kit in dev mode whose browser contexts open in the
// browser of root.
func newKitEnvOn(t *testing.T, root context.Context, decider fingerprint.Decider, with ...func(*kit.Options)) *kitEnv {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	opts := kit.Options{
		PublicURL: base, Dev: true, APIKeys: []string{"test-key"}, Decider: decider,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	for _, f := range with {
		f(&opts)
	}
	k, err := kit.New(opts)
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	k.Start(ctx)
	go k.App().Listener(ln)
	t.Cleanup(func() {
		_ = k.App().ShutdownWithTimeout(5 * time.Second)
		cancel()
		k.Close()
	})
	return &kitEnv{env: &env{t: t, base: base, srv: k.Server, svc: k.Service, root: root}, k: k}
}

// outboxEntry is one mail of /dev/outbox.json.
type outboxEntry struct {
	To   string `json:"to"`
	URL  string `json:"url"`
	Code string `json:"code"`
}

// mailTo waits for the mail to address in the dev outbox, read over HTTP
// as a test suite outside the process would.
func (e *kitEnv) mailTo(address string) outboxEntry {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		res, err := http.Get(e.base + "/dev/outbox.json")
		if err != nil {
			e.t.Fatal(err)
		}
		var entries []outboxEntry
		err = json.NewDecoder(res.Body).Decode(&entries)
		res.Body.Close()
		if err != nil {
			e.t.Fatalf("/dev/outbox.json: %v", err)
		}
		for _, m := range entries {
			if m.To == address {
				return m
			}
		}
		time.Sleep(25 * time.Millisecond)
	}
	e.t.Fatalf("no mail to %s in the outbox", address)
	return outboxEntry{}
}

var stateRe = regexp.MustCompile(`data-lg-state="([a-z]+)"`)

// probe GETs the landing page with plain HTTP (no cookie, no script),
// which never changes the link, and returns its state: "checking" while
// the link is pending, "used" once consumed.
func (e *kitEnv) probe(link string) string {
	e.t.Helper()
	res, err := http.Get(link)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	m := stateRe.FindSubmatch(b)
	if m == nil {
		e.t.Fatalf("no data-lg-state in the landing page")
	}
	return string(m[1])
}

// signIn goes from the demo's Sign in link to the hosted form, types
// address and submits it, and waits for "check your inbox".
func signIn(t *testing.T, ctx context.Context, e *kitEnv, address string) {
	t.Helper()
	err := chromedp.Do(ctx,
		chromedp.Navigate(e.base+"/demo"),
		chromedp.Click(chromedp.CSS("#demo-signin")),
		chromedp.WaitVisible(chromedp.CSS("#lg-email")),
		chromedp.SendKeys(chromedp.CSS("#lg-email"), address),
		chromedp.Click(chromedp.CSS("#lg-login-submit")),
		chromedp.WaitVisible(chromedp.CSS("#lg-resend")),
	)
	if err != nil {
		t.Fatalf("sign-in form: %v", err)
	}
	body, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
	if err != nil || !strings.Contains(body, "Check your inbox") {
		t.Fatalf("after submitting: %q (%v)", body, err)
	}
}

// signedIn waits for the demo's callback to show who signed in.
func signedIn(t *testing.T, ctx context.Context, e *kitEnv, address string) {
	t.Helper()
	loc, err := waitRedirect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(loc, e.base+"/demo/callback?lg_code=") {
		t.Errorf("redirected to %s, want the demo's callback", loc)
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS("#demo-email"))); err != nil {
		t.Fatalf("the demo shows no signed-in email: %v", err)
	}
	text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("demo-email").innerText`))
	if err != nil || !strings.Contains(text, address) {
		t.Errorf("#demo-email says %q (%v), want %s", text, err, address)
	}
}

// TestLoginSameBrowser: the demo's Sign in → /login → mail → the same
// browser opens the link → signed in at the demo, with no click.
func TestLoginSameBrowser(t *testing.T) {
	for name, dec := range map[string]fingerprint.Decider{"basic": fingerprinttest.Basic{}, "engine": nil} {
		t.Run(name, func(t *testing.T) {
			e := newKitEnv(t, dec)
			ctx := e.browser(45 * time.Second)
			signIn(t, ctx, e, "alice@example.com")
			m := e.mailTo("alice@example.com")
			if err := chromedp.Do(ctx, chromedp.Navigate(m.URL)); err != nil {
				t.Fatal(err)
			}
			signedIn(t, ctx, e, "alice@example.com")
			if s := e.probe(m.URL); s != "used" {
				t.Errorf("link page says %q after sign-in, want used", s)
			}
		})
	}
}

// TestLoginOtherBrowserConfirms: a fresh browser context (no device
// cookie) opens the mail of a sign-in asked for in another one. Under the
// basic rules it is asked to confirm, and a real mouse path and click on
// Continue signs it in.
func TestLoginOtherBrowserConfirms(t *testing.T) {
	e := newKitEnv(t, fingerprinttest.Basic{})
	asker := e.browser(45 * time.Second)
	signIn(t, asker, e, "alice@example.com")
	m := e.mailTo("alice@example.com")

	other := e.browser(45 * time.Second)
	if err := chromedp.Do(other, chromedp.Navigate(m.URL)); err != nil {
		t.Fatal(err)
	}
	if st, err := waitState(other, "confirm", "code", "error"); err != nil || st != "confirm" {
		t.Fatalf("state %q (%v), want confirm", st, err)
	}
	if s := e.probe(m.URL); s != "checking" {
		t.Fatalf("the link is %q before the click, want pending", s)
	}
	if err := humanClick(other, "#lg-continue"); err != nil {
		t.Fatal(err)
	}
	signedIn(t, other, e, "alice@example.com")
}

// TestLoginOtherHeadlessNeedsCode: under the default engine, a fresh
// headless browser is not signed in by opening the mail's link, even when
// it clicks Continue for real; typing the mail's code signs it in.
func TestLoginOtherHeadlessNeedsCode(t *testing.T) {
	e := newKitEnv(t, nil)
	asker := e.browser(45 * time.Second)
	signIn(t, asker, e, "alice@example.com")
	m := e.mailTo("alice@example.com")

	other := e.browser(45 * time.Second)
	if err := chromedp.Do(other, chromedp.Navigate(m.URL)); err != nil {
		t.Fatal(err)
	}
	st, err := waitState(other, "confirm", "code", "error")
	if err != nil {
		t.Fatal(err)
	}
	if st == "confirm" {
		if err := humanClick(other, "#lg-continue"); err != nil {
			t.Fatal(err)
		}
		if st, err = waitState(other, "code", "error"); err != nil {
			t.Fatal(err)
		}
	}
	if st != "code" {
		t.Fatalf("state %q, want code", st)
	}
	if s := e.probe(m.URL); s != "checking" {
		t.Fatalf("the link is %q without the code, want pending", s)
	}
	if err := chromedp.Do(other,
		chromedp.WaitVisible(chromedp.CSS("#lg-code")),
		chromedp.SendKeys(chromedp.CSS("#lg-code"), m.Code),
		chromedp.Click(chromedp.CSS("#lg-code-submit")),
	); err != nil {
		t.Fatal(err)
	}
	signedIn(t, other, e, "alice@example.com")
}
