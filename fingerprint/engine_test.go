package fingerprint

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/linkguard/linkguard/internal/benchcpu"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

const (
	uaChromeWin     = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/145.0.0.0 Safari/537.36"
	uaChromeLinux   = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/145.0.0.0 Safari/537.36"
	uaChromeOS      = "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/145.0.0.0 Safari/537.36"
	uaChromeAndroid = "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/145.0.0.0 Mobile Safari/537.36"
	uaFirefoxLinux  = "Mozilla/5.0 (X11; Linux x86_64; rv:147.0) Gecko/20100101 Firefox/147.0"
	uaIPhone        = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_3 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.3 Mobile/15E148 Safari/604.1"
	uaOldChrome     = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/109.0.0.0 Safari/537.36"
)

// humanReport is what a person's desktop Chrome reports.
func humanReport() *Report {
	return &Report{
		V: SchemaVersion,
		Automation: Automation{ChromeObject: true, NotificationPermission: "default",
			NotificationQuery: "prompt", Plugins: 5, MimeTypes: 2, PDFViewer: true},
		Device: Device{
			UserAgent: uaChromeWin, Platform: "Win32", PointerFine: true, Hover: true,
			UAData: &UAData{Brands: []Brand{{Brand: "Google Chrome", Version: "145"}, {Brand: "Chromium", Version: "145"}}, Platform: "Windows"},
			Screen: Screen{Width: 1920, Height: 1080}, Window: Window{InnerWidth: 1280, InnerHeight: 900, OuterWidth: 1296, OuterHeight: 1010},
			WebGL: &WebGL{Vendor: "Google Inc. (NVIDIA)", Renderer: "ANGLE (NVIDIA GeForce RTX 3060 Direct3D11)", Unmasked: true},
		},
		Locale:      Locale{TimeZone: "Europe/London", Language: "en-GB", Languages: []string{"en-GB", "en"}},
		Interaction: Interaction{Trusted: Events{PointerMove: EventCount{N: 12}}},
		Timing:      Timing{VerifyMS: 400},
	}
}

// humanInput is the person on another Chrome of the same kind, a minute
// after asking, from the same country.
func humanInput() *Input {
	london := Network{Prefix: "p1", Country: "GB", City: "London", ASN: 2856, TimeZone: "Europe/London"}
	visitor := london
	visitor.Prefix = "p2"
	return &Input{
		Stage: StageVerify,
		Requester: Requester{Network: london, UserAgent: uaChromeWin, AcceptLanguage: "en-GB,en;q=0.9",
			HasBinding: true, At: t0},
		Visitor: Visitor{Network: visitor, UserAgent: uaChromeWin, AcceptLanguage: "en-GB,en;q=0.9",
			SecFetchSite: "same-origin", SecFetchMode: "cors", SecFetchDest: "empty",
			SecCHUA: `"Google Chrome";v="145", "Chromium";v="145", "Not.A/Brand";v="24"`, SecCHUAMobile: "?0", SecCHUAPlatform: `"Windows"`,
			At: t0.Add(70 * time.Second)},
		Report: humanReport(),
		Now:    t0.Add(70 * time.Second),
	}
}

// halfPressure is what every real mouse press reports.
var halfPressure = 0.5

// withClick turns an input into the confirm stage with a hand's click.
func withClick(in *Input) *Input {
	in.Stage = StageConfirm
	// The window is at the screen's top left, its top chrome 110 px high
	// (outer 1010 - inner 900): a real click's screenY is clientY + 110.
	in.Report.Interaction.Click = &Click{Trusted: true, OnContinue: true, AtMS: 2600, X: 300, Y: 400, Detail: 1,
		PointerType: "mouse", Path: PointerPath{Points: 24, Length: 380, Straightness: 0.7, DurationMS: 900, SpeedCV: 0.6, EndDistance: 1},
		PressMS: 96, ScreenX: 308, ScreenY: 510, OffsetX: 6.5, OffsetY: -3, TargetW: 160, TargetH: 40, Hovered: true,
		Pressure: &halfPressure}
	return in
}

func mustEngine(t testing.TB, cfg Config) *Engine {
	t.Helper()
	e, err := NewEngine(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func contribution(v Verdict, signal string) Contribution {
	for _, c := range v.Signals {
		if c.Signal == signal {
			return c
		}
	}
	return Contribution{Signal: "missing"}
}

func TestEngineDecisions(t *testing.T) {
	e := mustEngine(t, DefaultConfig())
	tests := []struct {
		name string
		in   func() *Input
		want Decision
	}{
		{"binding/consumes at verify", func() *Input { in := humanInput(); in.Binding = true; return in }, Consume},
		{"binding/consumes even with scanner traits", func() *Input {
			in := humanInput()
			in.Binding = true
			in.Visitor.Network.ASN = 8075
			return in
		}, Consume},
		{"human other device/confirm at verify", humanInput, Confirm},
		{"human other device/consume after click", func() *Input { return withClick(humanInput()) }, Consume},
		{"no report/code", func() *Input { in := humanInput(); in.Report = nil; return in }, Code},
		{"confirm without click/code", func() *Input { in := humanInput(); in.Stage = StageConfirm; return in }, Code},
		{"confirm with script click/code", func() *Input {
			in := withClick(humanInput())
			in.Report.Interaction.Click.Trusted = false
			return in
		}, Code},
		{"scanner network/code, never a dead end", func() *Input {
			in := withClick(humanInput())
			in.Visitor.Network.ASN = 22843
			return in
		}, Code},
		{"webdriver/code", func() *Input { in := humanInput(); in.Report.Automation.Webdriver = true; return in }, Code},
		{"consistency/replayed report without Sec-Fetch-Site from Chrome: code", func() *Input {
			in := withClick(humanInput())
			in.Visitor.SecFetchSite, in.Visitor.SecFetchMode, in.Visitor.SecFetchDest = "", "", ""
			return in
		}, Code},
		{"consistency/Safari without Sec-Fetch-Site still clicks through", func() *Input {
			in := withClick(humanInput())
			in.Requester.UserAgent = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/15.6 Safari/605.1.15"
			in.Visitor.UserAgent = in.Requester.UserAgent
			in.Visitor.SecFetchSite, in.Visitor.SecFetchMode, in.Visitor.SecFetchDest, in.Visitor.SecCHUA, in.Visitor.SecCHUAMobile, in.Visitor.SecCHUAPlatform = "", "", "", "", "", ""
			in.Report.Device.UserAgent = in.Visitor.UserAgent
			in.Report.Device.Platform = "MacIntel"
			in.Report.Device.UAData = nil
			return in
		}, Consume},
	}
	tests = append(tests, []struct {
		name string
		in   func() *Input
		want Decision
	}{
		{"xvfb person/confirm at verify", func() *Input { return xvfbPerson(false) }, Confirm},
		{"xvfb person/consume on Continue", func() *Input { return xvfbPerson(true) }, Consume},
		{"cdp click on a clean browser/code", func() *Input {
			in := withClick(humanInput())
			in.Visitor.Network.Prefix = in.Requester.Network.Prefix // even from the requester's own network
			*in.Report.Interaction.Click = Click{Trusted: true, OnContinue: true, AtMS: 2600, X: 300, Y: 400, Detail: 1,
				PointerType: "mouse", Path: PointerPath{EndDistance: -1}, PressMS: 0.4, TargetW: 160, TargetH: 40}
			return in
		}, Code},
	}...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := e.Decide(tt.in())
			if v.Decision != tt.want {
				t.Fatalf("decision %s, want %s (score %.3f, rule %q)\n%s", v.Decision, tt.want, v.Score, v.Rule, dump(v))
			}
			if v.Config != e.Hash() || v.Rule == "" || len(v.Signals) != len(registry) {
				t.Fatalf("verdict lacks config hash, rule or signals: %+v", v)
			}
		})
	}
}

// xvfbPerson is the e2e person test as the engine sees it: a headful
// Chromium under Xvfb (no GPU: SwiftShader or no WebGL at all; UTC clock;
// Chromium's own brands) on the requester's loopback network, a few
// seconds after issue, clicking Continue with real X pointer input moved
// there in steps (xdotool holds the button about 12 ms), possibly on its
// exact centre.
func xvfbPerson(click bool) *Input {
	ua := "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36"
	loop := Network{Prefix: "loopback"}
	at := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	in := &Input{
		Stage:     StageVerify,
		Requester: Requester{Network: loop, UserAgent: ua, AcceptLanguage: "en-US,en;q=0.9", At: at},
		Visitor: Visitor{Network: loop, UserAgent: ua, AcceptLanguage: "en-US,en;q=0.9",
			SecFetchSite: "same-origin", SecFetchMode: "cors", SecFetchDest: "empty",
			SecCHUA: `"Chromium";v="156", "Not-A.Brand";v="24"`, SecCHUAMobile: "?0", SecCHUAPlatform: `"Linux"`,
			At: at.Add(4 * time.Second)},
		Report: &Report{V: SchemaVersion,
			Automation: Automation{ChromeObject: true, NotificationPermission: "default", NotificationQuery: "prompt", Plugins: 5, MimeTypes: 2, PDFViewer: true},
			// The X server's pointer, even Xvfb's virtual one, gives
			// (pointer: fine) and (hover: hover) (measured, e2e/xvfb_test.go).
			Device: Device{UserAgent: ua, Platform: "Linux x86_64", HardwareConcurrency: 2, PointerFine: true, Hover: true,
				UAData: &UAData{Brands: []Brand{{Brand: "Chromium", Version: "156"}, {Brand: "Not-A.Brand", Version: "24"}}, Platform: "Linux"},
				Screen: Screen{Width: 1280, Height: 1024}, Window: Window{InnerWidth: 1280, InnerHeight: 881, OuterWidth: 1280, OuterHeight: 1024},
				WebGL:  &WebGL{Vendor: "Google Inc. (Google)", Renderer: "ANGLE (Google, Vulkan 1.3.0 (SwiftShader Device (Subzero) (0x0000C0DE)), SwiftShader driver)", Unmasked: true},
				Worker: &Worker{UserAgent: ua, Platform: "Linux x86_64", Languages: []string{"en-US"}, HardwareConcurrency: 2}},
			Locale: Locale{TimeZone: "UTC", Language: "en-US", Languages: []string{"en-US"}},
			Timing: Timing{VerifyMS: 600}},
		History: []PastVisit{{At: at.Add(3 * time.Second), Kind: VisitView, Network: loop, UserAgent: ua}},
		Now:     at.Add(4 * time.Second),
	}
	if click {
		in.Stage = StageConfirm
		in.Now = at.Add(7 * time.Second)
		in.Report.Interaction.Trusted.PointerMove = EventCount{N: 9, FirstMS: 2200}
		in.Report.Interaction.Click = &Click{Trusted: true, OnContinue: true, AtMS: 3100, X: 640, Y: 420, Detail: 1,
			PointerType: "mouse", Path: PointerPath{Points: 9, Length: 420, Straightness: 0.93, DurationMS: 700, SpeedCV: 0.4, EndDistance: 0},
			PressMS: 12, ScreenX: 640, ScreenY: 420 + 143, TargetW: 160, TargetH: 40, Hovered: true, Pressure: &halfPressure}
	}
	return in
}

func dump(v Verdict) string {
	var b strings.Builder
	for _, c := range v.Signals {
		b.WriteString("  " + c.Signal + " " + ftoa(c.Value) + " × " + ftoa(c.Weight) + ": " + c.Reason + "\n")
	}
	return b.String()
}

func TestZeroClickPolicy(t *testing.T) {
	cfg := DefaultConfig()
	cfg.ZeroClick = true
	cfg.Compatibility.Thresholds.Consume = 0.8
	in := humanInput()
	in.Report.Interaction.Trusted.TouchStart.N = 3
	if v := mustEngine(t, cfg).Decide(in); v.Decision != Consume {
		t.Fatalf("zero_click on: %s (score %.3f)", v.Decision, v.Score)
	}
	if v := mustEngine(t, DefaultConfig()).Decide(in); v.Decision != Confirm {
		t.Fatalf("zero_click off: %s (score %.3f)", v.Decision, v.Score)
	}
}

func TestSwapChangesDecisionsAndHash(t *testing.T) {
	e := mustEngine(t, DefaultConfig())
	h := e.Hash()
	cfg := DefaultConfig()
	cfg.Compatibility.Thresholds.Confirm = 0.999
	if err := e.Swap(cfg); err != nil {
		t.Fatal(err)
	}
	if e.Hash() == h {
		t.Fatal("hash did not change with the thresholds")
	}
	if v := e.Decide(humanInput()); v.Decision != Code {
		t.Fatalf("after swap: %s", v.Decision)
	}
	bad := DefaultConfig()
	bad.Compatibility.Thresholds.Confirm = 2
	if err := e.Swap(bad); err == nil || e.Config().Compatibility.Thresholds.Confirm != 0.999 {
		t.Fatalf("a bad config was accepted or replaced the running one: %v", err)
	}
}

func TestValidateNamesTheKey(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
		key  string
	}{
		{"thresholds/confirm above 1", func(c *Config) { c.Compatibility.Thresholds.Confirm = 1.5 }, "heuristics.compatibility.thresholds.confirm"},
		{"thresholds/zero config", func(c *Config) { *c = Config{} }, "heuristics.compatibility.thresholds.consume"},
		{"thresholds/automation zero", func(c *Config) { c.Automation.Threshold = 0 }, "heuristics.automation.threshold"},
		{"signals/negative weight", func(c *Config) { c.SetWeight("geo", -1) }, "heuristics.compatibility.signals.geo.weight"},
		{"signals/automation weight", func(c *Config) { c.SetWeight("input", 11) }, "heuristics.automation.signals.input.weight"},
		{"signals/binding off", func(c *Config) { c.Disable("binding") }, "heuristics.compatibility.signals.binding.enabled"},
		{"signals/unknown", func(c *Config) { c.Automation.Signals = SignalSet{"nope": {}} }, "heuristics.automation.signals.nope"},
		{"signals/wrong axis", func(c *Config) { c.Automation.Signals = SignalSet{"geo": {Enabled: true, Weight: 1}} }, "geo is a signal of the compatibility axis"},
		{"params/near beyond far", func(c *Config) { c.Params.NearKm = 5000 }, "heuristics.params.near_km"},
		{"scanners/unknown disable", func(c *Config) { c.Scanners.Disable = []string{"nope"} }, "heuristics.scanners.disable[0]"},
		{"scanners/bad range", func(c *Config) {
			c.Scanners.Add = []ScannerEntry{{Name: "x", Ranges: []string{"10.0.0.0/33"}}}
		}, "heuristics.scanners.add[0].ranges[0]"},
		{"scanners/empty entry", func(c *Config) { c.Scanners.Add = []ScannerEntry{{Name: "x"}} }, "heuristics.scanners.add[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.edit(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.key) {
				t.Fatalf("error %v does not name %s", err, tt.key)
			}
		})
	}
	d := DefaultConfig()
	if err := d.Validate(); err != nil {
		t.Fatalf("default config invalid: %v", err)
	}
}

// BenchmarkDecide is one confirm-stage decision with every signal on, a
// schema-3 report (click dynamics, Web Worker) and two history entries.
// The budget (issue 8): 10 µs and 10 allocations; cpu-ns/op is the one to
// read on a loaded machine (see internal/benchcpu).
func BenchmarkDecide(b *testing.B) {
	e := mustEngine(b, DefaultConfig())
	in := withClick(humanInput())
	d := &in.Report.Device
	d.Worker = &Worker{UserAgent: d.UserAgent, Platform: d.Platform, Languages: []string{"en-GB", "en"}}
	in.History = []PastVisit{
		{At: t0.Add(3 * time.Second), Kind: VisitView, Network: Network{Prefix: "p9", ASN: 8075}, UserAgent: uaOldChrome},
		{At: t0.Add(60 * time.Second), Kind: VisitView, Network: in.Visitor.Network, UserAgent: uaChromeWin},
	}
	b.ReportAllocs()
	start := benchcpu.Start()
	for b.Loop() {
		_ = e.Decide(in)
	}
	benchcpu.Report(b, start)
}

// TestUACache checks the User-Agent cache against parsing afresh: for
// more strings than it has slots (so slots are overwritten), in any
// order, and for a string longer than it keeps.
func TestUACache(t *testing.T) {
	e := mustEngine(t, DefaultConfig())
	c := e.cur.Load()
	var uas []string
	for i := 0; i < 3*len(c.uas); i++ {
		uas = append(uas, strings.Replace(uaChromeWin, "145", strconv.Itoa(60+i%90), 1)+" build/"+strconv.Itoa(i))
	}
	uas = append(uas, "Go-http-client/2.0", "Mozilla/5.0 Barracuda Sentinel (EE)", "", strings.Repeat("x", maxCachedUA+1)+" curl/8")
	for round := 0; round < 2; round++ {
		for i := range uas {
			s := uas[(i*7+round)%len(uas)]
			got := c.userAgent(s)
			if got.s != s || got.ua != ParseUA(s) || got.pat != c.matchUA(s) {
				t.Fatalf("cached %q: %+v, want %+v pattern %d", s, got, ParseUA(s), c.matchUA(s))
			}
		}
	}
	if c.userAgent("Go-http-client/2.0").pat < 0 || c.userAgent(uaChromeWin).pat >= 0 {
		t.Error("pattern matches wrong")
	}
}
