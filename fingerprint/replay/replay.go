// Package replay re-decides recorded decisions with another configuration
// and says what would change, before that configuration goes live. It
// also prints one decision's explanation.
//
// Events are JSON Lines, one Event per line: what the server records for
// every verify and confirm (`linkguard events export` writes them), and
// the format of the labelled corpus in testdata/corpus.
package replay

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/linkguard/linkguard/fingerprint"
)

// Event is one recorded decision: the inputs and the verdict that the
// configuration of the time gave. Its JSON form is the JSONL line format.
type Event struct {
	ID      string                `json:"id"`
	LinkID  string                `json:"link_id"`
	At      time.Time             `json:"at"`
	Kind    fingerprint.VisitKind `json:"kind"` // verify, confirm or code
	Input   fingerprint.Input     `json:"input"`
	Verdict fingerprint.Verdict   `json:"verdict"`
	// Label is what the visit really was, when someone knows: "scanner"
	// or "human". Labelled events give precision and recall.
	Label string `json:"label,omitempty"`
	// Note says where a labelled event comes from (the corpus uses it).
	Note string `json:"note,omitempty"`
	// Expect is the decision the labeller wants under the default
	// configuration; the corpus pins its profiles with it.
	Expect fingerprint.Decision `json:"expect,omitempty"`
}

// The labels.
const (
	LabelScanner = "scanner"
	LabelHuman   = "human"
)

// maxLine bounds one JSONL line; a recorded input is a few KiB.
const maxLine = 1 << 20

// Read decodes JSONL events. Blank lines are skipped; an error names the
// line. Unknown fields are errors, so a typo in a hand-written event is
// not silently ignored.
func Read(r io.Reader) ([]Event, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	var out []Event
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		var ev Event
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&ev); err != nil {
			return nil, fmt.Errorf("events line %d: %w", line, err)
		}
		switch ev.Label {
		case "", LabelScanner, LabelHuman:
		default:
			return nil, fmt.Errorf("events line %d: label %q is neither %q nor %q", line, ev.Label, LabelScanner, LabelHuman)
		}
		out = append(out, ev)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("events line %d: %w", line+1, err)
	}
	return out, nil
}

// Write encodes events as JSONL (what `linkguard events export` writes).
func Write(w io.Writer, events []Event) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for i := range events {
		if err := enc.Encode(&events[i]); err != nil {
			return fmt.Errorf("event %s: %w", events[i].ID, err)
		}
	}
	return nil
}

// Change is one event re-decided.
type Change struct {
	Event *Event
	Old   fingerprint.Verdict // as recorded
	New   fingerprint.Verdict // under the new configuration
}

// Flipped reports whether the decision changed.
//
// An event with no recorded decision (a hand-written corpus profile) has
// nothing to flip from: it is not a change.
func (c Change) Flipped() bool { return c.Old.Decision != "" && c.Old.Decision != c.New.Decision }

// Unexpected reports whether the event names the decision it expects and
// the new one differs.
func (c Change) Unexpected() bool { return c.Event.Expect != "" && c.Event.Expect != c.New.Decision }

// Metrics are the labelled events' counts, with "scanner" as the positive
// class and "held back" meaning the decision was the code.
type Metrics struct {
	Scanners, Humans int
	// ScannerPassed counts scanners that got consume or confirm: it must
	// be 0.
	ScannerPassed int
	// ScannerHeld counts scanners sent to the code.
	ScannerHeld int
	// HumanHeld counts people sent to the code (friction, not lock-out).
	HumanHeld int
	// HumanConsumed counts people who consumed without typing the code.
	HumanConsumed        int
	bound, boundScanners int // labelled visits holding the device cookie

	// Per axis. GateScanners and GateHumans count the visits the
	// automation gate stopped (Verdict.Automation 0); CompatScanners and
	// CompatHumans the visits that passed the gate and that compatibility
	// sent to the code. Visits holding the device cookie count in
	// neither: no axis decides them.
	GateScanners, GateHumans     int
	CompatScanners, CompatHumans int
}

// AxisStats are one axis's precision and recall, with "scanner" as the
// positive class and "stopped" meaning the axis sent the visit to the
// code.
type AxisStats struct {
	Axis               fingerprint.Axis
	Scanners, Humans   int // visits the axis decided
	Stopped, FalseStop int // scanners stopped, people stopped
}

// Precision is the share of stopped visits that were scanners (1 when the
// axis stopped nothing).
func (a AxisStats) Precision() float64 {
	if a.Stopped+a.FalseStop == 0 {
		return 1
	}
	return float64(a.Stopped) / float64(a.Stopped+a.FalseStop)
}

// Recall is the share of the scanners the axis saw that it stopped (1
// when it saw none).
func (a AxisStats) Recall() float64 {
	if a.Scanners == 0 {
		return 1
	}
	return float64(a.Stopped) / float64(a.Scanners)
}

// Axes returns the automation gate's and compatibility's statistics. The
// gate sees every labelled visit without the device cookie;
// compatibility sees those that passed the gate.
func (m Metrics) Axes() [2]AxisStats {
	gateSeen := m.Scanners + m.Humans - m.bound
	passedScanners := m.Scanners - m.boundScanners - m.GateScanners
	return [2]AxisStats{
		{Axis: fingerprint.AxisAutomation, Scanners: m.Scanners - m.boundScanners, Humans: gateSeen - (m.Scanners - m.boundScanners),
			Stopped: m.GateScanners, FalseStop: m.GateHumans},
		{Axis: fingerprint.AxisCompatibility, Scanners: passedScanners, Humans: m.Humans - (m.bound - m.boundScanners) - m.GateHumans,
			Stopped: m.CompatScanners, FalseStop: m.CompatHumans},
	}
}

// Precision is the share of held-back visits that were scanners (NaN-free:
// 1 when nothing was held back).
func (m Metrics) Precision() float64 {
	if m.ScannerHeld+m.HumanHeld == 0 {
		return 1
	}
	return float64(m.ScannerHeld) / float64(m.ScannerHeld+m.HumanHeld)
}

// Recall is the share of scanners held back (1 when there were none).
func (m Metrics) Recall() float64 {
	if m.Scanners == 0 {
		return 1
	}
	return float64(m.ScannerHeld) / float64(m.Scanners)
}

func (m *Metrics) add(label string, in *fingerprint.Input, v *fingerprint.Verdict) {
	d := v.Decision
	if in.Binding {
		m.bound++
		if label == LabelScanner {
			m.boundScanners++
		}
	} else {
		gate := v.Automation == 0
		compat := !gate && d == fingerprint.Code
		switch label {
		case LabelScanner:
			m.GateScanners += b2i(gate)
			m.CompatScanners += b2i(compat)
		case LabelHuman:
			m.GateHumans += b2i(gate)
			m.CompatHumans += b2i(compat)
		}
	}
	switch label {
	case LabelScanner:
		m.Scanners++
		if d == fingerprint.Code {
			m.ScannerHeld++
		} else {
			m.ScannerPassed++
		}
	case LabelHuman:
		m.Humans++
		switch d {
		case fingerprint.Code:
			m.HumanHeld++
		case fingerprint.Consume:
			m.HumanConsumed++
		}
	}
}

// Result is a whole replay.
type Result struct {
	Config  string // hash of the new configuration
	Changes []Change
	// OldMetrics are over labelled events that carry a recorded decision;
	// NewMetrics over all labelled events.
	OldMetrics, NewMetrics Metrics
	Labelled               int
}

// Replay re-decides every event with d.
func Replay(d fingerprint.Decider, events []Event) Result {
	var res Result
	for i := range events {
		ev := &events[i]
		nv := d.Decide(&ev.Input)
		res.Config = nv.Config
		res.Changes = append(res.Changes, Change{Event: ev, Old: ev.Verdict, New: nv})
		if ev.Label != "" {
			res.Labelled++
			res.NewMetrics.add(ev.Label, &ev.Input, &nv)
			if ev.Verdict.Decision != "" {
				res.OldMetrics.add(ev.Label, &ev.Input, &ev.Verdict)
			}
		}
	}
	return res
}

// RunOptions are Run's choices.
type RunOptions struct {
	// Labelled replays only the events that carry a label.
	Labelled bool
	// Source, when set, says where cfg comes from: Run's first line is
	// "heuristics from " and it.
	Source string
}

// Run reads JSONL events, re-decides them with cfg and prints the
// comparison: a table of old against new decisions, then every event whose
// decision flips with its new reasons, then precision and recall when
// events carry labels. It is `linkguard replay`. A refused cfg is a
// *ConfigError; events that hold none to replay are ErrEmpty or
// ErrNoLabels; Read's errors name the line.
func Run(w io.Writer, cfg fingerprint.Config, events io.Reader, opts RunOptions) error {
	eng, err := fingerprint.NewEngine(cfg)
	if err != nil {
		return &ConfigError{err}
	}
	evs, err := Read(events)
	if err != nil {
		return err
	}
	if len(evs) == 0 {
		return ErrEmpty
	}
	if opts.Labelled {
		kept := evs[:0]
		for _, ev := range evs {
			if ev.Label != "" {
				kept = append(kept, ev)
			}
		}
		if len(kept) == 0 {
			return ErrNoLabels
		}
		evs = kept
	}
	if opts.Source != "" {
		if _, err := fmt.Fprintf(w, "heuristics from %s\n", opts.Source); err != nil {
			return err
		}
	}
	return Print(w, Replay(eng, evs))
}

var order = []fingerprint.Decision{fingerprint.Consume, fingerprint.Confirm, fingerprint.Code}

func name(d fingerprint.Decision) string {
	if d == "" {
		return "(none)"
	}
	return string(d)
}

// Print writes a Result as Run does.
func Print(w io.Writer, res Result) error {
	ew := &errWriter{w: w}
	fmt.Fprintf(ew, "replayed %d events with config %s (%d labelled)\n\n", len(res.Changes), res.Config, res.Labelled)

	// One table per recorded outcome: where its events go now.
	counts := map[fingerprint.Decision]map[fingerprint.Decision]int{}
	var olds []fingerprint.Decision
	for _, c := range res.Changes {
		if counts[c.Old.Decision] == nil {
			counts[c.Old.Decision] = map[fingerprint.Decision]int{}
			olds = append(olds, c.Old.Decision)
		}
		counts[c.Old.Decision][c.New.Decision]++
	}
	sort.Slice(olds, func(i, j int) bool { return rank(olds[i]) < rank(olds[j]) })
	tw := tabwriter.NewWriter(ew, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "was \\ now\t%s\t%s\t%s\ttotal\t\n", order[0], order[1], order[2])
	for _, o := range olds {
		total := 0
		fmt.Fprintf(tw, "%s\t", name(o))
		for _, n := range order {
			fmt.Fprintf(tw, "%d\t", counts[o][n])
			total += counts[o][n]
		}
		fmt.Fprintf(tw, "%d\t\n", total)
	}
	tw.Flush()

	flips := 0
	for _, c := range res.Changes {
		if !c.Flipped() {
			continue
		}
		if flips == 0 {
			fmt.Fprintf(ew, "\nchanged decisions:\n")
		}
		flips++
		ev := c.Event
		label := ""
		if ev.Label != "" {
			label = " [" + ev.Label + "]"
		}
		fmt.Fprintf(ew, "\n%s%s %s link %s at %s: %s → %s (score %.3f → %.3f)\n", ev.ID, label, ev.Kind, ev.LinkID,
			ev.At.UTC().Format(time.RFC3339), name(c.Old.Decision), c.New.Decision, c.Old.Score, c.New.Score)
		fmt.Fprintf(ew, "  rule: %s\n", c.New.Rule)
		writeSignals(ew, c.New.Signals, c.Old.Signals, "  ")
	}
	if flips == 0 {
		fmt.Fprintf(ew, "\nno decision changes.\n")
	} else {
		fmt.Fprintf(ew, "\n%d of %d decisions change.\n", flips, len(res.Changes))
	}
	unexpected := 0
	for _, c := range res.Changes {
		if !c.Unexpected() {
			continue
		}
		if unexpected == 0 {
			fmt.Fprintf(ew, "\ndecisions that differ from what the event expects:\n")
		}
		unexpected++
		ev := c.Event
		fmt.Fprintf(ew, "\n%s [%s] expects %s, now %s (score %.3f)\n  rule: %s\n", ev.ID, ev.Label, ev.Expect, c.New.Decision, c.New.Score, c.New.Rule)
		writeSignals(ew, c.New.Signals, nil, "  ")
	}
	if unexpected > 0 {
		fmt.Fprintf(ew, "\n%d events get another decision than they expect.\n", unexpected)
	}

	if res.Labelled > 0 {
		fmt.Fprintf(ew, "\nlabelled events (scanner = positive, held back = sent to the code):\n")
		tw := tabwriter.NewWriter(ew, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "\tscanners\tpassed\theld\thumans\tconsumed\theld\tprecision\trecall\n")
		row := func(name string, m Metrics) {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%.3f\t%.3f\n", name, m.Scanners, m.ScannerPassed, m.ScannerHeld,
				m.Humans, m.HumanConsumed, m.HumanHeld, m.Precision(), m.Recall())
		}
		if res.OldMetrics.Scanners+res.OldMetrics.Humans > 0 {
			row("recorded", res.OldMetrics)
		}
		row("new", res.NewMetrics)
		tw.Flush()
		fmt.Fprintf(ew, "\nper axis (new): the gate sees every visit without the device cookie, compatibility those that passed it\n")
		tw = tabwriter.NewWriter(ew, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "axis\tscanners\tstopped\thumans\tstopped\tprecision\trecall\n")
		for _, a := range res.NewMetrics.Axes() {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%.3f\t%.3f\n", a.Axis, a.Scanners, a.Stopped, a.Humans, a.FalseStop, a.Precision(), a.Recall())
		}
		tw.Flush()
		if res.NewMetrics.ScannerPassed > 0 {
			fmt.Fprintf(ew, "WARNING: %d scanner events would get consume or confirm.\n", res.NewMetrics.ScannerPassed)
		}
	}
	return ew.err
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func rank(d fingerprint.Decision) int {
	for i, o := range order {
		if o == d {
			return i
		}
	}
	return len(order)
}

// writeSignals prints contributions as a table; when old is given, a
// column shows each signal's earlier contribution.
func writeSignals(w io.Writer, sigs, old []fingerprint.Contribution, indent string) {
	prev := map[string]fingerprint.Contribution{}
	for _, c := range old {
		prev[c.Signal] = c
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if old != nil {
		fmt.Fprintf(tw, "%ssignal\taxis\tvalue\tweight\tpoints\twas\treason\n", indent)
	} else {
		fmt.Fprintf(tw, "%ssignal\taxis\tvalue\tweight\tpoints\treason\n", indent)
	}
	for _, c := range sigs {
		reason := c.Reason
		if c.Veto {
			reason = "VETO: " + reason
		}
		axis := string(c.Axis)
		if axis == "" {
			axis = "-"
		}
		if old != nil {
			was := "-"
			if p, ok := prev[c.Signal]; ok {
				was = fmt.Sprintf("%+.2f", p.Value*p.Weight)
			}
			fmt.Fprintf(tw, "%s%s\t%s\t%+.2f\t%.2f\t%+.2f\t%s\t%s\n", indent, c.Signal, axis, c.Value, c.Weight, c.Value*c.Weight, was, reason)
		} else {
			fmt.Fprintf(tw, "%s%s\t%s\t%+.2f\t%.2f\t%+.2f\t%s\n", indent, c.Signal, axis, c.Value, c.Weight, c.Value*c.Weight, reason)
		}
	}
	tw.Flush()
}

// Explain prints one event's recorded decision: what it was, by which
// rule and configuration, and every signal's value, weight, points and
// reason. It is `linkguard explain`.
func Explain(w io.Writer, ev Event) error {
	ew := &errWriter{w: w}
	explainHeader(ew, ev)
	v := ev.Verdict
	if v.Decision == "" {
		fmt.Fprintf(ew, "no recorded verdict; use ExplainWith to decide it now.\n")
		return ew.err
	}
	explainVerdict(ew, v)
	return ew.err
}

// ExplainWith decides the event anew with cfg and prints that decision as
// Explain does, with the recorded one beside it.
func ExplainWith(w io.Writer, ev Event, cfg fingerprint.Config) error {
	eng, err := fingerprint.NewEngine(cfg)
	if err != nil {
		return err
	}
	ew := &errWriter{w: w}
	explainHeader(ew, ev)
	v := eng.Decide(&ev.Input)
	if ev.Verdict.Decision != "" {
		fmt.Fprintf(ew, "recorded: %s (score %.3f, config %s)\n", ev.Verdict.Decision, ev.Verdict.Score, ev.Verdict.Config)
	}
	explainVerdict(ew, v)
	return ew.err
}

func explainHeader(w io.Writer, ev Event) {
	fmt.Fprintf(w, "event %s: %s of link %s at %s\n", ev.ID, ev.Kind, ev.LinkID, ev.At.UTC().Format(time.RFC3339))
	in := &ev.Input
	fmt.Fprintf(w, "requester: %s; visitor: %s\n", netString(&in.Requester.Network), netString(&in.Visitor.Network))
	if ev.Label != "" {
		fmt.Fprintf(w, "label: %s\n", ev.Label)
	}
	if ev.Note != "" {
		fmt.Fprintf(w, "note: %s\n", ev.Note)
	}
}

func explainVerdict(w io.Writer, v fingerprint.Verdict) {
	fmt.Fprintf(w, "decision: %s (score %.3f, config %s)\nrule: %s\n", v.Decision, v.Score, v.Config, v.Rule)
	if hasAxes(v) {
		gate := "passed"
		if v.Automation == 0 {
			gate = "CLOSED"
		}
		fmt.Fprintf(w, "automation gate: %s (automation %.3f: 1 = no mark of a machine, 0 = closed); compatibility %.3f\n", gate, v.Automation, v.Compatibility)
	}
	writeSignals(w, v.Signals, nil, "  ")
}

// hasAxes reports whether a verdict comes from the two-axis engine.
func hasAxes(v fingerprint.Verdict) bool {
	for _, c := range v.Signals {
		if c.Axis != "" {
			return true
		}
	}
	return false
}

func netString(n *fingerprint.Network) string {
	var parts []string
	if n.Country != "" {
		loc := n.Country
		if n.City != "" {
			loc = n.City + ", " + loc
		}
		parts = append(parts, loc)
	}
	if n.ASN != 0 {
		parts = append(parts, fmt.Sprintf("AS%d %s", n.ASN, n.ASOrg))
	}
	if n.Range != "" {
		parts = append(parts, "scanner range "+n.Range)
	}
	if len(parts) == 0 {
		return "unknown network"
	}
	return strings.Join(parts, ", ")
}

// errWriter keeps the first write error so that printing code stays flat.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return len(p), nil
	}
	n, err := e.w.Write(p)
	if err != nil {
		e.err = err
	}
	return n, nil
}

// ErrNoEvents is returned by FindEvent when no event has the id.
var ErrNoEvents = errors.New("no event with that id")

// FindEvent returns the event with id from JSONL events (for
// `linkguard explain <id>`).
func FindEvent(events io.Reader, id string) (Event, error) {
	evs, err := Read(events)
	if err != nil {
		return Event{}, err
	}
	for _, ev := range evs {
		if ev.ID == id {
			return ev, nil
		}
	}
	return Event{}, fmt.Errorf("%w: %q", ErrNoEvents, id)
}
