package linkguard

import "github.com/linkguard/linkguard/fingerprint"

// The domain's vocabularies: every name a program or a page switches on,
// typed, as docs/api.md spells it. server/, the stores, the CLI and the
// page script (web/static/lg.js, checked by web's tests) use these and
// never a literal.

// PageState is a page's <body data-lg-state>, as docs/api.md names it.
type PageState string

// The page states. A landing page starts in checking, used or expired;
// its script moves it on.
const (
	// PageChecking: the collector runs and the page reports to /verify.
	PageChecking PageState = "checking"
	// PageConfirm: one trusted click on Continue is asked for.
	PageConfirm PageState = "confirm"
	// PageCode: the code from the email is asked for.
	PageCode PageState = "code"
	// PageLocked: no code attempts are left.
	PageLocked PageState = "locked"
	// PageDone: the link is consumed; the page navigates to the redirect.
	PageDone PageState = "done"
	// PageUsed: the link was consumed before.
	PageUsed PageState = "used"
	// PageExpired: the link expired or was revoked, or the token is unknown.
	PageExpired PageState = "expired"
	// PageError: the page could not report (reload).
	PageError PageState = "error"
	// PageSent: the hosted "check your inbox" page.
	PageSent PageState = "sent"
	// PageElsewhere: the waiting page after the link was consumed on
	// another device.
	PageElsewhere PageState = "elsewhere"
)

// PageStates lists every page state, for tests that check other copies
// (the page script, the templates) against this one.
var PageStates = []PageState{PageChecking, PageConfirm, PageCode, PageLocked,
	PageDone, PageUsed, PageExpired, PageError, PageSent, PageElsewhere}

// Outcome is what a verify or confirm request answers, as docs/api.md
// names it.
type Outcome string

// The outcomes of verify and confirm.
const (
	OutcomeConsumed Outcome = "consumed"
	OutcomeConfirm  Outcome = "confirm"
	OutcomeCode     Outcome = "code"
	OutcomeUsed     Outcome = "used"
	OutcomeExpired  Outcome = "expired"
)

// Outcomes lists every outcome of verify and confirm.
var Outcomes = []Outcome{OutcomeConsumed, OutcomeConfirm, OutcomeCode, OutcomeUsed, OutcomeExpired}

// VisitKind names the request a visit was. It is the decision engine's
// type, so that the signals read the history under the same names.
type VisitKind = fingerprint.VisitKind

// The visit kinds, as docs/api.md names them.
const (
	VisitView    = fingerprint.VisitView
	VisitVerify  = fingerprint.VisitVerify
	VisitConfirm = fingerprint.VisitConfirm
	VisitCode    = fingerprint.VisitCode
)

// VisitOutcome is what a visit led to, as docs/api.md names it in a
// link's visits. Like VisitKind, it is the decision engine's type, which
// keeps the outcomes of past visits in Input.History.
type VisitOutcome = fingerprint.VisitOutcome

// The visit outcomes.
const (
	VisitOutcomeNone     = fingerprint.VisitOutcomeNone
	VisitOutcomeConsumed = fingerprint.VisitOutcomeConsumed
	VisitOutcomeConfirm  = fingerprint.VisitOutcomeConfirm
	VisitOutcomeCode     = fingerprint.VisitOutcomeCode
	VisitOutcomeRejected = fingerprint.VisitOutcomeRejected
)

// ErrorCode is the stable snake_case code of an *Error, the "code" of an
// error body; docs/api.md lists each with its status and meaning.
type ErrorCode string

// The error codes. server/ maps an error's Kind, not its code, to a status.
const (
	CodeInvalidJSON          ErrorCode = "invalid_json"
	CodeUnknownField         ErrorCode = "unknown_field"
	CodeInvalidRequest       ErrorCode = "invalid_request"
	CodeInvalidEmail         ErrorCode = "invalid_email"
	CodeRedirectNotAllowed   ErrorCode = "redirect_not_allowed"
	CodeMailNotConfigured    ErrorCode = "mail_not_configured"
	CodeInvalidCode          ErrorCode = "invalid_code"
	CodeInvalidNonce         ErrorCode = "invalid_nonce"
	CodeBadRequest           ErrorCode = "bad_request"
	CodeUnauthorized         ErrorCode = "unauthorized"
	CodeNotFound             ErrorCode = "not_found"
	CodeMethodNotAllowed     ErrorCode = "method_not_allowed"
	CodeNotPending           ErrorCode = "not_pending"
	CodeBodyTooLarge         ErrorCode = "body_too_large"
	CodeUnsupportedMediaType ErrorCode = "unsupported_media_type"
	CodeTooManyAttempts      ErrorCode = "too_many_attempts"
	CodeInternal             ErrorCode = "internal"
	CodeNotReady             ErrorCode = "not_ready"
)

// ErrorCodes lists every error code.
var ErrorCodes = []ErrorCode{CodeInvalidJSON, CodeUnknownField, CodeInvalidRequest,
	CodeInvalidEmail, CodeRedirectNotAllowed, CodeMailNotConfigured, CodeInvalidCode,
	CodeInvalidNonce, CodeBadRequest, CodeUnauthorized, CodeNotFound, CodeMethodNotAllowed,
	CodeNotPending, CodeBodyTooLarge, CodeUnsupportedMediaType, CodeTooManyAttempts,
	CodeInternal, CodeNotReady}
