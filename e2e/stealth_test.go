package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/fingerprint"
)

// Issue 8's scanners, tests (a) to (e): headless Chromium dressed as a
// person's Windows Chrome, as stealth tooling dresses it, against the
// default engine. None of them may consume a link without the device
// cookie; the device cookie still signs in with no click; a person sent
// to the code still gets in with it; a report replayed by a plain HTTP
// client onto a fresh rendering gets the code.

// persona is what a stealth browser claims to be: the requester's own
// browser, down to its client hints, languages and time zone.
type persona struct {
	name, ua, lang, platform, chPlatform, tz string
}

var (
	// winChrome is issue 8's scanner: a Windows Chrome on a Linux host.
	// What the host is leaks only where the dress does not reach.
	winChrome = persona{"windows", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36",
		"en-GB,en;q=0.9", "Win32", "Windows", "Europe/London"}
	// linuxChrome claims what the host is, so nothing about the
	// platform or the languages can disagree anywhere: only the browser
	// itself and the input are left to tell.
	linuxChrome = persona{"linux", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36",
		"en-US,en;q=0.9", "Linux x86_64", "Linux", "Europe/London"}
)

// stealthJS is what puppeteer-extra-plugin-stealth and its kin inject
// before the page's scripts: a hardware GPU's WebGL strings, a window
// frame around the viewport (the "window.outerdimensions" evasion), a
// window.chrome object, and navigator.webdriver false.
const stealthJS = `(function(){
  var gp = WebGLRenderingContext.prototype.getParameter;
  function getParameter(p) {
    if (p === 37445) { return "Google Inc. (NVIDIA)"; }
    if (p === 37446) { return "ANGLE (NVIDIA, NVIDIA GeForce RTX 3060 (0x00002504) Direct3D11 vs_5_0 ps_5_0, D3D11)"; }
    return gp.call(this, p);
  }
  WebGLRenderingContext.prototype.getParameter = getParameter;
  if (window.WebGL2RenderingContext) { WebGL2RenderingContext.prototype.getParameter = getParameter; }
  Object.defineProperty(window, "outerWidth", { get: function(){ return window.innerWidth + 16; } });
  Object.defineProperty(window, "outerHeight", { get: function(){ return window.innerHeight + 88; } });
  if (!window.chrome) { window.chrome = { runtime: {} }; }
  Object.defineProperty(Navigator.prototype, "webdriver", { get: function(){ return false; } });
})();`

// stealthRoot starts one headless Chromium without the automation
// switches (no --enable-automation; AutomationControlled off, so
// navigator.webdriver is false) and with WebGL on the CPU, shared by the
// stealth tests.
var stealthRoot = struct {
	once sync.Once
	ctx  context.Context
	err  error
}{}

func stealthBrowser(t *testing.T) context.Context {
	t.Helper()
	chrome := chromiumPath(t)
	stealthRoot.once.Do(func() {
		opts := []chromedp.ExecAllocatorOption{
			chromedp.ExecPath(chrome),
			chromedp.NoFirstRun,
			chromedp.NoDefaultBrowserCheck,
			chromedp.Flag("headless", "new"),
			chromedp.NoSandbox,
			chromedp.Flag("disable-blink-features", "AutomationControlled"),
			chromedp.Flag("disable-quic", true),
			chromedp.Flag("disable-background-networking", true),
			chromedp.Flag("disable-component-update", true),
			chromedp.Flag("disable-sync", true),
			chromedp.Flag("use-angle", "swiftshader"),
			chromedp.Flag("enable-unsafe-swiftshader", true),
			chromedp.Flag("lang", "en-GB"),
			chromedp.WindowSize(1536, 730),
		}
		alloc, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
		root, rcancel := chromedp.NewContext(alloc)
		shared.cancel = append(shared.cancel, rcancel, cancel)
		if err := chromedp.Do(root); err != nil {
			stealthRoot.err = fmt.Errorf("start stealth chromium: %w", err)
			return
		}
		stealthRoot.ctx = root
	})
	if stealthRoot.err != nil {
		t.Fatal(stealthRoot.err)
	}
	return stealthRoot.ctx
}

// dress makes a browser context look like p: User-Agent with matching
// client hints and platform, languages, time zone, a 1920×1080 screen,
// and the stealth script.
func dress(ctx context.Context, p persona) error {
	brands := []*emulation.UserAgentBrandVersion{{Brand: "Chromium", Version: "156"}, {Brand: "Google Chrome", Version: "156"}, {Brand: "Not=A?Brand", Version: "24"}}
	if _, err := chromedp.Call(ctx, emulation.SetUserAgentOverride, emulation.SetUserAgentOverrideParams{
		UserAgent: p.ua, AcceptLanguage: p.lang, Platform: p.platform,
		UserAgentMetadata: &emulation.UserAgentMetadata{Brands: brands, FullVersionList: brands,
			Platform: p.chPlatform, PlatformVersion: "19.0.0", Architecture: "x86", Bitness: "64"},
	}); err != nil {
		return err
	}
	if _, err := chromedp.Call(ctx, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: p.tz}); err != nil {
		return err
	}
	if _, err := chromedp.Call(ctx, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{
		Width: 1536, Height: 730, DeviceScaleFactor: 1, ScreenWidth: 1920, ScreenHeight: 1080,
	}); err != nil {
		return err
	}
	return addScript(ctx, stealthJS)
}

// stealthEnv is a server under the default engine (recorded) and a
// dressed browser context of the stealth browser, with a link issued to
// the Windows Chrome it imitates (binding "" for none).
func stealthEnv(t *testing.T, p persona) (*env, *recorder, context.Context) {
	t.Helper()
	root := stealthBrowser(t)
	rec := &recorder{inner: mustDefaultEngine(t)}
	e := newEnvOn(t, root, rec)
	ctx := e.browser(45 * time.Second)
	if err := dress(ctx, p); err != nil {
		t.Fatalf("dress the browser: %v", err)
	}
	return e, rec, ctx
}

func (e *env) issueAs(p persona, binding string) link {
	e.t.Helper()
	is, err := e.svc.Issue(context.Background(), &linkguard.IssueRequest{
		Email: "alice@example.com", RedirectURL: e.base + "/?from=link",
		// The requester is on the loopback network, as the browser is:
		// the scanner on the requester's own network, issue 8's hardest.
		Requester: linkguard.Client{IP: netip.MustParseAddr("127.0.0.1"),
			Visitor: fingerprint.Visitor{UserAgent: p.ua, AcceptLanguage: p.lang}, Binding: binding},
	})
	if err != nil {
		e.t.Fatalf("issue: %v", err)
	}
	return link{id: is.Link.ID, url: is.URL, code: is.Code, binding: binding}
}

// straightClick is a scripted click as the issue-8 stealth scanner made
// it: five evenly spaced, evenly timed moves in a straight line to the
// centre of the element, then press and release with no pause.
func straightClick(ctx context.Context, sel string) error {
	box, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](`(function(){var r=document.querySelector(`+"`"+sel+"`"+`).getBoundingClientRect();return [r.left+r.width/2,r.top+r.height/2]})()`))
	if err != nil {
		return err
	}
	tx, ty := box[0], box[1]
	x0, y0 := 100.0, 500.0
	var steps []chromedp.Action[chromedp.Void]
	for i := 1; i <= 5; i++ {
		f := float64(i) / 5
		steps = append(steps, chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, x0+(tx-x0)*f, y0+(ty-y0)*f), chromedp.Sleep(20*time.Millisecond))
	}
	steps = append(steps,
		chromedp.MouseEvent(input.DispatchMouseEventTypeMousePressed, tx, ty, chromedp.ButtonLeft, chromedp.ClickCount(1)),
		chromedp.MouseEvent(input.DispatchMouseEventTypeMouseReleased, tx, ty, chromedp.ButtonLeft, chromedp.ClickCount(1)))
	return chromedp.Do(ctx, steps...)
}

// ghostClick is the best CDP imitation of a hand that stealth tooling
// offers (ghost-cursor and kin): a curved path with an uneven pace to a
// point off the centre, a pause, and a press held for 85 ms.
func ghostClick(ctx context.Context, sel string) error {
	box, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](`(function(){var r=document.querySelector(`+"`"+sel+"`"+`).getBoundingClientRect();return [r.left+r.width*0.37,r.top+r.height*0.62]})()`))
	if err != nil {
		return err
	}
	tx, ty := box[0], box[1]
	x0, y0 := 180.0, 520.0
	const n = 28
	var steps []chromedp.Action[chromedp.Void]
	for i := 1; i <= n; i++ {
		f := float64(i) / n
		ease := f * f * (3 - 2*f)
		x := x0 + (tx-x0)*ease + 60*f*(1-f)
		y := y0 + (ty-y0)*ease - 90*f*(1-f)
		steps = append(steps, chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, x, y),
			chromedp.Sleep(time.Duration(9+(i*11)%23)*time.Millisecond))
	}
	steps = append(steps, chromedp.Sleep(210*time.Millisecond),
		chromedp.MouseEvent(input.DispatchMouseEventTypeMousePressed, tx, ty, chromedp.ButtonLeft, chromedp.ClickCount(1)),
		chromedp.Sleep(85*time.Millisecond),
		chromedp.MouseEvent(input.DispatchMouseEventTypeMouseReleased, tx, ty, chromedp.ButtonLeft, chromedp.ClickCount(1)))
	return chromedp.Do(ctx, steps...)
}

// TestStealthHeadlessNeverConsumes is issue 8's (a), (b) and (d): the
// dressed headless browser, with no device cookie, opens the link and
// clicks Continue if it is offered, with a straight scripted path (a) or
// a curved, unevenly paced one (b). The link stays pending and the
// browser is asked for the code; typing it signs in (d).
func TestStealthHeadlessNeverConsumes(t *testing.T) {
	type clicker struct {
		name  string
		click func(context.Context, string) error
	}
	for _, p := range []persona{winChrome, linuxChrome} {
		for _, tc := range []clicker{{"straight", straightClick}, {"curved", ghostClick}} {
			t.Run(p.name+"/"+tc.name, func(t *testing.T) { stealthVisit(t, p, tc.click) })
		}
	}
}

func stealthVisit(t *testing.T, p persona, click func(context.Context, string) error) {
	{
		{
			e, rec, ctx := stealthEnv(t, p)
			l := e.issueAs(p, "the-requester-cookie")
			if err := chromedp.Do(ctx, chromedp.Navigate(l.url)); err != nil {
				t.Fatal(err)
			}
			st, err := waitState(ctx, "confirm", "code", "error", "done")
			if err != nil {
				t.Fatal(err)
			}
			if st == "confirm" {
				time.Sleep(400 * time.Millisecond) // "reads" before it clicks
				if err := click(ctx, "#lg-continue"); err != nil {
					t.Fatal(err)
				}
				if st, err = waitState(ctx, "code", "error", "done"); err != nil {
					t.Fatal(err)
				}
			}
			if c := lastClick(rec.inputs()); c != nil {
				b, _ := json.Marshal(c)
				in := rec.inputs()
				w, _ := json.Marshal(in[len(in)-1].Report.Device)
				t.Logf("the CDP click as reported: %s\ndevice: %s", b, w)
			}
			if st != "code" || e.state(l) != linkguard.Pending {
				t.Fatalf("state %q, link %s: want code and pending\n%s", st, e.state(l), explainAll(rec))
			}
			if in := rec.inputs(); len(in) > 0 && in[0].Report != nil && in[0].Report.Automation.Webdriver {
				t.Errorf("the stealth browser reports navigator.webdriver: the test does not dress it as issue 8's scanner")
			}
			t.Logf("verdicts:\n%s", explainAll(rec))
			// (d) The person behind a vetoed browser still gets in.
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
			if s := e.state(l); s != linkguard.Consumed {
				t.Errorf("link %s after the code, want consumed", s)
			}
		}
	}
}

// TestStealthHeadlessWithCookieZeroClicks is issue 8's (c): the same
// dressed headless browser holding the device cookie of the browser
// that asked is signed in with no click, whatever the axes say (rule 3).
func TestStealthHeadlessWithCookieZeroClicks(t *testing.T) {
	p := winChrome
	e, rec, ctx := stealthEnv(t, p)
	l := e.issueAs(p, "binding-cookie-value-0123456789")
	e.setBinding(ctx, l.binding)
	if err := chromedp.Do(ctx, chromedp.Navigate(l.url)); err != nil {
		t.Fatal(err)
	}
	if _, err := waitRedirect(ctx); err != nil {
		t.Fatalf("%v (link %s)\n%s", err, e.state(l), explainAll(rec))
	}
	if s := e.state(l); s != linkguard.Consumed {
		t.Errorf("link %s, want consumed", s)
	}
}

var nonceRe = regexp.MustCompile(`<meta name="lg-nonce" content="([^"]+)"`)

// TestReplayedReportNeverConsumes is issue 8's (e): the page's own
// verify and confirm bodies, recorded from a dressed browser's visit
// with a real curved click, are replayed by a plain HTTP client onto a
// fresh rendering of another link (a fresh nonce), with the browser's
// headers. No page made them for that rendering: the verdict names the
// replay and the link stays pending.
func TestReplayedReportNeverConsumes(t *testing.T) {
	p := linuxChrome // the best-dressed: its own report passes the gate
	e, rec, ctx := stealthEnv(t, p)

	// Record the bodies the page posts (the recording visit's own link
	// is left alone: any visit of ours may be what gets recorded).
	var mu sync.Mutex
	ids := map[string]network.RequestID{}
	bodies := map[string][]byte{}
	if err := chromedp.Listen(ctx, func(ev any) {
		if r, ok := ev.(*network.EventRequestWillBeSent); ok && r.Request.Method == "POST" {
			for _, stage := range []string{"/verify", "/confirm"} {
				if strings.HasSuffix(r.Request.URL, stage) {
					var b []byte
					for _, pe := range r.Request.PostDataEntries {
						b = append(b, pe.Bytes...)
					}
					mu.Lock()
					ids[stage], bodies[stage] = r.RequestID, b
					mu.Unlock()
				}
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	rl := e.issueAs(p, "the-requester-cookie")
	if err := chromedp.Do(ctx, chromedp.Navigate(rl.url)); err != nil {
		t.Fatal(err)
	}
	if st, err := waitState(ctx, "confirm", "code"); err != nil {
		t.Fatal(err)
	} else if st == "confirm" {
		time.Sleep(400 * time.Millisecond)
		if err := ghostClick(ctx, "#lg-continue"); err != nil {
			t.Fatal(err)
		}
		if _, err := waitState(ctx, "code", "done"); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	got, sent := maps.Clone(ids), maps.Clone(bodies)
	mu.Unlock()
	for stage, id := range got {
		if len(sent[stage]) > 0 {
			continue
		}
		res, err := chromedp.Call(ctx, network.GetRequestPostData, network.GetRequestPostDataParams{RequestID: id})
		if err != nil {
			t.Fatalf("%s body: %v", stage, err)
		}
		sent[stage] = []byte(res.PostData)
	}
	if len(sent["/verify"]) == 0 || len(sent["/confirm"]) == 0 {
		t.Fatalf("recorded %d verify and %d confirm bytes: the visit did not reach the click", len(sent["/verify"]), len(sent["/confirm"]))
	}
	recorded := len(rec.inputs())

	// The replay: another link, a fresh rendering, the recorded bodies
	// with the fresh nonce, the browser's headers.
	l := e.issueAs(p, "the-requester-cookie")
	hdr := http.Header{
		"User-Agent":         {p.ua},
		"Accept-Language":    {p.lang},
		"Sec-Ch-Ua":          {`"Chromium";v="156", "Google Chrome";v="156", "Not=A?Brand";v="24"`},
		"Sec-Ch-Ua-Mobile":   {"?0"},
		"Sec-Ch-Ua-Platform": {`"` + p.chPlatform + `"`},
	}
	page := httpDo(t, "GET", l.url, hdr, nil)
	m := nonceRe.FindSubmatch(page)
	if m == nil {
		t.Fatal("no nonce in the landing page")
	}
	post := hdr.Clone()
	post.Set("Content-Type", "application/json")
	post.Set("Origin", e.base)
	post.Set("Sec-Fetch-Site", "same-origin")
	post.Set("Sec-Fetch-Mode", "cors")
	post.Set("Sec-Fetch-Dest", "empty")
	u, _ := url.Parse(l.url)
	for _, stage := range []string{"/verify", "/confirm"} {
		body := sent[stage]
		var req map[string]json.RawMessage
		if err := json.Unmarshal(body, &req); err != nil {
			t.Fatalf("%s body: %v", stage, err)
		}
		req["nonce"], _ = json.Marshal(string(m[1]))
		b, _ := json.Marshal(req)
		res := httpDo(t, "POST", e.base+u.Path+stage, post, b)
		var out struct {
			Outcome string `json:"outcome"`
		}
		_ = json.Unmarshal(res, &out)
		if out.Outcome == "consumed" || out.Outcome == "confirm" && stage == "/confirm" {
			t.Errorf("replayed %s answered %q\n%s", stage, out.Outcome, explainAll(rec))
		}
	}
	if s := e.state(l); s != linkguard.Pending {
		t.Fatalf("link %s after the replay, want pending\n%s", s, explainAll(rec))
	}
	in := rec.inputs()[recorded:]
	if len(in) == 0 {
		t.Fatal("the replay reached no decision")
	}
	for i := range in {
		if !fingerprint.ProofFailed(in[i].Proof) {
			t.Errorf("replayed %s: proof %q, want a replay", in[i].Stage, in[i].Proof)
		}
	}
}

func httpDo(t *testing.T, method, u string, h http.Header, body []byte) []byte {
	t.Helper()
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = h
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
