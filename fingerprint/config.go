package fingerprint

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Config is the operator's tuning of the heuristics: the `heuristics:`
// section of the server's YAML file. Start from DefaultConfig and decode
// the file over it, so that keys left out keep their defaults.
//
// The engine asks two questions (docs/tuning.md): Automation, "is this a
// machine?", is a gate; Compatibility, "is this the person who asked?",
// chooses between one click and the code for a browser that passed it.
type Config struct {
	// ZeroClick lets a visit without the binding cookie consume at stage
	// verify when it passes the gate and its compatibility reaches
	// Compatibility.Thresholds.Consume. Off by default: then only the
	// binding cookie consumes without a click.
	ZeroClick     bool              `yaml:"zero_click" json:"zero_click"`
	Automation    AutomationAxis    `yaml:"automation" json:"automation"`
	Compatibility CompatibilityAxis `yaml:"compatibility" json:"compatibility"`
	Params        Params            `yaml:"params" json:"params"`
	// Scanners edits the embedded list of mail-scanner networks and user
	// agents (see Scanners in scanners.go).
	Scanners ScannerEdits `yaml:"scanners" json:"scanners"`
	// Datacenters edits the embedded list of datacenter (cloud) ASNs.
	Datacenters ASNEdits `yaml:"datacenters" json:"datacenters"`

	// Moved catches the keys of the one-axis configuration (before the
	// two axes) and fails with the key's new home; it holds nothing.
	Moved MovedKeys `yaml:",inline" json:"-"`
}

// AutomationAxis is the gate: every signal on it measures marks of a
// machine, each mark 0..1 times the signal's weight. Past Threshold, or on
// any strong mark alone (a veto), the decision is the code.
type AutomationAxis struct {
	// Threshold is the weighted sum of marks at which the gate closes.
	Threshold float64   `yaml:"threshold" json:"threshold"`
	Signals   SignalSet `yaml:"signals" json:"signals"`
}

// CompatibilityAxis is "is this the person who asked?": its score is the
// logistic of the weighted sum of its signals (each -1..+1), and its
// thresholds choose, for a visit that passed the gate, between the code,
// one click and (with ZeroClick) none.
type CompatibilityAxis struct {
	Thresholds Thresholds `yaml:"thresholds" json:"thresholds"`
	Signals    SignalSet  `yaml:"signals" json:"signals"`
}

// Thresholds turn the compatibility score (0..1) into a decision.
type Thresholds struct {
	// Consume is the lowest score that consumes with zero clicks at stage
	// verify; used only when ZeroClick is on.
	Consume float64 `yaml:"consume" json:"consume"`
	// Confirm is the lowest score that is offered Continue at stage
	// verify; below it the code is asked.
	Confirm float64 `yaml:"confirm" json:"confirm"`
	// Click is the lowest score that consumes at stage confirm, after a
	// trusted click on Continue; below it the code is asked.
	Click float64 `yaml:"click" json:"click"`
}

// SignalConfig switches one signal and weighs it.
type SignalConfig struct {
	Enabled bool    `yaml:"enabled" json:"enabled"`
	Weight  float64 `yaml:"weight" json:"weight"`
}

// SignalSet holds one SignalConfig per signal of an axis, by name (the
// names of the registry in signals.go). In YAML, an entry is laid over
// the signal's default, so `geo: {weight: 2}` keeps geo enabled.
type SignalSet map[string]SignalConfig

// UnmarshalYAML lays each entry over the signal's current value (or its
// default) and refuses unknown signal names and keys, naming them.
func (s *SignalSet) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: signals: want a mapping of signal names", n.Line)
	}
	if *s == nil {
		*s = SignalSet{}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		name := k.Value
		def, ok := signalByName(name)
		if !ok {
			return fmt.Errorf("line %d: signals.%s: no signal is named %q (known: %s)", k.Line, name, name, strings.Join(signalNames(""), ", "))
		}
		cur, ok := (*s)[name]
		if !ok {
			cur = SignalConfig{Enabled: true, Weight: def.weight}
		}
		if v.Kind != yaml.MappingNode {
			return fmt.Errorf("line %d: signals.%s: want {enabled: ..., weight: ...}", v.Line, name)
		}
		for j := 0; j+1 < len(v.Content); j += 2 {
			kk, vv := v.Content[j], v.Content[j+1]
			var err error
			switch kk.Value {
			case "enabled":
				err = vv.Decode(&cur.Enabled)
			case "weight":
				err = vv.Decode(&cur.Weight)
			default:
				return fmt.Errorf("line %d: signals.%s.%s: unknown key (a signal has enabled and weight)", kk.Line, name, kk.Value)
			}
			if err != nil {
				return fmt.Errorf("line %d: signals.%s.%s: %s", vv.Line, name, kk.Value, strings.TrimPrefix(err.Error(), "yaml: "))
			}
		}
		(*s)[name] = cur
	}
	return nil
}

// MovedKeys are the top-level keys of the one-axis configuration. Each
// fails to decode with a message that says where its settings went.
type MovedKeys struct {
	Thresholds movedThresholds `yaml:"thresholds,omitempty"`
	Signals    movedSignals    `yaml:"signals,omitempty"`
}

type movedThresholds struct{}

func (movedThresholds) UnmarshalYAML(n *yaml.Node) error {
	return fmt.Errorf("line %d: heuristics.thresholds has moved: confirm, click and consume are now heuristics.compatibility.thresholds "+
		"(same meaning, same 0..1 scale), and the automation gate has heuristics.automation.threshold; see docs/tuning.md", n.Line)
}

type movedSignals struct{}

func (movedSignals) UnmarshalYAML(n *yaml.Node) error {
	return fmt.Errorf("line %d: heuristics.signals has moved: geo, network, ua, locale and binding are now under heuristics.compatibility.signals; "+
		"the machine marks (automation, interaction, consistency, timing, history) became the signals of heuristics.automation.signals "+
		"(%s) with their own weights; see docs/tuning.md", n.Line, strings.Join(signalNames(AxisAutomation), ", "))
}

// Params are the numbers inside the signals.
type Params struct {
	// FastSeconds: a first visit sooner than this after issue is faster
	// than a person opens the mail.
	FastSeconds float64 `yaml:"fast_seconds" json:"fast_seconds"`
	// ScannerWindowSeconds: scanners typically arrive within this many
	// seconds of the mail being sent.
	ScannerWindowSeconds float64 `yaml:"scanner_window_seconds" json:"scanner_window_seconds"`
	// BurstSeconds: two visits closer than this are a machine's (two of
	// one kind from one visitor, or two from different networks).
	BurstSeconds float64 `yaml:"burst_seconds" json:"burst_seconds"`
	// StaleMajors: a Chrome, Edge or Firefox this many major versions
	// behind the release expected at the time of the visit, or behind the
	// requester's own, looks like a scanner's pinned browser.
	StaleMajors int `yaml:"stale_majors" json:"stale_majors"`
	// NearKm and FarKm bound the distance between requester and visitor
	// that counts as near (for) and far (against).
	NearKm float64 `yaml:"near_km" json:"near_km"`
	FarKm  float64 `yaml:"far_km" json:"far_km"`
	// MinClickMillis: a click on Continue sooner than this after it was
	// shown is faster than a person reads.
	MinClickMillis int `yaml:"min_click_ms" json:"min_click_ms"`
	// MinPointerPoints: a pointer path of at least this many points before
	// the click counts as a hand on a mouse.
	MinPointerPoints int `yaml:"min_pointer_points" json:"min_pointer_points"`
	// MinPressMillis: a mouse button held down for less than this (but
	// more than 0, which means unknown) was pressed by a program.
	MinPressMillis float64 `yaml:"min_press_ms" json:"min_press_ms"`
}

// ScannerEdits adds to and removes from the embedded scanner list.
type ScannerEdits struct {
	// Disable names built-in entries to drop, e.g. ["google"].
	Disable []string `yaml:"disable" json:"disable"`
	// Add appends entries of the operator's own.
	Add []ScannerEntry `yaml:"add" json:"add"`
}

// ScannerEntry is one known mail-scanner vendor: its networks and its
// user-agent marks, with where they come from.
type ScannerEntry struct {
	Name   string   `yaml:"name" json:"name"`
	Source string   `yaml:"source" json:"source"`
	ASNs   []uint32 `yaml:"asns" json:"asns"`
	// Ranges are CIDRs; they are matched when an address is first seen
	// (Engine.MarkRanges), since recorded inputs keep no address.
	Ranges []string `yaml:"ranges" json:"ranges"`
	// UserAgents are case-insensitive substrings of a scanner's UA.
	UserAgents []string `yaml:"user_agents" json:"user_agents"`
}

// ASNEdits adds and removes ASNs.
type ASNEdits struct {
	Add    []uint32 `yaml:"add" json:"add"`
	Remove []uint32 `yaml:"remove" json:"remove"`
}

// DefaultConfig returns the shipped tuning. Under it no scanner profile of
// the corpus is offered Continue or consumes, and the browser holding the
// binding cookie always consumes (see docs/tuning.md).
func DefaultConfig() Config {
	return Config{
		ZeroClick: false,
		Automation: AutomationAxis{
			Threshold: 1,
			Signals:   defaultSignals(AxisAutomation),
		},
		Compatibility: CompatibilityAxis{
			Thresholds: Thresholds{Consume: 0.9, Confirm: 0.4, Click: 0.4},
			Signals:    defaultSignals(AxisCompatibility),
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
			MinPressMillis:       5,
		},
	}
}

func defaultSignals(a Axis) SignalSet {
	s := SignalSet{}
	for i := range registry {
		if registry[i].axis == a {
			s[registry[i].name] = SignalConfig{Enabled: true, Weight: registry[i].weight}
		}
	}
	return s
}

// SetWeight sets the weight of the named signal on whichever axis it
// belongs to, enabling it; it reports false for an unknown name. It is a
// convenience for tests and tools that build a Config in Go.
func (c *Config) SetWeight(name string, w float64) bool {
	return c.edit(name, func(s *SignalConfig) { s.Enabled, s.Weight = true, w })
}

// Disable switches the named signal off; it reports false for an unknown
// name.
func (c *Config) Disable(name string) bool {
	return c.edit(name, func(s *SignalConfig) { s.Enabled = false })
}

func (c *Config) edit(name string, f func(*SignalConfig)) bool {
	def, ok := signalByName(name)
	if !ok {
		return false
	}
	set := &c.Compatibility.Signals
	if def.axis == AxisAutomation {
		set = &c.Automation.Signals
	}
	*set = maps2(*set)
	cur, ok := (*set)[name]
	if !ok {
		cur = SignalConfig{Enabled: true, Weight: def.weight}
	}
	f(&cur)
	(*set)[name] = cur
	return true
}

// maps2 copies a SignalSet so that an edit never reaches a map shared
// with another Config value (Config is copied by value; its maps are not).
func maps2(s SignalSet) SignalSet {
	out := make(SignalSet, len(s)+1)
	for k, v := range s {
		out[k] = v
	}
	return out
}

// normalized returns a copy whose signal sets are private and complete
// (every registered signal present, with its default where the operator
// said nothing), so that two configurations that decide alike hash alike.
func (c Config) normalized() Config {
	c.Automation.Signals = maps2(c.Automation.Signals)
	c.Compatibility.Signals = maps2(c.Compatibility.Signals)
	for i := range registry {
		d := &registry[i]
		set := c.Compatibility.Signals
		if d.axis == AxisAutomation {
			set = c.Automation.Signals
		}
		if _, ok := set[d.name]; !ok {
			set[d.name] = SignalConfig{Enabled: true, Weight: d.weight}
		}
	}
	return c
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
	t := &c.Compatibility.Thresholds
	unit("compatibility.thresholds.consume", t.Consume)
	unit("compatibility.thresholds.confirm", t.Confirm)
	unit("compatibility.thresholds.click", t.Click)
	if c.ZeroClick && t.Consume < t.Confirm {
		bad("compatibility.thresholds.consume", "must not be below compatibility.thresholds.confirm when zero_click is on")
	}
	if th := c.Automation.Threshold; !(th > 0 && th <= 100) {
		bad("automation.threshold", "must be above 0 and at most 100, got "+ftoa(th))
	}
	for _, ax := range [...]struct {
		axis Axis
		set  SignalSet
	}{{AxisAutomation, c.Automation.Signals}, {AxisCompatibility, c.Compatibility.Signals}} {
		names := make([]string, 0, len(ax.set))
		for name := range ax.set {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			s := ax.set[name]
			key := string(ax.axis) + ".signals." + name
			def, ok := signalByName(name)
			switch {
			case !ok:
				bad(key, "no signal is named "+strconv.Quote(name)+" (known on this axis: "+strings.Join(signalNames(ax.axis), ", ")+")")
				continue
			case def.axis != ax.axis:
				bad(key, name+" is a signal of the "+string(def.axis)+" axis: put it under heuristics."+string(def.axis)+".signals")
				continue
			}
			if math.IsNaN(s.Weight) || s.Weight < 0 || s.Weight > 10 {
				bad(key+".weight", "must be between 0 and 10, got "+ftoa(s.Weight))
			}
		}
	}
	if b, ok := c.Compatibility.Signals["binding"]; ok && !b.Enabled {
		bad("compatibility.signals.binding.enabled", "cannot be false: the browser that asked for the link always signs in without a click")
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
	if p.MinPressMillis < 0 || math.IsNaN(p.MinPressMillis) || p.MinPressMillis > 1000 {
		bad("params.min_press_ms", "must be between 0 and 1000, got "+ftoa(p.MinPressMillis))
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
// records it, so a replay can tell which configuration decided. It is the
// SHA-256 of the canonical JSON encoding (encoding/json sorts map keys)
// of the normalized configuration and of the embedded lists' version.
func (c *Config) Hash() string {
	b, err := json.Marshal(struct {
		Data   string
		Config Config
	}{dataVersion, c.normalized()})
	if err != nil { // NaN weights: Validate refuses them; hash their text
		b = []byte(fmt.Sprintf("%s %#v", dataVersion, c.normalized()))
	}
	sum := sha256.Sum256(b)
	return "cfg-" + hex.EncodeToString(sum[:6])
}
