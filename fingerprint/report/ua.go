package report

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
	l := lower(ua)
	var out []string
	for _, m := range uaMarks {
		if !contains(l, m.sub) {
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
	// NB: the decision engine calls this on every decision, so it
	// allocates nothing (no lower-cased copy).
	for _, sub := range softwareRenderers {
		if containsFold(d.WebGL.Vendor, sub) || containsFold(d.WebGL.Renderer, sub) {
			return true
		}
	}
	return false
}

// containsFold reports whether s contains lower (lower-case ASCII),
// ignoring ASCII case in s, without allocating.
func containsFold(s, lower string) bool {
	for i := 0; i+len(lower) <= len(s); i++ {
		j := 0
		for ; j < len(lower); j++ {
			c := s[i+j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != lower[j] {
				break
			}
		}
		if j == len(lower) {
			return true
		}
	}
	return false
}

// lower and contains are ASCII-only stand-ins for the strings functions:
// every pattern here is ASCII, and package strings with its Unicode
// tables costs the collector about 40 KB.
func lower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if c := b[j]; 'A' <= c && c <= 'Z' {
					b[j] = c + 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}
