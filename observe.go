package linkguard

import "github.com/linkguard/linkguard/fingerprint"

// Observer is told what the service does, for metrics
// (github.com/linkguard/linkguard/metrics implements it). Its methods are
// called on the request path: they must be cheap, never block and never
// fail. Every label is from a bounded set; none is a token, a code or an
// address.
type Observer interface {
	// LinkIssued counts a link stored by Issue.
	LinkIssued(p Purpose)
	// Decided counts one decision of the decider, made for a visit of
	// kind VisitVerify, VisitConfirm or VisitCode (a typed code).
	Decided(kind VisitKind, d fingerprint.Decision)
	// LinkConsumed counts a consumption, by one of ConsumedVias.
	LinkConsumed(via ConsumedVia)
	// ScannerVisit counts a visit attributed to a known mail scanner
	// (vendor is its entry's name) or vetoed as a machine ("unknown").
	ScannerVisit(vendor string)
	// CodeAttempt counts one typed code, by one of CodeResults.
	CodeAttempt(r CodeResult)
}

// CodeResult is what a typed code met, as the metrics label it.
type CodeResult string

// The results of a typed code.
const (
	CodeResultRight CodeResult = "right"
	CodeResultWrong CodeResult = "wrong"
	// CodeResultLocked: no tries were left.
	CodeResultLocked CodeResult = "locked"
)

// CodeResults lists every CodeResult, for metrics that start each at zero.
var CodeResults = []CodeResult{CodeResultRight, CodeResultWrong, CodeResultLocked}

const (
	// ScannerUnknown is the vendor of a visit vetoed as a machine that no
	// scanner entry names.
	ScannerUnknown = "unknown"
)

// nopObserver is the Observer of a Service without one.
type nopObserver struct{}

func (nopObserver) LinkIssued(Purpose)                      {}
func (nopObserver) Decided(VisitKind, fingerprint.Decision) {}
func (nopObserver) LinkConsumed(ConsumedVia)                {}
func (nopObserver) ScannerVisit(string)                     {}
func (nopObserver) CodeAttempt(CodeResult)                  {}

func (s *Service) observer() Observer {
	if s.Observer != nil {
		return s.Observer
	}
	return nopObserver{}
}

// observeVisit counts what a recorded visit says: its decision and, when
// it was turned away, the scanner it is attributed to.
func (s *Service) observeVisit(v *Visit) {
	o := s.observer()
	if v.Verdict != nil {
		o.Decided(v.Kind, v.Verdict.Decision)
	}
	if v.Outcome == VisitOutcomeConsumed {
		return // a person, whatever the network says
	}
	switch {
	case v.Scanner != "":
		o.ScannerVisit(v.Scanner)
	case v.Verdict != nil && vetoed(v.Verdict):
		o.ScannerVisit(ScannerUnknown)
	}
}

func vetoed(v *fingerprint.Verdict) bool {
	for i := range v.Signals {
		if v.Signals[i].Veto {
			return true
		}
	}
	return false
}

// logVisit writes one line per decision (info: link id, stage, decision
// and the deciding rule) and one per scanner visit turned away. It never
// writes a token, a code, a cookie or an address.
func (s *Service) logVisit(v *Visit) {
	log := s.log()
	switch {
	case v.Verdict != nil:
		log.Info("decision", "link_id", v.LinkID, "stage", string(v.Kind), "decision", string(v.Verdict.Decision),
			"rule", v.Verdict.Rule, "outcome", string(v.Outcome), "scanner", v.Scanner)
	case v.Scanner != "":
		log.Info("scanner visit turned away", "link_id", v.LinkID, "stage", string(v.Kind), "scanner", v.Scanner)
	}
}
