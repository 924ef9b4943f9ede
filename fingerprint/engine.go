package fingerprint

import (
	"errors"
	"math"
	"net/netip"
	"strings"
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
	on         [numSignals]bool
	w          [numSignals]float64
	scannerASN map[uint32]string
	// uaPats are the scanner entries' UA marks, then the generic ones,
	// lower case, as bytes for bytes.Contains (the fast path).
	uaPats     []namedPattern
	ranges     []namedRange
	datacenter map[uint32]bool
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

// Config returns the configuration in use.
func (e *Engine) Config() Config { return e.cur.Load().cfg }

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
	c := &compiled{
		cfg:        cfg,
		hash:       cfg.Hash(),
		scannerASN: map[uint32]string{},
		datacenter: map[uint32]bool{},
	}
	for i, s := range cfg.Signals.list() {
		c.on[i] = s.Enabled
		c.w[i] = s.Weight
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

// The rules that turn a score into a decision, as Verdict.Rule says them.
const (
	ruleBinding    = "binding: the browser holds the device cookie of the browser that asked"
	ruleNoReport   = "no report from the page's collector: nothing that runs no JavaScript may pass"
	ruleNoClick    = "stage confirm without a trusted click on Continue"
	ruleVeto       = "a vetoing signal asks for the code"
	ruleClick      = "trusted click and score at or above thresholds.click"
	ruleBelowClick = "score below thresholds.click after the click"
	ruleZeroClick  = "zero_click policy and score at or above thresholds.consume"
	ruleConfirm    = "score at or above thresholds.confirm: one click on Continue"
	ruleCode       = "score below thresholds.confirm"
)

// Decide implements Decider.
func (e *Engine) Decide(in *Input) Verdict {
	return e.cur.Load().decide(in)
}

func (c *compiled) decide(in *Input) Verdict {
	var buf [2048]byte
	ev := eval{c: c, in: in, r: in.Report, buf: buf[:0]}
	ev.now = in.Now
	if ev.now.IsZero() {
		ev.now = in.Visitor.At
	}
	if ev.r != nil && ev.r.V == 0 {
		ev.r = nil
	}
	ev.req = ParseUA(in.Requester.UserAgent)
	ev.vis = ParseUA(in.Visitor.UserAgent)
	ev.run()

	reasons := string(ev.buf)
	v := Verdict{Config: c.hash, Signals: make([]Contribution, ev.n)}
	raw := 0.0
	veto := false
	for i := 0; i < ev.n; i++ {
		o := &ev.out[i]
		v.Signals[i] = Contribution{
			Signal: SignalNames[o.sig],
			Value:  round3(o.v),
			Weight: c.w[o.sig],
			Reason: reasons[o.a:o.b],
			Veto:   o.veto,
		}
		raw += c.w[o.sig] * o.v
		veto = veto || o.veto
	}
	v.Score = round3(1 / (1 + math.Exp(-raw)))

	t := &c.cfg.Thresholds
	switch {
	case in.Binding:
		v.Decision, v.Rule = Consume, ruleBinding
	case ev.r == nil:
		v.Decision, v.Rule = Code, ruleNoReport
	case in.Stage == StageConfirm && !ev.r.TrustedClick():
		v.Decision, v.Rule = Code, ruleNoClick
	case veto:
		v.Decision, v.Rule = Code, ruleVeto
	case in.Stage == StageConfirm && v.Score >= t.Click:
		v.Decision, v.Rule = Consume, ruleClick
	case in.Stage == StageConfirm:
		v.Decision, v.Rule = Code, ruleBelowClick
	case c.cfg.ZeroClick && v.Score >= t.Consume:
		v.Decision, v.Rule = Consume, ruleZeroClick
	case v.Score >= t.Confirm:
		v.Decision, v.Rule = Confirm, ruleConfirm
	default:
		v.Decision, v.Rule = Code, ruleCode
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
	buf      []byte
	out      [numSignals]outcome
	n        int
	cur      *outcome
	findings int
}

type outcome struct {
	sig  int
	v    float64
	a, b int
	veto bool
}

func (e *eval) run() {
	type signal struct {
		id int
		fn func(*eval)
	}
	for _, s := range [...]signal{
		{sigBinding, (*eval).binding},
		{sigGeo, (*eval).geo},
		{sigNetwork, (*eval).network},
		{sigUA, (*eval).ua},
		{sigTiming, (*eval).timing},
		{sigAutomation, (*eval).automation},
		{sigInteraction, (*eval).interaction},
		{sigLocale, (*eval).locale},
		{sigHistory, (*eval).history},
		{sigConsistency, (*eval).consistency},
	} {
		if !e.c.on[s.id] {
			continue
		}
		e.cur = &e.out[e.n]
		*e.cur = outcome{sig: s.id, a: len(e.buf)}
		e.findings = 0
		s.fn(e)
		e.cur.v = max(-1, min(1, e.cur.v))
		e.cur.b = len(e.buf)
		e.n++
	}
}

// note adds a finding of value v (-1..+1) to the current signal and starts
// its reason; more, num and ... continue the reason.
func (e *eval) note(v float64, reason string) *eval {
	if e.findings > 0 {
		e.buf = append(e.buf, "; "...)
	}
	e.findings++
	e.cur.v += v
	e.buf = append(e.buf, reason...)
	return e
}

// veto marks the current signal as vetoing anything better than the code.
func (e *eval) veto(reason string) *eval {
	e.cur.veto = true
	return e.note(-1, reason)
}

func (e *eval) s(str string) *eval {
	// Outside text is clipped so that a long header cannot bloat the
	// explanation (or the buffer).
	if len(str) > 64 {
		str = str[:64]
	}
	e.buf = append(e.buf, str...)
	return e
}

func (e *eval) i(n int) *eval {
	if n < 0 {
		e.buf = append(e.buf, '-')
		n = -n
	}
	var d [20]byte
	k := len(d)
	for {
		k--
		d[k] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			break
		}
	}
	e.buf = append(e.buf, d[k:]...)
	return e
}

// u writes an ASN.
func (e *eval) as(n uint32) *eval {
	e.buf = append(e.buf, "AS"...)
	return e.i(int(n))
}

// secs writes a duration in s, min or h, whichever reads best.
func (e *eval) secs(d float64) *eval {
	switch {
	case d < 120:
		return e.i(int(d)).s(" s")
	case d < 7200:
		return e.i(int(d / 60)).s(" min")
	}
	return e.i(int(d / 3600)).s(" h")
}
