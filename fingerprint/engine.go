package fingerprint

import (
	"bytes"
	"errors"
	"hash/maphash"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Engine is the configurable Decider: the signals of this package, weighed
// by a Config that is parsed once and swapped atomically on reload.
// It is safe for concurrent use; Decide does no I/O and reads no clock.
type Engine struct {
	cur atomic.Pointer[compiled]
}

var _ Decider = (*Engine)(nil)

// compiled is a Config turned into plain lookups, so that Decide does no
// parsing and no allocation beyond its result.
type compiled struct {
	cfg        Config
	hash       string
	on         [maxSignals]bool
	w          [maxSignals]float64
	scannerASN map[uint32]string
	// uaPats are the scanner entries' UA marks, then the generic ones,
	// lower case, as bytes for bytes.Contains (the fast path).
	uaPats     []namedPattern
	ranges     []namedRange
	datacenter map[uint32]bool
	// uas caches what a User-Agent string parses to and which scanner
	// pattern it contains (ParseUA and the pattern scan were half of a
	// decision's time, and a site sees few distinct User-Agents). It is
	// direct-mapped and lossy: a slot holds the last string hashed to it,
	// so its size is bounded whatever visitors send.
	uas     [256]atomic.Pointer[uaInfo]
	uasSeed maphash.Seed
}

// uaInfo is one User-Agent string, parsed, with the index in uaPats of
// the first scanner pattern it contains (-1 for none).
type uaInfo struct {
	s   string
	ua  UA
	pat int
}

// maxCachedUA bounds the strings the UA cache keeps; longer ones (no
// browser sends them) are parsed every time.
const maxCachedUA = 512

func (c *compiled) userAgent(s string) *uaInfo {
	slot := &c.uas[maphash.String(c.uasSeed, s)%uint64(len(c.uas))]
	if u := slot.Load(); u != nil && u.s == s {
		return u
	}
	u := &uaInfo{s: s, ua: ParseUA(s), pat: c.matchUA(s)}
	if len(s) <= maxCachedUA {
		slot.Store(u)
	}
	return u
}

// matchUA returns the index in uaPats of the first pattern that the
// lower-cased s contains, -1 for none.
func (c *compiled) matchUA(s string) int {
	var lb [maxCachedUA]byte
	lower := lowerASCII(lb[:0], s)
	for i := range c.uaPats {
		if bytes.Contains(lower, c.uaPats[i].lower) {
			return i
		}
	}
	return -1
}

type namedPattern struct {
	lower   []byte
	name    string
	generic bool // a crawler or library, not a named vendor
}

type namedRange struct {
	p    netip.Prefix
	name string
}

// NewEngine validates cfg and returns an Engine deciding with it.
func NewEngine(cfg Config) (*Engine, error) {
	e := &Engine{}
	if err := e.Swap(cfg); err != nil {
		return nil, err
	}
	return e, nil
}

// Swap validates cfg and, if it is valid, makes it the configuration of
// every later decision. On error the running configuration stays.
func (e *Engine) Swap(cfg Config) error {
	c, err := compile(cfg)
	if err != nil {
		return err
	}
	e.cur.Store(c)
	return nil
}

// Config returns the configuration in use (a copy: editing it changes
// nothing until it is given to Swap).
func (e *Engine) Config() Config { return e.cur.Load().cfg.normalized() }

// Hash returns the hash of the configuration in use (Config.Hash).
func (e *Engine) Hash() string { return e.cur.Load().hash }

// MarkRanges sets n.Range when ip lies in a scanner address range of the
// configuration. Call it where the address is still known (the server,
// when it builds a Network), since recorded inputs keep no address.
func (e *Engine) MarkRanges(ip netip.Addr, n *Network) {
	ip = ip.Unmap()
	for _, r := range e.cur.Load().ranges {
		if r.p.Contains(ip) {
			n.Range = r.name
			return
		}
	}
}

func compile(cfg Config) (*compiled, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.normalized()
	c := &compiled{
		cfg:        cfg,
		hash:       cfg.Hash(),
		scannerASN: map[uint32]string{},
		datacenter: map[uint32]bool{},
		uasSeed:    maphash.MakeSeed(),
	}
	for i := range registry {
		d := &registry[i]
		set := cfg.Compatibility.Signals
		if d.axis == AxisAutomation {
			set = cfg.Automation.Signals
		}
		c.on[i] = set[d.name].Enabled
		c.w[i] = set[d.name].Weight
	}
	disabled := map[string]bool{}
	for _, n := range cfg.Scanners.Disable {
		disabled[n] = true
	}
	entries := make([]ScannerEntry, 0, len(builtinScanners)+len(cfg.Scanners.Add))
	for _, s := range builtinScanners {
		if !disabled[s.Name] {
			entries = append(entries, s)
		}
	}
	entries = append(entries, cfg.Scanners.Add...)
	for _, s := range entries {
		for _, a := range s.ASNs {
			c.scannerASN[a] = s.Name
		}
		for _, u := range s.UserAgents {
			c.uaPats = append(c.uaPats, namedPattern{[]byte(strings.ToLower(strings.TrimSpace(u))), s.Name, false})
		}
		for _, r := range s.Ranges {
			p, err := netip.ParsePrefix(strings.TrimSpace(r))
			if err != nil { // Validate has checked the operator's; this is ours
				return nil, errors.New("fingerprint: bad built-in range " + r)
			}
			c.ranges = append(c.ranges, namedRange{p.Masked(), s.Name})
		}
	}
	for _, g := range genericBotUAs {
		c.uaPats = append(c.uaPats, namedPattern{[]byte(g), g, true})
	}
	for _, a := range builtinDatacenters {
		c.datacenter[a] = true
	}
	for _, a := range cfg.Datacenters.Add {
		c.datacenter[a] = true
	}
	for _, a := range cfg.Datacenters.Remove {
		delete(c.datacenter, a)
	}
	return c, nil
}

// The rules that decide, as Verdict.Rule says them.
const (
	ruleBinding    = "binding: the browser holds the device cookie of the browser that asked"
	ruleNoReport   = "no report from the page's collector: nothing that runs no JavaScript may pass"
	ruleNoClick    = "stage confirm without a trusted click on Continue"
	ruleVeto       = "automation gate closed by a strong mark of a machine (VETO): the code, whatever compatibility says"
	ruleGate       = "automation gate closed: the marks of a machine reach automation.threshold: the code, whatever compatibility says"
	ruleClick      = "gate passed, trusted click, compatibility at or above compatibility.thresholds.click"
	ruleBelowClick = "gate passed, but compatibility below compatibility.thresholds.click after the click"
	ruleZeroClick  = "gate passed, zero_click policy and compatibility at or above compatibility.thresholds.consume"
	ruleConfirm    = "gate passed and compatibility at or above compatibility.thresholds.confirm: one click on Continue"
	ruleCode       = "gate passed, but compatibility below compatibility.thresholds.confirm"
)

// Decide implements Decider.
func (e *Engine) Decide(in *Input) Verdict {
	return e.cur.Load().decide(in)
}

func (c *compiled) decide(in *Input) Verdict {
	// The eval (its reason buffer and outcomes, about 4 KiB) reaches the
	// signals through method values, so it would escape to the heap on
	// every decision: it is pooled instead.
	ev := evalPool.Get().(*eval)
	defer func() {
		ev.c, ev.in, ev.r = nil, nil, nil // keep no input alive in the pool
		evalPool.Put(ev)
	}()
	ev.reset(c, in)
	ev.now = in.Now
	if ev.now.IsZero() {
		ev.now = in.Visitor.At
	}
	if ev.r != nil && ev.r.V == 0 {
		ev.r = nil
	}
	ev.req = c.userAgent(in.Requester.UserAgent).ua
	vis := c.userAgent(in.Visitor.UserAgent)
	ev.vis, ev.visPat = vis.ua, vis.pat
	ev.page = ev.vis
	if ev.r != nil && ev.r.Device.UserAgent != in.Visitor.UserAgent {
		if p := c.userAgent(ev.r.Device.UserAgent).ua; !p.Empty {
			ev.page = p
		}
	}
	ev.run()

	reasons := string(ev.buf)
	v := Verdict{Config: c.hash, Signals: make([]Contribution, ev.n)}
	compat, evidence := 0.0, 0.0
	veto := false
	for i := 0; i < ev.n; i++ {
		o := &ev.out[i]
		d := &registry[o.sig]
		v.Signals[i] = Contribution{
			Signal: d.name,
			Axis:   d.axis,
			Value:  round3(o.v),
			Weight: c.w[o.sig],
			Reason: reasons[o.a:o.b],
			Veto:   o.veto,
		}
		if d.axis == AxisAutomation {
			evidence += c.w[o.sig] * -o.v
			veto = veto || o.veto
		} else {
			compat += c.w[o.sig] * o.v
		}
	}
	v.Compatibility = round3(1 / (1 + math.Exp(-compat)))
	th := c.cfg.Automation.Threshold
	// No report is the strongest mark of all: nothing ran the page.
	gateClosed := veto || evidence >= th || ev.r == nil
	if !gateClosed {
		v.Automation = round3(1 - evidence/th)
	}

	t := &c.cfg.Compatibility.Thresholds
	switch {
	case in.Binding:
		v.Decision, v.Rule = Consume, ruleBinding
	case ev.r == nil:
		v.Decision, v.Rule = Code, ruleNoReport
	case in.Stage == StageConfirm && !ev.r.TrustedClick():
		v.Decision, v.Rule = Code, ruleNoClick
	case veto:
		v.Decision, v.Rule = Code, ruleVeto
	case gateClosed:
		v.Decision, v.Rule = Code, ruleGate
	case in.Stage == StageConfirm && v.Compatibility >= t.Click:
		v.Decision, v.Rule = Consume, ruleClick
	case in.Stage == StageConfirm:
		v.Decision, v.Rule = Code, ruleBelowClick
	case c.cfg.ZeroClick && v.Compatibility >= t.Consume:
		v.Decision, v.Rule = Consume, ruleZeroClick
	case v.Compatibility >= t.Confirm:
		v.Decision, v.Rule = Confirm, ruleConfirm
	default:
		v.Decision, v.Rule = Code, ruleCode
	}
	if in.Binding || !gateClosed {
		v.Score = v.Compatibility
	}
	return v
}

func round3(f float64) float64 { return math.Round(f*1000) / 1000 }

// eval is one decision in progress. Reasons are written into one buffer
// and cut into strings at the end, so that a decision allocates one string
// for all its explanations.
type eval struct {
	c        *compiled
	in       *Input
	r        *Report // nil when the page sent none
	now      time.Time
	req, vis UA
	// visPat is the index in c.uaPats of the scanner pattern the
	// visitor's User-Agent contains, -1 for none.
	visPat int
	// page is the page's own navigator.userAgent, parsed (the header's
	// when the report has none).
	page     UA
	buf      []byte
	bufMem   [2048]byte
	out      [maxSignals]outcome
	n        int
	cur      *outcome
	findings int
}

var evalPool = sync.Pool{New: func() any { return new(eval) }}

// reset readies a pooled eval for a decision of in under c.
func (e *eval) reset(c *compiled, in *Input) {
	e.c, e.in, e.r = c, in, in.Report
	e.now = time.Time{}
	e.req, e.vis, e.page, e.visPat = UA{}, UA{}, UA{}, -1
	e.buf = e.bufMem[:0]
	e.n, e.cur, e.findings = 0, nil, 0
}

type outcome struct {
	sig  int
	v    float64
	a, b int
	veto bool
}

func (e *eval) run() {
	for i := range registry {
		if !e.c.on[i] {
			continue
		}
		e.cur = &e.out[e.n]
		*e.cur = outcome{sig: i, a: len(e.buf)}
		e.findings = 0
		registry[i].run(e)
		if registry[i].axis == AxisAutomation {
			e.cur.v = max(-1, min(0, e.cur.v))
		} else {
			e.cur.v = max(-1, min(1, e.cur.v))
		}
		e.cur.b = len(e.buf)
		e.n++
	}
}

// note adds a finding of value v (-1..+1) to the current signal and starts
// its reason; text, int and the others continue the reason.
func (e *eval) note(v float64, reason string) *eval {
	if e.findings > 0 {
		e.buf = append(e.buf, "; "...)
	}
	e.findings++
	e.cur.v += v
	e.buf = append(e.buf, reason...)
	return e
}

// mark adds a mark of a machine of the given strength (0..1) to the
// current automation signal.
func (e *eval) mark(strength float64, reason string) *eval {
	return e.note(-strength, reason)
}

// veto marks the current signal as a strong mark of a machine: it closes
// the automation gate alone.
func (e *eval) veto(reason string) *eval {
	e.cur.veto = true
	return e.note(-1, reason)
}

// text continues the current reason with words of ours.
func (e *eval) text(str string) *eval {
	e.buf = append(e.buf, str...)
	return e
}

// ext continues the current reason with outside text (a header, a
// renderer name, a city), clipped so that a long value cannot bloat the
// explanation (or the buffer).
func (e *eval) ext(str string) *eval {
	if len(str) > 64 {
		str = str[:64]
	}
	e.buf = append(e.buf, str...)
	return e
}

// int continues the current reason with n in decimal.
func (e *eval) int(n int) *eval {
	e.buf = strconv.AppendInt(e.buf, int64(n), 10)
	return e
}

// asn continues the current reason with an AS number ("AS8075").
func (e *eval) asn(n uint32) *eval {
	e.buf = append(e.buf, "AS"...)
	e.buf = strconv.AppendUint(e.buf, uint64(n), 10)
	return e
}

// secs writes a duration in s, min or h, whichever reads best.
func (e *eval) secs(d float64) *eval {
	switch {
	case d < 120:
		return e.int(int(d)).text(" s")
	case d < 7200:
		return e.int(int(d / 60)).text(" min")
	}
	return e.int(int(d / 3600)).text(" h")
}

// ms writes a duration in milliseconds.
func (e *eval) ms(d float64) *eval {
	return e.int(int(math.Round(d))).text(" ms")
}

// ms1 writes a duration in ms with one decimal, for fractions of a
// millisecond.
func (e *eval) ms1(d float64) *eval {
	e.buf = strconv.AppendFloat(e.buf, d, 'f', 1, 64)
	return e.text(" ms")
}
