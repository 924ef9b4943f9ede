package fingerprint

import (
	"math/rand"
	"strings"
	"testing"
	"time"
)

// strongMarks each put one strong mark of a machine into a visit.
var strongMarks = []struct {
	name string
	put  func(*Input)
}{
	{"webdriver", func(in *Input) { in.Report.Automation.Webdriver = true }},
	{"ua mark in the page", func(in *Input) { in.Report.Automation.UAMarks = []string{"Puppeteer"} }},
	{"HeadlessChrome header", func(in *Input) {
		in.Visitor.UserAgent = strings.Replace(in.Visitor.UserAgent, "Chrome/", "HeadlessChrome/", 1)
		in.Report.Device.UserAgent = in.Visitor.UserAgent
		if !strings.Contains(in.Visitor.UserAgent, "Headless") {
			in.Visitor.UserAgent, in.Report.Device.UserAgent = "HeadlessChrome/145.0.0.0", "HeadlessChrome/145.0.0.0"
		}
	}},
	{"HeadlessChrome client hint", func(in *Input) { in.Visitor.SecCHUA = `"HeadlessChrome";v="145"` }},
	{"headless userAgentData brand", func(in *Input) {
		in.Report.Device.UAData = &UAData{Brands: []Brand{{Brand: "HeadlessChrome", Version: "145"}}}
	}},
	{"failed proof", func(in *Input) { in.Proof = "replay: the report was made for another rendering" }},
	{"scanner asn", func(in *Input) { in.Visitor.Network.ASN = 8075 }},
	{"scanner range", func(in *Input) { in.Visitor.Network.Range = "proofpoint" }},
	{"blank ua", func(in *Input) { in.Visitor.UserAgent, in.Report.Device.UserAgent = "", "" }},
	{"library ua", func(in *Input) { in.Visitor.UserAgent = "Go-http-client/2.0" }},
	{"scanner ua", func(in *Input) { in.Visitor.UserAgent = "Mozilla/5.0 Barracuda Sentinel (EE)" }},
	{"script events", func(in *Input) { in.Report.Interaction.Untrusted.PointerMove.N = 3 }},
	{"script click", func(in *Input) {
		in.Stage = StageConfirm
		in.Report.Interaction.Click = &Click{Trusted: false, OnContinue: true, AtMS: 3000, PointerType: "mouse"}
	}},
	{"click faster than reading", func(in *Input) {
		withClick(in)
		in.Report.Interaction.Click.AtMS = in.Report.Timing.VerifyMS + 40
	}},
	{"mouse click without a pointing device", func(in *Input) {
		withClick(in)
		in.Report.Device.PointerFine, in.Report.Device.Hover, in.Report.Device.MaxTouchPoints = false, false, 0
		if !desktopUA(in.Report.Device.UserAgent) {
			in.Visitor.UserAgent, in.Report.Device.UserAgent = uaChromeWin, uaChromeWin
		}
	}},
	{"press with pressure 0", func(in *Input) {
		withClick(in)
		zero := 0.0
		in.Report.Interaction.Click.Pressure = &zero
		if u := ParseUA(in.Report.Device.UserAgent); !chromium(&u) || !desktop(&u) {
			in.Visitor.UserAgent, in.Report.Device.UserAgent = uaChromeWin, uaChromeWin
		}
	}},
	{"worker's user agent differs", func(in *Input) {
		in.Report.Device.Worker = &Worker{UserAgent: "Mozilla/5.0 (X11; Linux x86_64) HeadlessChrome/156.0.0.0", Platform: "Linux x86_64"}
	}},
	{"spoofed User-Agent header", func(in *Input) { in.Report.Device.UserAgent = uaOldChrome }},
	{"prefetch", func(in *Input) { in.Visitor.Purpose = "prefetch" }},
}

// TestStrongMarkNeverPasses is the gate's property: for any visit without
// the device cookie whose report carries a strong mark of a machine, no
// compatibility values (networks, places, browsers, languages, zones, a
// trusted click) and no compatibility tuning (weights, thresholds,
// zero_click) make the decision consume or confirm. The generator is
// seeded, so a failure names a reproducible case.
func TestStrongMarkNeverPasses(t *testing.T) {
	rng := rand.New(rand.NewSource(8))
	uas := []string{uaChromeWin, uaIPhone, uaOldChrome,
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:147.0) Gecko/20100101 Firefox/147.0",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.3 Safari/605.1.15"}
	langs := []string{"", "en-GB,en;q=0.9", "de-DE", "fr"}
	zones := []string{"", "Europe/London", "UTC", "America/New_York"}
	nets := []Network{
		{Prefix: "p1", Country: "GB", City: "London", ASN: 2856, TimeZone: "Europe/London", Lat: 51.5, Lon: -0.1, HasGeo: true},
		{Prefix: "p2", Country: "GB", City: "London", ASN: 2856, TimeZone: "Europe/London"},
		{Prefix: "p3", Country: "US", ASN: 16509, TimeZone: "America/New_York", Lat: 39, Lon: -77, HasGeo: true},
		{},
	}
	pick := func(s []string) string { return s[rng.Intn(len(s))] }
	const cases = 4000
	for i := 0; i < cases; i++ {
		cfg := DefaultConfig()
		cfg.ZeroClick = rng.Intn(2) == 0
		th := 0.01 + rng.Float64()*0.9
		cfg.Compatibility.Thresholds = Thresholds{Consume: th, Confirm: th, Click: 0.01 + rng.Float64()*0.9}
		for _, name := range SignalNames(AxisCompatibility) {
			cfg.SetWeight(name, rng.Float64()*10)
		}
		e := mustEngine(t, cfg)

		in := humanInput()
		in.Requester.Network = nets[rng.Intn(len(nets))]
		in.Visitor.Network = nets[rng.Intn(len(nets))]
		if rng.Intn(2) == 0 {
			in.Visitor.Network = in.Requester.Network
		}
		in.Requester.UserAgent = pick(uas)
		in.Visitor.UserAgent = pick(uas)
		if rng.Intn(2) == 0 {
			in.Visitor.UserAgent = in.Requester.UserAgent
		}
		in.Report.Device.UserAgent = in.Visitor.UserAgent
		in.Requester.AcceptLanguage, in.Visitor.AcceptLanguage = pick(langs), pick(langs)
		in.Report.Locale.TimeZone = pick(zones)
		in.Now = t0.Add(time.Duration(rng.Intn(7200)) * time.Second)
		if rng.Intn(2) == 0 {
			withClick(in)
		}
		m := strongMarks[rng.Intn(len(strongMarks))]
		m.put(in)

		v := e.Decide(in)
		if v.Decision == Consume || v.Decision == Confirm {
			t.Fatalf("case %d (%s): %s with compatibility %.3f, rule %q\n%s", i, m.name, v.Decision, v.Compatibility, v.Rule, dump(v))
		}
		if v.Score != 0 || v.Automation != 0 {
			t.Fatalf("case %d (%s): a closed gate with score %.3f, automation %.3f", i, m.name, v.Score, v.Automation)
		}
	}
}

// TestStrongMarksVetoAlone checks each strong mark on an otherwise perfect
// person: it alone closes the gate, and its signal says VETO.
func TestStrongMarksVetoAlone(t *testing.T) {
	e := mustEngine(t, DefaultConfig())
	for _, m := range strongMarks {
		t.Run(m.name, func(t *testing.T) {
			in := withClick(humanInput())
			in.Visitor.Network.Prefix = in.Requester.Network.Prefix
			m.put(in)
			v := e.Decide(in)
			veto := false
			for _, c := range v.Signals {
				veto = veto || c.Veto && c.Axis == AxisAutomation
			}
			if v.Decision != Code || !veto {
				t.Fatalf("%s (rule %q), veto %v\n%s", v.Decision, v.Rule, veto, dump(v))
			}
		})
	}
}

func desktopUA(ua string) bool {
	u := ParseUA(ua)
	return desktop(&u)
}
