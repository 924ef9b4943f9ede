package linkguard

import (
	"encoding/base64"
	"encoding/binary"
	"strconv"
	"time"

	"github.com/linkguard/linkguard/fingerprint"
	"github.com/linkguard/linkguard/fingerprint/report"
)

// proofClockSlack is how much longer than the server's own count from
// the rendering the page's clock may say it has been open. The page's
// clock starts at navigation, before the request reached us: redirects
// (a mail filter's click-time rewrite), DNS and TLS, up to 30 s on a poor
// mobile connection; the nonce's time is also cut to the second.
const proofClockSlack = 30 * time.Second

// nonceTime is the render time carried by a nonce that CheckNonce
// accepted.
func nonceTime(nonce string) time.Time {
	raw, err := base64.RawURLEncoding.DecodeString(nonce)
	if err != nil || len(raw) < 8 {
		return time.Time{}
	}
	return time.Unix(int64(binary.BigEndian.Uint64(raw[:8])), 0)
}

// checkProof says whether the report was made by the page's collector
// for the rendering whose (already checked) nonce the request carries:
// fingerprint.ProofOK, or fingerprint.ProofReplay and the reason. A
// request without a report is not checked ("").
//
// NB: it costs one encoding and two hashes whatever the report claims,
// so it may run before anything else is decided.
func checkProof(r *ReportRequest, now time.Time) string {
	rep := r.Report
	if rep == nil {
		return ""
	}
	if err := report.CheckProof(r.Nonce, rep); err != nil {
		return fingerprint.ProofReplay + err.Error()
	}
	// The proof covers the whole report, so what follows cannot be
	// edited without redoing the work; it catches a report recorded on
	// one rendering and proven again for another by a client that does
	// not wait as long as the page it copies.
	var at float64
	switch r.Stage {
	case fingerprint.StageVerify:
		at = rep.Timing.VerifyMS
	case fingerprint.StageConfirm:
		at = rep.Timing.ConfirmMS
	}
	if rep.Stage != string(r.Stage) {
		return fingerprint.ProofReplay + "the report was made for " + strconv.Quote(rep.Stage) + " and sent to " + string(r.Stage)
	}
	if !(at > 0) || rep.Timing.StartMS > at {
		return fingerprint.ProofReplay + "the report's clock has no time for its stage, or one before the collector started"
	}
	open := time.Duration(at * float64(time.Millisecond))
	age := now.Sub(nonceTime(r.Nonce)) // the nonce's time is cut down to the second: an overestimate
	if open > age+proofClockSlack {
		return fingerprint.ProofReplay + "the page says it was open " + seconds(open) + ", but this rendering is " + seconds(age) + " old"
	}
	return fingerprint.ProofOK
}

func seconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + " s"
}

// vetoReplay makes a failed proof answer the code, whatever the decider
// said, and names the replay in the verdict. The device cookie still
// consumes (rule 3: it is proof of the browser that asked, and no
// scanner holds it).
func vetoReplay(in *fingerprint.Input, v *fingerprint.Verdict) {
	if !fingerprint.ProofFailed(in.Proof) || in.Binding {
		return
	}
	named := false
	for _, c := range v.Signals {
		named = named || c.Signal == "proof"
	}
	if !named {
		v.Signals = append(v.Signals, fingerprint.Contribution{Signal: "proof", Value: -1, Weight: 1, Veto: true, Reason: in.Proof})
	}
	if v.Decision != fingerprint.Code {
		v.Decision, v.Rule = fingerprint.Code, "the report is a replay (not made by the page's module for this rendering): only the code will do"
	}
}
