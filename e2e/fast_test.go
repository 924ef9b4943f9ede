package e2e

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/fingerprint"
	"github.com/linkguard/linkguard/fingerprint/fingerprinttest"
)

// TestSameBrowserNeedsNoOtherFile: the page of the browser that asked
// reports from its inline script (web/inline/fast.js, a form's post
// answered with a 303 to the redirect), which the CSP
// allows by its hash: with every asset blocked (no stylesheet, no lg.js),
// that browser is still signed in, and the report it sent is the
// cookie's alone (no signals), as before the inline script.
func TestSameBrowserNeedsNoOtherFile(t *testing.T) {
	rec := &recorder{inner: fingerprinttest.Basic{}}
	e := newEnv(t, rec)
	l, ctx := e.boundBrowser("binding-cookie-value-0123456789")
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, network.SetBlockedURLs, network.SetBlockedURLsParams{
		URLPatterns: []*network.BlockPattern{{URLPattern: e.base + "/assets/*", Block: true}},
	}); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(l.url)); err != nil {
		t.Fatal(err)
	}
	if _, err := waitRedirect(ctx); err != nil {
		t.Fatalf("%v (link %s)", err, e.state(l))
	}
	if s := e.state(l); s != linkguard.Consumed {
		t.Errorf("link %s, want consumed", s)
	}
	in := rec.inputs()
	if len(in) != 1 || !in[0].Binding || in[0].Report != nil || in[0].Stage != fingerprint.StageVerify {
		t.Errorf("want one verify, with the cookie and no signals; got %d inputs, the last %+v", len(in), in[len(in)-1])
	}
}

// confirmFirst asks the browser that asked to confirm, once, before its
// inner rules decide: what a server that wants more than the cookie
// answers the fast page.
type confirmFirst struct{ recorder }

func (c *confirmFirst) Decide(in *fingerprint.Input) fingerprint.Verdict {
	v := c.recorder.Decide(in)
	if in.Stage == fingerprint.StageVerify {
		v.Decision = fingerprint.Confirm
	}
	return v
}

// TestFastPageLoadsTheCollectorWhenAsked: the fast page carries neither
// wasm_exec.js nor the collector; when the server answers its form with
// anything but consumed, the browser is sent back to the page with the
// collector (lg_fast=0), so the confirm report after a click carries the
// collector's signals.
func TestFastPageLoadsTheCollectorWhenAsked(t *testing.T) {
	dec := &confirmFirst{recorder{inner: fingerprinttest.Basic{}}}
	e := newEnv(t, dec)
	l, ctx := e.boundBrowser("binding-cookie-value-0123456789")
	if err := chromedp.Do(ctx, chromedp.Navigate(l.url)); err != nil {
		t.Fatal(err)
	}
	if st, err := waitState(ctx, "confirm", "code", "error"); err != nil || st != "confirm" {
		t.Fatalf("state %q, err %v; want confirm", st, err)
	}
	if loc, err := chromedp.Run(ctx, chromedp.Location()); err != nil || loc != l.url+"?lg_fast=0" {
		t.Errorf("the page asked to confirm is at %q (%v), want the collector's page, lg_fast=0", loc, err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`!!(window.lgCollector && window.Go)`, chromedp.WithPollingTimeout(15*time.Second))); err != nil {
		t.Fatalf("the collector was not loaded after the fast page was asked to confirm: %v", err)
	}
	if err := humanClick(ctx, "#lg-continue"); err != nil {
		t.Fatal(err)
	}
	if _, err := waitRedirect(ctx); err != nil {
		t.Fatalf("%v (link %s)", err, e.state(l))
	}
	in := dec.inputs()
	if last := in[len(in)-1]; last.Stage != fingerprint.StageConfirm || last.Report == nil || !last.Report.TrustedClick() {
		t.Errorf("the confirm after the click carried no collector report: %+v", last)
	}
}

// TestSameBrowserFollowsACrossOriginRedirect: the browser that asked
// reaches the host's redirect on another origin, and the host's own
// redirect on to a third one. The fast page's form is answered by a 303
// to the host, and Chromium applies the page's form-action to every
// redirect that follows its form's post: with form-action naming only the
// host's origin, the host's 302 onward was stopped, the link spent
// (server's formRedirectCSP). The other e2e tests redirect to the kit's
// own origin, which 'self' allows anyway.
func TestSameBrowserFollowsACrossOriginRedirect(t *testing.T) {
	callback, app, got := onwardCallback(t)
	e := newEnv(t, fingerprinttest.Basic{})
	e.svc.Policy.RedirectOrigins = append(e.svc.Policy.RedirectOrigins, callback)
	l, ctx := e.boundBrowserTo("binding-cookie-value-0123456789", callback+"/cb")
	if err := chromedp.Do(ctx, chromedp.Navigate(l.url)); err != nil {
		t.Fatal(err)
	}
	arrivedAt(t, ctx, app+"/home?lg_code=", got)
}

// TestFastPageAtTheCodeFormsAddress: the code form's answer (a page, for
// browsers without JavaScript, at /l/{token}/confirm) is the fast page
// again for the browser that asked. Its scripts must still find the
// link's routes from that address, and its CSP must let its form's
// answer go on to the host on another origin and from there to the
// host's app: the browser is signed in there.
func TestFastPageAtTheCodeFormsAddress(t *testing.T) {
	callback, app, got := onwardCallback(t)
	e := newEnv(t, fingerprinttest.Basic{})
	e.svc.Policy.RedirectOrigins = append(e.svc.Policy.RedirectOrigins, callback)
	l, ctx := e.boundBrowserTo("binding-cookie-value-0123456789", callback+"/cb")
	// A native post of the code form, as a browser whose lg.js did not
	// run sends it: a stale nonce, so the answer is the page again.
	post := `(() => { const f = document.createElement("form"); f.method = "post"; f.action = ` +
		strconv.Quote(strings.TrimPrefix(l.url, e.base)+"/confirm") + `;
		for (const [k, v] of [["nonce", "stale"], ["code", "000000"]]) {
			const i = document.createElement("input"); i.type = "hidden"; i.name = k; i.value = v; f.appendChild(i);
		}
		document.body.appendChild(f); f.submit(); return true; })()`
	if err := chromedp.Do(ctx, chromedp.Navigate(e.base+"/")); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](post)); err != nil {
		t.Fatal(err)
	}
	arrivedAt(t, ctx, app+"/home?lg_code=", got)
}
