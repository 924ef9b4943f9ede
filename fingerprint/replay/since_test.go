package replay

import (
	"strings"
	"testing"
	"time"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/fingerprint"
)

// TestParseSince: the one since of the API, the console and the CLI. The
// server once read "1.5d" and "0" where the CLI refused them; both refuse.
func TestParseSince(t *testing.T) {
	now := time.Date(2026, 3, 9, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Time
		err  string // part of the error; "" for none
	}{
		{"168h", now.Add(-168 * time.Hour), ""},
		{"7d", now.Add(-168 * time.Hour), ""},
		{" 7d ", now.Add(-168 * time.Hour), ""},
		{"90m", now.Add(-90 * time.Minute), ""},
		{"2026-03-02T00:00:00Z", time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC), ""},
		{"2026-03-02T01:00:00+01:00", time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC), ""},
		{"0s", time.Time{}, "positive duration"},
		{"0", time.Time{}, "positive duration"},
		{"-1h", time.Time{}, "positive duration"},
		{"0d", time.Time{}, "RFC 3339"},
		{"1.5d", time.Time{}, "RFC 3339"},
		{"-2d", time.Time{}, "RFC 3339"},
		{"2026-03-02", time.Time{}, "RFC 3339"},
		{"", time.Time{}, "RFC 3339"},
		{"yesterday", time.Time{}, `"yesterday"`},
		{strings.Repeat("x", 1000), time.Time{}, "…"},
	} {
		got, err := ParseSince(tc.in, now)
		switch {
		case tc.err == "" && (err != nil || !got.Equal(tc.want)):
			t.Errorf("ParseSince(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("ParseSince(%q) = %v, %v; want an error with %q", tc.in, got, err, tc.err)
		case err != nil && len(err.Error()) > 200:
			t.Errorf("ParseSince(%q): the error quotes too much (%d bytes)", tc.in[:10], len(err.Error()))
		}
	}
}

func TestFromVisit(t *testing.T) {
	at := time.Date(2026, 3, 9, 12, 0, 0, 0, time.UTC)
	in, v := &fingerprint.Input{}, &fingerprint.Verdict{Decision: fingerprint.Code}
	ev, ok := FromVisit(&linkguard.Visit{ID: "v1", LinkID: "l1", At: at, Kind: linkguard.VisitCode, Input: in, Verdict: v})
	if !ok || ev.ID != "v1" || ev.LinkID != "l1" || !ev.At.Equal(at) || ev.Kind != linkguard.VisitCode || ev.Verdict.Decision != fingerprint.Code {
		t.Fatalf("%+v %v", ev, ok)
	}
	if _, ok := FromVisit(&linkguard.Visit{ID: "view", Kind: linkguard.VisitView}); ok {
		t.Fatal("a page view became an event")
	}
}
