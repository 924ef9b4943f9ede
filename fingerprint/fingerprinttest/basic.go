// Package fingerprinttest holds test doubles of the decision engine for
// other packages' tests. Production code never imports it: servers decide
// with fingerprint.Engine.
package fingerprinttest

import "github.com/linkguard/linkguard/fingerprint"

var _ fingerprint.Decider = Basic{}

// Basic is the first rule set: the binding cookie consumes; a trusted click
// on Continue consumes; everything else is asked to confirm. It never asks
// for the code by itself.
type Basic struct{}

// Decide implements fingerprint.Decider.
func (Basic) Decide(in *fingerprint.Input) fingerprint.Verdict {
	if in.Binding {
		return fingerprint.Verdict{Decision: fingerprint.Consume, Score: 1, Signals: []fingerprint.Contribution{{
			Signal: "binding", Value: 1, Weight: 1,
			Reason: "the browser holds the device cookie of the browser that asked for the link",
		}}, Config: "basic"}
	}
	if in.Stage == fingerprint.StageConfirm && in.Report != nil && in.Report.TrustedClick() {
		return fingerprint.Verdict{Decision: fingerprint.Consume, Score: 0.6, Signals: []fingerprint.Contribution{{
			Signal: "interaction", Value: 1, Weight: 1,
			Reason: "a trusted click on Continue",
		}}, Config: "basic"}
	}
	reason := "no device cookie: one click on Continue is asked"
	if in.Stage == fingerprint.StageConfirm {
		reason = "no trusted click on Continue was reported"
	}
	return fingerprint.Verdict{Decision: fingerprint.Confirm, Score: 0.5, Signals: []fingerprint.Contribution{{
		Signal: "binding", Value: 0, Weight: 1, Reason: reason,
	}}, Config: "basic"}
}
