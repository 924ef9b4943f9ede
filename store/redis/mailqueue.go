package redis

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/linkguard/linkguard"
)

// DueMail implements linkguard.MailQueue: one script takes the due ids
// from the queue (ZRANGEBYSCORE) and moves each to the end of its lease,
// so two instances never claim the same job within a lease.
func (s *Store) DueMail(ctx context.Context, now time.Time, lease time.Duration, max int) ([]linkguard.QueuedMail, error) {
	if max <= 0 {
		return nil, nil
	}
	reply, err := dueMailScript.Run(ctx, s.rdb, []string{s.queueKey()},
		now.UnixMilli(), now.Add(lease).UnixMilli(), max, s.prefix+prefixMail).Slice()
	if err != nil {
		return nil, fmt.Errorf("claim mail: %w", err)
	}
	out := make([]linkguard.QueuedMail, 0, len(reply)/3)
	for i := 0; i+2 < len(reply); i += 3 {
		id, _ := reply[i].(string)
		a, _ := reply[i+1].(string)
		payload, _ := reply[i+2].(string)
		attempt, err := strconv.Atoi(a)
		if err != nil {
			return nil, fmt.Errorf("claim mail: job %s: attempt %q", id, a)
		}
		out = append(out, linkguard.QueuedMail{LinkID: id, Attempt: attempt, Payload: []byte(payload)})
	}
	return out, nil
}

// finishJob runs finishMailScript: the job and its link's Delivery change
// together, and out is queued when the mail is given up (mode failed).
func (s *Store) finishJob(ctx context.Context, id, mode, before, after string, attempt int, next time.Time, out *linkguard.Outbox) error {
	keys, args, err := s.outboxArgs([]string{s.mailKey(id), s.queueKey(), s.linkKey(id)},
		[]any{id, mode, before, after, attempt, next.UnixMilli()}, out)
	if err != nil {
		return err
	}
	reply, err := finishMailScript.Run(ctx, s.rdb, keys, args...).Int64Slice()
	if err != nil {
		return fmt.Errorf("mail job %s: %w", id, err)
	}
	if len(reply) == 0 || reply[0] == 0 {
		return fmt.Errorf("mail job %s: %w", id, linkguard.ErrNotFound)
	}
	if len(reply) > 1 {
		dropped(out, reply[1])
	}
	return nil
}

// MarkMailSent implements linkguard.MailQueue.
func (s *Store) MarkMailSent(ctx context.Context, id string, at time.Time) error {
	before, after, err := deliveryAround(linkguard.Delivery{State: linkguard.DeliverySent, SentAt: at})
	if err != nil {
		return err
	}
	return s.finishJob(ctx, id, "sent", before, after, 0, time.Time{}, nil)
}

// MarkMailFailed implements linkguard.MailQueue.
func (s *Store) MarkMailFailed(ctx context.Context, id string, attempt int, next time.Time, lastErr string, permanent bool, out *linkguard.Outbox) error {
	d := linkguard.Delivery{State: linkguard.DeliveryRetrying, Attempts: attempt, LastError: lastErr, NextAt: next}
	mode := "retry"
	if permanent {
		d.State, d.NextAt, mode = linkguard.DeliveryFailed, time.Time{}, "failed"
	}
	b, err := fragment(d)
	if err != nil {
		return err
	}
	if !permanent {
		out = nil
	}
	return s.finishJob(ctx, id, mode, b, "", attempt, next, out)
}

// MarkMailCanceled implements linkguard.MailQueue: the job ends as a
// given-up one does, without its outbox.
func (s *Store) MarkMailCanceled(ctx context.Context, id string, attempts int, reason string) error {
	b, err := fragment(linkguard.Delivery{State: linkguard.DeliveryCanceled, Attempts: attempts, LastError: reason})
	if err != nil {
		return err
	}
	return s.finishJob(ctx, id, "canceled", b, "", attempts, time.Time{}, nil)
}
