package fingerprint

import (
	"math"
	"time"
)

// Axis is the question a signal answers.
type Axis string

// The two axes (docs/tuning.md).
const (
	// AxisAutomation is "is this a machine?": headless and automation
	// marks, impossible environments, input provenance and dynamics,
	// scanner timing, history, networks and user agents, a failed proof.
	// It is a gate: past automation.threshold, or on any strong mark
	// alone, the decision is the code.
	AxisAutomation Axis = "automation"
	// AxisCompatibility is "is this the person who asked?": the device
	// cookie, network, geography, browser and locale against the
	// requester's. It only chooses between one click and the code for a
	// visit that passed the gate.
	AxisCompatibility Axis = "compatibility"
)

// signalDef is one signal's registration: its name (the config key and
// the name in explanations), its axis, its default weight and the function
// that measures it.
//
// A function notes findings on the eval: on the automation axis, marks of
// a machine (eval.mark, of strength 0..1, or eval.veto for a strong mark
// that closes the gate alone) and plain notes of value 0 for what it
// checked and found clean; on the compatibility axis, findings from -1
// (not the requester) to +1 (the requester). A signal's value is the sum
// of its findings, clipped to -1..0 (automation) or -1..+1
// (compatibility); its reason is their words.
type signalDef struct {
	name   string
	axis   Axis
	weight float64
	run    func(*eval)
}

// registry lists every signal, in the order of explanations. Adding a
// signal is one line here plus its own file (auto_*.go for the automation
// axis, compat_*.go for compatibility) with its table test; the config,
// the defaults, validation, the hash and the explanations follow.
var registry = [...]signalDef{
	// Automation: is this a machine?
	{"proof", AxisAutomation, 1, (*eval).proof},
	{"headless", AxisAutomation, 1, (*eval).headless},
	{"environment", AxisAutomation, 1, (*eval).environment},
	{"input", AxisAutomation, 1, (*eval).input},
	{"scanner_ua", AxisAutomation, 1, (*eval).scannerUA},
	{"headers", AxisAutomation, 1, (*eval).headers},
	{"scanner_network", AxisAutomation, 1, (*eval).scannerNetwork},
	{"timing", AxisAutomation, 1, (*eval).timing},
	{"history", AxisAutomation, 1, (*eval).history},
	// Compatibility: is this the person who asked?
	{"binding", AxisCompatibility, 1, (*eval).binding},
	{"network", AxisCompatibility, 1.5, (*eval).network},
	{"geo", AxisCompatibility, 1, (*eval).geo},
	{"ua", AxisCompatibility, 1, (*eval).ua},
	{"locale", AxisCompatibility, 0.7, (*eval).locale},
}

// maxSignals bounds the registry, so that a decision's per-signal state
// lives in fixed arrays on the stack.
const maxSignals = 32

func init() {
	if len(registry) > maxSignals {
		panic("fingerprint: more signals than maxSignals")
	}
	seen := map[string]bool{}
	for _, d := range registry {
		if seen[d.name] || d.run == nil || (d.axis != AxisAutomation && d.axis != AxisCompatibility) {
			panic("fingerprint: bad signal registration " + d.name)
		}
		seen[d.name] = true
	}
}

func signalByName(name string) (signalDef, bool) {
	for _, d := range registry {
		if d.name == name {
			return d, true
		}
	}
	return signalDef{}, false
}

// signalNames lists the registered signals of an axis ("" for all).
func signalNames(a Axis) []string {
	var out []string
	for _, d := range registry {
		if a == "" || d.axis == a {
			out = append(out, d.name)
		}
	}
	return out
}

// SignalNames returns the names of the signals of an axis, in the order
// explanations list them ("" for every axis).
func SignalNames(a Axis) []string { return signalNames(a) }

// SignalAxis returns the axis of the named signal, "" when none has the
// name.
func SignalAxis(name string) Axis {
	d, _ := signalByName(name)
	return d.axis
}

// Helpers shared by the signals.

// sameNetwork compares two networks by prefix hash, else by ASN.
func sameNetwork(a, b *Network) bool {
	if a.Prefix != "" && b.Prefix != "" {
		return a.Prefix == b.Prefix
	}
	return a.ASN != 0 && a.ASN == b.ASN
}

// knownNetwork reports whether n says anything to compare.
func knownNetwork(n *Network) bool { return n.Prefix != "" || n.ASN != 0 }

// distanceKm is the great-circle distance between two points.
func distanceKm(lat1, lon1, lat2, lon2 float64) float64 {
	const r = 6371.0
	rad := math.Pi / 180
	dlat := (lat2 - lat1) * rad
	dlon := (lon2 - lon1) * rad
	a := math.Sin(dlat/2)*math.Sin(dlat/2) + math.Cos(lat1*rad)*math.Cos(lat2*rad)*math.Sin(dlon/2)*math.Sin(dlon/2)
	return 2 * r * math.Asin(math.Sqrt(min(1, a)))
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// lowerASCII appends s, ASCII lower-cased and cut to cap(dst), to dst.
func lowerASCII(dst []byte, s string) []byte {
	if len(s) > cap(dst)-len(dst) {
		s = s[:cap(dst)-len(dst)]
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

// desktop reports whether a parsed UA is a desktop browser.
func desktop(u *UA) bool {
	return !u.Empty && !u.Mobile && u.OS != OSAndroid && u.OS != OSIOS
}

// chromium reports whether a parsed UA claims a Chromium browser.
func chromium(u *UA) bool {
	return u.Browser == BrowserChrome || u.Browser == BrowserEdge || u.Browser == BrowserOpera || u.Browser == BrowserSamsung
}
