package linkguard

import (
	"context"
	"time"

	"github.com/linkguard/linkguard/fingerprint"
)

// Store keeps links, visits and handoff codes. Implementations live in
// store/*; each runs the same conformance suite (store/storetest).
//
// Links, consumptions, revocations, code attempts and handoffs are state:
// they must be durable when the call returns. Visits are evidence: they
// may be buffered and lost in a crash.
type Store interface {
	// CreateLink stores a new pending link and, in the same transaction,
	// revokes the older pending link of the same Family, if any (reason
	// RevokeReplaced; no event is queued for it). When mail is not nil it
	// is queued for delivery in the same transaction (sealed: it holds
	// the link's token and code), due at once. out's Jobs are queued in
	// the same transaction (Outbox).
	CreateLink(ctx context.Context, l *Link, mail []byte, out *Outbox) error
	// LinkByID returns the link with the given id, or ErrNotFound.
	LinkByID(ctx context.Context, id string) (*Link, error)
	// LinkByTokenHash returns the link whose token hashes to h, or ErrNotFound.
	LinkByTokenHash(ctx context.Context, h []byte) (*Link, error)
	// ConsumeLink moves a link from pending to consumed, at most once ever,
	// as one compare-and-set, and stores the handoff in the same
	// transaction. A link that is not pending, or has expired by at, is
	// left alone: the error is ErrNotPending and the returned link is the
	// stored one. out's Jobs are queued with the consumption, and only
	// with it.
	ConsumeLink(ctx context.Context, id string, at time.Time, v fingerprint.Verdict, h *Handoff, out *Outbox) (*Link, error)
	// RevokeLink moves a pending link to revoked at at, recording why,
	// and queues out's Jobs in the same transaction; ErrNotPending
	// otherwise (the link keeps its state and reason).
	RevokeLink(ctx context.Context, id string, at time.Time, why RevokeReason, out *Outbox) (*Link, error)
	// ConsumeWithCode is a typed code, checked and spent as one
	// compare-and-set (one synced write): on a link pending at time at
	// with fewer than max code attempts used, it counts one attempt,
	// compares codeHash with the link's CodeHash and, when they match,
	// consumes the link and stores h, as ConsumeLink does. The returned
	// link is the stored one, its CodeAttempts counting this try. Errors:
	// ErrWrongCode (the attempt is counted and durable), ErrTooManyAttempts
	// (max were used before: even the right code is refused, and nothing
	// is counted), ErrNotPending, ErrNotFound. In the same transaction it
	// queues out's Jobs when it consumes, and out's Locked when a wrong
	// code uses the last of max tries.
	ConsumeWithCode(ctx context.Context, id string, codeHash []byte, max int, at time.Time, v fingerprint.Verdict, h *Handoff, out *Outbox) (*Link, error)
	// TakeHandoff returns and deletes the handoff whose code hashes to h,
	// if it has not expired by now; ErrNotFound otherwise.
	TakeHandoff(ctx context.Context, h []byte, now time.Time) (*Handoff, error)
	// AddVisit records a visit and adds it to its link's history summary.
	// It may return before the visit is durable. A link keeps its newest
	// KeptViews views and KeptDecisions decision records, each stored as
	// EncodeVisit writes it, so what a link costs is bounded. v.Outbox's
	// Jobs are written with the visit, in the same write: a visit and its
	// event (link.scanner_blocked) are kept or lost together. A visit
	// whose Outcome is consumed is the decision that consumed its link,
	// and its Verdict is the one the link was consumed with (ConsumeLink,
	// ConsumeWithCode): a store may keep that verdict once, with the
	// link, and give it back with the visit.
	AddVisit(ctx context.Context, v *Visit) error
	// Visits returns a link's kept visits, oldest first: at most
	// KeptViews + KeptDecisions.
	Visits(ctx context.Context, linkID string) ([]Visit, error)
	// History returns the summary of a link's latest visits (at most
	// HistoryLen, oldest first, each entry made by Visit.Past): all that a
	// decision reads of the link's past, in one read. It is evidence, as
	// visits are: it may miss visits that were not written yet.
	History(ctx context.Context, linkID string) ([]fingerprint.PastVisit, error)
	// ScanVisits calls fn for every kept visit at or after since, in time
	// order per link, until fn returns an error.
	ScanVisits(ctx context.Context, since time.Time, fn func(*Visit) error) error
	MailQueue
	WebhookQueue
	Counts
	// EndCredentials ends, as of at, every one-time credential the store
	// holds: each pending link is revoked (reason RevokeRestore, with no
	// webhook event), every
	// handoff and every entry of KVCredentials deleted. Consumed,
	// expired and revoked links, visits, queues, limits and other KV
	// entries stay. For a store brought back from a backup or snapshot,
	// where any of them may have been spent since (store/badger's Restore
	// calls it; `linkguard end-credentials` on Redis), or to end them all
	// at once. It works in bounded memory and stops with ctx; what it
	// ended before an error stays ended.
	EndCredentials(ctx context.Context, at time.Time) (Ended, error)
	// Close flushes buffered visits and releases the store.
	Close() error
}

// Ended is what Store.EndCredentials ended: pending links revoked,
// handoffs deleted, and the OpenID Provider's requests, codes and tokens
// deleted (KVCredentials).
type Ended struct {
	Links, Handoffs, OIDC int
}

// LinkHistoryReader is the optional part of a Store that reads a link by
// its token hash together with the link's history summary, as
// LinkByTokenHash and History would, in one step: one round trip on a
// store across a network (store/redis), where a verify or confirm would
// otherwise pay two. Service.Report uses it when the Store has it. The
// history may be nil when the error is not nil.
type LinkHistoryReader interface {
	LinkAndHistoryByTokenHash(ctx context.Context, h []byte) (*Link, []fingerprint.PastVisit, error)
}

// QueuedMail is one email waiting for delivery. Its id is its link's id.
type QueuedMail struct {
	LinkID  string
	Attempt int    // failed attempts so far
	Payload []byte // sealed; opened by the mailer
}

// MailQueue is the durable queue of emails, kept with the links so that a
// link the API accepted never loses its email to a crash or an outage.
// The link's Delivery field mirrors the job's state for the API.
type MailQueue interface {
	// DueMail claims up to max jobs due at now, oldest first, hiding each
	// from other claimers until now+lease, in one atomic step.
	DueMail(ctx context.Context, now time.Time, lease time.Duration, max int) ([]QueuedMail, error)
	// MarkMailSent records delivery (synced) and drops the payload.
	MarkMailSent(ctx context.Context, linkID string, at time.Time) error
	// MarkMailFailed records a failed attempt; the job is due again at
	// next, or never when permanent (and then its payload is dropped, and
	// out's Jobs are queued in the same transaction: mail.failed).
	MarkMailFailed(ctx context.Context, linkID string, attempt int, next time.Time, lastErr string, permanent bool, out *Outbox) error
	// MarkMailCanceled ends a job unsent because its link is no longer
	// pending: the payload is dropped, and the link's Delivery becomes
	// DeliveryCanceled with attempts (failed attempts so far) and reason.
	// It queues no event: nothing failed.
	MarkMailCanceled(ctx context.Context, linkID string, attempts int, reason string) error
}
