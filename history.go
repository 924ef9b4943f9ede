package linkguard

import (
	"encoding/json"

	"github.com/linkguard/linkguard/fingerprint"
	"github.com/linkguard/linkguard/internal/clip"
)

// What one link may cost in storage, whatever its visitors do: every
// store keeps at most these many records of a link, each of bounded size,
// so a link opened in a loop costs a constant, and the decision reads one
// bounded summary instead of every visit.
const (
	// HistoryLen is how many of a link's latest visits its history summary
	// keeps (Store.History): what a decision sees of the link's past.
	HistoryLen = 16
	// KeptViews is how many of a link's newest views (landing GETs) are kept.
	KeptViews = 32
	// KeptDecisions is how many of a link's newest decision records
	// (verify, confirm and code visits, with input and verdict) are kept.
	// Decisions are always recorded, whatever the number of views; past
	// this many the oldest make room, so the latest decision (the one that
	// consumed, or the code that failed) is always there.
	KeptDecisions = 64
	// MaxVisitBytes bounds one stored visit. A decision record larger than
	// this (a maximal report) is kept without its report: its verdict and
	// the rest of its input stay, Trimmed says so.
	MaxVisitBytes = 32 << 10
	// MaxPastVisitBytes bounds one entry of the history summary.
	MaxPastVisitBytes = 1 << 10
)

// IsDecision reports whether v records a decision (verify, confirm or
// code) rather than a view.
func (v *Visit) IsDecision() bool { return v.Kind != VisitView }

// Past is v as an entry of its link's history summary, its strings cut so
// that the entry stays under MaxPastVisitBytes.
func (v *Visit) Past() fingerprint.PastVisit {
	return clipPast(fingerprint.PastVisit{At: v.At, Kind: v.Kind, Outcome: v.Outcome,
		Network: v.Network, UserAgent: v.UserAgent, Scanner: v.Scanner})
}

func clipPast(p fingerprint.PastVisit) fingerprint.PastVisit {
	p.Kind, p.Outcome, p.Network = fingerprint.VisitKind(clip.String(string(p.Kind), 16)), fingerprint.VisitOutcome(clip.String(string(p.Outcome), 16)), clipNetwork(p.Network)
	p.UserAgent, p.Scanner = clip.String(p.UserAgent, 256), clip.String(p.Scanner, 64)
	return p
}

func clipNetwork(n fingerprint.Network) fingerprint.Network {
	n.Prefix, n.Country, n.City = clip.String(n.Prefix, 32), clip.String(n.Country, 8), clip.String(n.City, 64)
	n.ASOrg, n.TimeZone, n.Range = clip.String(n.ASOrg, 64), clip.String(n.TimeZone, 48), clip.String(n.Range, 64)
	return n
}

// EncodeVisit is the stored form of a visit, at most MaxVisitBytes. A
// record over the bound is cut, and Trimmed says so: first its report
// goes and every string of its input is cut (the service already cuts
// what it records, so this is the store's own guarantee); then its
// input; then its verdict's reasons.
func EncodeVisit(v *Visit) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil || len(b) <= MaxVisitBytes {
		return b, err
	}
	t := *v
	t.Trimmed, t.Network = true, clipNetwork(v.Network)
	t.UserAgent, t.Scanner = clip.String(v.UserAgent, 512), clip.String(v.Scanner, 64)
	if v.Input != nil {
		in := *v.Input
		in.Report = nil
		in.Proof = clip.String(in.Proof, 256)
		in.Visitor = clipVisitor(in.Visitor)
		in.Visitor.Network = clipNetwork(in.Visitor.Network)
		in.Requester.UserAgent = clip.String(in.Requester.UserAgent, 512)
		in.Requester.AcceptLanguage = clip.String(in.Requester.AcceptLanguage, 256)
		in.Requester.Network = clipNetwork(in.Requester.Network)
		if len(in.History) > HistoryLen {
			in.History = in.History[len(in.History)-HistoryLen:]
		}
		h := make([]fingerprint.PastVisit, len(in.History))
		for i, p := range in.History {
			h[i] = clipPast(p)
		}
		in.History = h
		t.Input = &in
	}
	if b, err = json.Marshal(&t); err != nil || len(b) <= MaxVisitBytes {
		return b, err
	}
	t.Input = nil
	if b, err = json.Marshal(&t); err != nil || len(b) <= MaxVisitBytes || t.Verdict == nil {
		return b, err
	}
	vd := *t.Verdict
	vd.Rule, vd.Config = clip.String(vd.Rule, 256), clip.String(vd.Config, 64)
	vd.Signals = make([]fingerprint.Contribution, 0, min(len(t.Verdict.Signals), 32))
	for _, c := range t.Verdict.Signals[:cap(vd.Signals)] {
		c.Signal, c.Reason = clip.String(c.Signal, 32), clip.String(c.Reason, 256)
		vd.Signals = append(vd.Signals, c)
	}
	t.Verdict = &vd
	return json.Marshal(&t)
}

// AppendHistory adds p to a summary, keeping the newest HistoryLen.
func AppendHistory(h []fingerprint.PastVisit, p fingerprint.PastVisit) []fingerprint.PastVisit {
	h = append(h, p)
	if len(h) > HistoryLen {
		h = append(h[:0], h[len(h)-HistoryLen:]...)
	}
	return h
}
