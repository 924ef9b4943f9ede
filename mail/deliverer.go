package mail

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Job is one queued mail, as the Queue hands it out.
type Job struct {
	// ID identifies the job in the queue (the store may use the link id).
	ID string
	// Attempt is how many delivery attempts have failed so far (0 for a
	// new job).
	Attempt int
	// Message is the mail to send.
	Message Message
}

// Queue is what the Deliverer needs from the durable mail queue that the
// store keeps. Implementations must be safe for concurrent use, and for use
// by several processes sharing the store.
//
// A job's life: enqueued (due at once) → claimed by Due → MarkSent, or
// MarkFailed and due again at next, or given up for good, or MarkCanceled
// when its link stopped being pending before it went out.
type Queue interface {
	// Due claims and returns up to max jobs whose next attempt time is at
	// or before now, oldest first. Claiming moves the job's next attempt
	// time to now+lease in the same atomic step, so that no other caller
	// (goroutine, process or instance) gets the job while this one sends
	// it; if this process dies mid-send, the job is due again after lease.
	// Jobs that were sent or given up on are never returned.
	Due(ctx context.Context, now time.Time, lease time.Duration, max int) ([]Job, error)
	// MarkSent records that the job was delivered at at. It must be
	// durable (synced) before it returns: a lost MarkSent sends the mail
	// again once the lease runs out. The job is never due again, and its
	// Message (which holds the link and code) should be dropped.
	MarkSent(ctx context.Context, id string, at time.Time) error
	// MarkFailed records a failed attempt: attempt is the new count of
	// failed attempts, lastErr a description for operators (no secrets).
	// When permanent is false the job is due again at next; when true it is
	// never due again (a 5xx reply, an expired link, too many attempts)
	// and its Message should be dropped.
	MarkFailed(ctx context.Context, id string, attempt int, next time.Time, lastErr string, permanent bool) error
	// Canceled reports, as of now, why the job's mail must not be sent
	// any more, for operators (no secrets): its link was revoked (by the
	// host, by a newer link for the same address, by a restore) or used
	// since the mail was queued. "" means send it. An error means the
	// answer is unknown (the store could not be read): the job is tried
	// again later, never dropped for it.
	Canceled(ctx context.Context, id string) (reason string, err error)
	// MarkCanceled ends a job that Canceled gave a reason for, unsent:
	// attempts is its count of failed attempts so far. The job is never
	// due again and its Message should be dropped. It is no failure: no
	// mail.failed.
	MarkCanceled(ctx context.Context, id string, attempts int, reason string) error
}

// Defaults for a Deliverer's settings.
const (
	DefaultInterval    = 5 * time.Second
	DefaultLease       = 2 * time.Minute
	DefaultBatch       = 16
	DefaultConcurrency = 4
)

// Deliverer sends queued mail: at start, every Interval, and at once after
// Kick. A failure that may pass is retried with Backoff until the link
// expires (or MaxAttempts); a permanent one is recorded and not retried.
// Before each send it asks the Queue whether the mail is still wanted
// (Canceled), and ends a mail whose link was revoked meanwhile unsent.
//
// Delivery is at least once with a window the size of one SMTP reply: a
// mail is sent again only if the process dies (or the store write fails)
// between the relay's "250 OK" and MarkSent. Within a process a job is
// never sent by two goroutines at once, and across processes the Queue's
// lease keeps it so.
//
// Make one with NewDeliverer and set the exported fields before Run.
type Deliverer struct {
	queue     Queue
	transport Transport

	// Backoff spaces retries.
	Backoff Backoff
	// Interval is how often the queue is polled when nobody kicks.
	Interval time.Duration
	// Lease is how long a claimed job is hidden from other claimers. Each
	// send gets a deadline of Lease/3, which Sender turns into a timeout
	// per phase (connection, then transaction), so a send ends well within
	// its lease.
	Lease time.Duration
	// Batch is the most jobs claimed at once.
	Batch int
	// Concurrency is the most sends at once.
	Concurrency int
	// MaxAttempts, when positive, gives up after that many failed
	// attempts; zero retries until the link expires.
	MaxAttempts int
	// Now is the clock.
	Now func() time.Time
	// Logger receives one line per failure or cancel; it never sees a
	// Message.
	Logger *slog.Logger
	// Observe, when set, is told each attempt's result: "sent", "retry"
	// (due again later), "failed" (given up) or "canceled" (not sent: its
	// link is no longer pending), for metrics.
	Observe func(result string)

	kick chan struct{}

	mu       sync.Mutex
	inflight map[string]bool
}

// NewDeliverer returns a Deliverer that takes jobs from q and sends them
// through t, with the default settings.
func NewDeliverer(q Queue, t Transport) *Deliverer {
	return &Deliverer{
		queue:       q,
		transport:   t,
		Backoff:     DefaultBackoff,
		Interval:    DefaultInterval,
		Lease:       DefaultLease,
		Batch:       DefaultBatch,
		Concurrency: DefaultConcurrency,
		Now:         time.Now,
		Logger:      slog.Default(),
		kick:        make(chan struct{}, 1),
		inflight:    make(map[string]bool),
	}
}

// Kick asks Run to look at the queue now, for example right after a job was
// enqueued. It never blocks; kicks while Run is busy fold into one.
func (d *Deliverer) Kick() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// Run delivers until ctx is done, then waits for the sends already begun to
// finish and be recorded, and returns nil.
func (d *Deliverer) Run(ctx context.Context) error {
	interval := d.Interval
	if interval <= 0 {
		interval = DefaultInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		d.drain(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-d.kick:
		}
	}
}

// drain runs batches until the queue has nothing due.
func (d *Deliverer) drain(ctx context.Context) {
	for ctx.Err() == nil {
		n, err := d.RunOnce(ctx)
		if err != nil {
			d.Logger.ErrorContext(ctx, "mail queue: claim due jobs", "err", err)
			return
		}
		if n < d.batch() {
			return
		}
	}
}

func (d *Deliverer) batch() int {
	if d.Batch <= 0 {
		return DefaultBatch
	}
	return d.Batch
}

// RunOnce claims one batch of due jobs and delivers them, returning how
// many jobs the queue handed out. Run calls it; tests and tools may too.
func (d *Deliverer) RunOnce(ctx context.Context) (int, error) {
	lease := d.Lease
	if lease <= 0 {
		lease = DefaultLease
	}
	jobs, err := d.queue.Due(ctx, d.Now(), lease, d.batch())
	if err != nil {
		return 0, err
	}
	conc := d.Concurrency
	if conc <= 0 {
		conc = DefaultConcurrency
	}
	sem := make(chan struct{}, conc)
	var wg sync.WaitGroup
	for _, j := range jobs {
		if !d.claim(j.ID) {
			// Already being sent here: the queue handed it out again
			// (a lease shorter than a send). Leave it to that send.
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() {
				d.release(j.ID)
				<-sem
				wg.Done()
			}()
			d.deliver(ctx, j, lease)
		}()
	}
	wg.Wait()
	return len(jobs), nil
}

func (d *Deliverer) claim(id string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.inflight[id] {
		return false
	}
	d.inflight[id] = true
	return true
}

func (d *Deliverer) release(id string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.inflight, id)
}

// errInterrupted marks a send cut short by shutdown, which is not the
// relay's fault and is not counted as an attempt.
var errInterrupted = errors.New("interrupted by shutdown before the relay accepted the mail")

// errUnchecked is the recorded reason of a job put off because its link
// could not be read; the log has the store's error.
var errUnchecked = errors.New("the link's state could not be read; will retry")

// deliver sends one job and records the outcome.
func (d *Deliverer) deliver(ctx context.Context, j Job, lease time.Duration) {
	// The outcome is recorded even when ctx is done: a sent mail that is
	// not marked sent would go out again.
	rec, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	log := d.Logger.With("job", j.ID)

	now := d.Now()
	exp := j.Message.ExpiresAt
	if !exp.IsZero() && !now.Before(exp) {
		log.WarnContext(ctx, "mail not sent: the link expired first", "attempts", j.Attempt)
		d.observe("failed")
		d.markFailed(rec, log, j.ID, j.Attempt, now, "the link expired before the mail could be delivered", true)
		return
	}

	// The link may have been revoked while its mail waited (a retry after
	// an outage): by the host, by a newer link for the same address (which
	// has its own mail), by a restore. Its mail would only carry a dead
	// link, after the live one at worst. One store read a send; a revoke
	// during the send itself is not seen, and that mail goes out.
	why, cerr := d.queue.Canceled(ctx, j.ID)
	switch {
	case cerr != nil && ctx.Err() != nil:
		log.InfoContext(ctx, "mail check interrupted; due again at next start", "err", cerr)
		d.markFailed(rec, log, j.ID, j.Attempt, now, errInterrupted.Error(), false)
		return
	case cerr != nil:
		// Not the relay's fault, so not an attempt; and never a reason
		// to drop the mail.
		next := now.Add(d.Backoff.Delay(j.Attempt + 1))
		d.observe("retry")
		log.WarnContext(ctx, "mail not sent: its link could not be read; will retry", "next", next, "err", cerr)
		d.markFailed(rec, log, j.ID, j.Attempt, next, errUnchecked.Error(), false)
		return
	case why != "":
		d.observe("canceled")
		log.InfoContext(ctx, "mail not sent: its link is no longer pending", "attempts", j.Attempt, "reason", why)
		if err := d.queue.MarkCanceled(rec, j.ID, j.Attempt, why); err != nil {
			log.ErrorContext(ctx, "record mail cancel", "err", err)
		}
		return
	}

	// Shutdown may cancel a send; Transport promises not to abandon a
	// transaction the relay may already have accepted.
	sendCtx, cancelSend := context.WithTimeout(ctx, lease/3)
	err := d.transport.Send(sendCtx, j.Message)
	cancelSend()
	done := d.Now()
	if err == nil {
		d.observe("sent")
		d.markSent(rec, log, j.ID, done)
		return
	}
	if ctx.Err() != nil && !IsPermanent(err) {
		log.InfoContext(ctx, "mail send interrupted; due again at next start", "err", err)
		d.markFailed(rec, log, j.ID, j.Attempt, done, errInterrupted.Error(), false)
		return
	}

	attempt := j.Attempt + 1
	permanent := IsPermanent(err)
	reason := err.Error()
	next := done.Add(d.Backoff.Delay(attempt))
	switch {
	case permanent:
	case d.MaxAttempts > 0 && attempt >= d.MaxAttempts:
		permanent = true
		reason = fmt.Sprintf("%s; gave up after %d attempts", reason, attempt)
	case !exp.IsZero() && !next.Before(exp):
		permanent = true
		reason += "; gave up: the link expires before the next attempt"
	}
	if permanent {
		d.observe("failed")
		log.ErrorContext(ctx, "mail not delivered; giving up", "attempt", attempt, "err", reason)
	} else {
		d.observe("retry")
		log.WarnContext(ctx, "mail not delivered; will retry", "attempt", attempt, "next", next, "err", reason)
	}
	d.markFailed(rec, log, j.ID, attempt, next, reason, permanent)
}

func (d *Deliverer) observe(result string) {
	if d.Observe != nil {
		d.Observe(result)
	}
}

// markSent records a delivery, retrying briefly: the relay has the mail
// now, and every failed write here risks a duplicate after the lease.
func (d *Deliverer) markSent(ctx context.Context, log *slog.Logger, id string, at time.Time) {
	var err error
	for try := 0; try < 3; try++ {
		if err = d.queue.MarkSent(ctx, id, at); err == nil {
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Duration(try+1) * 200 * time.Millisecond):
		}
	}
	log.ErrorContext(ctx, "mail sent but not recorded; it may be sent again", "err", err)
}

func (d *Deliverer) markFailed(ctx context.Context, log *slog.Logger, id string, attempt int, next time.Time, reason string, permanent bool) {
	if err := d.queue.MarkFailed(ctx, id, attempt, next, reason, permanent); err != nil {
		log.ErrorContext(ctx, "record mail failure", "err", err)
	}
}
