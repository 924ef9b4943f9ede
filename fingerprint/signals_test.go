package fingerprint

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

// signalCase edits the baseline human input and states what one signal
// must then say: the sign of its value, whether it vetoes, and a word of
// its reason.
type signalCase struct {
	name   string
	edit   func(*Input)
	sign   int // -1, 0, +1
	veto   bool
	reason string
}

func runSignalCases(t *testing.T, signal string, cases []signalCase) {
	t.Helper()
	e := mustEngine(t, DefaultConfig())
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			in := humanInput()
			tt.edit(in)
			c := contribution(e.Decide(in), signal)
			sign := 0
			if c.Value > 0 {
				sign = 1
			} else if c.Value < 0 {
				sign = -1
			}
			if sign != tt.sign || c.Veto != tt.veto || !strings.Contains(c.Reason, tt.reason) {
				t.Fatalf("%s = %+v (veto %v): %q; want sign %d, veto %v, reason with %q", signal, c.Value, c.Veto, c.Reason, tt.sign, tt.veto, tt.reason)
			}
		})
	}
}

func TestSignalGeo(t *testing.T) {
	runSignalCases(t, "geo", []signalCase{
		{"geo/same city", func(in *Input) {}, 1, false, "same city"},
		{"geo/same country", func(in *Input) { in.Visitor.Network.City = "Leeds" }, 1, false, "same country"},
		{"geo/other country", func(in *Input) { in.Visitor.Network.Country = "US" }, -1, false, "GB → US"},
		{"geo/no data", func(in *Input) { in.Visitor.Network.Country = "" }, 0, false, "no GeoIP"},
		{"geo/near by distance", func(in *Input) {
			in.Requester.Network.Lat, in.Requester.Network.Lon, in.Requester.Network.HasGeo = 51.5, -0.12, true
			in.Visitor.Network.Lat, in.Visitor.Network.Lon, in.Visitor.Network.HasGeo = 51.45, -0.97, true
		}, 1, false, "km from the requester"},
		{"geo/far by distance", func(in *Input) {
			in.Requester.Network.Lat, in.Requester.Network.Lon, in.Requester.Network.HasGeo = 51.5, -0.12, true
			in.Visitor.Network.Lat, in.Visitor.Network.Lon, in.Visitor.Network.HasGeo = 39.04, -77.49, true
			in.Visitor.Network.Country = "US"
		}, -1, false, "km from the requester (GB → US)"},
	})
}

func TestSignalNetwork(t *testing.T) {
	runSignalCases(t, "network", []signalCase{
		{"network/same asn", func(in *Input) {}, 1, false, "same network"},
		{"network/same prefix", func(in *Input) { in.Visitor.Network.Prefix = in.Requester.Network.Prefix }, 1, false, "same address block"},
		{"network/datacenter", func(in *Input) { in.Visitor.Network.ASN = 16509 }, -1, false, "datacenter"},
		{"network/scanner asn", func(in *Input) { in.Visitor.Network.ASN = 30031 }, -1, true, "mimecast"},
		{"network/scanner range", func(in *Input) { in.Visitor.Network.Range = "microsoft" }, -1, true, "range"},
		{"network/other", func(in *Input) { in.Visitor.Network.ASN = 64497 }, 0, false, "another network"},
	})
}

func TestSignalUA(t *testing.T) {
	runSignalCases(t, "ua", []signalCase{
		{"ua/same browser", func(in *Input) {}, 1, false, "same browser and OS"},
		{"ua/empty", func(in *Input) { in.Visitor.UserAgent = " " }, -1, true, "no User-Agent"},
		{"ua/named scanner", func(in *Input) { in.Visitor.UserAgent = "Barracuda Sentinel (EE)" }, -1, true, "barracuda"},
		{"ua/library", func(in *Input) { in.Visitor.UserAgent = "python-requests/2.31" }, -1, true, "python-requests"},
		{"ua/headless", func(in *Input) { in.Visitor.UserAgent = strings.Replace(uaChromeWin, "Chrome/", "HeadlessChrome/", 1) }, -1, true, "headlesschrome"},
		{"ua/stale chrome", func(in *Input) { in.Visitor.UserAgent = uaOldChrome; in.Requester.UserAgent = uaIPhone }, -1, false, "releases behind"},
		{"ua/phone", func(in *Input) { in.Visitor.UserAgent = uaIPhone }, 1, false, "phone and a computer"},
		{"ua/other os", func(in *Input) {
			in.Visitor.UserAgent = "Mozilla/5.0 (X11; Linux x86_64; rv:147.0) Gecko/20100101 Firefox/147.0"
		}, -1, false, "Windows → Linux"},
	})
}

func TestSignalTiming(t *testing.T) {
	at := func(d time.Duration) func(*Input) {
		return func(in *Input) { in.Now = t0.Add(d) }
	}
	runSignalCases(t, "timing", []signalCase{
		{"timing/too fast", at(time.Second), -1, false, "faster than a person"},
		{"timing/scanner window", at(10 * time.Second), -1, false, "when mail scanners arrive"},
		{"timing/a minute", at(time.Minute), 1, false, "60 s after issue"},
		{"timing/hours", at(5 * time.Hour), 0, false, "5 h after issue"},
		{"timing/burst", func(in *Input) {
			in.History = []PastVisit{{At: in.Now.Add(-300 * time.Millisecond), Kind: "verify"}}
		}, -1, false, "two verify requests"},
		{"timing/head then get", func(in *Input) {
			in.History = []PastVisit{{At: t0.Add(50 * time.Second), Kind: "view", Network: in.Visitor.Network},
				{At: t0.Add(50*time.Second + 200*time.Millisecond), Kind: "view", Network: in.Visitor.Network}}
		}, -1, false, "loaded the page twice"},
	})
}

func TestSignalAutomation(t *testing.T) {
	runSignalCases(t, "automation", []signalCase{
		{"automation/clean", func(in *Input) {}, 1, false, "no automation marks"},
		{"automation/webdriver", func(in *Input) { in.Report.Automation.Webdriver = true }, -1, true, "webdriver"},
		{"automation/ua mark", func(in *Input) { in.Report.Automation.UAMarks = []string{"HeadlessChrome"} }, -1, true, "HeadlessChrome"},
		{"automation/no window.chrome", func(in *Input) { in.Report.Automation.ChromeObject = false }, -1, false, "window.chrome"},
		{"automation/notification contradiction", func(in *Input) { in.Report.Automation.NotificationQuery = "denied" }, -1, false, "notification"},
		{"automation/no report", func(in *Input) { in.Report = nil }, 0, false, "no report"},
	})
}

func TestSignalInteraction(t *testing.T) {
	click := func(edit func(*Click)) func(*Input) {
		return func(in *Input) { withClick(in); edit(in.Report.Interaction.Click) }
	}
	runSignalCases(t, "interaction", []signalCase{
		{"interaction/input before report", func(in *Input) {}, 1, false, "trusted input events"},
		{"interaction/none yet", func(in *Input) { in.Report.Interaction.Trusted = Events{} }, 0, false, "no input"},
		{"interaction/script events", func(in *Input) { in.Report.Interaction.Untrusted.Click.N = 1 }, -1, true, "made by script"},
		{"interaction/click with path", click(func(c *Click) {}), 1, false, "pointer path of 24 points"},
		{"interaction/tap", click(func(c *Click) { c.PointerType = "touch" }), 1, false, "tap"},
		{"interaction/no click at confirm", func(in *Input) { in.Stage = StageConfirm }, -1, true, "no click"},
		{"interaction/untrusted click", click(func(c *Click) { c.Trusted = false }), -1, true, "made by script"},
		{"interaction/too fast click", click(func(c *Click) { c.AtMS = 500 }), -1, true, "faster than a person reads"},
		{"interaction/even pace", click(func(c *Click) { c.Path.SpeedCV = 0.01 }), 0, false, "even pace"},
	})
}

func TestSignalLocale(t *testing.T) {
	runSignalCases(t, "locale", []signalCase{
		{"locale/matching", func(in *Input) {}, 1, false, "matches the network"},
		{"locale/utc clock", func(in *Input) { in.Report.Locale.TimeZone = "UTC" }, -1, false, "UTC"},
		{"locale/far zone", func(in *Input) { in.Report.Locale.TimeZone = "America/Chicago" }, -1, false, "America/Chicago"},
		{"locale/rewritten header", func(in *Input) {
			in.Visitor.AcceptLanguage = "de-DE"
			in.Requester.AcceptLanguage = "de-DE"
		}, 1, false, "rewritten header"},
		{"locale/other language than requester", func(in *Input) { in.Requester.AcceptLanguage = "fr-FR" }, 1, false, "another language"},
	})
}

func TestSignalHistory(t *testing.T) {
	other := Network{Prefix: "x1", ASN: 8075}
	runSignalCases(t, "history", []signalCase{
		{"history/first", func(in *Input) {}, 0, false, "first visit"},
		{"history/scanner earlier, visitor from requester", func(in *Input) {
			in.Visitor.Network.Prefix = in.Requester.Network.Prefix
			in.History = []PastVisit{{At: t0.Add(2 * time.Second), Kind: "view", Network: other}}
		}, 1, false, "likely the mail scanner"},
		{"history/this network early", func(in *Input) {
			in.History = []PastVisit{{At: t0.Add(2 * time.Second), Kind: "view", Network: in.Visitor.Network}}
		}, -1, false, "after issue, when scanners arrive"},
		{"history/fan out", func(in *Input) {
			in.History = []PastVisit{{At: t0.Add(2 * time.Second), Kind: "view", Network: other},
				{At: t0.Add(9 * time.Second), Kind: "view", Network: Network{Prefix: "x2", ASN: 24940}}}
		}, -1, false, "2 other networks"},
	})
}

func TestSignalConsistency(t *testing.T) {
	runSignalCases(t, "consistency", []signalCase{
		{"consistency/agree", func(in *Input) {}, 1, false, "agree"},
		{"consistency/spoofed header", func(in *Input) { in.Report.Device.UserAgent = uaOldChrome }, -1, true, "spoofed"},
		{"consistency/platform", func(in *Input) { in.Report.Device.Platform = "Linux x86_64" }, -1, false, "navigator.platform"},
		{"consistency/client hint platform", func(in *Input) { in.Visitor.SecCHUAPlatform = `"Linux"` }, -1, false, "Sec-CH-UA-Platform"},
		{"consistency/headless brand", func(in *Input) { in.Visitor.SecCHUA = `"HeadlessChrome";v="145"` }, -1, true, "HeadlessChrome"},
		{"consistency/outer smaller", func(in *Input) { in.Report.Device.Window.OuterWidth = 100 }, -1, false, "outer window smaller"},
		{"consistency/800x600", func(in *Input) {
			in.Report.Device.Screen = Screen{Width: 800, Height: 600}
			in.Report.Device.Window = Window{InnerWidth: 800, InnerHeight: 600, OuterWidth: 800, OuterHeight: 600}
		}, -1, false, "800x600"},
		{"consistency/software gl", func(in *Input) { in.Report.Device.WebGL.Renderer = "Google SwiftShader" }, -1, false, "SwiftShader"},
		{"consistency/teleport click", func(in *Input) {
			withClick(in)
			in.Report.Interaction.Click.Path = PointerPath{EndDistance: -1}
		}, -1, true, "jumped onto Continue"},
		{"consistency/prefetch", func(in *Input) { in.Visitor.Purpose = "prefetch" }, -1, true, "prefetch"},
	})
}

func TestSignalBinding(t *testing.T) {
	runSignalCases(t, "binding", []signalCase{
		{"binding/held", func(in *Input) { in.Binding = true }, 1, false, "holds the device cookie"},
		{"binding/other device", func(in *Input) {}, 0, false, "another browser"},
		{"binding/issued by api", func(in *Input) { in.Requester.HasBinding = false }, 0, false, "without a device cookie"},
	})
}

func TestDisabledSignalIsLeftOut(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Signals.Geo.Enabled = false
	v := mustEngine(t, cfg).Decide(humanInput())
	if c := contribution(v, "geo"); c.Signal != "missing" || len(v.Signals) != numSignals-1 {
		t.Fatalf("disabled geo still contributes: %+v", v.Signals)
	}
}

func TestDecideAllocations(t *testing.T) {
	e := mustEngine(t, DefaultConfig())
	in := withClick(humanInput())
	if a := testing.AllocsPerRun(200, func() { e.Decide(in) }); a > 4 {
		t.Fatalf("%v allocations per decision, want at most 4", a)
	}
}

func netipMust(s string) netip.Addr { return netip.MustParseAddr(s) }
