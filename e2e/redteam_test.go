package e2e

import (
	"cmp"
	"context"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/linkguard/linkguard"
)

// The red team of the two input paths that accept a click with no mark of
// their own: keyboard activation of Continue and a tap. A scanner sends
// both through the debugging protocol (Input.dispatchKeyEvent,
// Input.dispatchTouchEvent), and the page sees them as trusted events.
// Each attack runs against the default engine, with no device cookie,
// in the headful Chromium under Xvfb of xvfb_test.go and in the dressed
// headless one of stealth_test.go. None may consume; the verdict names
// what gave it away.

// redteamAll says whether every variant of the red-team and keyboard
// person tests runs (LINKGUARD_REDTEAM=1: make redteam, about five
// minutes). Each variant starts a browser, so make test runs one or two
// of each, the most careful attacks, and leaves the measurement of the
// tells (TestInputTellsCDPAndX) to make redteam.
func redteamAll() bool { return os.Getenv("LINKGUARD_REDTEAM") != "" }

// variant skips t unless keep says make test runs it, or every variant
// runs.
func variant(t *testing.T, keep bool) {
	t.Helper()
	if !keep && !redteamAll() {
		t.Skip("a variant that make redteam (LINKGUARD_REDTEAM=1) runs")
	}
}

// cdpKey is one key as CDP's Input.dispatchKeyEvent takes it, with what a
// US keyboard gives for it (the values chromedp's kb package and
// Puppeteer's USKeyboardLayout send).
type cdpKey struct {
	key, code, text string
	vk              int64
}

var (
	keyEnter = cdpKey{"Enter", "Enter", "\r", 13}
	keySpace = cdpKey{" ", "Space", " ", 32}
	keyTab   = cdpKey{"Tab", "Tab", "", 9}
)

// cdpPress presses k with the debugging protocol as Puppeteer's
// keyboard.press({delay}) does: a keyDown carrying the text (one
// command, so keydown and keypress share a timestamp), held for hold,
// then a keyUp.
func cdpPress(ctx context.Context, k cdpKey, mods int64, hold time.Duration) error {
	down := input.DispatchKeyEventParams{Type: input.DispatchKeyEventTypeKeyDown, Key: k.key, Code: k.code,
		WindowsVirtualKeyCode: k.vk, NativeVirtualKeyCode: k.vk, Text: k.text, UnmodifiedText: k.text, Modifiers: mods}
	if k.text == "" {
		down.Type = input.DispatchKeyEventTypeRawKeyDown
	}
	up := down
	up.Type, up.Text, up.UnmodifiedText = input.DispatchKeyEventTypeKeyUp, "", ""
	if _, err := chromedp.Call(ctx, input.DispatchKeyEvent, down); err != nil {
		return err
	}
	time.Sleep(hold)
	_, err := chromedp.Call(ctx, input.DispatchKeyEvent, up)
	return err
}

// activeIs reports whether the element focused in the page matches sel.
func activeIs(ctx context.Context, sel string) bool {
	ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`!!(document.activeElement && document.activeElement.matches(`+"`"+sel+"`"+`))`))
	return err == nil && ok
}

// keyAttack is one way a scanner activates Continue from the keyboard.
type keyAttack struct {
	name string
	act  func(ctx context.Context) error
}

var keyAttacks = []keyAttack{
	// chromedp's own: DOM.focus, then kb.Enter (keyDown, char, keyUp
	// with no pause).
	{"focus+enter", func(ctx context.Context) error {
		return chromedp.Do(ctx, chromedp.Focus(chromedp.CSS("#lg-continue")), chromedp.KeyEvent(kb.Enter))
	}},
	{"focus+space", func(ctx context.Context) error {
		return chromedp.Do(ctx, chromedp.Focus(chromedp.CSS("#lg-continue")), chromedp.KeyEvent(" "))
	}},
	// Careful tooling: it reaches Continue as a keyboard user does, Tab
	// by Tab (away and back with Shift+Tab, as a person overshoots),
	// holding each key 80 to 120 ms with pauses between, then presses.
	{"tabs+enter held", func(ctx context.Context) error { return tabbedPress(ctx, keyEnter, 104*time.Millisecond) }},
	{"tabs+space held", func(ctx context.Context) error { return tabbedPress(ctx, keySpace, 117*time.Millisecond) }},
}

// tabbedPress moves the focus off Continue with Tab and back to it with
// Shift+Tab (more of them if the page's order needs it), each key held
// like a person's, then presses k for hold.
func tabbedPress(ctx context.Context, k cdpKey, hold time.Duration) error {
	holds := []time.Duration{93, 81, 112, 88, 119, 97, 85, 108}
	if err := cdpPress(ctx, keyTab, 0, holds[0]*time.Millisecond); err != nil {
		return err
	}
	time.Sleep(340 * time.Millisecond)
	for i := 1; i < len(holds) && !activeIs(ctx, "#lg-continue"); i++ {
		if err := cdpPress(ctx, keyTab, 8, holds[i]*time.Millisecond); err != nil { // Shift+Tab
			return err
		}
		time.Sleep(time.Duration(260+37*i) * time.Millisecond)
	}
	if !activeIs(ctx, "#lg-continue") {
		if err := chromedp.Do(ctx, chromedp.Focus(chromedp.CSS("#lg-continue"))); err != nil {
			return err
		}
	}
	time.Sleep(420 * time.Millisecond)
	return cdpPress(ctx, k, 0, hold)
}

// scanOutcome is what an attack reached: the page's state and the
// decisions behind it.
type scanOutcome struct {
	state string
	rec   *recorder
	// consumed is the link's state said by the server, not the page.
	consumed bool
}

// headfulScan is TestHeadfulCDPClickNeverConsumes's scanner with another
// act: a person asks for a link in a browser context that is then
// closed, and the headful Chromium's first tab (no device cookie),
// dressed by dress (nil: as it is), opens the mail's link and, when
// Continue is offered, waits as a reader would and acts.
func headfulScan(t *testing.T, dress func(context.Context) error, act func(context.Context) error) scanOutcome {
	t.Helper()
	hv := newHeadfulVisit(t)
	e, rec, ctx, m := hv.e, hv.rec, hv.ctx, hv.m
	if dress != nil {
		if err := dress(ctx); err != nil {
			t.Fatalf("dress the tab: %v", err)
		}
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(m.URL)); err != nil {
		t.Fatal(err)
	}
	st := scanAct(t, ctx, act)
	return scanOutcome{state: st, rec: rec, consumed: e.probe(m.URL) != "checking"}
}

// stealthScan is the same scanner as the dressed headless browser of
// stealth_test.go, persona p, on the requester's network; dress (nil:
// none) is applied after the persona's own.
func stealthScan(t *testing.T, p persona, dress func(context.Context) error, act func(context.Context) error) scanOutcome {
	t.Helper()
	e, rec, ctx := stealthEnv(t, p)
	if dress != nil {
		if err := dress(ctx); err != nil {
			t.Fatalf("dress the tab: %v", err)
		}
	}
	l := e.issueAs(p, "the-requester-cookie")
	if err := chromedp.Do(ctx, chromedp.Navigate(l.url)); err != nil {
		t.Fatal(err)
	}
	st := scanAct(t, ctx, act)
	return scanOutcome{state: st, rec: rec, consumed: e.state(l) != linkguard.Pending}
}

// scanAct waits for the page's answer to verify and, if it offers
// Continue, reads for a while and acts; it returns the page's last state.
func scanAct(t *testing.T, ctx context.Context, act func(context.Context) error) string {
	t.Helper()
	st, err := waitState(ctx, "confirm", "code", "error", "done")
	if err != nil {
		t.Fatal(err)
	}
	if st != "confirm" {
		return st
	}
	time.Sleep(900 * time.Millisecond) // reads the page before acting
	if err := act(ctx); err != nil {
		t.Fatal(err)
	}
	if st, err = waitState(ctx, "code", "error", "done"); err != nil {
		t.Fatalf("%v\n%s", err, pageState(ctx))
	}
	return st
}

// neverConsumed fails the test unless the scanner was sent to the code
// with the link still pending, and logs what the page reported and
// which signals said what.
func (o scanOutcome) neverConsumed(t *testing.T) {
	t.Helper()
	in := o.rec.inputs()
	if c := lastClick(in); c != nil {
		b, _ := json.Marshal(c)
		ev, _ := json.Marshal(in[len(in)-1].Report.Interaction.Trusted)
		d, _ := json.Marshal(in[len(in)-1].Report.Device)
		t.Logf("the click as reported: %s\ntrusted events: %s\ndevice: %s", b, ev, d)
	}
	if o.state != "code" || o.consumed {
		t.Fatalf("state %q, consumed %v: want code and pending\n%s", o.state, o.consumed, explainAll(o.rec))
	}
	if len(in) == 0 {
		t.Fatal("no decision was made")
	}
	v := o.rec.inner.Decide(&in[len(in)-1])
	if !strings.Contains(v.Rule, "automation gate closed") {
		t.Errorf("the code was not the automation gate's (rule %q)\n%s", v.Rule, explainAll(o.rec))
	}
	t.Logf("verdicts:\n%s", explainAll(o.rec))
}

// TestHeadfulCDPKeysNeverConsume: the headful scanner under Xvfb (a
// pointing device, a window frame, no automation switch) activates
// Continue from the keyboard through the debugging protocol; and, dressed
// as Windows Chrome (where no key clock is known), with careful presses.
func TestHeadfulCDPKeysNeverConsume(t *testing.T) {
	for i, a := range keyAttacks {
		t.Run(a.name, func(t *testing.T) { variant(t, i == 2); headfulScan(t, nil, a.act).neverConsumed(t) })
	}
	for _, platform := range []string{"", winChrome.platform} {
		dress := func(ctx context.Context) error { return dressAsWindows(ctx, platform) }
		t.Run("as windows, platform "+cmp.Or(platform, "kept")+"/tabs+enter held", func(t *testing.T) {
			variant(t, platform == "")
			headfulScan(t, dress, keyAttacks[2].act).neverConsumed(t)
		})
	}
}

// dressAsWindows gives the tab winChrome's User-Agent and client hints,
// and navigator.platform if platform is not "" (the Web Worker keeps the
// host's either way), with the host's languages, so that they agree.
func dressAsWindows(ctx context.Context, platform string) error {
	brands := []*emulation.UserAgentBrandVersion{{Brand: "Chromium", Version: "156"}, {Brand: "Google Chrome", Version: "156"}, {Brand: "Not=A?Brand", Version: "24"}}
	_, err := chromedp.Call(ctx, emulation.SetUserAgentOverride, emulation.SetUserAgentOverrideParams{
		UserAgent: winChrome.ua, AcceptLanguage: "en-US,en;q=0.9", Platform: platform,
		UserAgentMetadata: &emulation.UserAgentMetadata{Brands: brands, FullVersionList: brands,
			Platform: winChrome.chPlatform, PlatformVersion: "19.0.0", Architecture: "x86", Bitness: "64"},
	})
	return err
}

// TestStealthCDPKeysNeverConsume: the dressed headless scanner activates
// Continue from the keyboard through the debugging protocol.
func TestStealthCDPKeysNeverConsume(t *testing.T) {
	for _, p := range []persona{winChrome, linuxChrome} {
		for i, a := range keyAttacks {
			t.Run(p.name+"/"+a.name, func(t *testing.T) {
				variant(t, i == 2 && p == linuxChrome)
				stealthScan(t, p, nil, a.act).neverConsumed(t)
			})
		}
	}
}

// pixel is the phone a scanner emulates: Chrome on a Pixel 8, its
// client hints, its screen (412×915 CSS px at 2.625), touch with five
// points.
var pixel = struct {
	ua, platform string
	meta         emulation.UserAgentMetadata
}{
	ua:       "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Mobile Safari/537.36",
	platform: "Linux armv81",
	meta: emulation.UserAgentMetadata{
		Brands:          []*emulation.UserAgentBrandVersion{{Brand: "Chromium", Version: "156"}, {Brand: "Google Chrome", Version: "156"}, {Brand: "Not=A?Brand", Version: "24"}},
		FullVersionList: []*emulation.UserAgentBrandVersion{{Brand: "Chromium", Version: "156.0.0.0"}, {Brand: "Google Chrome", Version: "156.0.0.0"}, {Brand: "Not=A?Brand", Version: "24.0.0.0"}},
		Platform:        "Android", PlatformVersion: "14.0.0", Model: "Pixel 8", Mobile: true,
	},
}

// dressPhone makes the tab a phone as device emulation does (DevTools'
// device toolbar, Puppeteer's page.emulate(KnownDevices["Pixel 5"])):
// mobile metrics in portrait, touch, an Android Chrome User-Agent with
// matching client hints and platform.
func dressPhone(ctx context.Context) error { return phoneDress(ctx, pixel.platform, "en-GB,en;q=0.9") }

// dressPhoneCarefully is dressPhone by tooling that knows what the Web
// Worker gives away: it leaves navigator.platform and the languages as
// the host's (the worker's stay so whatever the override says: measured,
// Chromium 156), so that page and worker agree.
func dressPhoneCarefully(ctx context.Context) error { return phoneDress(ctx, "", "en-US,en;q=0.9") }

func phoneDress(ctx context.Context, platform, lang string) error {
	meta := pixel.meta
	if _, err := chromedp.Call(ctx, emulation.SetUserAgentOverride, emulation.SetUserAgentOverrideParams{
		UserAgent: pixel.ua, AcceptLanguage: lang, Platform: platform, UserAgentMetadata: &meta,
	}); err != nil {
		return err
	}
	if _, err := chromedp.Call(ctx, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{
		Width: 412, Height: 915, DeviceScaleFactor: 2.625, Mobile: true, ScreenWidth: 412, ScreenHeight: 915,
		ScreenOrientation: &emulation.ScreenOrientation{Type: emulation.ScreenOrientationTypePortraitPrimary, Angle: 0},
	}); err != nil {
		return err
	}
	_, err := chromedp.Call(ctx, emulation.SetTouchEmulationEnabled, emulation.SetTouchEmulationEnabledParams{Enabled: true, MaxTouchPoints: 5})
	return err
}

// tapAttack is one way a scanner taps Continue.
type tapAttack struct {
	name string
	act  func(ctx context.Context) error
}

var tapAttacks = []tapAttack{
	// chromedp.TapXY at the centre: touchStart and touchEnd at once,
	// radius 1 and force 1.
	{"tap", func(ctx context.Context) error {
		box, err := continueBox(ctx)
		if err != nil {
			return err
		}
		return chromedp.Do(ctx, chromedp.TapXY(box[0]+box[2]/2, box[1]+box[3]/2))
	}},
	// Careful tooling: off the centre, held 80 ms, the touch point's
	// size and force left to CDP's defaults (as Puppeteer's
	// touchscreen.tap and Playwright's tap leave them).
	{"held tap", func(ctx context.Context) error { return heldTap(ctx, nil, nil) }},
	// Tooling that also gives the touch point a finger's size and force.
	{"held finger tap", func(ctx context.Context) error {
		r, f := 11.5, 0.43
		return heldTap(ctx, &r, &f)
	}},
}

func continueBox(ctx context.Context) ([]float64, error) {
	return chromedp.Run(ctx, chromedp.Evaluate[[]float64](`(function(){var r=document.getElementById("lg-continue").getBoundingClientRect();return [r.left,r.top,r.width,r.height]})()`))
}

// heldTap touches Continue off its centre, holds 80 ms and lifts, with
// the given radius and force (nil: CDP's defaults).
func heldTap(ctx context.Context, radius, force *float64) error {
	box, err := continueBox(ctx)
	if err != nil {
		return err
	}
	id := 0.0
	pt := &input.TouchPoint{X: box[0] + box[2]*0.41, Y: box[1] + box[3]*0.63, RadiusX: radius, RadiusY: radius, Force: force, ID: &id}
	if _, err := chromedp.Call(ctx, input.DispatchTouchEvent, input.DispatchTouchEventParams{
		Type: input.DispatchTouchEventTypeTouchStart, TouchPoints: []*input.TouchPoint{pt}}); err != nil {
		return err
	}
	time.Sleep(80 * time.Millisecond)
	_, err = chromedp.Call(ctx, input.DispatchTouchEvent, input.DispatchTouchEventParams{
		Type: input.DispatchTouchEventTypeTouchEnd, TouchPoints: []*input.TouchPoint{}})
	return err
}

// phoneAttacks are the taps, each from a carefully dressed phone, and
// one from a phone dressed as DevTools' device toolbar dresses it; and a
// key press, for a phone with a keyboard.
func phoneAttacks() []struct {
	name  string
	dress func(context.Context) error
	act   func(context.Context) error
} {
	type pa = struct {
		name  string
		dress func(context.Context) error
		act   func(context.Context) error
	}
	out := []pa{{"device toolbar/tap", dressPhone, tapAttacks[0].act}}
	for _, a := range tapAttacks {
		out = append(out, pa{"careful/" + a.name, dressPhoneCarefully, a.act})
	}
	return append(out, pa{"careful/tabs+enter held", dressPhoneCarefully, keyAttacks[2].act})
}

// TestHeadfulCDPTapsNeverConsume: the headful scanner under Xvfb
// emulates a phone and taps Continue through the debugging protocol.
func TestHeadfulCDPTapsNeverConsume(t *testing.T) {
	for i, a := range phoneAttacks() {
		t.Run(a.name, func(t *testing.T) { variant(t, i == 1); headfulScan(t, a.dress, a.act).neverConsumed(t) })
	}
}

// TestStealthCDPTapsNeverConsume: the headless scanner emulates a phone
// and taps Continue through the debugging protocol. It wears no desktop
// persona under the phone (no stealth script: its window frame and
// desktop GPU would contradict the phone at once).
func TestStealthCDPTapsNeverConsume(t *testing.T) {
	for _, a := range phoneAttacks() {
		t.Run(a.name, func(t *testing.T) { headlessPhoneScan(t, a.dress, a.act).neverConsumed(t) })
	}
}

// headlessPhoneScan is stealthScan without a desktop persona: a context
// of the stealth browser dressed by dress only, a link asked for by the
// desktop Chrome on Linux that the host is.
func headlessPhoneScan(t *testing.T, dress func(context.Context) error, act func(context.Context) error) scanOutcome {
	t.Helper()
	root := stealthBrowser(t)
	rec := &recorder{inner: mustDefaultEngine(t)}
	e := newEnvOn(t, root, rec)
	ctx := e.browser(45 * time.Second)
	if err := dress(ctx); err != nil {
		t.Fatalf("dress the tab: %v", err)
	}
	l := e.issueAs(linuxChrome, "the-requester-cookie")
	if err := chromedp.Do(ctx, chromedp.Navigate(l.url)); err != nil {
		t.Fatal(err)
	}
	st := scanAct(t, ctx, act)
	return scanOutcome{state: st, rec: rec, consumed: e.state(l) != linkguard.Pending}
}

// tellsPage is a page with one focused button, whose script logs every
// input event the way the collector reads them (and more), for the
// measurements below.
const tellsPage = `<!doctype html><html><head><meta name="viewport" content="width=device-width, initial-scale=1"></head><body>
<button id="b" style="width:160px;height:40px;margin:200px 300px">Continue</button>
<script>
window.__log = [];
function rec(e){
  var s = e.sourceCapabilities, o = {t: e.type, tr: e.isTrusted, ts: e.timeStamp,
    caps: s === undefined ? "undefined" : (s === null ? "null" : "fires_touch=" + s.firesTouchEvents), detail: e.detail};
  if (e instanceof KeyboardEvent) { o.key = e.key; o.code = e.code; o.keyCode = e.keyCode; o.loc = e.location; o.rep = e.repeat; }
  if (window.PointerEvent && e instanceof PointerEvent) { o.pt = e.pointerType; o.pid = e.pointerId; o.p = e.pressure; o.w = e.width; }
  if (window.TouchEvent && e instanceof TouchEvent && e.changedTouches[0]) { o.rx = e.changedTouches[0].radiusX; o.f = e.changedTouches[0].force; }
  window.__log.push(o);
}
["keydown","keypress","keyup","click","pointerdown","touchstart"].forEach(function(t){ addEventListener(t, rec, {capture: true, passive: true}); });
document.getElementById("b").focus();
</script></body></html>`

// tellsServer serves tellsPage cross-origin isolated, as the landing
// page is served (server.render): its clock then counts in 5 µs.
func tellsServer() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cross-Origin-Opener-Policy", "same-origin")
		w.Header().Set("Cross-Origin-Embedder-Policy", "credentialless")
		_, _ = io.WriteString(w, tellsPage)
	}))
}

// tellsEvent is one logged event of tellsPage.
type tellsEvent struct {
	T      string  `json:"t"`
	TS     float64 `json:"ts"`
	Caps   string  `json:"caps"`
	Detail int     `json:"detail"`
	Key    string  `json:"key"`
	Code   string  `json:"code"`
	KeyCod int     `json:"keyCode"`
	Loc    int     `json:"loc"`
	Rep    bool    `json:"rep"`
	PT     string  `json:"pt"`
	PID    int     `json:"pid"`
	P      float64 `json:"p"`
	W      float64 `json:"w"`
	RX     float64 `json:"rx"`
	F      float64 `json:"f"`
}

// tellsVisit opens tellsPage afresh and returns a function that reads its
// log.
func tellsVisit(t *testing.T, ctx context.Context, url string) func() []tellsEvent {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		t.Fatal(err)
	}
	return func() []tellsEvent {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify(window.__log)`))
		if err != nil {
			t.Fatal(err)
		}
		var out []tellsEvent
		if err := json.Unmarshal([]byte(s), &out); err != nil {
			t.Fatal(err)
		}
		return out
	}
}

// pageFocused reports whether the page has the focus (document.hasFocus).
func pageFocused(ctx context.Context) bool {
	ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.hasFocus()`))
	return err == nil && ok
}

// keyClock is what the collector's key clock makes of a log: the largest
// distance from the whole milliseconds after the first key event, and
// the largest keydown-to-keypress gap (report.Recorder.Key).
func keyClock(evs []tellsEvent) (n int, off, gap float64) {
	var first, down float64
	for _, e := range evs {
		if e.T != "keydown" && e.T != "keypress" && e.T != "keyup" {
			continue
		}
		if n == 0 {
			first = e.TS
		}
		n++
		d := e.TS - first
		off = max(off, math.Abs(d-math.Round(d)))
		switch e.T {
		case "keydown":
			down = e.TS
		case "keypress":
			gap = max(gap, e.TS-down)
		}
	}
	return n, off, gap
}

// TestInputTellsCDPAndX measures, in one headful Chromium under Xvfb,
// what the page sees of real X input (xdotool, through XTEST) and of the
// debugging protocol's input to the same button, field by field; the
// input signal's tells are these measurements (fingerprint/auto_input.go,
// docs/collector.md):
//   - a mouse press: pointerdown pressure 0.5 from X, 0 from CDP;
//   - key presses: the same key, code, keyCode, location, repeat,
//     sourceCapabilities and click (detail 0, pointerType "", pointerId
//     -1) from both; but X stamps every key event on a whole-millisecond
//     grid and a press's keydown and keypress alike, and CDP does not.
//
// It also measures how often one careful CDP press (keyDown with its
// text, a pause, keyUp) lands on the grid by chance: the rule's residue.
func TestInputTellsCDPAndX(t *testing.T) {
	if !redteamAll() {
		t.Skip("a measurement: make redteam (LINKGUARD_REDTEAM=1) runs it")
	}
	x := startXvfb(t, 1280, 1024)
	root := headful(t, x)
	srv := tellsServer()
	defer srv.Close()
	ctx, cancel := context.WithTimeout(root, 120*time.Second)
	defer cancel()
	// The window is the tab's, at the screen's top left; the pointer
	// rests on it, and its first XTEST key is lost (see personKeys).
	if _, err := chromedp.Call(ctx, page.BringToFront, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	if err := x.xdotool("mousemove", "900", "780", "key", "shift"); err != nil {
		t.Fatal(err)
	}

	// Keys from the X server: Enter and Space held, and xdotool's own.
	var xKeys []tellsEvent
	for i, tries := 0, 0; i < 6; i++ {
		log := tellsVisit(t, ctx, srv.URL)
		if iso, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`self.crossOriginIsolated`)); err != nil || !iso {
			t.Fatalf("the page is not cross-origin isolated (%v): its clock counts in 100 µs", err)
		}
		// The keyboard's press reaches the page once it has the focus.
		for j := 0; j < 50 && (!activeIs(ctx, "#b") || !pageFocused(ctx)); j++ {
			time.Sleep(20 * time.Millisecond)
		}
		time.Sleep(150 * time.Millisecond)
		for _, press := range [][]string{
			{"keydown", "Return", "sleep", "0.09", "keyup", "Return"},
			{"keydown", "space", "sleep", "0.11", "keyup", "space"},
			{"key", "Return"},
		} {
			if err := x.xdotool(press...); err != nil {
				t.Fatal(err)
			}
			time.Sleep(60 * time.Millisecond)
		}
		evs := log()
		n, off, gap := keyClock(evs)
		if off > 0.001 || gap != 0 {
			t.Errorf("page %d: X keys %.4f ms off the grid, keypress %.4f ms after keydown: %+v", i, off, gap, evs)
		}
		if n != 9 {
			// Under load a press that comes as the new page takes the
			// focus may lose its keydown; the stamps that came are
			// checked above, and the page is measured again.
			if tries++; tries > 3 {
				t.Fatalf("page %d: %d key events from 3 X presses, want 9: %+v", i, n, evs)
			}
			t.Logf("page %d: %d key events from 3 X presses, want 9: again", i, n)
			i--
			continue
		}
		xKeys = append(xKeys, evs...)
	}

	// Keys from CDP: chromedp's kb.Enter (keyDown, then char, then
	// keyUp), and careful presses.
	var cdpKeys []tellsEvent
	var gaps []string
	for i := 0; i < 6; i++ {
		log := tellsVisit(t, ctx, srv.URL)
		time.Sleep(80 * time.Millisecond)
		if err := chromedp.Do(ctx, chromedp.KeyEvent(kb.Enter)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(40 * time.Millisecond)
		evs := log()
		n, off, gap := keyClock(evs)
		if n != 3 || off <= 0.002 && gap <= 0.002 {
			t.Errorf("chromedp's kb.Enter %d: %d key events %.3f ms off the grid, keypress %.3f ms after keydown: the key clock misses it", i, n, off, gap)
		}
		gaps = append(gaps, strconv.FormatFloat(gap, 'f', 3, 64))
		cdpKeys = append(cdpKeys, evs...)
	}
	t.Logf("chromedp's kb.Enter: keypress after its keydown by %s ms", strings.Join(gaps, " "))
	const careful = 20
	onGrid := 0
	var offs []string
	for i := 0; i < careful; i++ {
		log := tellsVisit(t, ctx, srv.URL)
		time.Sleep(80 * time.Millisecond)
		if err := cdpPress(ctx, keyEnter, 0, time.Duration(85+i%4*10)*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		time.Sleep(40 * time.Millisecond)
		evs := log()
		n, off, gap := keyClock(evs)
		if n != 3 || gap != 0 {
			t.Fatalf("careful CDP press %d: %d key events, gap %.1f: %+v", i, n, gap, evs)
		}
		if off <= 0.002 { // fingerprint's keyClockMS
			onGrid++
		}
		offs = append(offs, strconv.FormatFloat(off, 'f', 3, 64))
		cdpKeys = append(cdpKeys, evs...)
	}
	t.Logf("careful CDP presses (keyDown with text, keyUp 85-115 ms later): off the grid by %s ms; on it by chance: %d of %d",
		strings.Join(offs, " "), onGrid, careful)
	if onGrid > 2 {
		t.Errorf("%d of %d CDP presses on the whole-millisecond grid: the clock is no tell here", onGrid, careful)
	}

	// Every other field the page can read is the same.
	fields := func(evs []tellsEvent) map[string]bool {
		set := map[string]bool{}
		for _, e := range evs {
			if e.Key != "Enter" && e.T != "click" {
				continue
			}
			e.TS = 0
			b, _ := json.Marshal(e)
			set[string(b)] = true
		}
		return set
	}
	xf, cf := fields(xKeys), fields(cdpKeys)
	for k := range cf {
		if !xf[k] {
			t.Errorf("a CDP key event the X keyboard never gave: %s", k)
		}
	}
	for k := range xf {
		t.Logf("Enter's events, X and CDP alike: %s", k)
	}

	// A mouse press: the pressure veto's measurement.
	log := tellsVisit(t, ctx, srv.URL)
	box, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](`(function(){var r=document.getElementById("b").getBoundingClientRect();return [r.left+r.width*0.4,r.top+r.height*0.6, screenX+(outerWidth-innerWidth)/2, screenY+outerHeight-innerHeight-(outerWidth-innerWidth)/2, devicePixelRatio]})()`))
	if err != nil {
		t.Fatal(err)
	}
	sx, sy := (box[2]+box[0])*box[4], (box[3]+box[1])*box[4]
	if err := x.xdotool("mousemove", strconv.Itoa(int(sx)), strconv.Itoa(int(sy)), "sleep", "0.1",
		"mousedown", "1", "sleep", "0.08", "mouseup", "1"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if err := chromedp.Do(ctx,
		chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, box[0], box[1]),
		chromedp.MouseEvent(input.DispatchMouseEventTypeMousePressed, box[0], box[1], chromedp.ButtonLeft, chromedp.ClickCount(1)),
		chromedp.Sleep(80*time.Millisecond),
		chromedp.MouseEvent(input.DispatchMouseEventTypeMouseReleased, box[0], box[1], chromedp.ButtonLeft, chromedp.ClickCount(1))); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	var pressures []float64
	for _, e := range log() {
		if e.T == "pointerdown" {
			pressures = append(pressures, e.P)
		}
	}
	if len(pressures) != 2 || pressures[0] != 0.5 || pressures[1] != 0 {
		t.Errorf("pointerdown pressures %v, want 0.5 (X) then 0 (CDP)", pressures)
	}
}

// phoneEnvJS reads what a phone scanner's disguise must get right.
const phoneEnvJS = `(function(){
  var gl = document.createElement("canvas").getContext("webgl"), r = null;
  if (gl) { var e = gl.getExtension("WEBGL_debug_renderer_info"); r = e ? gl.getParameter(e.UNMASKED_RENDERER_WEBGL) : gl.getParameter(gl.RENDERER); }
  function m(q) { return matchMedia(q).matches; }
  return JSON.stringify({ua: navigator.userAgent, platform: navigator.platform, mobile: navigator.userAgentData && navigator.userAgentData.mobile,
    coarse: m("(pointer: coarse)"), fine: m("(any-pointer: fine)"), hover: m("(any-hover: hover)"), touch: navigator.maxTouchPoints,
    screen: screen.width + "x" + screen.height, outer: outerWidth + "x" + outerHeight, inner: innerWidth + "x" + innerHeight,
    orientation: screen.orientation && screen.orientation.type, webgl: r});
})()`

// TestPhoneEmulationTells measures what device emulation changes and
// what it leaves the host's, headful under Xvfb and headless: the
// environment signal's emulated-phone veto rests on it. The disguise is
// dressPhoneCarefully's (an Android Chrome, portrait, touch). The pointer
// media queries, touch points, screen and User-Agent all say phone; WebGL
// stays the host's (none under Xvfb, SwiftShader headless). A CDP tap's
// touch point has the radius and force it was given (1 and 1 by
// default), which no rule uses: no phone was at hand to measure a
// finger's.
func TestPhoneEmulationTells(t *testing.T) {
	srv := tellsServer()
	defer srv.Close()
	type env struct {
		UA, Platform, Screen, Outer, Inner, Orientation string
		Mobile, Coarse, Fine, Hover                     bool
		Touch                                           int
		WebGL                                           *string
	}
	measure := func(t *testing.T, ctx context.Context) env {
		if err := dressPhoneCarefully(ctx); err != nil {
			t.Fatal(err)
		}
		log := tellsVisit(t, ctx, srv.URL)
		raw, err := chromedp.Run(ctx, chromedp.Evaluate[string](phoneEnvJS))
		if err != nil {
			t.Fatal(err)
		}
		var got env
		if err := json.Unmarshal([]byte(raw), &got); err != nil {
			t.Fatal(err)
		}
		t.Logf("the emulated phone: %s", raw)
		if got.UA != pixel.ua || !got.Mobile || !got.Coarse || got.Fine || got.Hover || got.Touch != 5 ||
			got.Screen != "412x915" || got.Orientation != "portrait-primary" {
			t.Errorf("the disguise did not take: %s", raw)
		}
		box, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](`(function(){var r=document.getElementById("b").getBoundingClientRect();return [r.left+r.width/2,r.top+r.height/2]})()`))
		if err != nil {
			t.Fatal(err)
		}
		if err := chromedp.Do(ctx, chromedp.TapXY(box[0], box[1])); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
		for _, e := range log() {
			if e.T == "touchstart" {
				t.Logf("a CDP tap's touch point: radiusX %v, force %v", e.RX, e.F)
				if e.RX != 1 || e.F != 1 {
					t.Errorf("touch point radius %v, force %v: not CDP's defaults", e.RX, e.F)
				}
			}
		}
		return got
	}
	t.Run("headful", func(t *testing.T) {
		x := startXvfb(t, 1280, 1024)
		root := headful(t, x)
		ctx, cancel := context.WithTimeout(root, 60*time.Second)
		defer cancel()
		if got := measure(t, ctx); got.WebGL != nil {
			t.Errorf("WebGL %q under Xvfb: the headful phone scanner would need another tell", *got.WebGL)
		}
	})
	t.Run("headless", func(t *testing.T) {
		e := newEnvOn(t, stealthBrowser(t), mustDefaultEngine(t))
		if got := measure(t, e.browser(45*time.Second)); got.WebGL == nil || !strings.Contains(*got.WebGL, "SwiftShader") {
			t.Errorf("WebGL %v headless, want SwiftShader", got.WebGL)
		}
	})
}
