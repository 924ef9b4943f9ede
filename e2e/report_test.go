package e2e

import (
	"encoding/json"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/linkguard/linkguard/fingerprint"
	"github.com/linkguard/linkguard/fingerprint/fingerprinttest"
)

// recorder is a Decider that keeps every input it is asked about (the
// server has already decoded the report strictly by then).
type recorder struct {
	inner fingerprint.Decider
	mu    sync.Mutex
	in    []fingerprint.Input
}

func (r *recorder) Decide(in *fingerprint.Input) fingerprint.Verdict {
	r.mu.Lock()
	c := *in
	if in.Report != nil {
		rep := *in.Report
		c.Report = &rep
	}
	r.in = append(r.in, c)
	r.mu.Unlock()
	return r.inner.Decide(in)
}

func (r *recorder) inputs() []fingerprint.Input {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.in)
}

// truth is what the page itself says, read by the test with JavaScript.
type truth struct {
	Webdriver   bool     `json:"webdriver"`
	UA          string   `json:"ua"`
	Languages   []string `json:"languages"`
	TimeZone    string   `json:"tz"`
	Cores       int      `json:"cores"`
	ScreenW     int      `json:"screen_w"`
	InnerW      int      `json:"inner_w"`
	OuterW      int      `json:"outer_w"`
	Plugins     int      `json:"plugins"`
	ChromeObj   bool     `json:"chrome_obj"`
	Renderer    string   `json:"renderer"`
	HasUAData   bool     `json:"has_ua_data"`
	UADataBrand []string `json:"brands"`
	Platform    string   `json:"platform"`
	WinScreenX  int      `json:"win_screen_x"`
	WinScreenY  int      `json:"win_screen_y"`
	ButtonW     float64  `json:"button_w"`
	ButtonH     float64  `json:"button_h"`
}

const truthJS = `(function(){
  var gl = document.createElement("canvas").getContext("webgl"), ext = gl && gl.getExtension("WEBGL_debug_renderer_info");
  return JSON.stringify({
    webdriver: navigator.webdriver, ua: navigator.userAgent, languages: navigator.languages,
    tz: Intl.DateTimeFormat().resolvedOptions().timeZone, cores: navigator.hardwareConcurrency,
    screen_w: screen.width, inner_w: innerWidth, outer_w: outerWidth, plugins: navigator.plugins.length,
    chrome_obj: typeof window.chrome === "object",
    renderer: ext ? gl.getParameter(ext.UNMASKED_RENDERER_WEBGL) : "",
    has_ua_data: !!navigator.userAgentData,
    brands: navigator.userAgentData ? navigator.userAgentData.brands.map(function(b){ return b.brand; }) : [],
    platform: navigator.platform, win_screen_x: screenX, win_screen_y: screenY,
    button_w: document.getElementById("lg-continue").getBoundingClientRect().width,
    button_h: document.getElementById("lg-continue").getBoundingClientRect().height
  });
})()`

// TestReportMatchesChromium checks the collector's reports, as the
// server decoded them, against what headless Chromium really exposes,
// and the interaction accounting: a script click is counted apart and is
// not trusted, a CDP mouse click is trusted with its pointer path.
func TestReportMatchesChromium(t *testing.T) {
	rec := &recorder{inner: fingerprinttest.Basic{}}
	e := newEnv(t, rec)
	l := e.issue("the-requester-cookie")
	ctx := e.browser(30 * time.Second)
	if err := chromedp.Do(ctx, chromedp.Navigate(l.url)); err != nil {
		t.Fatal(err)
	}
	if st, err := waitState(ctx, "confirm"); err != nil {
		t.Fatalf("state %q: %v", st, err)
	}
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[string](truthJS))
	if err != nil {
		t.Fatal(err)
	}
	var want truth
	if err := json.Unmarshal([]byte(raw), &want); err != nil {
		t.Fatal(err)
	}
	t.Logf("chromium says: %+v", want)

	// A script click on Continue: posted, but not trusted.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById("lg-continue").click(), true`)); err != nil {
		t.Fatal(err)
	}
	waitInputs(t, rec, 2)
	if st, err := waitState(ctx, "confirm"); err != nil || st != "confirm" {
		t.Fatalf("after a script click: state %q, %v", st, err)
	}
	if err := humanClick(ctx, "#lg-continue"); err != nil {
		t.Fatal(err)
	}
	if _, err := waitRedirect(ctx); err != nil {
		t.Fatal(err)
	}
	in := rec.inputs()
	if len(in) != 3 {
		t.Fatalf("%d decisions, want 3 (verify, script confirm, real confirm)", len(in))
	}
	for i, stage := range []fingerprint.Stage{fingerprint.StageVerify, fingerprint.StageConfirm, fingerprint.StageConfirm} {
		if in[i].Stage != stage || in[i].Report == nil {
			t.Fatalf("decision %d: stage %s, report %v", i, in[i].Stage, in[i].Report != nil)
		}
	}
	v, script, real := in[0].Report, in[1].Report, in[2].Report
	b, _ := json.MarshalIndent(v, "", "  ")
	t.Logf("verify report:\n%s", b)

	// Device and automation signals, against the page's own view.
	check := func(name string, got, want any) {
		t.Helper()
		gb, _ := json.Marshal(got)
		wb, _ := json.Marshal(want)
		if string(gb) != string(wb) {
			t.Errorf("%s: report %s, chromium %s", name, gb, wb)
		}
	}
	check("v", v.V, fingerprint.SchemaVersion)
	check("stage", v.Stage, "verify")
	check("webdriver", v.Automation.Webdriver, want.Webdriver)
	if !v.Automation.Webdriver {
		t.Error("chromedp's Chromium runs with --enable-automation: navigator.webdriver should be true")
	}
	check("user agent", v.Device.UserAgent, want.UA)
	check("languages", v.Locale.Languages, want.Languages)
	check("time zone", v.Locale.TimeZone, want.TimeZone)
	check("cores", v.Device.HardwareConcurrency, want.Cores)
	check("screen width", v.Device.Screen.Width, want.ScreenW)
	check("inner width", v.Device.Window.InnerWidth, want.InnerW)
	check("outer width", v.Device.Window.OuterWidth, want.OuterW)
	check("plugins", v.Automation.Plugins, want.Plugins)
	check("chrome object", v.Automation.ChromeObject, want.ChromeObj)
	if !slices.Contains(v.Automation.UAMarks, "HeadlessChrome") {
		t.Errorf("UA marks %v lack HeadlessChrome (UA %q)", v.Automation.UAMarks, v.Device.UserAgent)
	}
	if v.Device.WebGL == nil {
		t.Errorf("no WebGL in the report (errors %v)", v.Errors)
	} else {
		check("webgl renderer", v.Device.WebGL.Renderer, want.Renderer)
		if !v.Device.SoftwareRenderer() {
			t.Errorf("renderer %q not recognised as software (SwiftShader/llvmpipe)", v.Device.WebGL.Renderer)
		}
	}
	if want.HasUAData {
		if v.Device.UAData == nil {
			t.Error("navigator.userAgentData exists but the report has none")
		} else {
			var brands []string
			for _, b := range v.Device.UAData.Brands {
				brands = append(brands, b.Brand)
			}
			check("brands", brands, want.UADataBrand)
		}
	}
	if v.Automation.NotificationQuery == "" || v.Automation.NotificationPermission == "" {
		t.Errorf("notification permission %q / query %q: both should be read", v.Automation.NotificationPermission, v.Automation.NotificationQuery)
	}
	if v.Timing.NavigationType != "navigate" || v.Timing.StartMS <= 0 || v.Timing.VerifyMS < v.Timing.StartMS || v.Timing.DOMContentLoadedMS <= 0 {
		t.Errorf("timing %+v", v.Timing)
	}
	if v.Page.Visibility != "visible" {
		t.Errorf("page %+v", v.Page)
	}
	if len(v.Errors) > 0 {
		t.Errorf("probe errors: %v", v.Errors)
	}
	check("window screen x", v.Device.Window.ScreenX, want.WinScreenX)
	check("window screen y", v.Device.Window.ScreenY, want.WinScreenY)
	// The worker's navigator is the page's (nothing patched it here).
	if w := v.Device.Worker; w == nil {
		t.Errorf("no worker in the report (errors %v)", v.Errors)
	} else {
		check("worker user agent", w.UserAgent, want.UA)
		check("worker platform", w.Platform, want.Platform)
		check("worker languages", w.Languages, want.Languages)
		check("worker cores", w.HardwareConcurrency, want.Cores)
	}
	// Every report carries a proof that the server found good.
	for i := range in {
		if in[i].Proof != fingerprint.ProofOK || in[i].Report.Proof == nil || in[i].Report.Proof.Bits < 12 {
			t.Errorf("decision %d: proof %q (%+v)", i, in[i].Proof, in[i].Report.Proof)
		}
	}
	// No input yet at verify.
	if v.Interaction.Click != nil || v.Interaction.Trusted.PointerMove.N != 0 || v.TrustedClick() {
		t.Errorf("verify interaction %+v", v.Interaction)
	}

	// The script click: counted apart, never trusted.
	if script.TrustedClick() || script.Interaction.Click == nil || script.Interaction.Click.Trusted ||
		script.Interaction.Untrusted.Click.N != 1 || script.Interaction.Trusted.Click.N != 0 {
		t.Errorf("script click report: %+v click %+v", script.Interaction, script.Interaction.Click)
	}
	if script.Timing.VerifyMS != v.Timing.VerifyMS || script.Timing.ConfirmMS <= v.Timing.VerifyMS {
		t.Errorf("confirm timing %+v after verify %+v", script.Timing, v.Timing)
	}

	// The CDP click: trusted, on Continue, with the path that led there.
	c := real.Interaction.Click
	if !real.TrustedClick() || c == nil {
		t.Fatalf("real click report: %+v", real.Interaction)
	}
	b, _ = json.MarshalIndent(real.Interaction, "", "  ")
	t.Logf("confirm interaction:\n%s", b)
	if c.Detail != 1 || c.PointerType != "mouse" || c.Path.Points < 10 || c.Path.Length < 50 ||
		c.Path.Straightness <= 0.5 || c.Path.Straightness > 1 || c.Path.EndDistance < 0 || c.Path.EndDistance > 1 {
		t.Errorf("click %+v", c)
	}
	// humanClick moved onto the button, pressed its exact centre and
	// released it 70 ms later.
	if !c.Hovered || c.PressMS < 60 || c.PressMS > 400 || c.OffsetX < -1 || c.OffsetX > 1 || c.OffsetY < -1 || c.OffsetY > 1 ||
		c.TargetW != want.ButtonW || c.TargetH != want.ButtonH || c.ScreenX == 0 && c.ScreenY == 0 {
		t.Errorf("click details %+v (button %vx%v)", c, want.ButtonW, want.ButtonH)
	}
	if script.Interaction.Click.Hovered || script.Interaction.Click.PressMS != 0 {
		t.Errorf("script click has hover or press: %+v", script.Interaction.Click)
	}
	if real.Interaction.Trusted.PointerMove.N < 10 || real.Interaction.Trusted.PointerDown.N != 1 ||
		real.Interaction.FirstMS <= v.Timing.VerifyMS || real.Interaction.Untrusted.Click.N != 1 {
		t.Errorf("interaction %+v", real.Interaction)
	}
}

func waitInputs(t *testing.T, r *recorder, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(r.inputs()) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d decisions, waited for %d", len(r.inputs()), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
