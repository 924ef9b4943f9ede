package webhook

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/internal/clip"
)

// Queue is what the Dispatcher needs of the Store.
type Queue interface {
	linkguard.WebhookQueue
	LinkByID(ctx context.Context, id string) (*linkguard.Link, error)
}

// Options configure a Dispatcher. Zero values take the defaults below.
type Options struct {
	Store     Queue
	Endpoints []Endpoint
	// Timers queues, for every issued link, a timer that emits
	// link.expired when the link expires unused. On when an endpoint
	// subscribes to link.expired; the console turns it on to count expiries.
	Timers bool
	// Emit receives the events the Dispatcher finds itself (link.expired),
	// after queueing their jobs: the Service's Emit, so that they reach
	// every listener (the console's counts).
	Emit func(ctx context.Context, e *linkguard.Event)
	// Backoff is the wait before each retry: the first retry comes
	// Backoff[0] after the first failure, and so on; past its end the
	// delivery is failed. Default: 5s, 30s, 2m, 10m, 30m, 1h, 2h, 4h, 8h,
	// 12h, 12h, 12h (about two days in all).
	Backoff []time.Duration
	// MaxPending bounds the queue: past it new events are dropped (and
	// logged) while their changes are still made. Default 100000.
	MaxPending int
	// Keep is how long finished deliveries stay listed (default 7 days).
	Keep time.Duration
	// Timeout bounds one POST (default DefaultTimeout); Poll is how often
	// the queue is looked at when nothing wakes it (default 1s).
	Timeout, Poll time.Duration
	// Workers is how many POSTs may run at once (default 8).
	Workers int
	Client  *http.Client
	Log     *slog.Logger
	Now     func() time.Time
	Rand    io.Reader
}

// DefaultBackoff is the retry schedule: the first retry within 10 seconds
// (docs/api.md), then longer waits.
var DefaultBackoff = []time.Duration{5 * time.Second, 30 * time.Second, 2 * time.Minute,
	10 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 4 * time.Hour, 8 * time.Hour,
	12 * time.Hour, 12 * time.Hour, 12 * time.Hour}

// Dispatcher queues events for the configured endpoints and delivers them.
type Dispatcher struct {
	opts   Options
	eps    []*endpoint
	byName map[string]*endpoint
	wake   chan struct{}
	log    *slog.Logger
}

// New checks the endpoints and returns a Dispatcher; Run delivers.
func New(opts Options) (*Dispatcher, error) {
	if opts.Store == nil {
		return nil, errors.New("webhook: Store is required")
	}
	if opts.Backoff == nil {
		opts.Backoff = DefaultBackoff
	}
	if opts.MaxPending == 0 {
		opts.MaxPending = 100000
	}
	if opts.Keep == 0 {
		opts.Keep = 7 * 24 * time.Hour
	}
	if opts.Timeout == 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Poll == 0 {
		opts.Poll = time.Second
	}
	if opts.Workers == 0 {
		opts.Workers = 8
	}
	if opts.Client == nil {
		opts.Client = &http.Client{Timeout: opts.Timeout,
			// A receiver answers; it does not send the event elsewhere.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Rand == nil {
		opts.Rand = rand.Reader
	}
	d := &Dispatcher{opts: opts, byName: map[string]*endpoint{}, wake: make(chan struct{}, 1), log: opts.Log}
	for i, e := range opts.Endpoints {
		ep, err := e.check(i)
		if err != nil {
			return nil, err
		}
		if d.byName[ep.name] != nil {
			return nil, fmt.Errorf("webhooks[%d].url %s is listed twice", i, e.URL)
		}
		d.eps = append(d.eps, ep)
		d.byName[ep.name] = ep
		if ep.events[linkguard.EventLinkExpired] {
			d.opts.Timers = true
		}
	}
	return d, nil
}

// Active reports whether the Dispatcher has anything to do: endpoints or
// timers.
func (d *Dispatcher) Active() bool { return len(d.eps) > 0 || d.opts.Timers }

// body is a webhook's JSON body.
type body struct {
	Type      linkguard.EventType `json:"type"`
	Timestamp time.Time           `json:"timestamp"`
	Data      *linkguard.Event    `json:"data"`
}

// Jobs implements linkguard.Webhooks: the jobs of e, one per endpoint
// that subscribes to its type and, for link.issued, the expiry timer. It
// gives e a message id when it has none. The Service hands them to the
// Store, which writes them in the transaction of the change that e
// reports (linkguard.Outbox), so an event is queued exactly when its
// change commits.
func (d *Dispatcher) Jobs(e *linkguard.Event) []linkguard.WebhookJob {
	now := d.opts.Now().UTC()
	timer := e.Type == linkguard.EventLinkIssued && d.opts.Timers && !e.ExpiresAt.IsZero()
	var eps []*endpoint
	for _, ep := range d.eps {
		if ep.events[e.Type] {
			eps = append(eps, ep)
		}
	}
	if !timer && len(eps) == 0 {
		return nil
	}
	if e.ID == "" {
		id, err := linkguard.NewMsgID(d.opts.Rand, now)
		if err != nil {
			d.log.Error("webhook id", "err", err)
			return nil
		}
		e.ID = id
	}
	var jobs []linkguard.WebhookJob
	if timer {
		jobs = append(jobs, linkguard.WebhookJob{ID: e.ID + ".expiry", MsgID: e.ID, Type: linkguard.EventLinkExpired,
			LinkID: e.LinkID, CreatedAt: now, NextAt: e.ExpiresAt})
	}
	if len(eps) == 0 {
		return jobs
	}
	if e.At.IsZero() {
		e.At = now
	}
	b, err := json.Marshal(body{Type: e.Type, Timestamp: e.At.UTC(), Data: e})
	if err != nil {
		d.log.Error("webhook body", "type", e.Type, "err", err)
		return jobs
	}
	for _, ep := range eps {
		jobs = append(jobs, linkguard.WebhookJob{ID: e.ID + "." + ep.name, MsgID: e.ID, Endpoint: ep.name,
			Type: e.Type, LinkID: e.LinkID, Body: b, CreatedAt: now, NextAt: now})
	}
	return jobs
}

// MaxPending implements linkguard.Webhooks: the bound of the queue.
func (d *Dispatcher) MaxPending() int { return d.opts.MaxPending }

// Notify is told of every event after its change is stored (the
// Service's Notify): the event's jobs are queued already, so it only
// wakes Run to deliver them now.
func (d *Dispatcher) Notify(ctx context.Context, e *linkguard.Event) { d.Wake() }

// enqueue queues the jobs of an event that no Store change carries (the
// expiry timer's link.expired) in a transaction of its own, bounded by
// max, and wakes Run. The Service's events come through Jobs instead.
func (d *Dispatcher) enqueue(ctx context.Context, e *linkguard.Event, max int) error {
	jobs := d.Jobs(e)
	if len(jobs) == 0 {
		return nil
	}
	if err := d.opts.Store.EnqueueWebhooks(context.WithoutCancel(ctx), jobs, max); err != nil {
		return err
	}
	d.Wake()
	return nil
}

// Wake makes Run look at the queue now.
func (d *Dispatcher) Wake() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// DefaultTimeout bounds one delivery unless Options.Timeout says
// otherwise.
const DefaultTimeout = 10 * time.Second

// lease is how long a claimed job is hidden from other claimers: past
// one POST's timeout, so a job is posted twice only after a crash.
func (d *Dispatcher) lease() time.Duration { return 3*d.opts.Timeout + 10*time.Second }

// Run delivers due jobs until ctx ends. Jobs in flight when it ends are
// retried after their lease, by this process's next start or another
// instance: at least once.
func (d *Dispatcher) Run(ctx context.Context) error {
	t := time.NewTicker(d.opts.Poll)
	defer t.Stop()
	sem := make(chan struct{}, d.opts.Workers)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		for {
			n, err := d.round(ctx, sem, &wg)
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				d.log.Error("webhook queue", "err", err)
				break
			}
			if n < d.opts.Workers {
				break
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		case <-d.wake:
		}
	}
}

// round claims at most Workers due jobs and starts them; it returns how
// many it claimed.
func (d *Dispatcher) round(ctx context.Context, sem chan struct{}, wg *sync.WaitGroup) (int, error) {
	jobs, err := d.opts.Store.DueWebhooks(ctx, d.opts.Now().UTC(), d.lease(), d.opts.Workers)
	if err != nil {
		return 0, err
	}
	for i := range jobs {
		j := jobs[i]
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			d.run(ctx, &j)
		}()
	}
	return len(jobs), nil
}

// run handles one claimed job: a timer, or a delivery.
func (d *Dispatcher) run(ctx context.Context, j *linkguard.WebhookJob) {
	if j.Endpoint == "" {
		d.timer(ctx, j)
		return
	}
	ep := d.byName[j.Endpoint]
	var err error
	if ep == nil {
		err = errors.New("the endpoint is no longer configured")
		j.Attempt = len(d.opts.Backoff) // give up now
	} else {
		err = d.post(ctx, ep, j)
	}
	now := d.opts.Now().UTC()
	if err != nil && ctx.Err() != nil && errors.Is(err, context.Canceled) {
		// Stopping cut the POST short: give the claim back, due now and
		// with no attempt counted, so that the next start (or another
		// instance) sends it at once instead of after the lease. A crash
		// gives nothing back; then the lease lapses.
		j.NextAt = now
		if err := d.opts.Store.UpdateWebhook(context.WithoutCancel(ctx), j, d.opts.Keep); err != nil {
			d.log.Error("webhook release", "id", j.MsgID, "err", err)
		}
		return
	}
	if err == nil {
		j.State, j.DoneAt, j.LastError = linkguard.WebhookDelivered, now, ""
	} else {
		j.Attempt++
		j.LastError = clip.String(err.Error(), 300)
		if j.Attempt > len(d.opts.Backoff) {
			j.State, j.DoneAt = linkguard.WebhookFailed, now
			d.log.Warn("webhook given up", "id", j.MsgID, "type", j.Type, "endpoint", j.Endpoint, "attempts", j.Attempt, "err", j.LastError)
		} else {
			j.NextAt = now.Add(d.opts.Backoff[j.Attempt-1])
			d.log.Info("webhook failed; will retry", "id", j.MsgID, "type", j.Type, "endpoint", j.Endpoint, "attempt", j.Attempt, "next_at", j.NextAt, "err", j.LastError)
		}
	}
	if err := d.opts.Store.UpdateWebhook(context.WithoutCancel(ctx), j, d.opts.Keep); err != nil {
		d.log.Error("webhook update", "id", j.MsgID, "err", err)
	}
}

// post sends one delivery; any answer but 2xx is a failure.
func (d *Dispatcher) post(ctx context.Context, ep *endpoint, j *linkguard.WebhookJob) error {
	ctx, cancel := context.WithTimeout(ctx, d.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.url, bytes.NewReader(j.Body))
	if err != nil {
		return err
	}
	ts := d.opts.Now()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "linkguard-webhooks")
	req.Header.Set(HeaderID, j.MsgID)
	req.Header.Set(HeaderTimestamp, fmt.Sprint(ts.Unix()))
	req.Header.Set(HeaderSignature, Sign(ep.secret, j.MsgID, ts, j.Body))
	resp, err := d.opts.Client.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("the receiver answered %s", resp.Status)
	}
	return nil
}

// timer looks at a link whose expiry is due: unused, it queues
// link.expired under the timer's message id and then marks the timer
// done. A crash in between runs the timer again, which queues the same
// job ids, which the queue keeps once (EnqueueWebhooks): sent once.
func (d *Dispatcher) timer(ctx context.Context, j *linkguard.WebhookJob) {
	bg := context.WithoutCancel(ctx)
	l, err := d.opts.Store.LinkByID(bg, j.LinkID)
	now := d.opts.Now().UTC()
	switch {
	case errors.Is(err, linkguard.ErrNotFound):
	case err != nil:
		d.log.Error("webhook timer", "link_id", j.LinkID, "err", err)
		return // the lease lapses; tried again
	case l.State == linkguard.Pending && l.StateAt(now) == linkguard.Expired:
		e := &linkguard.Event{ID: j.MsgID, Type: linkguard.EventLinkExpired, At: l.ExpiresAt,
			Email: l.Email, LinkID: l.ID, Purpose: l.Purpose, ExpiresAt: l.ExpiresAt}
		// Unbounded: the timer's place in the queue was counted already.
		if err := d.enqueue(bg, e, 0); err != nil {
			d.log.Error("webhook timer", "link_id", j.LinkID, "err", err)
			return // the lease lapses; tried again
		}
		if d.opts.Emit != nil {
			d.opts.Emit(bg, e) // the console's count
		}
	}
	j.State, j.DoneAt = linkguard.WebhookDelivered, now
	if err := d.opts.Store.UpdateWebhook(bg, j, time.Minute); err != nil {
		d.log.Error("webhook timer update", "link_id", j.LinkID, "err", err)
	}
}
