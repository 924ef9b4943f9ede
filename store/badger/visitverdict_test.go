package badger

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/fingerprint"
	"github.com/linkguard/linkguard/store/storetest"
)

// TestConsumedDecisionStoresItsVerdictOnce: the decision that consumed a
// link is stored without the verdict its link holds, marked, and the
// consumed link outlives it; any other decision is stored whole, and a
// link that was not consumed keeps its own time to live. (storetest's "a
// consumption's decision visit reads back with its verdict" checks what
// readers get.)
func TestConsumedDecisionStoresItsVerdictOnce(t *testing.T) {
	ctx := context.Background()
	now := time.Now().UTC()
	s := diskStore(t)
	v := fingerprint.Verdict{Decision: fingerprint.Consume, Score: 0.8, Config: "cfg-x", Rule: "rule",
		Signals: []fingerprint.Contribution{{Signal: "code", Value: 1, Weight: 1, Reason: "the code from the email was typed"}}}
	cases := []struct {
		name    string
		outcome linkguard.VisitOutcome
		consume bool
		once    bool
	}{
		{"the consumption", linkguard.VisitOutcomeConsumed, true, true},
		{"a refused decision", linkguard.VisitOutcomeRejected, true, false},
		{"a decision on a pending link", linkguard.VisitOutcomeCode, false, false},
	}
	links := make([]*linkguard.Link, len(cases))
	for i, c := range cases {
		l := storetest.NewLink(t, now, "fam-once-"+c.name)
		if err := s.CreateLink(ctx, l, nil, nil); err != nil {
			t.Fatal(err)
		}
		if !c.consume {
			links[i] = l
			if err := s.AddVisit(ctx, &linkguard.Visit{ID: "vis", LinkID: l.ID, At: now, Kind: linkguard.VisitConfirm,
				Outcome: c.outcome, Input: &fingerprint.Input{Now: now}, Verdict: &v}); err != nil {
				t.Fatal(err)
			}
			continue
		}
		h := &linkguard.Handoff{CodeHash: []byte(c.name), LinkID: l.ID, Email: l.Email, ConsumedAt: now, ExpiresAt: now.Add(time.Minute), Verdict: v}
		if _, err := s.ConsumeLink(ctx, l.ID, now, v, h, nil); c.consume && err != nil {
			t.Fatal(err)
		}
		vd := v
		if err := s.AddVisit(ctx, &linkguard.Visit{ID: "vis", LinkID: l.ID, At: now, Kind: linkguard.VisitCode,
			Outcome: c.outcome, Input: &fingerprint.Input{Now: now}, Verdict: &vd}); err != nil {
			t.Fatal(err)
		}
		links[i] = l
	}
	for i, c := range cases {
		l := links[i]
		var rec []byte
		var recExp, linkExp uint64
		deadline := time.Now().Add(5 * time.Second)
		for rec == nil && time.Now().Before(deadline) {
			err := s.db.View(func(txn *badger.Txn) error {
				it := txn.NewIterator(badger.IteratorOptions{Prefix: visitPrefix(l.ID)})
				defer it.Close()
				for it.Rewind(); it.Valid(); it.Next() {
					b, err := it.Item().ValueCopy(nil)
					if err != nil {
						return err
					}
					if rec, err = unpack(b); err != nil {
						return err
					}
					recExp = it.Item().ExpiresAt()
				}
				item, err := txn.Get(linkKey(l.ID))
				if err != nil {
					return err
				}
				linkExp = item.ExpiresAt()
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(5 * time.Millisecond)
		}
		if rec == nil {
			t.Fatalf("%s: no record written", c.name)
		}
		marked, hasSignals := bytes.Contains(rec, []byte(`"verdict_of_link":true`)), bytes.Contains(rec, []byte(`"signals"`))
		if c.once {
			if !marked || hasSignals {
				t.Errorf("%s: record %s: want it marked verdict_of_link, without the verdict", c.name, rec)
			}
		} else if marked || !hasSignals {
			t.Errorf("%s: record %s: want it whole, unmarked", c.name, rec)
		}
		switch {
		case c.consume && linkExp < recExp+3000:
			t.Errorf("%s: the consumed link expires at %d, its record at %d: want the link to outlive it by about an hour", c.name, linkExp, recExp)
		case !c.consume && (linkExp > uint64(time.Now().Add(s.ttl(l.ExpiresAt)+time.Minute).Unix()) || linkExp >= recExp):
			t.Errorf("%s: a pending link expires at %d (its record at %d): want expiry + retention, as before", c.name, linkExp, recExp)
		}
	}
}

// TestConsumptionWritesItsRecord: the decision's visit of a consumption
// (Outbox.Record) is in the consumption's own transaction: there when
// ConsumeLink returns, before any visit writer runs, and absent when the
// consumption is refused.
func TestConsumptionWritesItsRecord(t *testing.T) {
	ctx := context.Background()
	now := time.Now().UTC()
	s := diskStore(t)
	l := storetest.NewLink(t, now, "fam-record")
	if err := s.CreateLink(ctx, l, nil, nil); err != nil {
		t.Fatal(err)
	}
	v := fingerprint.Verdict{Decision: fingerprint.Consume, Score: 0.9}
	out := func() *linkguard.Outbox {
		return &linkguard.Outbox{Record: &linkguard.Visit{ID: "rec", LinkID: l.ID, At: now, Kind: linkguard.VisitConfirm,
			Outcome: linkguard.VisitOutcomeConsumed, Verdict: &v}}
	}
	h := &linkguard.Handoff{CodeHash: []byte("rec"), LinkID: l.ID, ConsumedAt: now, ExpiresAt: now.Add(time.Minute)}
	commits := s.commits.Load()
	if _, err := s.ConsumeLink(ctx, l.ID, now, v, h, out()); err != nil {
		t.Fatal(err)
	}
	if n := s.commits.Load() - commits; n != 1 {
		t.Errorf("the consumption made %d commits, want 1", n)
	}
	rec := storedValue(t, s, consumedVisitKey(l.ID))
	if rec == nil {
		t.Fatal("no record of the decision when ConsumeLink returned")
	}
	b, err := unpack(rec)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(`"verdict_of_link":true`)) || !bytes.Contains(b, []byte(`"id":"rec"`)) {
		t.Errorf("record %s: want the visit, marked verdict_of_link", b)
	}

	other := storetest.NewLink(t, now, "fam-record-refused")
	if err := s.CreateLink(ctx, other, nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RevokeLink(ctx, other.ID, now, linkguard.RevokeAPI, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ConsumeLink(ctx, other.ID, now, v, h, out()); err == nil {
		t.Fatal("a revoked link was consumed")
	}
	err = s.db.View(func(txn *badger.Txn) error {
		_, err := txn.Get(consumedVisitKey(other.ID))
		return err
	})
	if !errors.Is(err, badger.ErrKeyNotFound) {
		t.Errorf("a refused consumption's record: %v, want none", err)
	}
}
