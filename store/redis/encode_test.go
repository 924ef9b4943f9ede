package redis

import (
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/fingerprint"
)

// TestLinkLayout: a link with every part set, cut by encodeLink and
// assembled again from its fields (as a reader does), is byte for byte
// what encoding/json writes. It stands for the layout check that
// CreateLink made at run time: the layout is the Link type's, fixed at
// build time, and a change to Link that moves a part fails here.
func TestLinkLayout(t *testing.T) {
	at := time.Date(2026, 12, 2, 6, 0, 0, 123456789, time.FixedZone("", 3600))
	l := &linkguard.Link{
		ID: "lnk_1", Email: "a@example.com", RedirectURL: "https://app.example.com/cb?a=1&b=</script>",
		Metadata: json.RawMessage(`{"state":"pending","tags":[],"n":1.5e3}`), Purpose: "login", Locale: "fr",
		Family: "fam", TokenHash: []byte{1, 2}, CodeHash: []byte{3, 4}, BindingHash: []byte{5},
		Requester: fingerprint.Requester{UserAgent: `UA ,"state":"x"`, HasBinding: true, At: at},
		State:     linkguard.Consumed, CreatedAt: at, ExpiresAt: at.Add(time.Hour),
		ConsumedAt: at.Add(time.Minute), RevokedAt: at.Add(2 * time.Minute), RevokeReason: linkguard.RevokeConsole, CodeAttempts: 3,
		Verdict: &fingerprint.Verdict{Decision: fingerprint.Consume, Score: 0.5,
			Signals: []fingerprint.Contribution{{Signal: "code", Value: 1, Weight: 1, Reason: "typed"}}},
		Delivery: &linkguard.Delivery{State: "sent", Attempts: 2, SentAt: at},
	}
	want, err := json.Marshal(l)
	if err != nil {
		t.Fatal(err)
	}
	p, err := encodeLink(l)
	if err != nil {
		t.Fatal(err)
	}
	if string(p.json) != string(want) {
		t.Fatalf("encodeLink assembled\n%s\nencoding/json\n%s", p.json, want)
	}
	f := []any{string(p.json), strconv.Itoa(p.hl), p.mid, p.state, p.consumedAt, p.revokedAt, p.reason, p.attempts, p.verdict, p.delivery}
	js, ok, err := linkJSON(f)
	if err != nil || !ok || js != string(want) {
		t.Fatalf("linkJSON: %v, %v\n%s\nwant\n%s", ok, err, js, want)
	}
	if _, ok, err := linkJSON([]any{nil, nil}); ok || err != nil {
		t.Fatalf("a missing link: %v, %v", ok, err)
	}
	if _, _, err := linkJSON([]any{"{}", "9"}); err == nil {
		t.Fatal("an hl past the json: no error")
	}
}

// TestConsumptionHandoff: the handoff a consumption stores is what
// encoding/json writes for it, its verdict put in from the link's
// fragment when it is the same verdict, and encoded when not.
func TestConsumptionHandoff(t *testing.T) {
	at := time.Date(2026, 12, 2, 6, 0, 0, 0, time.UTC)
	v := fingerprint.Verdict{Decision: fingerprint.Consume, Score: 0.25, Config: "c", Rule: "r <&>",
		Signals: []fingerprint.Contribution{{Signal: "code", Value: 1, Weight: 1, Reason: "typed \"it\" <b>"}}}
	copied := v
	copied.Signals = append([]fingerprint.Contribution(nil), v.Signals...) // equal, not the same
	bare := fingerprint.Verdict{Decision: fingerprint.Consume}
	for _, tc := range []struct {
		name    string
		handoff fingerprint.Verdict // the handoff's
		link    fingerprint.Verdict // the link's
		same    bool
	}{
		{"the same verdict", v, v, true},
		{"an equal copy", v, copied, false},
		{"another score", v, fingerprint.Verdict{Decision: fingerprint.Consume, Score: 1, Signals: v.Signals}, false},
		{"no verdict", v, fingerprint.Verdict{}, false},
		{"no signals in both", bare, bare, true},
		{"nil and empty signals (null and [])", bare, fingerprint.Verdict{Decision: fingerprint.Consume, Signals: []fingerprint.Contribution{}}, false},
	} {
		h := &linkguard.Handoff{CodeHash: []byte{1}, LinkID: "lnk_1", Email: "a@example.com",
			Metadata: json.RawMessage(`{"a":[1,2],"s":"</script>"}`), Purpose: "login", ConsumedAt: at,
			ExpiresAt: at.Add(time.Minute), Verdict: tc.handoff}
		if got := sameVerdict(&h.Verdict, &tc.link); got != tc.same {
			t.Errorf("%s: sameVerdict = %v", tc.name, got)
		}
		c, err := newConsumption(at, &tc.link, h)
		if err != nil {
			t.Fatal(err)
		}
		if want := mustJSON(t, h); string(c.handoff) != want {
			t.Errorf("%s: handoff\n%s\nwant\n%s", tc.name, c.handoff, want)
		}
		if want := mustJSON(t, &tc.link); c.verdict != want {
			t.Errorf("%s: the link's verdict %s, want %s", tc.name, c.verdict, want)
		}
	}
}
