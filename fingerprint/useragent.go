package fingerprint

import "strings"

// The user-agent parser here is deliberately small: it knows the browser
// family, its major version, the OS and whether the device is mobile, which
// is all the signals compare. It allocates nothing, so a decision can parse
// two or three user agents within its budget.
//
// NB: github.com/mssola/useragent answers the same questions but allocates
// on every parse and compiles regular expressions at package init; a
// decision parses two to four user agents within its budget. The tests
// check this parser against it (useragent_test.go).

// Browser is a browser family as the signals compare it. (Family, in the
// root package, is a link family: an email and a redirect origin.)
type Browser uint8

// The browser families.
const (
	BrowserUnknown Browser = iota
	BrowserChrome
	BrowserEdge
	BrowserFirefox
	BrowserSafari
	BrowserOpera
	BrowserSamsung
	BrowserIE
)

var browserNames = [...]string{"unknown browser", "Chrome", "Edge", "Firefox", "Safari", "Opera", "Samsung Internet", "Internet Explorer"}

// String names the family for explanations.
func (f Browser) String() string {
	if int(f) < len(browserNames) {
		return browserNames[f]
	}
	return browserNames[0]
}

// OS is an operating system as the signals compare it.
type OS uint8

// The operating systems.
const (
	OSUnknown OS = iota
	OSWindows
	OSMacOS
	OSLinux
	OSAndroid
	OSIOS
	OSChromeOS
)

var osNames = [...]string{"unknown OS", "Windows", "macOS", "Linux", "Android", "iOS", "ChromeOS"}

// String names the OS for explanations.
func (o OS) String() string {
	if int(o) < len(osNames) {
		return osNames[o]
	}
	return osNames[0]
}

// UA is what the signals need of a User-Agent string.
type UA struct {
	Empty    bool
	Browser  Browser
	Major    int
	OS       OS
	Mobile   bool
	Headless bool // HeadlessChrome
}

// ParseUA reads a User-Agent string without allocating.
func ParseUA(s string) UA {
	var u UA
	if strings.TrimSpace(s) == "" {
		u.Empty = true
		return u
	}
	switch {
	case strings.Contains(s, "iPhone"), strings.Contains(s, "iPad"), strings.Contains(s, "iPod"):
		u.OS = OSIOS
	case strings.Contains(s, "Android"):
		u.OS = OSAndroid
	case strings.Contains(s, "Windows"):
		u.OS = OSWindows
	case strings.Contains(s, "CrOS"):
		u.OS = OSChromeOS
	case strings.Contains(s, "Macintosh"), strings.Contains(s, "Mac OS X"):
		u.OS = OSMacOS
	case strings.Contains(s, "Linux"), strings.Contains(s, "X11"):
		u.OS = OSLinux
	}
	u.Mobile = strings.Contains(s, "Mobile") || strings.Contains(s, "iPhone") || strings.Contains(s, "iPod")
	type rule struct {
		token   string
		browser Browser
	}
	// Order matters: Chromium derivatives also say Chrome/ and Safari/.
	rules := [...]rule{
		{"HeadlessChrome/", BrowserChrome},
		{"Edg/", BrowserEdge}, {"EdgA/", BrowserEdge}, {"EdgiOS/", BrowserEdge}, {"Edge/", BrowserEdge},
		{"OPR/", BrowserOpera}, {"OPT/", BrowserOpera}, {"Opera/", BrowserOpera},
		{"SamsungBrowser/", BrowserSamsung},
		{"Firefox/", BrowserFirefox}, {"FxiOS/", BrowserFirefox},
		{"CriOS/", BrowserChrome}, {"Chrome/", BrowserChrome}, {"Chromium/", BrowserChrome},
		{"MSIE ", BrowserIE}, {"Trident/", BrowserIE},
		{"Version/", BrowserSafari},
	}
	for _, r := range rules {
		i := strings.Index(s, r.token)
		if i < 0 {
			continue
		}
		if r.browser == BrowserSafari && !strings.Contains(s, "Safari/") {
			continue
		}
		u.Browser = r.browser
		u.Major = leadingInt(s[i+len(r.token):])
		if r.token == "HeadlessChrome/" {
			u.Headless = true
		}
		if r.token == "Trident/" {
			// Trident/7.0 is IE 11; "rv:11.0" says so too.
			if j := strings.Index(s, "rv:"); j >= 0 {
				u.Major = leadingInt(s[j+3:])
			}
		}
		break
	}
	return u
}

// leadingInt reads the decimal number at the start of s (at most 6 digits).
func leadingInt(s string) int {
	n := 0
	for i := 0; i < len(s) && i < 6; i++ {
		c := s[i]
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// containsFold reports whether s contains lower, which must be lower case
// ASCII, ignoring ASCII case in s. It does not allocate.
func containsFold(s, lower string) bool {
	n := len(lower)
	if n == 0 {
		return true
	}
	for i := 0; i+n <= len(s); i++ {
		j := 0
		for ; j < n; j++ {
			c := s[i+j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != lower[j] {
				break
			}
		}
		if j == n {
			return true
		}
	}
	return false
}

// PrimaryLanguage returns the base language of the first entry of an
// Accept-Language header or a comma-separated navigator.languages list
// ("en" for "en-GB,en;q=0.9"), as a substring of s. Entries with q=0 and
// the wildcard are skipped.
func PrimaryLanguage(s string) string {
	for len(s) > 0 {
		entry := s
		if i := strings.IndexByte(s, ','); i >= 0 {
			entry, s = s[:i], s[i+1:]
		} else {
			s = ""
		}
		q := ""
		if i := strings.IndexByte(entry, ';'); i >= 0 {
			entry, q = entry[:i], entry[i+1:]
		}
		entry = strings.TrimSpace(entry)
		if entry == "" || entry == "*" || isZeroQ(q) {
			continue
		}
		if i := strings.IndexAny(entry, "-_"); i >= 0 {
			entry = entry[:i]
		}
		if len(entry) < 2 || len(entry) > 8 {
			continue
		}
		return entry
	}
	return ""
}

func isZeroQ(q string) bool {
	q = strings.TrimSpace(q)
	if !strings.HasPrefix(q, "q=") {
		return false
	}
	v := strings.TrimRight(q[2:], "0")
	return v == "0." || v == "0" || v == ""
}

// Hints is what the signals read from the Sec-CH-UA headers.
type Hints struct {
	Present  bool // Sec-CH-UA was sent
	Headless bool // a HeadlessChrome brand
	Major    int  // major version of the Chromium, Chrome or Edge brand
	OS       OS   // from Sec-CH-UA-Platform
	Mobile   int8 // -1 unknown, 0 no, 1 yes (Sec-CH-UA-Mobile)
}

// ParseHints reads Sec-CH-UA, Sec-CH-UA-Platform and Sec-CH-UA-Mobile
// without allocating.
func ParseHints(brands, platform, mobile string) Hints {
	h := Hints{Mobile: -1}
	if strings.TrimSpace(brands) != "" {
		h.Present = true
		h.Headless = strings.Contains(brands, "HeadlessChrome")
		for _, b := range [...]string{`"Chromium"`, `"Google Chrome"`, `"Microsoft Edge"`, `"HeadlessChrome"`} {
			i := strings.Index(brands, b)
			if i < 0 {
				continue
			}
			rest := brands[i+len(b):]
			if j := strings.Index(rest, `v="`); j >= 0 && j < 4 {
				h.Major = leadingInt(rest[j+3:])
				break
			}
		}
	}
	switch strings.Trim(strings.TrimSpace(platform), `"`) {
	case "Windows":
		h.OS = OSWindows
	case "macOS":
		h.OS = OSMacOS
	case "Linux":
		h.OS = OSLinux
	case "Android":
		h.OS = OSAndroid
	case "iOS":
		h.OS = OSIOS
	case "Chrome OS", "ChromeOS":
		h.OS = OSChromeOS
	}
	switch strings.TrimSpace(mobile) {
	case "?0":
		h.Mobile = 0
	case "?1":
		h.Mobile = 1
	}
	return h
}

// platformOS maps navigator.platform to an OS; ok is false when the value
// says nothing reliable.
func platformOS(p string) (OS, bool) {
	switch {
	case p == "":
		return OSUnknown, false
	case strings.HasPrefix(p, "Win"):
		return OSWindows, true
	case p == "MacIntel" || p == "MacPPC" || p == "Macintosh":
		return OSMacOS, true
	case p == "iPhone" || p == "iPad" || p == "iPod":
		return OSIOS, true
	case strings.HasPrefix(p, "Linux"), strings.HasPrefix(p, "Android"):
		return OSLinux, true
	}
	return OSUnknown, false
}

// osCompatible reports whether an OS named by the User-Agent agrees with
// one named by navigator.platform or a client hint. Android reports a Linux
// platform, and an iPad in desktop mode reports MacIntel.
func osCompatible(ua, other OS) bool {
	if ua == OSUnknown || other == OSUnknown || ua == other {
		return true
	}
	switch {
	case ua == OSAndroid && other == OSLinux, ua == OSLinux && other == OSAndroid:
		return true
	case ua == OSIOS && other == OSMacOS, ua == OSMacOS && other == OSIOS:
		return true
	case ua == OSChromeOS && other == OSLinux:
		return true
	}
	return false
}
