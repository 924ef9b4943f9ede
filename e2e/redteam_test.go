package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/input"
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
	x := startXvfb(t, 1280, 1024)
	root := headful(t, x)
	rec := &recorder{inner: mustDefaultEngine(t)}
	e := newKitEnvOn(t, root, rec)
	asker := e.browser(45 * time.Second)
	signIn(t, asker, e, "alice@example.com")
	m := e.mailTo("alice@example.com")
	if err := chromedp.Cancel(asker); err != nil {
		t.Logf("close the asking context: %v", err)
	}
	ctx, cancel := context.WithTimeout(root, 60*time.Second)
	defer cancel()
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
// Continue from the keyboard through the debugging protocol.
func TestHeadfulCDPKeysNeverConsume(t *testing.T) {
	for _, a := range keyAttacks {
		t.Run(a.name, func(t *testing.T) { headfulScan(t, nil, a.act).neverConsumed(t) })
	}
}

// TestStealthCDPKeysNeverConsume: the dressed headless scanner activates
// Continue from the keyboard through the debugging protocol.
func TestStealthCDPKeysNeverConsume(t *testing.T) {
	for _, p := range []persona{winChrome, linuxChrome} {
		for _, a := range keyAttacks {
			t.Run(p.name+"/"+a.name, func(t *testing.T) { stealthScan(t, p, nil, a.act).neverConsumed(t) })
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
	for _, a := range phoneAttacks() {
		t.Run(a.name, func(t *testing.T) { headfulScan(t, a.dress, a.act).neverConsumed(t) })
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
