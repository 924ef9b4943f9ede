package admin

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/linkguard/linkguard"
)

// The counter names kept per hour in the store (linkguard.Counts).
const (
	cIssued      = "issued"
	cConsumed    = "consumed." // + cookie, click, code
	cExpired     = "expired"   // unused
	cRevoked     = "revoked"
	cLocked      = "locked"
	cBlocked     = "blocked"   // link.scanner_blocked
	cScanner     = "scanner."  // + vendor: visits attributed to a known mail filter
	cDecision    = "decision." // + kind "." decision
	cMailFailed  = "mail.failed"
	cMailSent    = "mail.sent"
	maxCounterNm = 80
)

// Counter keeps the console's per-hour counts: it adds what the Service
// tells it in memory and flushes the sums to the store every few seconds,
// so the request path never waits for the store. NB: what was not flushed
// when the process dies is lost; counts are evidence, not state.
type Counter struct {
	store linkguard.Counts
	log   *slog.Logger
	now   func() time.Time
	mu    sync.Mutex
	hours map[time.Time]map[string]int64
}

// NewCounter returns a Counter over store; Run flushes it.
func NewCounter(store linkguard.Counts, log *slog.Logger) *Counter {
	if log == nil {
		log = slog.Default()
	}
	return &Counter{store: store, log: log, now: time.Now, hours: map[time.Time]map[string]int64{}}
}

func (c *Counter) add(at time.Time, name string, n int64) {
	if len(name) > maxCounterNm {
		name = name[:maxCounterNm]
	}
	h := at.UTC().Truncate(time.Hour)
	c.mu.Lock()
	m := c.hours[h]
	if m == nil {
		m = map[string]int64{}
		c.hours[h] = m
	}
	m[name] += n
	c.mu.Unlock()
}

// Event counts a service event (the Service's Notify).
func (c *Counter) Event(_ context.Context, e *linkguard.Event) {
	switch e.Type {
	case linkguard.EventLinkIssued:
		c.add(e.At, cIssued, 1)
	case linkguard.EventLinkConsumed:
		c.add(e.At, cConsumed+string(e.Via), 1)
	case linkguard.EventLinkExpired:
		c.add(e.At, cExpired, 1)
	case linkguard.EventLinkRevoked:
		c.add(e.At, cRevoked, 1)
	case linkguard.EventLinkLocked:
		c.add(e.At, cLocked, 1)
	case linkguard.EventScannerBlocked:
		c.add(e.At, cBlocked, 1)
	case linkguard.EventMailFailed:
		c.add(e.At, cMailFailed, 1)
	}
}

// Visit counts a recorded visit (the Service's Visited): scanner vendors
// and decisions by stage.
func (c *Counter) Visit(v *linkguard.Visit) {
	if v.Scanner != "" {
		c.add(v.At, cScanner+v.Scanner, 1)
	}
	if v.Verdict != nil {
		c.add(v.At, cDecision+string(v.Kind)+"."+string(v.Verdict.Decision), 1)
	}
}

// MailSent counts an email handed to the mail server.
func (c *Counter) MailSent(at time.Time) { c.add(at, cMailSent, 1) }

// Flush writes the sums to the store. What fails to be written is kept
// for the next flush.
func (c *Counter) Flush(ctx context.Context) {
	c.mu.Lock()
	hours := c.hours
	c.hours = map[time.Time]map[string]int64{}
	c.mu.Unlock()
	for h, m := range hours {
		if err := c.store.AddCounts(ctx, h, m); err != nil {
			c.log.Warn("console counts", "err", err)
			for n, v := range m {
				c.add(h, n, v)
			}
		}
	}
}

// Run flushes every interval until ctx ends, then once more.
func (c *Counter) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			c.Flush(context.WithoutCancel(ctx))
			return
		case <-t.C:
			c.Flush(ctx)
		}
	}
}
