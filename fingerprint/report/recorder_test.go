package report

import (
	"math"
	"reflect"
	"testing"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestReportPathStraightLine(t *testing.T) {
	var p PathTracker
	for i := 0; i <= 10; i++ {
		p.Move(float64(i*10), 0, float64(i*16))
	}
	tot := p.Total()
	if tot.Points != 11 || !near(tot.Length, 100) || !near(tot.Straightness, 1) || !near(tot.DurationMS, 160) {
		t.Fatalf("total = %+v", tot)
	}
	if tot.SpeedCV != 0 {
		t.Errorf("evenly paced moves: SpeedCV = %v, want 0", tot.SpeedCV)
	}
	got := p.Before(170, 103, 4, true)
	if got.Points != 11 || !near(got.EndDistance, 5) {
		t.Fatalf("before click = %+v", got)
	}
	if kb := p.Before(170, 0, 0, false); kb.EndDistance != -1 {
		t.Errorf("keyboard click: EndDistance = %v, want -1", kb.EndDistance)
	}
}

func TestReportPathWanderingAndUneven(t *testing.T) {
	var p PathTracker
	// Out and back: length 200, displacement 0.
	p.Move(0, 0, 0)
	p.Move(100, 0, 10) // speed 10
	p.Move(100, 0, 20) // same point: ignored
	p.Move(0, 0, 120)  // speed 1
	tot := p.Total()
	if tot.Points != 3 || !near(tot.Length, 200) || tot.Straightness != 0 {
		t.Fatalf("total = %+v", tot)
	}
	a, b := 10.0, 100.0/110
	if w := (a - b) / (a + b); !near(tot.SpeedCV, w) { // two values: stddev/mean = |a-b|/(a+b)
		t.Errorf("SpeedCV = %v, want %v", tot.SpeedCV, w)
	}
}

func TestReportPathWindow(t *testing.T) {
	var p PathTracker
	p.Move(0, 0, 0)
	p.Move(10, 0, 100)
	p.Move(20, 0, 5000)
	p.Move(30, 0, 5100)
	got := p.Before(5200, 30, 0, true)
	if got.Points != 2 || !near(got.Length, 10) || got.EndDistance != 0 {
		t.Fatalf("window = %+v", got)
	}
	// Points after the click do not belong to its path.
	if got := p.Before(5050, 20, 0, true); got.Points != 1 || got.Length != 0 {
		t.Fatalf("window before 5050 = %+v", got)
	}
	if got := p.Before(10000, 1, 1, true); got.Points != 0 || got.EndDistance != -1 {
		t.Fatalf("empty window = %+v", got)
	}
}

func TestReportPathRingWraps(t *testing.T) {
	var p PathTracker
	for i := 0; i < 1000; i++ {
		p.Move(float64(i), float64(i%2), float64(i))
	}
	if p.Total().Points != 1000 {
		t.Fatalf("total points = %d", p.Total().Points)
	}
	if got := p.Before(999, 999, 1, true); got.Points != pathRing {
		t.Fatalf("window points = %d, want %d", got.Points, pathRing)
	}
}

func TestReportPathIgnoresNaN(t *testing.T) {
	var p PathTracker
	p.Move(math.NaN(), 0, 0)
	p.Move(0, math.Inf(1), 0)
	if p.Total().Points != 0 {
		t.Fatal("NaN or Inf position was recorded")
	}
}

func TestReportRecorder(t *testing.T) {
	var r Recorder
	r.Base.Device.UserAgent = "UA"
	r.Event(EventFocus, true, 5)
	r.PointerMove(false, 10, 1, 1) // script-made: counted apart, no path
	r.Event(EventKeyDown, false, 11)
	r.PointerMove(true, 20, 0, 0)
	r.PointerMove(true, 36, 30, 40)
	r.Click(ClickInfo{Trusted: false, OnContinue: true, At: 40})
	rep := r.Report("verify", 41)
	if rep.V != SchemaVersion || rep.Stage != "verify" || rep.Timing.VerifyMS != 41 {
		t.Fatalf("header = %+v", rep)
	}
	if rep.Interaction.FirstMS != 20 {
		t.Errorf("FirstMS = %v, want 20 (focus and script events do not count)", rep.Interaction.FirstMS)
	}
	if rep.Interaction.Untrusted.PointerMove.N != 1 || rep.Interaction.Untrusted.KeyDown.N != 1 || rep.Interaction.Untrusted.Click.N != 1 {
		t.Errorf("untrusted = %+v", rep.Interaction.Untrusted)
	}
	if rep.Interaction.Trusted.PointerMove.N != 2 || rep.Interaction.Trusted.PointerMove.FirstMS != 20 || rep.Interaction.Path.Points != 2 {
		t.Errorf("trusted = %+v path %+v", rep.Interaction.Trusted, rep.Interaction.Path)
	}
	if rep.TrustedClick() {
		t.Fatal("a script click made TrustedClick true")
	}
	// A trusted click elsewhere does not count; one on Continue does.
	r.Click(ClickInfo{Trusted: true, At: 50, X: 30, Y: 40, Detail: 1, PointerType: "mouse"})
	if r.Report("confirm", 51).TrustedClick() {
		t.Fatal("a trusted click outside Continue made TrustedClick true")
	}
	r.Click(ClickInfo{Trusted: true, OnContinue: true, At: 60, X: 33, Y: 44, Detail: 1, PointerType: "mouse"})
	r.Click(ClickInfo{Trusted: false, OnContinue: true, At: 70}) // must not replace it
	rep = r.Report("confirm", 80)
	c := rep.Interaction.Click
	if !rep.TrustedClick() || c.AtMS != 60 || c.Path.Points != 2 || !near(c.Path.EndDistance, 5) {
		t.Fatalf("click = %+v", c)
	}
	if rep.Timing.VerifyMS != 41 || rep.Timing.ConfirmMS != 80 {
		t.Errorf("timing = %+v", rep.Timing)
	}
	if rep.Interaction.Trusted.Click.N != 2 || rep.Interaction.Untrusted.Click.N != 2 {
		t.Errorf("click counts trusted %d untrusted %d", rep.Interaction.Trusted.Click.N, rep.Interaction.Untrusted.Click.N)
	}
	// Reports are snapshots: later events do not change an earlier one.
	before := *rep.Interaction.Click
	r.Base.Interaction.Click.AtMS = 1
	if !reflect.DeepEqual(before, *rep.Interaction.Click) {
		t.Error("report shares its click with the recorder")
	}
}

func TestReportRecorderKeyboardClick(t *testing.T) {
	var r Recorder
	r.PointerMove(true, 10, 5, 5)
	r.Click(ClickInfo{Trusted: true, OnContinue: true, At: 20})
	c := r.Report("confirm", 21).Interaction.Click
	if !c.Trusted || c.Path.EndDistance != -1 {
		t.Fatalf("keyboard click = %+v", c)
	}
}

func TestReportErrorsAndClip(t *testing.T) {
	var r Recorder
	for i := 0; i < 40; i++ {
		r.AddError(string(rune('a' + i%26)))
	}
	if len(r.Base.Errors) != MaxErrors {
		t.Fatalf("errors = %d", len(r.Base.Errors))
	}
	long := string(make([]byte, MaxString-1)) + "é"
	if got := Clip(long); len(got) != MaxString-1 {
		t.Fatalf("Clip cut inside a rune: len %d", len(got))
	}
}

func TestReportUAMarks(t *testing.T) {
	cases := map[string][]string{
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/126.0.0.0 Safari/537.36":   {"HeadlessChrome"},
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36": nil,
		"Mozilla/5.0 (Unknown; Linux x86_64) AppleWebKit/538.1 (KHTML, like Gecko) PhantomJS/2.1.1 Safari/538.1":          {"PhantomJS"},
		"Mozilla/5.0 Chrome/120 Electron/28.0.0 Safari/537.36":                                                            {"Electron"},
		"python-requests/2.31": {"python-requests"},
		"":                     nil,
	}
	for ua, want := range cases {
		if got := UAMarks(ua); !reflect.DeepEqual(got, want) {
			t.Errorf("UAMarks(%q) = %v, want %v", ua, got, want)
		}
	}
}

func TestReportSoftwareRenderer(t *testing.T) {
	sw := Device{WebGL: &WebGL{Vendor: "Google Inc. (Google)", Renderer: "ANGLE (Google, Vulkan 1.3.0 (SwiftShader Device (Subzero) (0x0000C0DE)), SwiftShader driver)"}}
	if !sw.SoftwareRenderer() {
		t.Error("SwiftShader not recognised")
	}
	gpu := Device{WebGL: &WebGL{Renderer: "ANGLE (NVIDIA, NVIDIA GeForce RTX 3060 Direct3D11 vs_5_0 ps_5_0, D3D11)"}}
	if gpu.SoftwareRenderer() || (&Device{}).SoftwareRenderer() {
		t.Error("hardware or missing WebGL called software")
	}
}

// TestRecorderClickGeometryAndPress covers the v3 click fields: press
// duration and hover come only from trusted events on the button, and the
// offset is measured from the button's centre.
func TestRecorderClickGeometryAndPress(t *testing.T) {
	btn := ClickInfo{Trusted: true, OnContinue: true, At: 1000, X: 110, Y: 215, Detail: 1, PointerType: "mouse",
		ScreenX: 110, ScreenY: 300, Left: 50, Top: 200, Width: 120, Height: 40}
	cases := []struct {
		name    string
		events  func(r *Recorder)
		click   ClickInfo
		press   float64
		hovered bool
		offX    float64
		offY    float64
		// pressure is the click's Pressure, -1 for nil.
		pressure float64
	}{
		{"hand/hover then press", func(r *Recorder) { r.ButtonOver(true); r.ButtonDown(true, 900, 0.5); r.ButtonUp(true, 987.5) },
			btn, 87.5, true, 0, -5, 0.5},
		{"cdp-like/press from nowhere", func(r *Recorder) { r.ButtonDown(true, 990, 0); r.ButtonUp(true, 990) },
			btn, 0, false, 0, -5, 0},
		{"script/untrusted events do not count", func(r *Recorder) { r.ButtonOver(false); r.ButtonDown(false, 900, 0.5); r.ButtonUp(false, 950) },
			btn, 0, false, 0, -5, -1},
		{"hover after the press does not count", func(r *Recorder) { r.ButtonDown(true, 900, 0.5); r.ButtonOver(true); r.ButtonUp(true, 960) },
			btn, 60, false, 0, -5, 0.5},
		{"up before down is ignored", func(r *Recorder) { r.ButtonDown(true, 900, 0.5); r.ButtonUp(true, 800) },
			btn, 0, false, 0, -5, 0.5},
		{"a pressure that is no number is unknown", func(r *Recorder) { r.ButtonDown(true, 900, math.NaN()); r.ButtonUp(true, 990) },
			btn, 90, false, 0, -5, -1},
		{"keyboard/no point, no offset", func(r *Recorder) {},
			ClickInfo{Trusted: true, OnContinue: true, At: 1000, Left: 50, Top: 200, Width: 120, Height: 40}, 0, false, 0, 0, -1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var r Recorder
			c.events(&r)
			r.Click(c.click)
			k := r.Report("confirm", 1100).Interaction.Click
			if k == nil || k.PressMS != c.press || k.Hovered != c.hovered || k.OffsetX != c.offX || k.OffsetY != c.offY ||
				k.TargetW != c.click.Width || k.TargetH != c.click.Height || k.ScreenX != c.click.ScreenX || k.ScreenY != c.click.ScreenY {
				t.Fatalf("click = %+v; want press %v hovered %v offset %v,%v", k, c.press, c.hovered, c.offX, c.offY)
			}
			if c.pressure < 0 && k.Pressure != nil || c.pressure >= 0 && (k.Pressure == nil || *k.Pressure != c.pressure) {
				t.Fatalf("pressure %v, want %v", k.Pressure, c.pressure)
			}
		})
	}
}

// TestRecorderKeyClock: the key clock measures the trusted key events'
// distance from the whole milliseconds after the first, and the time
// from a keydown to its keypress, with the stamps the X server and the
// debugging protocol gave in Chromium 156 (docs/collector.md).
func TestRecorderKeyClock(t *testing.T) {
	for _, tt := range []struct {
		name string
		evs  [][2]float64 // type, timeStamp
		want KeyClock
	}{
		{"X keyboard: Enter", [][2]float64{{KeyDown, 1457.8000000007}, {KeyPress, 1457.8000000007}, {KeyUp, 1570.8000000007}},
			KeyClock{N: 3}},
		{"X keyboard: Tab, then Space", [][2]float64{{KeyDown, 2202.8}, {KeyUp, 2335.8}, {KeyDown, 2451.8}, {KeyPress, 2451.8}, {KeyUp, 2553.8}},
			KeyClock{N: 5}},
		{"CDP: keyDown with text, keyUp", [][2]float64{{KeyDown, 451.9}, {KeyPress, 451.9}, {KeyUp, 556.0}},
			KeyClock{N: 3, OffGrid: 0.1}},
		{"CDP: chromedp's keyDown, char, keyUp", [][2]float64{{KeyDown, 342.2}, {KeyPress, 344.9}, {KeyUp, 346.8}},
			KeyClock{N: 3, OffGrid: 0.4, PressGap: 2.7}},
		{"no key", nil, KeyClock{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var r Recorder
			r.Key(KeyUp, false, 10.5) // made by script: never on the clock
			for _, ev := range tt.evs {
				r.Key(int(ev[0]), true, ev[1])
			}
			got := r.Report("confirm", 3000).Interaction.Keys
			if got.N != tt.want.N || math.Abs(got.OffGrid-tt.want.OffGrid) > 1e-6 || math.Abs(got.PressGap-tt.want.PressGap) > 1e-6 {
				t.Errorf("key clock %+v, want %+v", got, tt.want)
			}
		})
	}
	var r Recorder
	r.Key(KeyDown, true, 5)
	r.Key(KeyDown, false, 6)
	r.Key(KeyPress, true, 5)
	if in := r.Report("verify", 10).Interaction; in.Trusted.KeyDown.N != 1 || in.Untrusted.KeyDown.N != 1 {
		t.Errorf("keydowns counted %+v trusted, %+v untrusted", in.Trusted.KeyDown, in.Untrusted.KeyDown)
	}
}
