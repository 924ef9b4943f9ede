package fingerprint

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"math"
	"net/netip"
	"strconv"
	"strings"
)

// Config is the operator's tuning of the heuristics: the `heuristics:`
// section of the server's YAML file. Start from DefaultConfig and decode
// the file over it, so that keys left out keep their defaults.
//
// NB: this file avoids fmt and encoding/json (the collector compiles the
// package); Hash writes its canonical form by hand.
type Config struct {
	// ZeroClick lets a visit without the binding cookie consume at stage
	// verify when its score reaches Thresholds.Consume. Off by default:
	// then only the binding cookie consumes without a click.
	ZeroClick  bool       `yaml:"zero_click"`
	Thresholds Thresholds `yaml:"thresholds"`
	Signals    Signals    `yaml:"signals"`
	Params     Params     `yaml:"params"`
	// Scanners edits the embedded list of mail-scanner networks and user
	// agents (see Scanners in scanners.go).
	Scanners ScannerEdits `yaml:"scanners"`
	// Datacenters edits the embedded list of datacenter (cloud) ASNs.
	Datacenters ASNEdits `yaml:"datacenters"`
}

// Thresholds turn a score (0..1) into a decision.
type Thresholds struct {
	// Consume is the lowest score that consumes with zero clicks at stage
	// verify; used only when ZeroClick is on.
	Consume float64 `yaml:"consume"`
	// Confirm is the lowest score that is offered Continue at stage
	// verify; below it the code is asked.
	Confirm float64 `yaml:"confirm"`
	// Click is the lowest score that consumes at stage confirm, after a
	// trusted click on Continue; below it the code is asked.
	Click float64 `yaml:"click"`
}

// SignalConfig switches one signal and weighs it. A signal's value runs
// from -1 (scanner-like) to +1 (person-like); the score is the logistic of
// the sum of weight × value over the enabled signals.
type SignalConfig struct {
	Enabled bool    `yaml:"enabled"`
	Weight  float64 `yaml:"weight"`
}

// Signals holds one SignalConfig per signal.
type Signals struct {
	Binding     SignalConfig `yaml:"binding"`
	Geo         SignalConfig `yaml:"geo"`
	Network     SignalConfig `yaml:"network"`
	UA          SignalConfig `yaml:"ua"`
	Timing      SignalConfig `yaml:"timing"`
	Automation  SignalConfig `yaml:"automation"`
	Interaction SignalConfig `yaml:"interaction"`
	Locale      SignalConfig `yaml:"locale"`
	History     SignalConfig `yaml:"history"`
	Consistency SignalConfig `yaml:"consistency"`
}

// Params are the numbers inside the signals.
type Params struct {
	// FastSeconds: a visit sooner than this after issue is faster than a
	// person can open the mail.
	FastSeconds float64 `yaml:"fast_seconds"`
	// ScannerWindowSeconds: scanners typically arrive within this many
	// seconds of the mail being sent.
	ScannerWindowSeconds float64 `yaml:"scanner_window_seconds"`
	// BurstSeconds: two visits of one kind closer than this are a machine.
	BurstSeconds float64 `yaml:"burst_seconds"`
	// StaleMajors: a Chrome, Edge or Firefox this many major versions
	// behind the release expected at the time of the visit looks like a
	// scanner's pinned browser.
	StaleMajors int `yaml:"stale_majors"`
	// NearKm and FarKm bound the distance between requester and visitor
	// that counts as near (for) and far (against).
	NearKm float64 `yaml:"near_km"`
	FarKm  float64 `yaml:"far_km"`
	// MinClickMillis: a click on Continue sooner than this after it was
	// shown is faster than a person reads.
	MinClickMillis int `yaml:"min_click_ms"`
	// MinPointerPoints: a pointer path of at least this many points before
	// the click counts as a hand on a mouse.
	MinPointerPoints int `yaml:"min_pointer_points"`
}

// ScannerEdits adds to and removes from the embedded scanner list.
type ScannerEdits struct {
	// Disable names built-in entries to drop, e.g. ["google"].
	Disable []string `yaml:"disable"`
	// Add appends entries of the operator's own.
	Add []ScannerEntry `yaml:"add"`
}

// ScannerEntry is one known mail-scanner vendor: its networks and its
// user-agent marks, with where they come from.
type ScannerEntry struct {
	Name   string   `yaml:"name"`
	Source string   `yaml:"source"`
	ASNs   []uint32 `yaml:"asns"`
	// Ranges are CIDRs; they are matched when an address is first seen
	// (Engine.MarkRanges), since recorded inputs keep no address.
	Ranges []string `yaml:"ranges"`
	// UserAgents are case-insensitive substrings of a scanner's UA.
	UserAgents []string `yaml:"user_agents"`
}

// ASNEdits adds and removes ASNs.
type ASNEdits struct {
	Add    []uint32 `yaml:"add"`
	Remove []uint32 `yaml:"remove"`
}

// DefaultConfig returns the shipped tuning. Under it no scanner profile of
// the corpus is offered Continue or consumes, and the browser holding the
// binding cookie always consumes (see docs/tuning.md).
func DefaultConfig() Config {
	on := func(w float64) SignalConfig { return SignalConfig{Enabled: true, Weight: w} }
	return Config{
		ZeroClick:  false,
		Thresholds: Thresholds{Consume: 0.9, Confirm: 0.6, Click: 0.6},
		Signals: Signals{
			Binding:     on(1),
			Geo:         on(1),
			Network:     on(1.5),
			UA:          on(1),
			Timing:      on(0.5),
			Automation:  on(2),
			Interaction: on(1.5),
			Locale:      on(0.7),
			History:     on(0.7),
			Consistency: on(1.5),
		},
		Params: Params{
			FastSeconds:          3,
			ScannerWindowSeconds: 25,
			BurstSeconds:         1,
			StaleMajors:          8,
			NearKm:               150,
			FarKm:                1500,
			MinClickMillis:       250,
			MinPointerPoints:     3,
		},
	}
}

// signalIDs index the per-signal arrays of a compiled config, in the order
// in which contributions are listed.
const (
	sigBinding = iota
	sigGeo
	sigNetwork
	sigUA
	sigTiming
	sigAutomation
	sigInteraction
	sigLocale
	sigHistory
	sigConsistency
	numSignals
)

// SignalNames are the signals' names as explanations and the config use.
var SignalNames = [numSignals]string{"binding", "geo", "network", "ua", "timing", "automation", "interaction", "locale", "history", "consistency"}

func (s *Signals) list() [numSignals]*SignalConfig {
	return [numSignals]*SignalConfig{&s.Binding, &s.Geo, &s.Network, &s.UA, &s.Timing, &s.Automation, &s.Interaction, &s.Locale, &s.History, &s.Consistency}
}

// Validate checks the configuration; its errors name the offending key
// under heuristics.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, msg string) {
		errs = append(errs, errors.New("heuristics."+key+": "+msg))
	}
	unit := func(key string, v float64) {
		if !(v > 0 && v < 1) {
			bad(key, "must be between 0 and 1 (exclusive), got "+ftoa(v))
		}
	}
	unit("thresholds.consume", c.Thresholds.Consume)
	unit("thresholds.confirm", c.Thresholds.Confirm)
	unit("thresholds.click", c.Thresholds.Click)
	if c.ZeroClick && c.Thresholds.Consume < c.Thresholds.Confirm {
		bad("thresholds.consume", "must not be below thresholds.confirm when zero_click is on")
	}
	if !c.Signals.Binding.Enabled {
		bad("signals.binding.enabled", "cannot be false: the browser that asked for the link always signs in without a click")
	}
	for i, s := range c.Signals.list() {
		if math.IsNaN(s.Weight) || s.Weight < 0 || s.Weight > 10 {
			bad("signals."+SignalNames[i]+".weight", "must be between 0 and 10, got "+ftoa(s.Weight))
		}
	}
	p := c.Params
	pos := func(key string, v float64) {
		if !(v > 0) || math.IsInf(v, 0) {
			bad("params."+key, "must be a positive number, got "+ftoa(v))
		}
	}
	pos("fast_seconds", p.FastSeconds)
	pos("scanner_window_seconds", p.ScannerWindowSeconds)
	pos("burst_seconds", p.BurstSeconds)
	pos("near_km", p.NearKm)
	pos("far_km", p.FarKm)
	pos("stale_majors", float64(p.StaleMajors))
	pos("min_pointer_points", float64(p.MinPointerPoints))
	if p.MinClickMillis < 0 {
		bad("params.min_click_ms", "must not be negative")
	}
	if p.FastSeconds > p.ScannerWindowSeconds {
		bad("params.fast_seconds", "must not exceed params.scanner_window_seconds")
	}
	if p.NearKm > p.FarKm {
		bad("params.near_km", "must not exceed params.far_km")
	}
	known := map[string]bool{}
	for _, e := range builtinScanners {
		known[e.Name] = true
	}
	for i, name := range c.Scanners.Disable {
		if !known[name] {
			bad("scanners.disable["+strconv.Itoa(i)+"]", "no built-in scanner entry is named "+strconv.Quote(name)+" (known: "+strings.Join(builtinScannerNames(), ", ")+")")
		}
	}
	for i, e := range c.Scanners.Add {
		key := "scanners.add[" + strconv.Itoa(i) + "]"
		if strings.TrimSpace(e.Name) == "" {
			bad(key+".name", "is required")
		}
		if len(e.ASNs) == 0 && len(e.Ranges) == 0 && len(e.UserAgents) == 0 {
			bad(key, "needs at least one of asns, ranges, user_agents")
		}
		for j, r := range e.Ranges {
			if _, err := netip.ParsePrefix(strings.TrimSpace(r)); err != nil {
				bad(key+".ranges["+strconv.Itoa(j)+"]", "is not a CIDR: "+strconv.Quote(r))
			}
		}
		for j, u := range e.UserAgents {
			if strings.TrimSpace(u) == "" {
				bad(key+".user_agents["+strconv.Itoa(j)+"]", "is empty")
			}
		}
		for j, a := range e.ASNs {
			if a == 0 {
				bad(key+".asns["+strconv.Itoa(j)+"]", "is 0")
			}
		}
	}
	for i, a := range append(c.Datacenters.Add, c.Datacenters.Remove...) {
		if a == 0 {
			bad("datacenters", "ASN number "+strconv.Itoa(i)+" is 0")
		}
	}
	return errors.Join(errs...)
}

func ftoa(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// Hash returns a short, stable hash of the configuration; every verdict
// records it, so a replay can tell which configuration decided.
func (c *Config) Hash() string {
	var b []byte
	w := func(k string) { b = append(b, k...); b = append(b, '=') }
	f := func(k string, v float64) { w(k); b = strconv.AppendFloat(b, v, 'g', -1, 64); b = append(b, ';') }
	s := func(k, v string) { w(k); b = strconv.AppendQuote(b, v); b = append(b, ';') }
	u := func(k string, v uint32) { w(k); b = strconv.AppendUint(b, uint64(v), 10); b = append(b, ';') }
	b = append(b, "v1;data="+dataVersion+";"...)
	w("zero_click")
	b = strconv.AppendBool(b, c.ZeroClick)
	b = append(b, ';')
	f("consume", c.Thresholds.Consume)
	f("confirm", c.Thresholds.Confirm)
	f("click", c.Thresholds.Click)
	for i, sc := range c.Signals.list() {
		w(SignalNames[i])
		b = strconv.AppendBool(b, sc.Enabled)
		f("", sc.Weight)
	}
	p := c.Params
	f("fast", p.FastSeconds)
	f("window", p.ScannerWindowSeconds)
	f("burst", p.BurstSeconds)
	f("stale", float64(p.StaleMajors))
	f("near", p.NearKm)
	f("far", p.FarKm)
	f("minclick", float64(p.MinClickMillis))
	f("minpoints", float64(p.MinPointerPoints))
	for _, n := range c.Scanners.Disable {
		s("disable", n)
	}
	for _, e := range c.Scanners.Add {
		s("add", e.Name)
		for _, a := range e.ASNs {
			u("asn", a)
		}
		for _, r := range e.Ranges {
			s("range", r)
		}
		for _, ua := range e.UserAgents {
			s("ua", ua)
		}
	}
	for _, a := range c.Datacenters.Add {
		u("dc+", a)
	}
	for _, a := range c.Datacenters.Remove {
		u("dc-", a)
	}
	sum := sha256.Sum256(b)
	return "cfg-" + hex.EncodeToString(sum[:6])
}
