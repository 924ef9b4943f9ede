// Package linkguard is the domain of a one-time link service that mail
// scanners cannot spend: links, their states and lifecycle rules, the
// Store they live in, and the errors callers see.
//
// It knows nothing of HTTP, Fiber or Badger. server/ adapts it to HTTP,
// store/badger persists it, fingerprint/ decides who may consume a link.
package linkguard

import (
	"encoding/json"
	"time"

	"github.com/linkguard/linkguard/fingerprint"
)

// State is where a link is in its life.
type State string

// A link is pending until it is consumed, expires or is revoked; the last
// three are final.
const (
	Pending  State = "pending"
	Consumed State = "consumed"
	Expired  State = "expired"
	Revoked  State = "revoked"
)

// Link is one issued one-time link. It never holds the token or the code,
// only keyed hashes of them.
type Link struct {
	ID          string          `json:"id"`
	Email       string          `json:"email"`
	RedirectURL string          `json:"redirect_url"`
	Metadata    json.RawMessage `json:"metadata,omitempty"`
	// Purpose is what the link is for; empty in links stored before
	// purposes existed (read it with OrDefault).
	Purpose Purpose `json:"purpose,omitempty"`
	// Locale is the BCP 47 language of the link's mail and landing page,
	// given or derived at issue.
	Locale string `json:"locale,omitempty"`
	// Family identifies (email, redirect origin): issuing a link revokes
	// the older pending link of the same family.
	Family    string `json:"family"`
	TokenHash []byte `json:"token_hash"`
	CodeHash  []byte `json:"code_hash"`
	// BindingHash is the keyed hash of the device-binding cookie of the
	// browser that asked, when it had one.
	BindingHash []byte                `json:"binding_hash,omitempty"`
	Requester   fingerprint.Requester `json:"requester"`

	// State is the stored state; StateAt also accounts for expiry.
	State      State     `json:"state"`
	CreatedAt  time.Time `json:"created_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	ConsumedAt time.Time `json:"consumed_at,omitzero"`
	RevokedAt  time.Time `json:"revoked_at,omitzero"`
	// RevokeReason says what revoked the link; empty for a link that is
	// not revoked, and for one revoked before reasons were recorded.
	RevokeReason RevokeReason         `json:"revoke_reason,omitempty"`
	CodeAttempts int                  `json:"code_attempts,omitempty"`
	Verdict      *fingerprint.Verdict `json:"verdict,omitempty"` // the verdict that consumed it

	// Delivery is the state of the link's email, when one was asked for.
	Delivery *Delivery `json:"delivery,omitempty"`
}

// RevokeReason says what revoked a link, as GET /v1/links/{id} shows it
// in revoke_reason and the link.revoked event in reason.
type RevokeReason string

// The revoke reasons. A link revoked before reasons were recorded has
// none (""): every reader takes that as "not known".
const (
	// RevokeAPI: the host's DELETE /v1/links/{id}.
	RevokeAPI RevokeReason = "api"
	// RevokeConsole: an operator, on the link's page in the console.
	RevokeConsole RevokeReason = "console"
	// RevokeReplaced: a newer link for the same address (the same Family)
	// was issued while this one was pending.
	RevokeReplaced RevokeReason = "replaced"
	// RevokeRestore: ended by a restore from a backup or by
	// `linkguard end-credentials` (Store.EndCredentials).
	RevokeRestore RevokeReason = "restore"
)

// RevokeReasons lists every revoke reason, in the order the docs name them.
var RevokeReasons = []RevokeReason{RevokeAPI, RevokeConsole, RevokeReplaced, RevokeRestore}

// Words is r as a person reads it after "the link was" ("revoked in the
// console"), for the console and the mail deliverer's cancel reason; ""
// for no reason or an unknown one, which the caller words itself.
func (r RevokeReason) Words() string {
	switch r {
	case RevokeAPI:
		return "revoked by the host's API"
	case RevokeConsole:
		return "revoked in the console"
	case RevokeReplaced:
		return "replaced by a newer link"
	case RevokeRestore:
		return "ended by a restore"
	}
	return ""
}

// StateAt is the link's state at time now: a pending link past its expiry
// is expired, whatever the store says.
func (l *Link) StateAt(now time.Time) State {
	if l.State == Pending && !now.Before(l.ExpiresAt) {
		return Expired
	}
	return l.State
}

// DeliveryState is where a link's email is, as GET /v1/links/{id} shows
// it in delivery.state (the OpenAPI document lists them).
type DeliveryState string

// The delivery states. An email is queued with its link and retrying
// after a failure that may pass; sent, failed and canceled are final.
const (
	DeliveryQueued   DeliveryState = "queued"
	DeliveryRetrying DeliveryState = "retrying"
	DeliverySent     DeliveryState = "sent"
	DeliveryFailed   DeliveryState = "failed"
	// DeliveryCanceled: the link stopped being pending (revoked by the
	// host, by a newer link of its Family or by a restore; or used)
	// before its email went out, so the email was dropped unsent: it
	// would only have carried a dead link. LastError says why. Nothing
	// failed, so no mail.failed event is sent.
	DeliveryCanceled DeliveryState = "canceled"
)

// Delivery is the state of a link's email. LastError is the reason of the
// latest failure, or of the cancel when State is DeliveryCanceled.
type Delivery struct {
	State     DeliveryState `json:"state"`
	Attempts  int           `json:"attempts"`
	LastError string        `json:"last_error,omitempty"`
	SentAt    time.Time     `json:"sent_at,omitzero"`
	NextAt    time.Time     `json:"next_at,omitzero"`
}

// Visit is one request that touched a link: evidence, not state. Visits
// may be written without waiting for the disk and lost in a crash.
type Visit struct {
	ID      string              `json:"id"`
	LinkID  string              `json:"link_id"`
	At      time.Time           `json:"at"`
	Kind    VisitKind           `json:"kind"`
	Outcome VisitOutcome        `json:"outcome"`
	Network fingerprint.Network `json:"network"`
	// UserAgent is the visitor's User-Agent header, cut to 512 bytes.
	UserAgent string `json:"user_agent,omitempty"`
	// Scanner names the scanner entry that the visit's network or user
	// agent matched (fingerprint.Engine.Scanner); "" for none.
	Scanner string `json:"scanner,omitempty"`
	// Input and Verdict are recorded for verify, confirm and code visits,
	// so that a decision can be explained and replayed.
	Input   *fingerprint.Input   `json:"input,omitempty"`
	Verdict *fingerprint.Verdict `json:"verdict,omitempty"`
	// Trimmed is set when the record was over MaxVisitBytes and lost part
	// of its input (see EncodeVisit).
	Trimmed bool `json:"trimmed,omitempty"`
	// Outbox, when set, is written with the visit (Store.AddVisit): the
	// webhook jobs of link.scanner_blocked. Never stored as part of it.
	Outbox *Outbox `json:"-"`
}

// Handoff is the result of a consumption, waiting for the host's backend
// to exchange its one-time code.
type Handoff struct {
	CodeHash   []byte              `json:"code_hash"`
	LinkID     string              `json:"link_id"`
	Email      string              `json:"email"`
	Metadata   json.RawMessage     `json:"metadata,omitempty"`
	Purpose    Purpose             `json:"purpose,omitempty"`
	Locale     string              `json:"locale,omitempty"`
	ConsumedAt time.Time           `json:"consumed_at"`
	ExpiresAt  time.Time           `json:"expires_at"`
	Verdict    fingerprint.Verdict `json:"verdict"`
}
