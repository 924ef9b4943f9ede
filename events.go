package linkguard

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/linkguard/linkguard/fingerprint"
	"github.com/linkguard/linkguard/internal/clip"
)

// EventType names what happened to a link, as docs/api.md and
// docs/webhooks.md name the webhook event types.
type EventType string

// The event types. Webhooks deliver them; the console counts them.
const (
	EventLinkIssued   EventType = "link.issued"
	EventLinkConsumed EventType = "link.consumed"
	// EventLinkExpired: a link reached its expiry unused.
	EventLinkExpired EventType = "link.expired"
	EventLinkRevoked EventType = "link.revoked"
	// EventLinkLocked: the last code attempt of a link was used, wrongly.
	EventLinkLocked EventType = "link.locked"
	// EventScannerBlocked: a visit's verdict was closed by automation
	// evidence (the automation gate), so it could not consume.
	EventScannerBlocked EventType = "link.scanner_blocked"
	// EventMailFailed: a link's email was given up on.
	EventMailFailed EventType = "mail.failed"
)

// EventTypes lists every event type.
var EventTypes = []EventType{EventLinkIssued, EventLinkConsumed, EventLinkExpired,
	EventLinkRevoked, EventLinkLocked, EventScannerBlocked, EventMailFailed}

// ParseEventType returns the event type named s, or an *Error naming it.
func ParseEventType(s string) (EventType, error) {
	for _, t := range EventTypes {
		if string(t) == s {
			return t, nil
		}
	}
	return "", Errorf(KindInvalid, CodeInvalidRequest, "unknown event type %q (known: link.issued, link.consumed, link.expired, link.revoked, link.locked, link.scanner_blocked, mail.failed)", clip.String(s, 60))
}

// ConsumedVia says what spent a link.
type ConsumedVia string

// The ways a link is consumed, as events and the metrics name them.
const (
	// ViaCookie: the browser that asked held the device cookie.
	ViaCookie ConsumedVia = "cookie"
	// ViaClick: the page's report (a click on Continue, or zero-click).
	ViaClick ConsumedVia = "click"
	// ViaCode: the code from the email was typed.
	ViaCode ConsumedVia = "code"
)

// ConsumedVias lists every ConsumedVia.
var ConsumedVias = []ConsumedVia{ViaCookie, ViaClick, ViaCode}

// Event is something that happened to a link. It carries ids and verdict
// summaries, never a token, a code, a cookie or an address: it is what a
// webhook body's data holds.
type Event struct {
	// ID, when set, is the webhook message id to use: an event that may be
	// emitted twice (a timer that runs again after a crash) keeps one id.
	ID   string    `json:"-"`
	Type EventType `json:"-"`
	At   time.Time `json:"-"`
	// Email is the link's address, for the console's counts and search;
	// NB: not part of a webhook body (json:"-").
	Email   string  `json:"-"`
	LinkID  string  `json:"link_id"`
	Purpose Purpose `json:"purpose,omitempty"`
	// Reason is what revoked the link (link.revoked).
	Reason RevokeReason `json:"reason,omitempty"`
	// Via is how a consumed link was spent.
	Via ConsumedVia `json:"via,omitempty"`
	// Verdict sums up the decision of a consumption or a blocked visit.
	Verdict *VerdictSummary `json:"verdict,omitempty"`
	// Scanner names the mail-filter vendor a visit was attributed to.
	Scanner string `json:"scanner,omitempty"`
	Country string `json:"country,omitempty"`
	ASN     uint32 `json:"asn,omitempty"`
	// Attempts is the code attempts used (link.locked) or the delivery
	// attempts made (mail.failed).
	Attempts  int       `json:"attempts,omitempty"`
	Error     string    `json:"error,omitempty"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

// VerdictSummary is a verdict without its signals: what a webhook tells.
type VerdictSummary struct {
	Decision      string  `json:"decision"`
	Score         float64 `json:"score"`
	Automation    float64 `json:"automation"`
	Compatibility float64 `json:"compatibility"`
	Rule          string  `json:"rule,omitempty"`
	Config        string  `json:"config,omitempty"`
}

// WebhookState is where a webhook delivery is.
type WebhookState string

// The delivery states.
const (
	WebhookPending   WebhookState = "pending"
	WebhookDelivered WebhookState = "delivered"
	WebhookFailed    WebhookState = "failed"
)

// WebhookJob is one event to deliver to one endpoint, or (Endpoint "") a
// timer that looks at a link when it is due (expiry).
type WebhookJob struct {
	// ID is unique in the queue: MsgID, a dot, the endpoint's name.
	ID string `json:"id"`
	// MsgID is the webhook-id header, the same on every retry.
	MsgID    string    `json:"msg_id"`
	Endpoint string    `json:"endpoint"`
	Type     EventType `json:"type"`
	LinkID   string    `json:"link_id,omitempty"`
	// Body is the exact body to send (signed as is).
	Body      []byte       `json:"body,omitempty"`
	CreatedAt time.Time    `json:"created_at"`
	NextAt    time.Time    `json:"next_at"`
	Attempt   int          `json:"attempt"` // failed attempts so far
	State     WebhookState `json:"state"`
	LastError string       `json:"last_error,omitempty"`
	DoneAt    time.Time    `json:"done_at,omitzero"`
}

// ErrQueueFull means the webhook queue holds its maximum of pending jobs.
var ErrQueueFull = errors.New("webhook queue is full")

// Outbox is the webhook jobs of a state change, handed to the Store
// method that makes the change, which writes them in the same transaction
// (the transactional outbox): a change that commits has its events
// queued, a crash right after the commit loses none of them, and a change
// that is refused queues nothing. A nil *Outbox queues nothing. For a
// consumption it also carries the record of the decision that made it.
type Outbox struct {
	// Jobs are queued when the change is made.
	Jobs []WebhookJob
	// Locked are queued instead of Jobs by ConsumeWithCode when a wrong
	// code uses the link's last try (link.locked).
	Locked []WebhookJob
	// Max bounds the queue: when Max > 0 and Max jobs or more are pending
	// already, the jobs are not queued (the change is still made, and the
	// Store sets Dropped to how many were not).
	Max     int
	Dropped int
	// Record, when set, is the visit of the decision that consumes the
	// link. ConsumeLink and ConsumeWithCode record it when they consume,
	// and only then, with Outcome consumed and the consumption's verdict,
	// in the same write (Badger's transaction, Redis's script: the
	// evidence of a consumption is never lost without it); a Store that
	// cannot may record it as AddVisit does. Like
	// AddVisit they give Record an ID when it has none. The caller does
	// not AddVisit it too.
	Record *Visit
}

// Queued is what a change that was made queues: Locked when the change
// locked the link, else Jobs; nothing for a nil Outbox. For Stores.
func (o *Outbox) Queued(locked bool) []WebhookJob {
	switch {
	case o == nil:
		return nil
	case locked:
		return o.Locked
	}
	return o.Jobs
}

// WebhookQueue is the durable queue of webhook deliveries, kept with the
// links so that an event survives a crash and a receiver's outage.
type WebhookQueue interface {
	// EnqueueWebhooks stores jobs (pending, due at their NextAt) in one
	// synced transaction. A job whose ID is stored already (pending or
	// done) is left as it is, so that queueing an event a second time (a
	// timer that runs again after a crash) sends it once. When max > 0
	// and max jobs or more are pending already, it stores none and
	// returns ErrQueueFull.
	EnqueueWebhooks(ctx context.Context, jobs []WebhookJob, max int) error
	// DueWebhooks claims up to max pending jobs due at now, oldest first,
	// hiding each from other claimers until now+lease, in one atomic step.
	DueWebhooks(ctx context.Context, now time.Time, lease time.Duration, max int) ([]WebhookJob, error)
	// UpdateWebhook writes j back: pending again at j.NextAt (a retry), or
	// done (delivered or failed), kept for RecentWebhooks for keep.
	UpdateWebhook(ctx context.Context, j *WebhookJob, keep time.Duration) error
	// RecentWebhooks returns up to max jobs with an endpoint, pending or
	// done, newest first.
	RecentWebhooks(ctx context.Context, max int) ([]WebhookJob, error)
}

// Counts are the console's per-hour counters: they outlive the visits
// they count, so the 30-day charts need no 30 days of raw visits.
type Counts interface {
	// AddCounts adds deltas to the counters of the hour holding at.
	AddCounts(ctx context.Context, at time.Time, deltas map[string]int64) error
	// CountsBetween returns the counters of every hour from from to to
	// (hours truncated, both included) that has any, keyed by the hour.
	CountsBetween(ctx context.Context, from, to time.Time) (map[time.Time]map[string]int64, error)
	// ScanLinks calls fn for every stored link, until fn returns an error
	// (the console's search by address).
	ScanLinks(ctx context.Context, fn func(*Link) error) error
}

// CountsKeep is how long the per-hour counters are kept.
const CountsKeep = 400 * 24 * time.Hour

// NewMsgID returns a new webhook message id: "msg_" and 26 base32
// characters, ordered by time like link ids.
func NewMsgID(r io.Reader, now time.Time) (string, error) { return timeID("msg_", r, now) }

// Webhooks makes the webhook jobs of events (webhook.Dispatcher).
type Webhooks interface {
	// Jobs returns the jobs of e, one per endpoint that takes its type
	// (and a timer for link.issued), giving e a message id (e.ID) when it
	// has none; none when nothing takes it.
	Jobs(e *Event) []WebhookJob
	// MaxPending bounds the queue (Outbox.Max); 0: no bound.
	MaxPending() int
}

// Outbox returns the outbox of a change that reports e (and, for a code
// attempt, locked when it locks the link), or nil when no webhook takes
// either: what the Store writes with the change.
func (s *Service) Outbox(e, locked *Event) *Outbox {
	if s.Webhooks == nil {
		return nil
	}
	jobs := func(e *Event) []WebhookJob {
		if e == nil {
			return nil
		}
		if e.At.IsZero() {
			e.At = s.now()
		}
		return s.Webhooks.Jobs(e)
	}
	o := &Outbox{Jobs: jobs(e), Locked: jobs(locked), Max: s.Webhooks.MaxPending()}
	if len(o.Jobs) == 0 && len(o.Locked) == 0 {
		return nil
	}
	return o
}

// dropped logs the jobs of e that a full queue did not take.
func (s *Service) dropped(o *Outbox, e *Event) {
	if o != nil && o.Dropped > 0 {
		s.log().Warn("webhook queue full: event not queued", "type", e.Type, "link_id", e.LinkID, "jobs", o.Dropped)
	}
}

// Emit tells s.Notify of e, stamping its time when unset. Errors are
// Notify's to log: an event never fails the request that caused it.
func (s *Service) Emit(ctx context.Context, e *Event) {
	if s.Notify == nil {
		return
	}
	if e.At.IsZero() {
		e.At = s.now()
	}
	s.Notify(ctx, e)
}

// Summary is v without its signals.
func Summary(v *fingerprint.Verdict) *VerdictSummary {
	if v == nil {
		return nil
	}
	return &VerdictSummary{Decision: string(v.Decision), Score: v.Score, Automation: v.Automation,
		Compatibility: v.Compatibility, Rule: v.Rule, Config: v.Config}
}

// visitEvent is the event of a decision visit on l.
func visitEvent(t EventType, l *Link, v *Visit, via ConsumedVia) *Event {
	return &Event{Type: t, At: v.At, Email: l.Email, LinkID: l.ID, Purpose: l.Purpose, Via: via,
		Verdict: Summary(v.Verdict), Scanner: v.Scanner, Country: v.Network.Country, ASN: v.Network.ASN}
}
