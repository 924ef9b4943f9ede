package storetest

import (
	"testing"
	"time"

	"github.com/linkguard/linkguard"
)

// visitsInOrder checks: visits are recorded in order and scanned.
func visitsInOrder(t *testing.T, open Open) {
	now := start()
	s := open(t)
	l := NewLink(t, now, "fam")
	s.CreateLink(ctx, l, nil)
	for i := 0; i < 5; i++ {
		v := &linkguard.Visit{LinkID: l.ID, At: now.Add(time.Duration(i) * time.Second), Kind: linkguard.VisitView, Outcome: linkguard.VisitOutcomeNone}
		if err := s.AddVisit(ctx, v); err != nil {
			t.Fatal(err)
		}
	}
	var got []linkguard.Visit
	deadline := time.Now().Add(5 * time.Second)
	for len(got) < 5 && time.Now().Before(deadline) {
		got, _ = s.Visits(ctx, l.ID)
		time.Sleep(5 * time.Millisecond)
	}
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
