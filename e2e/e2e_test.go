// Package e2e drives real headless Chromium (chromedp) against a real
// linkguard server started in-process: Badger in memory, the Fiber
// server, the embedded landing page and the WebAssembly collector.
//
// The collector is embedded from web/static/gen, which `make wasm`
// builds: run `make wasm` (or `make test`) before `go test ./e2e/`.
// Without /usr/bin/chromium (or $LINKGUARD_CHROMIUM) the tests skip,
// unless CI is set, where a missing browser fails them.
//
// xvfb_test.go runs a headful Chromium under Xvfb driven by real X pointer
// input (xdotool): the person of issue 8. It skips without Xvfb and
// xdotool (Debian: apt-get install -y xvfb xdotool; .ci/run installs them).
//
// redteam_test.go is the scanners of the keyboard and touch paths: CDP key
// presses and phone-emulation taps, headful and headless; and the
// measurements of what tells CDP input from X input and an emulated phone
// from a phone.
package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/fingerprint"
	"github.com/linkguard/linkguard/fingerprint/fingerprinttest"
	"github.com/linkguard/linkguard/server"
	badgerstore "github.com/linkguard/linkguard/store/badger"
	"github.com/linkguard/linkguard/web"
)

// chromiumPath is the browser the tests drive.
func chromiumPath(t testing.TB) string {
	t.Helper()
	p := os.Getenv("LINKGUARD_CHROMIUM")
	if p == "" {
		p = "/usr/bin/chromium"
	}
	if _, err := os.Stat(p); err != nil {
		if lp, err2 := exec.LookPath("chromium"); err2 == nil {
			return lp
		}
		if os.Getenv("CI") != "" {
			t.Fatalf("chromium not found at %s (CI is set, so this fails): %v", p, err)
		}
		t.Skipf("chromium not found at %s: browser tests skipped", p)
	}
	return p
}

// env is one server and one browser process.
type env struct {
	t    testing.TB
	base string // "http://127.0.0.1:port"
	svc  *linkguard.Service
	srv  *server.Server
	root context.Context // the browser's first tab; tests open others
}

// shared holds what every test uses and nothing changes: the site (its
// assets are hashed and compressed once) and one Chromium process; each
// test opens its own browser contexts in it.
var shared struct {
	once   sync.Once
	root   context.Context // the browser's first tab; tests open others
	cancel []context.CancelFunc
	err    error
}

func TestMain(m *testing.M) {
	code := m.Run()
	for _, c := range shared.cancel {
		c()
	}
	if built.path != "" { // linkguardBinary's: leave nothing behind
		os.RemoveAll(filepath.Dir(built.path))
	}
	os.Exit(code)
}

// site is the landing page's site, built once for every test.
var site struct {
	once sync.Once
	s    *web.Site
	err  error
}

func sharedSite(t testing.TB) *web.Site {
	t.Helper()
	site.once.Do(func() {
		site.s, site.err = web.New(web.Options{})
		if site.err == nil && !site.s.HasCollector() {
			site.err = errors.New("web has no collector.wasm: run `make wasm` before the browser tests")
		}
		if site.err == nil {
			// Every browser test, however filtered, fails first and
			// clearly on a collector built for another report schema.
			site.err = servedCollectorSchema(site.s)
		}
	})
	if site.err != nil {
		t.Fatal(site.err)
	}
	return site.s
}

func setup(chrome string) {
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome),
		chromedp.Flag("headless", "new"),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		// WebGL on the CPU: what a scanner's headless browser shows.
		chromedp.Flag("use-angle", "swiftshader"),
		chromedp.Flag("enable-unsafe-swiftshader", true),
		chromedp.WindowSize(1280, 900),
	)
	alloc, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	root, rcancel := chromedp.NewContext(alloc)
	shared.cancel = append(shared.cancel, rcancel, cancel)
	if err := chromedp.Do(root); err != nil {
		shared.err = fmt.Errorf("start chromium: %w", err)
		return
	}
	shared.root = root
}

// newEnv starts a server whose decisions come from decider, sharing the
// site and the browser. The server stops when the test ends.
func newEnv(t testing.TB, decider fingerprint.Decider) *env {
	t.Helper()
	chrome := chromiumPath(t)
	shared.once.Do(func() { setup(chrome) })
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return newEnvOn(t, shared.root, decider)
}

// newEnvOn is newEnv whose browser contexts open in the browser of root.
func newEnvOn(t testing.TB, root context.Context, decider fingerprint.Decider) *env {
	t.Helper()
	st, err := badgerstore.Open(badgerstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	key := make([]byte, 32)
	for i := range key {
		key[i] = byte(i + 1)
	}
	keys, err := linkguard.NewKeys(key)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	pol := linkguard.DefaultPolicy()
	pol.PublicURL = base
	pol.RedirectOrigins = []string{base}
	svc := &linkguard.Service{Store: st, Keys: keys, Decider: decider, Policy: pol,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	srv, err := server.New(server.Options{Service: svc, Site: sharedSite(t), APIKeys: []string{"test-key"}, Dev: true,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	go srv.App().Listener(ln)
	t.Cleanup(func() {
		srv.App().ShutdownWithTimeout(5 * time.Second)
		st.Close()
	})
	return &env{t: t, base: base, svc: svc, srv: srv, root: root}
}

// browser opens a new, isolated browser context (its own cookies) and
// returns a chromedp context for its first tab.
func (e *env) browser(timeout time.Duration) context.Context {
	e.t.Helper()
	ctx, cancel := chromedp.NewContext(e.root, chromedp.WithNewBrowserContext())
	e.t.Cleanup(cancel)
	// Open the tab outside the timeout.
	if err := chromedp.Do(ctx); err != nil {
		e.t.Fatalf("open a tab: %v", err)
	}
	tctx, tcancel := context.WithTimeout(ctx, timeout)
	e.t.Cleanup(tcancel)
	return tctx
}

// link issues a link as the browser with binding cookie value binding
// ("" for none) would have asked for it.
type link struct {
	id, url, code, binding string
}

func (e *env) issue(binding string) link {
	e.t.Helper()
	return e.issueTo(binding, e.base+"/?from=link")
}

// issueTo is issue with the link's redirect (an allowed origin).
func (e *env) issueTo(binding, redirect string) link {
	e.t.Helper()
	req := &linkguard.IssueRequest{
		Email:       "alice@example.com",
		RedirectURL: redirect,
		Requester: linkguard.Client{
			Visitor: fingerprint.Visitor{UserAgent: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.0.0 Safari/537.36",
				AcceptLanguage: "en-US,en;q=0.9"},
			Binding: binding,
		},
	}
	is, err := e.svc.Issue(context.Background(), req)
	if err != nil {
		e.t.Fatalf("issue: %v", err)
	}
	return link{id: is.Link.ID, url: is.URL, code: is.Code, binding: binding}
}

func (e *env) state(l link) linkguard.State {
	e.t.Helper()
	info, err := e.svc.Get(context.Background(), l.id)
	if err != nil {
		e.t.Fatalf("get link: %v", err)
	}
	return info.State
}

// setBinding gives the browser context the device-binding cookie.
func (e *env) setBinding(ctx context.Context, value string) {
	e.t.Helper()
	httpOnly := true
	_, err := chromedp.Call(ctx, network.SetCookie, network.SetCookieParams{
		Name: e.srv.DeviceCookie(), Value: value, URL: e.base + "/", HTTPOnly: &httpOnly,
		SameSite: network.CookieSameSiteLax,
	})
	if err != nil {
		e.t.Fatalf("set cookie: %v", err)
	}
}

// boundBrowser issues a link as the browser with the device cookie
// binding asked for it, and opens a fresh browser context that holds
// that cookie: the same browser, about to open its link.
func (e *env) boundBrowser(binding string) (link, context.Context) {
	e.t.Helper()
	return e.boundBrowserTo(binding, e.base+"/?from=link")
}

// boundBrowserTo is boundBrowser with the link's redirect.
func (e *env) boundBrowserTo(binding, redirect string) (link, context.Context) {
	e.t.Helper()
	l := e.issueTo(binding, redirect)
	ctx := e.browser(30 * time.Second)
	e.setBinding(ctx, l.binding)
	return l, ctx
}

// waitState waits until <body data-lg-state> is one of states, or the
// page has left the landing page for the redirect (reported as "left").
func waitState(ctx context.Context, states ...string) (string, error) {
	var got, loc string
	for {
		var err error
		loc, err = chromedp.Run(ctx, chromedp.Location())
		if err == nil {
			got, err = chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? (document.body.getAttribute("data-lg-state") || "") : ""`))
		}
		if err == nil {
			if strings.Contains(loc, "lg_code=") {
				return "left", nil
			}
			for _, s := range states {
				if got == s {
					return got, nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return got, fmt.Errorf("waiting for state %v (last %q, at %s): %w", states, got, loc, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// waitRedirect waits for the browser to reach the redirect URL with an
// lg_code, and returns that URL.
func waitRedirect(ctx context.Context) (string, error) {
	for {
		if loc, err := chromedp.Run(ctx, chromedp.Location()); err == nil && strings.Contains(loc, "lg_code=") {
			return loc, nil
		}
		select {
		case <-ctx.Done():
			return "", errors.New("no redirect with lg_code")
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// TestSameBrowserSignsInWithoutClick: the browser that asked (it holds
// the binding cookie) is signed in as soon as the page has loaded.
func TestSameBrowserSignsInWithoutClick(t *testing.T) {
	for name, dec := range deciders() {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, dec)
			l, ctx := e.boundBrowser("binding-cookie-value-0123456789")
			if err := chromedp.Do(ctx, chromedp.Navigate(l.url)); err != nil {
				t.Fatal(err)
			}
			loc, err := waitRedirect(ctx)
			if err != nil {
				t.Fatalf("%v (link state %s)", err, e.state(l))
			}
			if !strings.HasPrefix(loc, e.base+"/?from=link&lg_code=") {
				t.Errorf("redirected to %s", loc)
			}
			if s := e.state(l); s != linkguard.Consumed {
				t.Errorf("link state %s, want consumed", s)
			}
		})
	}
}

// deciders are the rule sets the flows run under: the basic one and the
// configurable engine with its defaults.
func deciders() map[string]fingerprint.Decider {
	eng, err := fingerprint.NewEngine(fingerprint.DefaultConfig())
	if err != nil {
		panic(err)
	}
	return map[string]fingerprint.Decider{"basic": fingerprinttest.Basic{}, "engine": eng}
}

// TestFreshBrowserConfirmsWithOneClick: a browser without the cookie is
// asked to confirm with no click of its own, then a real (CDP) mouse
// moves along a path and clicks Continue, and that signs it in.
//
// It runs under the basic rules: with the default engine, headless
// Chromium (webdriver, SwiftShader) is rightly sent to the code instead;
// TestHeadlessClickNeverConsumes checks that.
func TestFreshBrowserConfirmsWithOneClick(t *testing.T) {
	e := newEnv(t, fingerprinttest.Basic{})
	l := e.issue("the-requester-cookie")
	ctx := e.browser(30 * time.Second)
	if err := chromedp.Do(ctx, chromedp.Navigate(l.url)); err != nil {
		t.Fatal(err)
	}
	if st, err := waitState(ctx, "confirm", "code", "error"); err != nil || st != "confirm" {
		t.Fatalf("state %q, err %v; want confirm", st, err)
	}
	if s := e.state(l); s != linkguard.Pending {
		t.Fatalf("link %s before the click", s)
	}
	visible, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(function(){var b=document.getElementById("lg-continue");var r=b.getBoundingClientRect();return r.width>0&&r.height>0&&getComputedStyle(b).visibility!=="hidden"})()`))
	if err != nil || !visible {
		t.Fatalf("Continue is not visible in state confirm (err %v)", err)
	}
	if err := humanClick(ctx, "#lg-continue"); err != nil {
		t.Fatal(err)
	}
	if _, err := waitRedirect(ctx); err != nil {
		t.Fatalf("%v (link %s)", err, e.state(l))
	}
	if s := e.state(l); s != linkguard.Consumed {
		t.Errorf("link state %s, want consumed", s)
	}
}

// humanClick moves the mouse with CDP input events along a curved path
// from the top left to the middle of the element, pausing unevenly, then
// presses and releases it there.
func humanClick(ctx context.Context, sel string) error {
	box, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](`(function(){var r=document.querySelector(`+"`"+sel+"`"+`).getBoundingClientRect();return [r.left+r.width/2,r.top+r.height/2]})()`))
	if err != nil {
		return err
	}
	tx, ty := box[0], box[1]
	x0, y0 := 40.0, 60.0
	const n = 24
	var steps []chromedp.Action[chromedp.Void]
	for i := 1; i <= n; i++ {
		f := float64(i) / n
		ease := f * f * (3 - 2*f)
		x := x0 + (tx-x0)*ease + 30*f*(1-f)
		y := y0 + (ty-y0)*ease - 50*f*(1-f)
		steps = append(steps, chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, x, y),
			chromedp.Sleep(time.Duration(8+(i*7)%19)*time.Millisecond))
	}
	steps = append(steps, chromedp.Sleep(120*time.Millisecond),
		chromedp.MouseEvent(input.DispatchMouseEventTypeMousePressed, tx, ty, chromedp.ButtonLeft, chromedp.ClickCount(1)),
		chromedp.Sleep(70*time.Millisecond),
		chromedp.MouseEvent(input.DispatchMouseEventTypeMouseReleased, tx, ty, chromedp.ButtonLeft, chromedp.ClickCount(1)))
	return chromedp.Do(ctx, steps...)
}

// TestHeadlessClickNeverConsumes: under the default engine, headless
// Chromium without the cookie that clicks Continue for real never
// consumes the link: it is asked for the code (docs/api.md rule 2).
func TestHeadlessClickNeverConsumes(t *testing.T) {
	eng := deciders()["engine"]
	e := newEnv(t, eng)
	l := e.issue("the-requester-cookie")
	ctx := e.browser(30 * time.Second)
	if err := chromedp.Do(ctx, chromedp.Navigate(l.url)); err != nil {
		t.Fatal(err)
	}
	st, err := waitState(ctx, "confirm", "code", "error")
	if err != nil {
		t.Fatal(err)
	}
	if st == "confirm" {
		if err := humanClick(ctx, "#lg-continue"); err != nil {
			t.Fatal(err)
		}
		st, err = waitState(ctx, "code", "error", "done")
		if err != nil {
			t.Fatal(err)
		}
	}
	if st != "code" {
		t.Errorf("state %q, want code", st)
	}
	if s := e.state(l); s != linkguard.Pending {
		t.Fatalf("link %s, want pending", s)
	}
	// The person behind it can still sign in with the code.
	if err := chromedp.Do(ctx,
		chromedp.WaitVisible(chromedp.CSS("#lg-code")),
		chromedp.SendKeys(chromedp.CSS("#lg-code"), l.code),
		chromedp.Click(chromedp.CSS("#lg-code-submit")),
	); err != nil {
		t.Fatal(err)
	}
	if _, err := waitRedirect(ctx); err != nil {
		t.Fatalf("%v (link %s)", err, e.state(l))
	}
}

// TestNoJavaScriptUsesTheCode: with JavaScript off the page shows the
// <noscript> code form, which posts as a plain form and signs in.
func TestNoJavaScriptUsesTheCode(t *testing.T) {
	e := newEnv(t, fingerprinttest.Basic{})
	l := e.issue("the-requester-cookie")
	ctx := e.browser(30 * time.Second)
	if err := emulationScriptOff(ctx); err != nil {
		t.Fatal(err)
	}
	err := chromedp.Do(ctx,
		chromedp.Navigate(l.url),
		chromedp.WaitVisible(chromedp.CSS("#lg-code")),
	)
	if err != nil {
		t.Fatal(err)
	}
	if s := e.state(l); s != linkguard.Pending {
		t.Fatalf("link %s before the code", s)
	}
	err = chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS("#lg-code"), l.code),
		chromedp.Click(chromedp.CSS("#lg-code-submit")),
	)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := waitRedirect(ctx); err != nil {
		t.Fatalf("%v (link %s)", err, e.state(l))
	}
	if s := e.state(l); s != linkguard.Consumed {
		t.Errorf("link %s, want consumed", s)
	}
}

// clickEverything is what a detonating scanner does: from the first
// moment, and again and again, click every button, submit every form.
const clickEverything = `(function(){
  function all(){
    try {
      document.querySelectorAll("button, a, input[type=submit]").forEach(function(b){ try { b.click(); } catch(e){} });
      document.querySelectorAll("form").forEach(function(f){ try { if (f.requestSubmit) f.requestSubmit(); } catch(e){} try { f.submit(); } catch(e){} });
    } catch(e) {}
  }
  document.addEventListener("DOMContentLoaded", all);
  setInterval(all, 50);
})();`

// TestScriptClicksNeverConsume: a page script that clicks every button
// and submits every form (isTrusted false) does not consume the link,
// under either rule set.
func TestScriptClicksNeverConsume(t *testing.T) {
	for name, dec := range deciders() {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, dec)
			l := e.issue("the-requester-cookie")
			ctx := e.browser(30 * time.Second)
			if err := addScript(ctx, clickEverything); err != nil {
				t.Fatal(err)
			}
			if err := chromedp.Do(ctx, chromedp.Navigate(l.url)); err != nil {
				t.Fatal(err)
			}
			// Let it run: the collector loads, the page asks to confirm,
			// the script clicks Continue and submits forms many times.
			time.Sleep(3 * time.Second)
			if s := e.state(l); s != linkguard.Pending {
				t.Fatalf("link %s after script clicks, want pending", s)
			}
		})
	}
}
