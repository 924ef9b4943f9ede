package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/fingerprint"
)

// visitsInOrder checks: visits are recorded in order and scanned.
func visitsInOrder(t *testing.T, open Open) {
	now := start()
	s := open(t)
	l := NewLink(t, now, "fam")
	s.CreateLink(ctx, l, nil, nil)
	for i := 0; i < 5; i++ {
		v := &linkguard.Visit{LinkID: l.ID, At: now.Add(time.Duration(i) * time.Second), Kind: linkguard.VisitView, Outcome: linkguard.VisitOutcomeNone}
		if err := s.AddVisit(ctx, v); err != nil {
			t.Fatal(err)
		}
	}
	got := WaitVisits(t, s, l.ID, 5)
	if len(got) != 5 {
		t.Fatalf("visits = %d, want 5", len(got))
	}
	for i := 1; i < len(got); i++ {
		if got[i].At.Before(got[i-1].At) {
			t.Fatalf("visits out of order: %v before %v", got[i-1].At, got[i].At)
		}
	}
	n := 0
	if err := s.ScanVisits(ctx, now.Add(2*time.Second), func(*linkguard.Visit) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Fatalf("scan since +2s saw %d visits, want 3", n)
	}
}

// WaitVisits is a link's visits once it has at least n, or after 5 s
// (visits are written in the background). A failed read fails t.
func WaitVisits(t testing.TB, s linkguard.Store, id string, n int) []linkguard.Visit {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, err := s.Visits(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) >= n || time.Now().After(deadline) {
			return got
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Sizer is what a store tells of one link's footprint, for the bounded
// size checks and the measurements in docs/performance.md.
type Sizer interface {
	// LinkBytes is what the link's records take in the store, keys and
	// values (Redis: MEMORY USAGE of its keys).
	LinkBytes(ctx context.Context, linkID string) (int64, error)
}

// MaxLinkBytes is the bound on one link's stored size that the suite
// holds every store to: its kept visits at their largest, its history,
// and a few KiB for the link itself and the stores' overheads.
const MaxLinkBytes = (linkguard.KeptViews+linkguard.KeptDecisions)*(linkguard.MaxVisitBytes+512) +
	linkguard.HistoryLen*(linkguard.MaxPastVisitBytes+64) + 64<<10

// waitHistory waits until the link's history ends with a visit at last:
// the visit writer is asynchronous.
func waitHistory(t *testing.T, s linkguard.Store, id string, last time.Time) []fingerprint.PastVisit {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		h, err := s.History(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if len(h) > 0 && h[len(h)-1].At.Equal(last) {
			return h
		}
		if time.Now().After(deadline) {
			t.Fatalf("history did not reach the last visit (%d entries)", len(h))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// visitsBounded checks: a link keeps its newest KeptViews views and
// KeptDecisions decisions, however many views came before them, and its
// history summary holds the newest HistoryLen visits, oldest first.
func visitsBounded(t *testing.T, open Open) {
	now := start()
	s := open(t)
	l := NewLink(t, now, "fam")
	s.CreateLink(ctx, l, nil, nil)
	var at time.Time
	add := func(i int, kind linkguard.VisitKind, outcome linkguard.VisitOutcome) {
		at = now.Add(time.Duration(i) * time.Millisecond)
		v := &linkguard.Visit{LinkID: l.ID, At: at, Kind: kind, Outcome: outcome, UserAgent: fmt.Sprint("ua", i), Scanner: "microsoft"}
		if err := s.AddVisit(ctx, v); err != nil {
			t.Fatal(err)
		}
	}
	i := 0
	for ; i < 250; i++ { // a link opened in a loop
		add(i, linkguard.VisitView, linkguard.VisitOutcomeNone)
	}
	for ; i < 400; i++ { // then decisions, among more views
		if i%3 == 0 {
			add(i, linkguard.VisitView, linkguard.VisitOutcomeNone)
		} else {
			add(i, linkguard.VisitVerify, linkguard.VisitOutcomeConfirm)
		}
	}
	add(i, linkguard.VisitCode, linkguard.VisitOutcomeConsumed) // the decision that matters
	h := waitHistory(t, s, l.ID, at)
	if len(h) != linkguard.HistoryLen {
		t.Fatalf("history has %d entries, want %d", len(h), linkguard.HistoryLen)
	}
	for j, e := range h {
		want := now.Add(time.Duration(i-linkguard.HistoryLen+1+j) * time.Millisecond)
		if !e.At.Equal(want) || e.Scanner != "microsoft" || e.UserAgent == "" {
			t.Fatalf("history[%d] = %+v, want the visit at %v with its scanner and UA", j, e, want)
		}
	}
	if h[len(h)-1].Kind != linkguard.VisitCode || h[len(h)-1].Outcome != linkguard.VisitOutcomeConsumed {
		t.Fatalf("last history entry %+v, want the code visit", h[len(h)-1])
	}
	if r, ok := s.(linkguard.LinkHistoryReader); ok {
		// The one-step read answers what the two reads answer.
		got, gh, err := r.LinkAndHistoryByTokenHash(ctx, l.TokenHash)
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != l.ID || !reflect.DeepEqual(gh, h) {
			t.Fatalf("LinkAndHistoryByTokenHash = %s, %d entries; want %s and History's %d", got.ID, len(gh), l.ID, len(h))
		}
		if _, _, err := r.LinkAndHistoryByTokenHash(ctx, []byte("no such token hash")); !errors.Is(err, linkguard.ErrNotFound) {
			t.Fatalf("LinkAndHistoryByTokenHash of an unknown token: %v, want ErrNotFound", err)
		}
		fresh := NewLink(t, now, "fam2")
		s.CreateLink(ctx, fresh, nil, nil)
		if _, fh, err := r.LinkAndHistoryByTokenHash(ctx, fresh.TokenHash); err != nil || fh == nil || len(fh) != 0 {
			t.Fatalf("LinkAndHistoryByTokenHash of a link never visited: %v, %v; want an empty history", fh, err)
		}
	}
	vs, err := s.Visits(ctx, l.ID)
	if err != nil {
		t.Fatal(err)
	}
	views, decisions := 0, 0
	for j, v := range vs {
		if j > 0 && v.At.Before(vs[j-1].At) {
			t.Fatalf("visits out of order at %d", j)
		}
		if v.Kind == linkguard.VisitView {
			views++
			if v.At.Before(now.Add(306 * time.Millisecond)) { // the newest 32 views: 306, 309, ... 399
				t.Fatalf("an old view was kept over newer ones: %v", v.At.Sub(now))
			}
		} else {
			decisions++
		}
	}
	if views != linkguard.KeptViews || decisions != linkguard.KeptDecisions {
		t.Fatalf("kept %d views and %d decisions, want %d and %d", views, decisions, linkguard.KeptViews, linkguard.KeptDecisions)
	}
	if last := vs[len(vs)-1]; last.Kind != linkguard.VisitCode || !last.At.Equal(at) {
		t.Fatalf("newest kept visit %+v, want the code decision", last)
	}
	n := 0
	if err := s.ScanVisits(ctx, now, func(v *linkguard.Visit) error {
		if v.LinkID == l.ID {
			n++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n != len(vs) {
		t.Fatalf("ScanVisits saw %d of the link's visits, Visits %d", n, len(vs))
	}
}

// maximalVisit is a decision record with every kind of field past its
// bound (the service cuts them to a few hundred bytes): 2 KiB strings
// everywhere, a history of HistoryLen entries with long user agents,
// about 60 KB in all.
func maximalVisit(linkID string, at time.Time) *linkguard.Visit {
	long := strings.Repeat("x", 2<<10)
	n := fingerprint.Network{Prefix: long, Country: long, City: long, ASOrg: long, TimeZone: long, Range: long, ASN: 8075}
	in := &fingerprint.Input{Stage: fingerprint.StageVerify, Now: at,
		Visitor: fingerprint.Visitor{Network: n, UserAgent: long, SecCHUA: long, AcceptLanguage: long},
		Report:  &fingerprint.Report{Device: fingerprint.Device{UserAgent: long, Platform: long}}}
	for i := 0; i < linkguard.HistoryLen; i++ {
		in.History = append(in.History, fingerprint.PastVisit{At: at, Kind: fingerprint.VisitView, UserAgent: long + long, Scanner: long})
	}
	v := fingerprint.Verdict{Decision: fingerprint.Code, Score: 0.1, Rule: "score below thresholds.confirm"}
	return &linkguard.Visit{LinkID: linkID, At: at, Kind: linkguard.VisitVerify, Outcome: linkguard.VisitOutcomeCode,
		Network: n, UserAgent: long, Scanner: long, Input: in, Verdict: &v}
}

// visitSizeBounded checks: 200 maximal decision records on one link (three
// times the ring) are each stored within MaxVisitBytes, keep their
// verdict, and leave the link within MaxLinkBytes when the store can say
// what it takes. The 1,000-visit run with latency and RSS is a measure
// (docs/performance.md), not a test.
func visitSizeBounded(t *testing.T, open Open) {
	now := start()
	s := open(t)
	l := NewLink(t, now, "fam")
	s.CreateLink(ctx, l, nil, nil)
	var at time.Time
	for i := 0; i < 200; i++ {
		at = now.Add(time.Duration(i) * time.Millisecond)
		if err := s.AddVisit(ctx, maximalVisit(l.ID, at)); err != nil {
			t.Fatal(err)
		}
		if i%100 == 99 { // let the writer keep up: a full queue drops (and this test counts)
			waitHistory(t, s, l.ID, at)
		}
	}
	h := waitHistory(t, s, l.ID, at)
	for _, e := range h {
		if b, _ := json.Marshal(e); len(b) > linkguard.MaxPastVisitBytes {
			t.Fatalf("history entry is %d bytes, over %d", len(b), linkguard.MaxPastVisitBytes)
		}
	}
	vs, err := s.Visits(ctx, l.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != linkguard.KeptDecisions {
		t.Fatalf("kept %d decision records, want %d", len(vs), linkguard.KeptDecisions)
	}
	for _, v := range vs {
		b, _ := json.Marshal(&v)
		if len(b) > linkguard.MaxVisitBytes || !v.Trimmed || v.Verdict == nil || v.Verdict.Decision != fingerprint.Code {
			t.Fatalf("stored visit: %d bytes (max %d), trimmed %v, verdict %+v", len(b), linkguard.MaxVisitBytes, v.Trimmed, v.Verdict)
		}
	}
	if sz, ok := s.(Sizer); ok {
		n, err := sz.LinkBytes(ctx, l.ID)
		if err != nil {
			t.Fatal(err)
		}
		if n > MaxLinkBytes {
			t.Fatalf("the link takes %d bytes after 200 maximal visits, over the bound %d", n, MaxLinkBytes)
		}
		t.Logf("one link after 200 maximal visits: %d bytes (bound %d)", n, MaxLinkBytes)
	}
}

// consumedDecisionHasItsVerdict checks: the decision visit that consumed
// a link reads back, from Visits and ScanVisits, with its whole verdict
// (a store may keep it once, with the link: Store.AddVisit), and any
// other decision with its own.
func consumedDecisionHasItsVerdict(t *testing.T, open Open) {
	now := start()
	s := open(t)
	v := fingerprint.Verdict{Decision: fingerprint.Consume, Score: 0.7, Automation: 1, Compatibility: 0.4,
		Config: "cfg-test", Rule: "the code from the email was typed",
		Signals: []fingerprint.Contribution{
			{Signal: "code", Value: 1, Weight: 1, Reason: "the code from the email was typed"},
			{Signal: "timing", Axis: "automation", Value: -0.4, Weight: 1, Reason: "opened 3 s after issue"},
			{Signal: "ua", Axis: "compatibility", Value: 0.5, Weight: 1, Reason: "same browser family", Veto: false},
		}}
	other := v
	other.Decision, other.Score, other.Signals = fingerprint.Confirm, 0.1, v.Signals[1:]
	var ids []string
	want := map[string]fingerprint.Verdict{}
	for i, vv := range []fingerprint.Verdict{v, other} {
		l := NewLink(t, now, fmt.Sprintf("fam-verdict-%d", i))
		if err := s.CreateLink(ctx, l, nil, nil); err != nil {
			t.Fatal(err)
		}
		outcome := linkguard.VisitOutcomeConfirm // the second: a decision on a pending link
		if i == 0 {
			h := &linkguard.Handoff{CodeHash: []byte(fmt.Sprintf("hv%d", i)), LinkID: l.ID, Email: l.Email, ConsumedAt: now, ExpiresAt: now.Add(time.Minute), Verdict: v}
			if _, err := s.ConsumeLink(ctx, l.ID, now, v, h, nil); err != nil {
				t.Fatal(err)
			}
			outcome = linkguard.VisitOutcomeConsumed
		}
		cp := vv // the visit's own copy, as the service hands it over
		cp.Signals = append([]fingerprint.Contribution(nil), vv.Signals...)
		in := &fingerprint.Input{Stage: fingerprint.StageConfirm, Now: now}
		if err := s.AddVisit(ctx, &linkguard.Visit{ID: fmt.Sprintf("vis-%d", i), LinkID: l.ID, At: now, Kind: linkguard.VisitCode,
			Outcome: outcome, UserAgent: "Mozilla/5.0", Input: in, Verdict: &cp}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, l.ID)
		want[l.ID] = vv
	}
	for _, id := range ids {
		got := WaitVisits(t, s, id, 1)
		if len(got) != 1 {
			t.Fatalf("link %s: %d visits, want 1", id, len(got))
		}
		if got[0].Verdict == nil || !reflect.DeepEqual(*got[0].Verdict, want[id]) {
			t.Errorf("link %s: Visits gives verdict %+v, want %+v", id, got[0].Verdict, want[id])
		}
		if got[0].Input == nil || got[0].Input.Stage != fingerprint.StageConfirm || got[0].UserAgent != "Mozilla/5.0" {
			t.Errorf("link %s: the rest of the visit changed: %+v", id, got[0])
		}
	}
	seen := 0
	if err := s.ScanVisits(ctx, now, func(vis *linkguard.Visit) error {
		w, ok := want[vis.LinkID]
		if !ok {
			return nil
		}
		seen++
		if vis.Verdict == nil || !reflect.DeepEqual(*vis.Verdict, w) {
			t.Errorf("link %s: ScanVisits gives verdict %+v, want %+v", vis.LinkID, vis.Verdict, w)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if seen != 2 {
		t.Errorf("ScanVisits saw %d of the 2 visits", seen)
	}
}

// consumptionRecordsItsDecision checks: a consumption given its
// decision's visit (Outbox.Record) records it, once, with the
// consumption's verdict; a refused consumption or a wrong code records
// nothing of it.
func consumptionRecordsItsDecision(t *testing.T, open Open) {
	now := start()
	s := open(t)
	v := fingerprint.Verdict{Decision: fingerprint.Consume, Score: 0.6, Config: "cfg-rec",
		Signals: []fingerprint.Contribution{{Signal: "code", Value: 1, Weight: 1, Reason: "the code from the email was typed"}}}
	rec := func(id, vid string) *linkguard.Outbox {
		return &linkguard.Outbox{Record: &linkguard.Visit{ID: vid, LinkID: id, At: now, Kind: linkguard.VisitCode,
			Outcome: linkguard.VisitOutcomeConsumed, UserAgent: "Mozilla/5.0", Input: &fingerprint.Input{Now: now}, Verdict: &v}}
	}
	byClick, byCode := NewLink(t, now, "fam-rec-click"), NewLink(t, now, "fam-rec-code")
	for _, l := range []*linkguard.Link{byClick, byCode} {
		if err := s.CreateLink(ctx, l, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	h := func(n string) *linkguard.Handoff {
		return &linkguard.Handoff{CodeHash: []byte(n), LinkID: byClick.ID, ConsumedAt: now, ExpiresAt: now.Add(time.Minute), Verdict: v}
	}
	if _, err := s.ConsumeLink(ctx, byClick.ID, now, v, h("rc1"), rec(byClick.ID, "click-1")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ConsumeLink(ctx, byClick.ID, now, v, h("rc2"), rec(byClick.ID, "click-2")); !errors.Is(err, linkguard.ErrNotPending) {
		t.Fatalf("second consume: %v, want ErrNotPending", err)
	}
	if _, err := s.ConsumeWithCode(ctx, byCode.ID, []byte("wrong"), 5, now, v, h("rc3"), rec(byCode.ID, "code-wrong")); !errors.Is(err, linkguard.ErrWrongCode) {
		t.Fatalf("wrong code: %v, want ErrWrongCode", err)
	}
	if _, err := s.ConsumeWithCode(ctx, byCode.ID, byCode.CodeHash, 5, now, v, h("rc4"), rec(byCode.ID, "code-right")); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]string{byClick.ID: "click-1", byCode.ID: "code-right"} {
		WaitVisits(t, s, id, 1)
		time.Sleep(50 * time.Millisecond) // anything that would come after it
		got, _ := s.Visits(ctx, id)
		if len(got) != 1 || got[0].ID != want {
			t.Fatalf("link %s: visits %+v, want the one record %s", id, got, want)
		}
		if got[0].Outcome != linkguard.VisitOutcomeConsumed || got[0].Verdict == nil || !reflect.DeepEqual(*got[0].Verdict, v) || got[0].UserAgent != "Mozilla/5.0" {
			t.Errorf("link %s: record %+v (verdict %+v), want it consumed with the consumption's verdict", id, got[0], got[0].Verdict)
		}
	}
}
