package visitrec

import (
	"bytes"
	"reflect"
	"testing"
	"time"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/fingerprint"
)

// TestEncodeLeavesOnlyAConsumptionsVerdict: a consumption's record goes
// without its verdict and says so; every other record, and a record
// from before the mark, reads back whole.
func TestEncodeLeavesOnlyAConsumptionsVerdict(t *testing.T) {
	at := time.Date(2026, 12, 2, 17, 0, 0, 0, time.UTC)
	v := fingerprint.Verdict{Decision: fingerprint.Consume, Score: 0.5,
		Signals: []fingerprint.Contribution{{Signal: "code", Value: 1, Weight: 1, Reason: "the code from the email was typed"}}}
	for _, c := range []struct {
		outcome linkguard.VisitOutcome
		ofLink  bool
	}{
		{linkguard.VisitOutcomeConsumed, true},
		{linkguard.VisitOutcomeRejected, false},
		{linkguard.VisitOutcomeCode, false},
	} {
		in := linkguard.Visit{ID: "v1", LinkID: "lnk_1", At: at, Kind: linkguard.VisitCode, Outcome: c.outcome, UserAgent: "Mozilla/5.0", Verdict: &v}
		b, err := Encode(&in)
		if err != nil {
			t.Fatal(err)
		}
		if got := bytes.Contains(b, []byte("signals")); got == c.ofLink {
			t.Errorf("%s: record %s: the verdict is there: %v, want %v", c.outcome, b, got, !c.ofLink)
		}
		r, err := Decode(b)
		if err != nil {
			t.Fatalf("%s: %v", c.outcome, err)
		}
		if r.VerdictOfLink != c.ofLink {
			t.Errorf("%s: marked %v, want %v", c.outcome, r.VerdictOfLink, c.ofLink)
		}
		want := in
		if c.ofLink {
			want.Verdict = nil
		}
		if !reflect.DeepEqual(r.Visit, want) {
			t.Errorf("%s: read back %+v, want %+v", c.outcome, r.Visit, want)
		}
	}
	old, _ := linkguard.EncodeVisit(&linkguard.Visit{ID: "v0", Outcome: linkguard.VisitOutcomeConsumed, Verdict: &v})
	if r, err := Decode(old); err != nil || r.VerdictOfLink || r.Verdict == nil {
		t.Errorf("a record from before the mark: %+v, %v; want it whole", r, err)
	}
}

// TestConsumption: nothing without a Record; else a copy carrying the
// consumption's outcome, verdict and link, and the Record keeps its own
// fields but gains the ID the copy is stored under.
func TestConsumption(t *testing.T) {
	v := fingerprint.Verdict{Decision: fingerprint.Consume, Score: 0.7}
	if Consumption(nil, "lnk_1", v) != nil || Consumption(&linkguard.Outbox{}, "lnk_1", v) != nil {
		t.Fatal("a consumption without a Record records something")
	}
	at := time.Date(2026, 12, 2, 18, 0, 0, 0, time.UTC)
	vis := &linkguard.Visit{At: at, Kind: linkguard.VisitConfirm}
	rec := Consumption(&linkguard.Outbox{Record: vis}, "lnk_1", v)
	if vis.ID == "" || rec.ID != vis.ID {
		t.Errorf("IDs: Record %q, stored %q; want one, shared", vis.ID, rec.ID)
	}
	if rec == vis || rec.Outcome != linkguard.VisitOutcomeConsumed || rec.Verdict == nil || !reflect.DeepEqual(*rec.Verdict, v) {
		t.Errorf("stored %+v: want a copy, consumed, with the verdict", rec)
	}
	if rec.LinkID != "lnk_1" {
		t.Errorf("stored under link %q, want the consumed link lnk_1", rec.LinkID)
	}
	if vis.Outcome != "" || vis.Verdict != nil {
		t.Errorf("the Record changed beyond its ID: %+v", vis)
	}
	given := &linkguard.Visit{ID: "given", At: at}
	if rec := Consumption(&linkguard.Outbox{Record: given}, "lnk_1", v); rec.ID != "given" {
		t.Errorf("a Record's own ID became %q", rec.ID)
	}
}
