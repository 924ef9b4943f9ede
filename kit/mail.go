package kit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/mssola/useragent"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/fingerprint"
	"github.com/linkguard/linkguard/mail"
)

// setupMail wires email: SMTP when configured, the outbox in dev mode, and
// the deliverer over the store's queue. It reports whether links can be
// mailed at all.
func (k *Kit) setupMail(opts Options, keys *linkguard.Keys) (bool, error) {
	if opts.SMTPURL == "" && !opts.Dev {
		return false, nil
	}
	r, err := mail.NewLocalizedRenderer(opts.MailTemplatesDir, k.catalog)
	if err != nil {
		return false, fmt.Errorf("mail templates: %w", err)
	}
	from := opts.MailFrom
	var t mail.Transport
	if opts.SMTPURL != "" {
		cfg, err := mail.ParseURL(opts.SMTPURL)
		if err != nil {
			return false, fmt.Errorf("LINKGUARD_SMTP_URL: %w", err)
		}
		s, err := mail.NewSender(cfg, from, r)
		if err != nil {
			return false, fmt.Errorf("mail: %w", err)
		}
		t = s
	} else {
		t = devLog{k.log} // dev mode without SMTP: the link goes to the log
	}
	if opts.Dev {
		k.Outbox = mail.NewOutbox(0, r, t)
		t = k.Outbox
	}
	sealer := keys.Sealer()
	d := mail.NewDeliverer(queue{st: k.store, sealer: sealer, hooks: &k.mailHooks}, t)
	d.Logger = k.log
	k.deliver = d

	product := opts.Brand.Name
	k.Service.Mail = func(l *linkguard.Link, req *linkguard.IssueRequest, link, code string) ([]byte, error) {
		m := mail.Message{
			To: l.Email, Purpose: mail.Purpose(l.Purpose.OrDefault()), Locale: l.Locale, ProductName: product, LinkURL: link, Code: code,
			ExpiresAt: l.ExpiresAt, RequestedAt: l.CreatedAt, SupportAddress: opts.Brand.Support,
			Origin: describeOrigin(l.Requester.UserAgent, l.Requester.Network.City, l.Requester.Network.Country),
			City:   l.Requester.Network.City, Country: l.Requester.Network.Country,
			Accent: opts.Brand.Accent,
		}
		if ua := fingerprint.ParseUA(l.Requester.UserAgent); !ua.Empty {
			if ua.Browser != fingerprint.BrowserUnknown {
				m.Browser = ua.Browser.String()
			}
			if ua.OS != fingerprint.OSUnknown {
				m.OS = ua.OS.String()
			}
		}
		b, err := json.Marshal(m)
		if err != nil {
			return nil, err
		}
		return sealer.Seal(b, l.ID)
	}
	k.Service.MailQueued = d.Kick
	return true, nil
}

// describeOrigin says where a request came from, as a person would:
// "Chrome on Windows, near London".
func describeOrigin(ua, city, country string) string {
	s := ""
	if ua != "" {
		p := useragent.New(ua)
		name, _ := p.Browser()
		os := p.OSInfo().Name
		switch {
		case name != "" && os != "":
			s = name + " on " + os
		case name != "":
			s = name
		}
	}
	place := city
	if place == "" {
		place = country
	}
	if place != "" {
		if s == "" {
			return "near " + place
		}
		s += ", near " + place
	}
	return s
}

// mailStore is what queue needs of the store: its mail queue, and the
// link a job mails, to see whether the mail is still wanted.
type mailStore interface {
	linkguard.MailQueue
	LinkByID(ctx context.Context, id string) (*linkguard.Link, error)
}

// queue adapts the store's sealed mail queue to the mailer's Queue.
type queue struct {
	st     mailStore
	sealer *linkguard.Sealer
	hooks  *mailHooks // set after the queue is made (admin.go)
}

func (q queue) Due(ctx context.Context, now time.Time, lease time.Duration, max int) ([]mail.Job, error) {
	due, err := q.st.DueMail(ctx, now, lease, max)
	if err != nil {
		return nil, err
	}
	jobs := make([]mail.Job, 0, len(due))
	for _, d := range due {
		var m mail.Message
		plain, err := q.sealer.Open(d.Payload, d.LinkID)
		if err == nil {
			err = json.Unmarshal(plain, &m)
		}
		if err != nil {
			// A payload sealed under another server key can never be sent.
			q.MarkFailed(ctx, d.LinkID, d.Attempt+1, time.Time{}, "queued mail cannot be read: "+err.Error(), true)
			continue
		}
		jobs = append(jobs, mail.Job{ID: d.LinkID, Attempt: d.Attempt, Message: m})
	}
	return jobs, nil
}

func (q queue) MarkSent(ctx context.Context, id string, at time.Time) error {
	err := q.st.MarkMailSent(ctx, id, at)
	if err == nil && q.hooks.sent != nil {
		q.hooks.sent(at)
	}
	return err
}

func (q queue) MarkFailed(ctx context.Context, id string, attempt int, next time.Time, lastErr string, permanent bool) error {
	// Given up: mail.failed, queued for webhooks with the job's end.
	var ev *linkguard.Event
	var out *linkguard.Outbox
	if svc := q.hooks.svc; permanent && svc != nil {
		ev = &linkguard.Event{Type: linkguard.EventMailFailed, LinkID: id, Attempts: attempt,
			Error: redactAddresses(lastErr)}
		out = svc.Outbox(ev, nil)
	}
	err := q.st.MarkMailFailed(ctx, id, attempt, next, lastErr, permanent, out)
	if err == nil && ev != nil {
		q.hooks.svc.Emit(ctx, ev)
	}
	return err
}

// Canceled implements mail.Queue: a link's mail is wanted while the link
// is pending; the reason names what ended it (for a revoked link, what
// revoked it, when the link recorded that). It is the same for every store, so it lives here and not in
// the stores' queues: one read of the link, which Badger's link cache
// often answers.
func (q queue) Canceled(ctx context.Context, id string) (string, error) {
	l, err := q.st.LinkByID(ctx, id)
	if errors.Is(err, linkguard.ErrNotFound) {
		// Past its retention: it expired long ago.
		return "the link no longer exists", nil
	}
	if err != nil {
		return "", err
	}
	switch l.State {
	case linkguard.Pending:
		return "", nil
	case linkguard.Revoked:
		if w := l.RevokeReason.Words(); w != "" {
			return "the link was " + w + " before its mail was sent", nil
		}
		// Revoked before reasons were recorded.
		return "the link was revoked (by the host, or by a newer link for the same address) before its mail was sent", nil
	case linkguard.Consumed:
		return "the link was used before its mail was sent", nil
	default:
		return fmt.Sprintf("the link was %s before its mail was sent", l.State), nil
	}
}

// MarkCanceled implements mail.Queue. It queues no event, so no
// mail.failed: nothing failed. mail.failed tells the host that a person
// is left without their link; here the host revoked the link itself, or
// issued a newer one that has its own mail, or an operator's restore
// ended it, and a host acting on mail.failed (offering to send again,
// say) would act on a link it meant to end.
func (q queue) MarkCanceled(ctx context.Context, id string, attempts int, reason string) error {
	return q.st.MarkMailCanceled(ctx, id, attempts, reason)
}

// devLog is the transport of dev mode without SMTP: the outbox keeps the
// mail, and the log says where to read it. NB: not the link, whose token
// is a secret in dev mode too (logs get copied into tickets and chats).
type devLog struct{ log *slog.Logger }

func (d devLog) Send(ctx context.Context, m mail.Message) error {
	d.log.Info("dev mail kept in the outbox (no SMTP configured): open /dev/outbox", "to", m.To)
	return nil
}
