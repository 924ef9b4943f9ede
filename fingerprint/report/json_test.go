package report

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// decodeStrict decodes as the server does: unknown fields are errors.
func decodeStrict(t testing.TB, b []byte) *Report {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var r Report
	if err := dec.Decode(&r); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	if dec.More() {
		t.Fatalf("trailing data after report: %s", b)
	}
	return &r
}

// fill sets every field reachable from v to a value drawn from rnd and
// strs, so that a field the encoder forgets shows up as a difference.
func fill(v reflect.Value, rnd *rand.Rand, strs []string) {
	switch v.Kind() {
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			fill(v.Field(i), rnd, strs)
		}
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		fill(p.Elem(), rnd, strs)
		v.Set(p)
	case reflect.Slice:
		n := 1 + rnd.IntN(3)
		s := reflect.MakeSlice(v.Type(), n, n)
		for i := 0; i < n; i++ {
			fill(s.Index(i), rnd, strs)
		}
		v.Set(s)
	case reflect.String:
		v.SetString(strs[rnd.IntN(len(strs))])
	case reflect.Bool:
		v.SetBool(true) // false is the zero value: true proves the field is written
	case reflect.Int:
		v.SetInt(int64(rnd.IntN(1<<20)) - 1<<19 | 1)
	case reflect.Float64:
		f := []float64{0.1, -3.25, 1e21, 1e-7, 5e-324, math.MaxFloat64, 123456.789, 1.0 / 3}[rnd.IntN(8)]
		v.SetFloat(f)
	default:
		panic("fill: unhandled kind " + v.Kind().String() + " at " + v.Type().String())
	}
}

// want is what encoding/json gives back for r after a trip through JSON:
// invalid UTF-8 becomes U+FFFD byte by byte, NaN and ±Inf become 0, and
// empty slices are omitted (nil).
func want(r Report) Report {
	var walk func(v reflect.Value)
	walk = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.Struct:
			for i := 0; i < v.NumField(); i++ {
				walk(v.Field(i))
			}
		case reflect.Pointer:
			if !v.IsNil() {
				c := reflect.New(v.Type().Elem())
				c.Elem().Set(v.Elem())
				walk(c.Elem())
				v.Set(c)
			}
		case reflect.Slice:
			if v.Len() == 0 {
				v.Set(reflect.Zero(v.Type()))
				return
			}
			c := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
			reflect.Copy(c, v)
			for i := 0; i < c.Len(); i++ {
				walk(c.Index(i))
			}
			v.Set(c)
		case reflect.String:
			v.SetString(validUTF8(v.String()))
		case reflect.Float64:
			if f := v.Float(); math.IsNaN(f) || math.IsInf(f, 0) {
				v.SetFloat(0)
			}
		}
	}
	walk(reflect.ValueOf(&r).Elem())
	return r
}

func validUTF8(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

func roundTrip(t testing.TB, r *Report) {
	t.Helper()
	b := r.AppendJSON(nil)
	if !json.Valid(b) {
		t.Fatalf("invalid JSON: %s", b)
	}
	got := decodeStrict(t, b)
	w := want(*r)
	if !reflect.DeepEqual(*got, w) {
		t.Fatalf("round trip differs\n got  %#v\n want %#v\n json %s", *got, w, b)
	}
	// The same holds for encoding/json's own output, so both agree on
	// what every field is called.
	std, err := json.Marshal(&w)
	if err != nil {
		t.Fatal(err)
	}
	if got2 := decodeStrict(t, std); !reflect.DeepEqual(*got2, *got) {
		t.Fatalf("encoding/json and AppendJSON disagree\n std %s\n ours %s", std, b)
	}
}

var sampleStrings = []string{
	"", "a", "HeadlessChrome", `quote " back \ slash`, "tab\tnl\ncr\r", "\x00\x01\x1f\x7f",
	"<script>&amp;</script>", "ünïcødé ✓ 日本語 😀", "\u2028\u2029", "\xff\xfe bad", "\xe2\x82", "Europe/London",
}

// TestReportEveryFieldRoundTrips fills every field and checks that
// AppendJSON writes it under the name encoding/json reads, so adding a
// field to Report without adding it to AppendJSON fails here.
func TestReportEveryFieldRoundTrips(t *testing.T) {
	for seed := uint64(0); seed < 200; seed++ {
		rnd := rand.New(rand.NewPCG(seed, 7))
		var r Report
		fill(reflect.ValueOf(&r).Elem(), rnd, sampleStrings)
		roundTrip(t, &r)
	}
}

func TestReportZeroAndEdgeValues(t *testing.T) {
	cases := map[string]Report{
		"zero":             {},
		"nan and inf":      {Device: Device{DeviceMemory: math.NaN(), Screen: Screen{PixelRatio: math.Inf(1)}}, Interaction: Interaction{FirstMS: math.Inf(-1), Trusted: Events{Click: EventCount{N: 1, FirstMS: math.NaN()}}}},
		"empty slices":     {Errors: []string{}, Locale: Locale{Languages: []string{}}, Device: Device{UAData: &UAData{Brands: []Brand{}}}},
		"negative zero":    {Locale: Locale{OffsetMinutes: -0}, Timing: Timing{LoadMS: math.Copysign(0, -1)}},
		"untrusted click":  {Interaction: Interaction{Click: &Click{OnContinue: true}}},
		"big ints":         {V: math.MaxInt64, Device: Device{HardwareConcurrency: math.MinInt64}},
		"only bad strings": {Stage: "\xff", Errors: []string{"\xc0\xaf", "\xed\xa0\x80"}},
	}
	for name, r := range cases {
		t.Run(name, func(t *testing.T) { roundTrip(t, &r) })
	}
}

func TestReportEscapesForHTML(t *testing.T) {
	r := Report{Stage: "</script><b>&\u2028"}
	b := string(r.AppendJSON(nil))
	for _, bad := range []string{"<", ">", "&", "\u2028"} {
		if strings.Contains(b, bad) {
			t.Errorf("output contains %q unescaped: %s", bad, b)
		}
	}
}

func TestReportAppendsToBuffer(t *testing.T) {
	r := Report{V: 2}
	b := r.AppendJSON([]byte("x="))
	if !strings.HasPrefix(string(b), `x={"v":2,`) {
		t.Fatalf("got %s", b)
	}
}

func TestReportTrustedClickIsStrict(t *testing.T) {
	cases := []struct {
		name string
		r    *Report
		want bool
	}{
		{"nil report", nil, false},
		{"no click", &Report{}, false},
		{"script click on continue", &Report{Interaction: Interaction{Click: &Click{Trusted: false, OnContinue: true}}}, false},
		{"trusted click elsewhere", &Report{Interaction: Interaction{Click: &Click{Trusted: true}}}, false},
		{"trusted click on continue", &Report{Interaction: Interaction{Click: &Click{Trusted: true, OnContinue: true}}}, true},
	}
	for _, c := range cases {
		if got := c.r.TrustedClick(); got != c.want {
			t.Errorf("%s: TrustedClick() = %v, want %v", c.name, got, c.want)
		}
	}
}

// TestReportDecodesVersion1 keeps old collectors (cached pages) readable:
// a v1 report is a subset of v2.
func TestReportDecodesVersion1(t *testing.T) {
	r := decodeStrict(t, []byte(`{"v":1,"interaction":{"click":{"trusted":true}}}`))
	if r.V != 1 || r.Interaction.Click == nil || !r.Interaction.Click.Trusted {
		t.Fatalf("got %+v", r)
	}
	if r.TrustedClick() {
		t.Fatal("a v1 click does not say it was on Continue, so it must not count")
	}
}

// FuzzReportJSON checks, for arbitrary strings and numbers, that the
// collector's encoder writes JSON that the server's strict decoder reads
// back to the same report.
func FuzzReportJSON(f *testing.F) {
	// Seeds: plain ASCII; every JSON escape; invalid UTF-8 (lone
	// continuation byte, truncated sequence, surrogate half, overlong);
	// HTML-sensitive characters; the JavaScript line separators.
	f.Add("Mozilla/5.0 (X11; Linux x86_64) HeadlessChrome/120.0", "en-GB", 1.5, int64(8), uint64(1))
	f.Add("\"\\/\b\f\n\r\t\x00\x1f", "\x7f", -0.0, int64(-1), uint64(2))
	f.Add("\x80", "\xe2\x82", math.Inf(1), int64(math.MaxInt64), uint64(3))
	f.Add("\xed\xa0\x80", "\xc0\xaf", math.NaN(), int64(math.MinInt64), uint64(4))
	f.Add("</script><!--&", "\u2028\u2029", 5e-324, int64(0), uint64(5))
	f.Fuzz(func(t *testing.T, s1, s2 string, fl float64, n int64, seed uint64) {
		rnd := rand.New(rand.NewPCG(seed, uint64(n)))
		var r Report
		fill(reflect.ValueOf(&r).Elem(), rnd, []string{s1, s2, s1 + s2, ""})
		r.V = int(n)
		r.Device.UserAgent = s1
		r.Timing.LoadMS = fl
		r.Interaction.Click.X = fl
		r.Device.DeviceMemory = -fl
		r.Interaction.Trusted.Scroll.FirstMS = fl
		roundTrip(t, &r)
	})
}

// TestReportDecodesVersion2 keeps version 2 reports (pages rendered
// before an upgrade) readable: v3 only added fields, and a v2 report
// decodes with no proof, no worker and zero click details.
func TestReportDecodesVersion2(t *testing.T) {
	v2 := `{"v":2,"stage":"confirm","automation":{"webdriver":false,"chrome_object":true,"plugins":5,"mime_types":2,"pdf_viewer":true},` +
		`"device":{"user_agent":"Mozilla/5.0","hardware_concurrency":8,"device_memory":8,"max_touch_points":0,"pointer_fine":true,"hover":true,` +
		`"screen":{"width":1920,"height":1080,"avail_width":1920,"avail_height":1040,"color_depth":24,"pixel_ratio":1},` +
		`"window":{"inner_width":1280,"inner_height":800,"outer_width":1280,"outer_height":900}},` +
		`"locale":{"time_zone":"Europe/London","offset_minutes":0,"language":"en-GB"},` +
		`"interaction":{"trusted":{"pointermove":{"n":3,"first_ms":10},"pointerdown":{"n":1},"touchstart":{"n":0},"keydown":{"n":0},"scroll":{"n":0},"focus":{"n":0},"click":{"n":1}},` +
		`"untrusted":{"pointermove":{"n":0},"pointerdown":{"n":0},"touchstart":{"n":0},"keydown":{"n":0},"scroll":{"n":0},"focus":{"n":0},"click":{"n":0}},` +
		`"first_ms":10,"path":{"points":3,"length":20,"straightness":0.9,"duration_ms":30,"speed_cv":0.4,"end_distance":0},` +
		`"click":{"trusted":true,"on_continue":true,"at_ms":900,"x":5,"y":6,"detail":1,"pointer_type":"mouse","path":{"points":3,"length":20,"straightness":0.9,"duration_ms":30,"speed_cv":0.4,"end_distance":0}}},` +
		`"timing":{"navigation_type":"navigate","dom_content_loaded_ms":50,"load_ms":60,"start_ms":70,"verify_ms":400,"confirm_ms":900},` +
		`"page":{"visibility":"visible","visible_at_start":true,"visibility_changes":0,"has_focus":true,"focused_at_start":true,"prerendered":false}}`
	r := decodeStrict(t, []byte(v2))
	if r.V != 2 || r.Proof != nil || r.Device.Worker != nil || !r.TrustedClick() || r.Interaction.Click.PressMS != 0 {
		t.Fatalf("got %+v", r)
	}
}

// TestReportVersion3Fields pins the JSON names of the fields version 3
// added, which the engine and the docs refer to.
func TestReportVersion3Fields(t *testing.T) {
	r := Report{V: SchemaVersion,
		Device: Device{Window: Window{ScreenX: 11, ScreenY: 22},
			Worker: &Worker{UserAgent: "UA", Platform: "Linux x86_64", Languages: []string{"en-GB"}, HardwareConcurrency: 4}},
		Interaction: Interaction{Click: &Click{Trusted: true, OnContinue: true, PressMS: 87.5, ScreenX: 300, ScreenY: 400,
			OffsetX: -3.5, OffsetY: 2, TargetW: 120, TargetH: 40, Hovered: true}},
		Proof: &Proof{Nonce: "abc", Bits: 12, Counter: 4711, MS: 8.25},
	}
	b := string(r.AppendJSON(nil))
	for _, frag := range []string{
		`"window":{"inner_width":0,"inner_height":0,"outer_width":0,"outer_height":0,"screen_x":11,"screen_y":22}`,
		`"worker":{"user_agent":"UA","platform":"Linux x86_64","languages":["en-GB"],"hardware_concurrency":4}`,
		`"press_ms":87.5,"screen_x":300,"screen_y":400,"offset_x":-3.5,"offset_y":2,"target_w":120,"target_h":40,"hovered":true}`,
		`"proof":{"nonce":"abc","bits":12,"counter":4711,"ms":8.25}}`,
	} {
		if !strings.Contains(b, frag) {
			t.Errorf("missing %s in\n%s", frag, b)
		}
	}
	roundTrip(t, &r)
}

// TestReportVersion4Fields pins the JSON names of the key clock, which
// version 4 added, and reads a version 3 report, which has none, as a
// clock that saw nothing.
func TestReportVersion4Fields(t *testing.T) {
	r := Report{V: SchemaVersion, Interaction: Interaction{Keys: KeyClock{N: 3, OffGrid: 0.4, PressGap: 2.7}}}
	b := string(r.AppendJSON(nil))
	if want := `"keys":{"n":3,"off_grid":0.4,"press_gap":2.7}}`; !strings.Contains(b, want) {
		t.Errorf("missing %s in\n%s", want, b)
	}
	roundTrip(t, &r)
	v3 := decodeStrict(t, []byte(`{"v":3,"interaction":{"trusted":{"keydown":{"n":1,"first_ms":900}},"click":{"trusted":true,"on_continue":true}}}`))
	if v3.Interaction.Keys != (KeyClock{}) || v3.Interaction.Trusted.KeyDown.N != 1 {
		t.Errorf("version 3 report read as %+v", v3.Interaction)
	}
}

// TestReportPressure: a click's pointerdown pressure is written when
// known, 0 included (the debugging protocol's default), and left out when
// not, so that a report without it decodes to nil, never to 0.
func TestReportPressure(t *testing.T) {
	for _, p := range []float64{0, 0.5} {
		r := Report{V: SchemaVersion, Interaction: Interaction{Click: &Click{Trusted: true, Hovered: true, Pressure: &p}}}
		b := string(r.AppendJSON(nil))
		if want := `"hovered":true,"pressure":` + strconv.FormatFloat(p, 'g', -1, 64) + `}`; !strings.Contains(b, want) {
			t.Errorf("missing %s in\n%s", want, b)
		}
		roundTrip(t, &r)
	}
	r := Report{V: SchemaVersion, Interaction: Interaction{Click: &Click{Trusted: true}}}
	if b := string(r.AppendJSON(nil)); strings.Contains(b, "pressure") {
		t.Errorf("unknown pressure written: %s", b)
	}
	roundTrip(t, &r)
}
