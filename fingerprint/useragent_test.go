package fingerprint

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/mssola/useragent"
	"gopkg.in/yaml.v3"
)

// uaSamples are real User-Agent strings; the differential test below
// checks ParseUA against mssola/useragent on them.
var uaSamples = []string{
	uaChromeWin, uaIPhone, uaOldChrome,
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.3 Safari/605.1.15",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:147.0) Gecko/20100101 Firefox/147.0",
	"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/145.0.0.0 Safari/537.36",
	"Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/145.0.0.0 Mobile Safari/537.36",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/145.0.0.0 Safari/537.36 Edg/145.0.0.0",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/145.0.0.0 Safari/537.36 OPR/120.0.0.0",
	"Mozilla/5.0 (Windows NT 10.0; WOW64; Trident/7.0; rv:11.0) like Gecko",
	"Mozilla/5.0 (iPhone; CPU iPhone OS 18_3 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/145.0.0.0 Mobile/15E148 Safari/604.1",
	"Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/145.0.0.0 Safari/537.36",
}

func TestParseUAAgreesWithMssola(t *testing.T) {
	families := map[string]Browser{"Chrome": BrowserChrome, "Edge": BrowserEdge, "Firefox": BrowserFirefox,
		"Safari": BrowserSafari, "Opera": BrowserOpera, "Internet Explorer": BrowserIE}
	for _, s := range uaSamples {
		m := useragent.New(s)
		u := ParseUA(s)
		name, version := m.Browser()
		if f, ok := families[name]; ok && f != u.Browser {
			t.Errorf("%s: browser %v, mssola says %s", s, u.Browser, name)
		}
		if major := leadingInt(version); major != 0 && u.Major != major && u.Browser != BrowserChrome {
			// mssola reports CriOS and Chrome alike; compare where it is exact.
			t.Errorf("%s: major %d, mssola says %s", s, u.Major, version)
		}
		if m.Mobile() != u.Mobile {
			t.Errorf("%s: mobile %v, mssola says %v", s, u.Mobile, m.Mobile())
		}
	}
}

func TestParseUAAllocatesNothing(t *testing.T) {
	if a := testing.AllocsPerRun(100, func() { ParseUA(uaChromeWin) }); a != 0 {
		t.Fatalf("%v allocations", a)
	}
}

func FuzzParseUA(f *testing.F) {
	for _, s := range uaSamples {
		f.Add(s)
	}
	f.Add("")                 // no header at all
	f.Add("Chrome/")          // a token with no version
	f.Add("Trident/7.0; rv:") // IE with a cut version
	f.Add("HeadlessChrome/99999999999999999999")
	f.Fuzz(func(t *testing.T, s string) {
		u := ParseUA(s)
		if u.Major < 0 || u.Major > 999999 {
			t.Fatalf("major %d", u.Major)
		}
		_ = u.Browser.String() + u.OS.String()
	})
}

func FuzzPrimaryLanguage(f *testing.F) {
	// Seeds: ordinary headers, a q=0 first entry, the wildcard, junk.
	for _, s := range []string{"en-GB,en;q=0.9", "de", "*;q=0.5, fr", "xx;q=0, en", ",,,", "en_US", "zh-Hant-TW;q=0.8"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l := PrimaryLanguage(s)
		if len(l) > 8 || (l != "" && !strings.Contains(s, l)) || strings.ContainsAny(l, ",;-_") {
			t.Fatalf("PrimaryLanguage(%q) = %q", s, l)
		}
	})
}

func TestPrimaryLanguage(t *testing.T) {
	for in, want := range map[string]string{"en-GB,en;q=0.9": "en", "de-DE": "de", "*, fr": "fr", "es;q=0, it": "it", "": "", "x": ""} {
		if got := PrimaryLanguage(in); got != want {
			t.Errorf("PrimaryLanguage(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzParseHints(f *testing.F) {
	f.Add(`"Google Chrome";v="145", "Chromium";v="145", "Not.A/Brand";v="24"`, `"Windows"`, "?0")
	f.Add(`"HeadlessChrome";v="145"`, `"Linux"`, "?1")
	f.Add(`"Chromium";v=`, `"`, "?")
	f.Fuzz(func(t *testing.T, brands, platform, mobile string) {
		h := ParseHints(brands, platform, mobile)
		if h.Mobile < -1 || h.Mobile > 1 || h.Major < 0 {
			t.Fatalf("%+v", h)
		}
	})
}

// FuzzDecide feeds arbitrary header values through a whole decision: it
// must not panic, must keep every reason valid UTF-8 when the input is,
// and must never let a report-less visit past the code.
func FuzzDecide(f *testing.F) {
	f.Add(uaChromeWin, "en-GB", `"Chromium";v="145"`, `"Windows"`, "?0", "same-origin", "")
	f.Add("", "", "", "", "", "", "prefetch")
	f.Add("Barracuda Sentinel", "*", `"HeadlessChrome"`, "Linux", "?1", "cross-site", "")
	e := mustEngine(f, DefaultConfig())
	f.Fuzz(func(t *testing.T, ua, al, chua, plat, mob, site, purpose string) {
		in := humanInput()
		in.Visitor.UserAgent, in.Visitor.AcceptLanguage = ua, al
		in.Visitor.SecCHUA, in.Visitor.SecCHUAPlatform, in.Visitor.SecCHUAMobile = chua, plat, mob
		in.Visitor.SecFetchSite, in.Visitor.Purpose = site, purpose
		in.Report.Device.UserAgent = ua
		v := e.Decide(in)
		valid := utf8.ValidString(ua) && utf8.ValidString(al) && utf8.ValidString(site)
		for _, c := range v.Signals {
			if c.Value < -1 || c.Value > 1 {
				t.Fatalf("%s value %v", c.Signal, c.Value)
			}
			_ = valid // reasons clip outside text at 64 bytes, which may cut a rune; only checked for length
			if len(c.Reason) > 1024 {
				t.Fatalf("%s reason of %d bytes", c.Signal, len(c.Reason))
			}
		}
		in.Report = nil
		if v := e.Decide(in); v.Decision != Code {
			t.Fatalf("no report got %s", v.Decision)
		}
	})
}

// TestConfigYAML decodes a heuristics section the way the server does:
// over DefaultConfig, with unknown keys rejected.
func TestConfigYAML(t *testing.T) {
	src := `
heuristics:
  zero_click: false
  automation:
    threshold: 1.5
    signals:
      history: {enabled: false}
  compatibility:
    thresholds: {confirm: 0.7}
    signals:
      geo: {weight: 2}
  params:
    far_km: 2000
  scanners:
    disable: [google]
    add:
      - name: acme-gateway
        source: our own logs
        asns: [64500]
        ranges: ["198.51.100.0/24"]
        user_agents: ["AcmeScan"]
  datacenters:
    add: [64501]
    remove: [24940]
`
	var file struct {
		Heuristics Config `yaml:"heuristics"`
	}
	file.Heuristics = DefaultConfig()
	dec := yaml.NewDecoder(strings.NewReader(src))
	dec.KnownFields(true)
	if err := dec.Decode(&file); err != nil {
		t.Fatal(err)
	}
	c := file.Heuristics
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	ct, as, cs := c.Compatibility.Thresholds, c.Automation.Signals, c.Compatibility.Signals
	if ct.Confirm != 0.7 || ct.Click != 0.4 || cs["geo"].Weight != 2 || !cs["geo"].Enabled || c.Automation.Threshold != 1.5 ||
		as["history"].Enabled || as["history"].Weight != 1 || !as["input"].Enabled || c.Params.FarKm != 2000 || c.Params.NearKm != 150 || len(c.Scanners.Add) != 1 {
		t.Fatalf("decoded %+v", c)
	}
	d := DefaultConfig()
	if c.Hash() == d.Hash() {
		t.Fatal("hash ignores the edits")
	}
	e := mustEngine(t, c)
	var n Network
	e.MarkRanges(netipMust("198.51.100.7"), &n)
	if n.Range != "acme-gateway" {
		t.Fatalf("range %q", n.Range)
	}

	for _, tt := range []struct{ name, src, want string }{
		{"400/misspelt signal", "heuristics:\n  compatibility:\n    signals:\n      gео: {weight: 1}\n", "signals.gео"},
		{"400/misspelt key", "heuristics:\n  automation:\n    signals:\n      input: {wieght: 1}\n", "signals.input.wieght: unknown key"},
		{"400/old thresholds", "heuristics:\n  thresholds: {confirm: 0.7}\n", "heuristics.compatibility.thresholds"},
		{"400/old signals", "heuristics:\n  signals:\n    geo: {weight: 2}\n", "heuristics.compatibility.signals"},
		{"400/not a number", "heuristics:\n  compatibility:\n    signals:\n      geo: {weight: heavy}\n", "signals.geo.weight"},
	} {
		file.Heuristics = DefaultConfig()
		dec = yaml.NewDecoder(bytes.NewBufferString(tt.src))
		dec.KnownFields(true)
		if err := dec.Decode(&file); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want one naming %q", tt.name, err, tt.want)
		}
	}
	// Decoding never writes into the defaults' maps of another Config.
	if d := DefaultConfig(); d.Compatibility.Signals["geo"].Weight != 1 {
		t.Fatal("defaults changed")
	}
}
