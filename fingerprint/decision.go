package fingerprint

import "time"

// Decision is what a visit is allowed to do next.
type Decision string

// The three decisions, from most to least trusting.
const (
	// Consume spends the link now.
	Consume Decision = "consume"
	// Confirm asks for one trusted click on Continue.
	Confirm Decision = "confirm"
	// Code asks for the code printed in the email.
	Code Decision = "code"
)

// Stage names which request asked for the decision.
type Stage string

// The stages at which a decision is taken.
const (
	// StageVerify is the collector's first report, before any click.
	StageVerify Stage = "verify"
	// StageConfirm is the answer to a confirm challenge (a click on Continue).
	StageConfirm Stage = "confirm"
)

// VisitKind names the request a visit of a link was, as docs/api.md names
// it. The domain records visits under these names (linkguard.VisitKind is
// this type); signals read them back from Input.History.
type VisitKind string

// The visit kinds.
const (
	// VisitView is a GET or HEAD of the landing page.
	VisitView VisitKind = "view"
	// VisitVerify is the collector's first report.
	VisitVerify VisitKind = "verify"
	// VisitConfirm is the answer to a confirm challenge.
	VisitConfirm VisitKind = "confirm"
	// VisitCode is a typed code.
	VisitCode VisitKind = "code"
)

// VisitOutcome is what a visit led to, as docs/api.md names it in a
// link's visits (linkguard.VisitOutcome is this type).
type VisitOutcome string

// The visit outcomes.
const (
	// VisitOutcomeNone: a view, which decides nothing.
	VisitOutcomeNone VisitOutcome = "none"
	// VisitOutcomeConsumed: the visit spent the link.
	VisitOutcomeConsumed VisitOutcome = "consumed"
	// VisitOutcomeConfirm: a click on Continue was asked for.
	VisitOutcomeConfirm VisitOutcome = "confirm"
	// VisitOutcomeCode: the code was asked for.
	VisitOutcomeCode VisitOutcome = "code"
	// VisitOutcomeRejected: a wrong code, or a consume that lost.
	VisitOutcomeRejected VisitOutcome = "rejected"
)

// VisitKind is the kind a report at stage s is recorded as; an unset
// stage is a verify.
func (s Stage) VisitKind() VisitKind {
	if s == StageConfirm {
		return VisitConfirm
	}
	return VisitVerify
}

// Network is what the signals need to know of an IP address. The address
// itself is never kept: Prefix is a keyed hash of its /24 (IPv4) or /48
// (IPv6), good only for comparing two addresses seen by the same server.
type Network struct {
	Prefix  string  `json:"prefix,omitempty"`
	Country string  `json:"country,omitempty"`
	City    string  `json:"city,omitempty"`
	Lat     float64 `json:"lat,omitempty"`
	Lon     float64 `json:"lon,omitempty"`
	HasGeo  bool    `json:"has_geo,omitempty"`
	ASN     uint32  `json:"asn,omitempty"`
	ASOrg   string  `json:"as_org,omitempty"`
	// TimeZone is the IANA zone of the GeoIP location (City databases
	// only); the locale signal compares it with the browser's zone.
	TimeZone string `json:"time_zone,omitempty"`
	// Range names the configured scanner address range that holds the
	// address (see Engine.MarkRanges). It is filled when the address is
	// seen, because the address itself is not kept for a replay.
	Range string `json:"range,omitempty"`
}

// Requester is the browser that asked for the link, as recorded at issue.
type Requester struct {
	Network        Network   `json:"network"`
	UserAgent      string    `json:"user_agent,omitempty"`
	AcceptLanguage string    `json:"accept_language,omitempty"`
	HasBinding     bool      `json:"has_binding,omitempty"`
	At             time.Time `json:"at"`
}

// Visitor is the request that carried a report (verify or confirm).
type Visitor struct {
	Network         Network   `json:"network"`
	UserAgent       string    `json:"user_agent,omitempty"`
	AcceptLanguage  string    `json:"accept_language,omitempty"`
	SecFetchSite    string    `json:"sec_fetch_site,omitempty"`
	SecFetchMode    string    `json:"sec_fetch_mode,omitempty"`
	SecFetchDest    string    `json:"sec_fetch_dest,omitempty"`
	SecFetchUser    string    `json:"sec_fetch_user,omitempty"`
	SecCHUA         string    `json:"sec_ch_ua,omitempty"`
	SecCHUAMobile   string    `json:"sec_ch_ua_mobile,omitempty"`
	SecCHUAPlatform string    `json:"sec_ch_ua_platform,omitempty"`
	Purpose         string    `json:"purpose,omitempty"` // Sec-Purpose or Purpose (prefetch)
	At              time.Time `json:"at"`
}

// PastVisit is an earlier visit of the same link (GET, verify or confirm):
// one entry of the bounded summary of a link's history that the stores
// keep (linkguard.HistoryLen entries, newest last).
type PastVisit struct {
	At        time.Time `json:"at"`
	Kind      VisitKind `json:"kind"`
	Network   Network   `json:"network"`
	UserAgent string    `json:"user_agent,omitempty"`
	// Outcome is what the visit was answered (VisitOutcomeNone for a view).
	Outcome VisitOutcome `json:"outcome,omitempty"`
	// Scanner names the scanner entry (Engine.Scanner) that the visit's
	// network or user agent matched when it was seen; "" for none.
	Scanner string `json:"scanner,omitempty"`
}

// Input is everything a decision may look at. It holds no raw IP address,
// token, code or cookie value, so it can be recorded and replayed as is.
type Input struct {
	Stage Stage `json:"stage"`
	// Binding is true when the visitor presented the device-binding cookie
	// whose HMAC was stored with the link.
	Binding   bool        `json:"binding"`
	Requester Requester   `json:"requester"`
	Visitor   Visitor     `json:"visitor"`
	Report    *Report     `json:"report,omitempty"`
	History   []PastVisit `json:"history,omitempty"`
	Now       time.Time   `json:"now"`
	// Proof is the server's check that the report was made by the page's
	// collector for the rendering whose nonce it carries: "" when not
	// checked (records from before the check), "ok", or the reason it
	// failed ("replay: ..."), which the engine treats as a machine.
	Proof string `json:"proof,omitempty"`
}

// Contribution is one signal's part in a verdict, with its reason in words
// an operator can read.
type Contribution struct {
	Signal string `json:"signal"`
	// Axis is the question the signal answers: AxisAutomation ("is this a
	// machine?") or AxisCompatibility ("is this the person who asked?").
	// Empty in records from before the two axes.
	Axis Axis `json:"axis,omitempty"`
	// Value is what the signal measured, -1 (scanner-like) .. +1
	// (person-like). On the automation axis it runs from -1 to 0: the
	// strength of the marks of a machine, 0 when there are none.
	Value  float64 `json:"value"`
	Weight float64 `json:"weight"` // its weight in the configuration
	Reason string  `json:"reason"`
	// Veto is set for a strong mark of a machine: this signal alone
	// closes the automation gate, so the visit gets the code whatever
	// compatibility says.
	Veto bool `json:"veto,omitempty"`
}

// Verdict is a decision with its score and explanation.
type Verdict struct {
	Decision Decision `json:"decision"`
	// Score is how person-like the visit is, 0..1: the compatibility
	// score when the visit passed the automation gate, 0 when the gate
	// stopped it (or the page sent no report).
	Score float64 `json:"score"`
	// Automation is the visit's standing on the automation axis, 0..1:
	// 1 without any mark of a machine, falling as the weighted marks
	// approach automation.threshold, 0 once the gate is closed (the marks
	// reach the threshold, one is strong enough to veto alone, or the page
	// sent no report).
	Automation float64 `json:"automation"`
	// Compatibility is the compatibility axis's score, 0..1: the logistic
	// of its signals' weighted sum. It only chooses between one click and
	// the code, for a visit that passed the automation gate.
	Compatibility float64        `json:"compatibility"`
	Signals       []Contribution `json:"signals"`
	Config        string         `json:"config,omitempty"` // hash of the configuration that decided
	// Rule says in words which rule made the decision (the device cookie,
	// no report, the automation gate, a compatibility threshold, the
	// zero-click policy).
	Rule string `json:"rule,omitempty"`
}

// Decider turns an Input into a Verdict. Implementations must be pure and
// safe for concurrent use.
type Decider interface {
	Decide(in *Input) Verdict
}
