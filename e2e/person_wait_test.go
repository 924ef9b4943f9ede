package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/kit"
)

// TestWaitingPageCodeCrossDevice: the person asks on the computer (the
// asker), opens the mail on the phone (a second browser context, which
// is not signed in by that), and types the mail's code on the
// computer's waiting page: the computer lands signed in at the host.
func TestWaitingPageCodeCrossDevice(t *testing.T) {
	e := newKitEnv(t, nil)
	asker := e.browser(45 * time.Second)
	signIn(t, asker, e, "alice@example.com")
	if st, err := waitState(asker, "sent"); err != nil || st != "sent" {
		t.Fatalf("waiting page state %q (%v), want sent", st, err)
	}
	m := e.mailTo("alice@example.com")

	phone := e.browser(45 * time.Second)
	if err := chromedp.Do(phone, chromedp.Navigate(m.URL)); err != nil {
		t.Fatal(err)
	}
	if _, err := waitState(phone, "confirm", "code", "error"); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(asker,
		chromedp.WaitVisible(chromedp.CSS("#lg-wait-code")),
		chromedp.SendKeys(chromedp.CSS("#lg-wait-code"), m.Code),
		chromedp.Click(chromedp.CSS("#lg-wait-submit")),
	); err != nil {
		t.Fatal(err)
	}
	signedIn(t, asker, e, "alice@example.com")
	if s := e.probe(m.URL); s != "used" {
		t.Errorf("the link is %q after the code, want used", s)
	}
}

// TestWaitingPageLearnsOfOtherDevice: the link is used on another device
// while the waiting page is open; the page moves to elsewhere without a
// reload and says so.
func TestWaitingPageLearnsOfOtherDevice(t *testing.T) {
	e := newKitEnv(t, nil)
	asker := e.browser(45 * time.Second)
	signIn(t, asker, e, "alice@example.com")
	m := e.mailTo("alice@example.com")
	status, err := chromedp.Run(asker, chromedp.Evaluate[string](`document.body.getAttribute("data-lg-status")`))
	if err != nil || !strings.Contains(status, "/login/status/") {
		t.Fatalf("data-lg-status %q (%v)", status, err)
	}
	id := status[strings.LastIndex(status, "/")+1:]
	// The other device: the host's own code page, on the same count.
	req, _ := http.NewRequest("POST", e.base+"/v1/links/"+id+"/redeem", strings.NewReader(`{"code":"`+m.Code+`"}`))
	req.Header.Set("Authorization", "Bearer test-key")
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("redeem: %d", res.StatusCode)
	}
	if st, err := waitState(asker, "elsewhere"); err != nil || st != "elsewhere" {
		t.Fatalf("state %q (%v), want elsewhere", st, err)
	}
	text, err := chromedp.Run(asker, chromedp.Evaluate[string](`document.querySelector(".lg-elsewhere").innerText + "|" + document.getElementById("lg-live").textContent`))
	if err != nil || !strings.Contains(text, "other device") || !strings.HasSuffix(text, "|"+strings.SplitN(text, "\n", 2)[0]) {
		t.Errorf("elsewhere says %q (%v), and the live region should announce its heading", text, err)
	}
}

// TestGermanResetLink: a reset link for a German requester reads in
// German with reset wording, in the mail's subject and on the page that
// real Chromium shows (here to a browser that asks for the code).
func TestGermanResetLink(t *testing.T) {
	e := newKitEnv(t, nil)
	body := `{"email":"greta@example.com","redirect_url":"` + e.base + `/demo/callback","purpose":"reset_password","send_email":true,` +
		`"requester":{"user_agent":"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:140.0) Gecko/20100101 Firefox/140.0","accept_language":"de-DE,de;q=0.9,en;q=0.5"}}`
	req, _ := http.NewRequest("POST", e.base+"/v1/links", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer test-key")
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 201 {
		t.Fatalf("issue: %d", res.StatusCode)
	}
	m := e.mailTo("greta@example.com")
	var subject string
	for _, x := range e.k.Outbox.List() {
		if x.To == "greta@example.com" {
			subject = x.Subject
		}
	}
	if subject != "Passwort für linkguard zurücksetzen" {
		t.Errorf("subject %q", subject)
	}
	b := e.browser(45 * time.Second)
	if err := chromedp.Do(b, chromedp.Navigate(m.URL)); err != nil {
		t.Fatal(err)
	}
	if _, err := waitState(b, "confirm", "code"); err != nil {
		t.Fatal(err)
	}
	text, err := chromedp.Run(b, chromedp.Evaluate[string](`document.documentElement.lang + "|" + document.title + "|" + document.querySelector("main").innerText`))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"de|", "Passwort zurücksetzen"} {
		if !strings.Contains(text, want) {
			t.Errorf("page lacks %q: %s", want, text)
		}
	}
	for _, bad := range []string{"Sign in", "sign in", "anmelden"} {
		if strings.Contains(text, bad) {
			t.Errorf("page says %q: %s", bad, text)
		}
	}
}

// hostApp is a second listener on 127.0.0.1 (another port, so another
// origin than the kit's): the host's site that receives the handoff.
// It records each lg_code it is sent.
func hostApp(t *testing.T) (origin string, got <-chan string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan string, 4)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c := r.URL.Query().Get("lg_code"); c != "" {
			select {
			case ch <- c:
			default:
			}
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, "<!doctype html><title>host</title><p id=host>host app</p>")
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String(), ch
}

// TestCodeFormsReachAnotherOrigin: the host's site is on another origin
// than the kit (as in every real deployment). The code typed on the
// waiting page (POST /login/code answers 303 to the host) and the code
// typed into the landing page's form without JavaScript both land the
// browser at the host with lg_code: the pages' CSP form-action, which
// Chromium applies to a form's redirects too, must not stop it there.
func TestCodeFormsReachAnotherOrigin(t *testing.T) {
	host, got := hostApp(t)
	e := newKitEnv(t, nil, func(o *kit.Options) { o.RedirectOrigins = []string{host} })
	back := host + "/auth/callback"
	arrived := func(t *testing.T, ctx context.Context) {
		t.Helper()
		arrivedAt(t, ctx, back+"?lg_code=", got)
	}

	t.Run("waiting page", func(t *testing.T) {
		ctx := e.browser(45 * time.Second)
		codeOnWaitingPage(t, ctx, e, back, "wait@example.com")
		arrived(t, ctx)
	})

	t.Run("landing page without JavaScript", func(t *testing.T) {
		res, err := e.k.Service.Issue(context.Background(), &linkguard.IssueRequest{
			Email: "nojs@example.com", RedirectURL: back,
		})
		if err != nil {
			t.Fatal(err)
		}
		ctx := e.browser(45 * time.Second)
		if err := emulationScriptOff(ctx); err != nil {
			t.Fatal(err)
		}
		if err := chromedp.Do(ctx,
			chromedp.Navigate(res.URL),
			chromedp.WaitVisible(chromedp.CSS("#lg-code")),
			chromedp.SendKeys(chromedp.CSS("#lg-code"), res.Code),
			chromedp.Click(chromedp.CSS("#lg-code-submit")),
		); err != nil {
			t.Fatal(err)
		}
		arrived(t, ctx)
	})
}

// TestWaitingPageReachesTheHostsNextOrigin: the host's callback takes
// lg_code and sends the browser on to another origin, its app. The code
// typed on the waiting page is answered by a 303 to the callback, and
// Chromium applies the page's form-action to the callback's redirect
// too: with form-action naming only the callback's origin, the browser
// stopped there, the link spent (server's formRedirectCSP).
func TestWaitingPageReachesTheHostsNextOrigin(t *testing.T) {
	callback, app, got := onwardCallback(t)
	e := newKitEnv(t, nil, func(o *kit.Options) { o.RedirectOrigins = []string{callback} })
	ctx := e.browser(45 * time.Second)
	codeOnWaitingPage(t, ctx, e, callback+"/auth/callback", "onward@example.com")
	arrivedAt(t, ctx, app+"/home?lg_code=", got)
}

// onwardCallback is a host whose callback (any path of origin
// callback) takes lg_code and sends the browser on to its app on
// another origin, at app/home (hostApp: got is sent the code).
func onwardCallback(t *testing.T) (callback, app string, got <-chan string) {
	t.Helper()
	app, got = hostApp(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, app+"/home?"+r.URL.RawQuery, http.StatusFound)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, app, got
}

// codeOnWaitingPage asks for a link for email at /login with
// redirect_url back, and types the mail's code on the waiting page.
func codeOnWaitingPage(t *testing.T, ctx context.Context, e *kitEnv, back, email string) {
	t.Helper()
	if err := chromedp.Do(ctx,
		chromedp.Navigate(e.base+"/login?redirect_url="+url.QueryEscape(back)),
		chromedp.WaitVisible(chromedp.CSS("#lg-email")),
		chromedp.SendKeys(chromedp.CSS("#lg-email"), email),
		chromedp.Click(chromedp.CSS("#lg-login-submit")),
		chromedp.WaitVisible(chromedp.CSS("#lg-wait-code")),
	); err != nil {
		t.Fatalf("sign-in form: %v", err)
	}
	m := e.mailTo(email)
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS("#lg-wait-code"), m.Code),
		chromedp.Click(chromedp.CSS("#lg-wait-submit")),
	); err != nil {
		t.Fatal(err)
	}
}

// arrivedAt waits for the browser to reach a URL with lg_code, which
// must start with prefix, and for the host's site to be sent it (got).
func arrivedAt(t *testing.T, ctx context.Context, prefix string, got <-chan string) {
	t.Helper()
	wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	loc, err := waitRedirect(wctx)
	if err != nil {
		cur, _ := chromedp.Run(ctx, chromedp.Location())
		t.Fatalf("%v: the browser is at %s", err, cur)
	}
	if !strings.HasPrefix(loc, prefix) {
		t.Fatalf("redirected to %s, want %s…", loc, prefix)
	}
	select {
	case <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("the host's site was never sent lg_code")
	}
}
