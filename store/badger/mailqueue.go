package badger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/linkguard/linkguard"
)

// mailJob is a queued email (key m/<link id>).
type mailJob struct {
	Attempt int       `json:"attempt"`
	NextAt  time.Time `json:"next_at"`
	Payload []byte    `json:"payload"` // sealed by the service
	Expires time.Time `json:"expires"`
}

func mailKey(id string) []byte { return []byte(prefixMail + id) }

// dueKey orders jobs by next attempt time: q/<20-digit unix nanos>/<id>.
func dueKey(at time.Time, id string) []byte {
	return []byte(fmt.Sprintf("%s%020d/%s", prefixDue, at.UnixNano(), id))
}

func (s *Store) putJob(txn *badger.Txn, id string, j *mailJob) error {
	b, err := json.Marshal(j)
	if err != nil {
		return err
	}
	ttl := s.ttl(j.Expires)
	if err := txn.SetEntry(badger.NewEntry(mailKey(id), b).WithTTL(ttl)); err != nil {
		return err
	}
	return txn.SetEntry(badger.NewEntry(dueKey(j.NextAt, id), nil).WithTTL(ttl))
}

// DueMail implements linkguard.MailQueue.
func (s *Store) DueMail(ctx context.Context, now time.Time, lease time.Duration, max int) ([]linkguard.QueuedMail, error) {
	var out []linkguard.QueuedMail
	err := s.update(func(txn *badger.Txn) error {
		out = out[:0]
		o := badger.DefaultIteratorOptions
		o.PrefetchValues = false
		o.Prefix = []byte(prefixDue)
		it := txn.NewIterator(o)
		var keys [][]byte
		for it.Rewind(); it.Valid() && len(keys) < max; it.Next() {
			k := it.Item().KeyCopy(nil)
			if string(k) > string(dueKey(now, "\xff")) {
				break
			}
			keys = append(keys, k)
		}
		it.Close()
		for _, k := range keys {
			id := string(k[len(prefixDue)+21:])
			var j mailJob
			if err := getJSON(txn, mailKey(id), &j); errors.Is(err, linkguard.ErrNotFound) {
				if err := txn.Delete(k); err != nil { // an index entry that outlived its job
					return err
				}
				continue
			} else if err != nil {
				return err
			}
			if err := txn.Delete(k); err != nil {
				return err
			}
			j.NextAt = now.Add(lease)
			if err := s.putJob(txn, id, &j); err != nil {
				return err
			}
			out = append(out, linkguard.QueuedMail{LinkID: id, Attempt: j.Attempt, Payload: j.Payload})
		}
		return nil
	})
	return out, err
}

// finishJob loads a job and its link, lets fn change both, and writes them.
// When fn gives the job up (keep false) with a failure, ob's jobs are
// queued in the same transaction (mail.failed).
func (s *Store) finishJob(id string, ob *outbox, fn func(j *mailJob, d *linkguard.Delivery) (keep bool)) error {
	defer s.lock(prefixLink + id)()
	defer s.links.invalidate(id)
	err := s.update(func(txn *badger.Txn) error {
		ob.reset()
		var j mailJob
		if err := getJSON(txn, mailKey(id), &j); err != nil {
			return fmt.Errorf("mail job %s: %w", id, err)
		}
		if err := txn.Delete(dueKey(j.NextAt, id)); err != nil {
			return err
		}
		var l linkguard.Link
		lerr := getLink(txn, linkKey(id), &l)
		if lerr != nil && !errors.Is(lerr, linkguard.ErrNotFound) {
			return lerr
		}
		d := &linkguard.Delivery{}
		if l.Delivery != nil {
			d = l.Delivery
		}
		keep := fn(&j, d)
		if lerr == nil {
			l.Delivery = d
			if err := s.putLink(txn, &l); err != nil {
				return err
			}
		}
		if !keep {
			if err := ob.write(s, txn, false); err != nil {
				return err
			}
			return txn.Delete(mailKey(id))
		}
		return s.putJob(txn, id, &j)
	})
	ob.done(s, err)
	return err
}

// MarkMailSent implements linkguard.MailQueue.
func (s *Store) MarkMailSent(ctx context.Context, id string, at time.Time) error {
	return s.finishJob(id, &outbox{}, func(j *mailJob, d *linkguard.Delivery) bool {
		d.State, d.SentAt, d.NextAt, d.LastError = linkguard.DeliverySent, at, time.Time{}, ""
		d.Attempts = j.Attempt + 1
		return false
	})
}

// MarkMailFailed implements linkguard.MailQueue.
func (s *Store) MarkMailFailed(ctx context.Context, id string, attempt int, next time.Time, lastErr string, permanent bool, out *linkguard.Outbox) error {
	if !permanent {
		out = nil
	}
	ob, err := s.outbox(out)
	if err != nil {
		return err
	}
	return s.finishJob(id, ob, func(j *mailJob, d *linkguard.Delivery) bool {
		j.Attempt, j.NextAt = attempt, next
		d.Attempts, d.LastError = attempt, lastErr
		if permanent {
			d.State, d.NextAt = linkguard.DeliveryFailed, time.Time{}
			return false
		}
		d.State, d.NextAt = linkguard.DeliveryRetrying, next
		return true
	})
}

// MarkMailCanceled implements linkguard.MailQueue.
func (s *Store) MarkMailCanceled(ctx context.Context, id string, attempts int, reason string) error {
	return s.finishJob(id, &outbox{}, func(j *mailJob, d *linkguard.Delivery) bool {
		d.State, d.Attempts, d.LastError = linkguard.DeliveryCanceled, attempts, reason
		d.SentAt, d.NextAt = time.Time{}, time.Time{}
		return false
	})
}
