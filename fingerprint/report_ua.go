package fingerprint

import "strings"

// uaMarks are substrings of a user agent that automation tools and
// headless browsers leave, lower-cased, with the name reported for each.
var uaMarks = [...]struct{ sub, name string }{
	{"headlesschrome", "HeadlessChrome"},
	{"headless", "Headless"},
	{"phantomjs", "PhantomJS"},
	{"slimerjs", "SlimerJS"},
	{"htmlunit", "HtmlUnit"},
	{"jsdom", "jsdom"},
	{"electron/", "Electron"},
	{"puppeteer", "Puppeteer"},
	{"playwright", "Playwright"},
	{"selenium", "Selenium"},
	{"webdriver", "WebDriver"},
	{"cypress", "Cypress"},
	{"lighthouse", "Lighthouse"},
	{"zombie", "Zombie"},
	{"python-requests", "python-requests"},
	{"curl/", "curl"},
	{"wget/", "Wget"},
	{"go-http-client", "Go-http-client"},
}

// UAMarks returns the automation marks found in a user agent string (or a
// userAgentData brand), each named once, "Headless" only when no more
// specific headless mark matched. It returns nil when there are none.
func UAMarks(ua string) []string {
	l := strings.ToLower(ua)
	var out []string
	for _, m := range uaMarks {
		if !strings.Contains(l, m.sub) {
			continue
		}
		if m.name == "Headless" && len(out) > 0 && out[len(out)-1] == "HeadlessChrome" {
			continue
		}
		out = append(out, m.name)
		if len(out) == MaxUAMarks {
			break
		}
	}
	return out
}

// softwareRenderers are substrings of WebGL renderer names that mean the
// GPU is emulated on the CPU, as on servers and in headless browsers.
var softwareRenderers = [...]string{"swiftshader", "llvmpipe", "softpipe", "software", "mesa offscreen", "basic render driver", "microsoft basic"}

// SoftwareRenderer reports whether WebGL runs on a software rasterizer
// (SwiftShader, llvmpipe, Microsoft Basic Render Driver, ...). It is false
// when there is no WebGL at all.
func (d *Device) SoftwareRenderer() bool {
	if d.WebGL == nil {
		return false
	}
	s := strings.ToLower(d.WebGL.Vendor + " " + d.WebGL.Renderer)
	for _, sub := range softwareRenderers {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// UADataMismatch compares navigator.userAgentData with the user agent
// string and returns why they disagree, or "" when they agree or there is
// no userAgentData. Real Chromium keeps the two in step; tools that
// override only the UA string (a common scanner disguise) do not.
func (d *Device) UADataMismatch() string {
	u := d.UAData
	if u == nil {
		return ""
	}
	ua := strings.ToLower(d.UserAgent)
	for _, b := range u.Brands {
		if strings.Contains(strings.ToLower(b.Brand), "headless") {
			return "a userAgentData brand names a headless browser"
		}
	}
	if len(u.Brands) > 0 && !strings.Contains(ua, "chrom") && !strings.Contains(ua, "edg") && !strings.Contains(ua, "opr") {
		return "userAgentData brands are present but the user agent is not a Chromium browser"
	}
	if u.Mobile != strings.Contains(ua, "mobile") {
		if u.Mobile {
			return "userAgentData says mobile, the user agent does not"
		}
		return "the user agent says mobile, userAgentData does not"
	}
	want := map[string]string{
		"windows":   "windows",
		"macos":     "mac os x",
		"linux":     "linux",
		"android":   "android",
		"chrome os": "cros",
		"chromeos":  "cros",
	}[strings.ToLower(u.Platform)]
	if want != "" && !strings.Contains(ua, want) {
		return "userAgentData platform " + u.Platform + " does not match the user agent"
	}
	return ""
}
