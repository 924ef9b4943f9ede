package linkguard_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/fingerprint"
	"github.com/linkguard/linkguard/fingerprint/report"
	badgerstore "github.com/linkguard/linkguard/store/badger"
)

// provenReport is a report as the collector makes it on the rendering
// with this nonce, at ms on the page's clock.
func provenReport(t testing.TB, nonce string, stage fingerprint.Stage, ms float64) *fingerprint.Report {
	t.Helper()
	r := &fingerprint.Report{V: fingerprint.SchemaVersion, Stage: string(stage),
		Timing: fingerprint.Timing{StartMS: 50, VerifyMS: ms}}
	if stage == fingerprint.StageConfirm {
		r.Timing.VerifyMS, r.Timing.ConfirmMS = ms/2, ms
		r.Interaction.Click = &fingerprint.Click{Trusted: true, OnContinue: true, AtMS: ms - 5}
	}
	p, ok := report.Prove(nonce, r)
	if !ok {
		t.Fatal("no proof found")
	}
	r.Proof = &p
	return r
}

// TestProofVetoesWhateverTheDecider shows that a report not made for
// this rendering never consumes, even with a decider that always would,
// except in the browser that holds the device cookie (rule 3), and that
// every visit records what the check found.
func TestProofVetoesWhateverTheDecider(t *testing.T) {
	st, err := badgerstore.Open(badgerstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	keys, _ := linkguard.NewKeys(bytes.Repeat([]byte{3}, 32))
	pol := linkguard.DefaultPolicy()
	pol.RedirectOrigins = []string{"https://app.example.com"}
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	svc := &linkguard.Service{Store: st, Keys: keys, Decider: alwaysConsume{}, Policy: pol, Now: func() time.Time { return now }}
	ctx := context.Background()
	page := func(binding string) (string, string) {
		is, err := svc.Issue(ctx, &linkguard.IssueRequest{Email: "a@example.com", RedirectURL: "https://app.example.com/",
			Requester: linkguard.Client{Binding: binding}})
		if err != nil {
			t.Fatal(err)
		}
		p, err := svc.View(ctx, is.Token, &linkguard.Client{})
		if err != nil {
			t.Fatal(err)
		}
		return is.Token, p.Nonce
	}
	_, otherNonce := page("")
	now = now.Add(10 * time.Second)
	cases := []struct {
		name    string
		binding bool
		report  func(nonce string) *fingerprint.Report
		want    linkguard.Outcome
		proof   string // prefix of the recorded Input.Proof
	}{
		{"ok/proven here", false, func(n string) *fingerprint.Report { return provenReport(t, n, fingerprint.StageConfirm, 3000) }, linkguard.OutcomeConsumed, "ok"},
		{"ok/clock within the rendering's age and slack", false, func(n string) *fingerprint.Report { return provenReport(t, n, fingerprint.StageConfirm, 39_000) }, linkguard.OutcomeConsumed, "ok"},
		{"replay/no proof", false, func(string) *fingerprint.Report { return &fingerprint.Report{V: 2, Stage: "confirm"} }, linkguard.OutcomeCode, "replay: the report carries no proof"},
		{"replay/another rendering", false, func(string) *fingerprint.Report { return provenReport(t, otherNonce, fingerprint.StageConfirm, 3000) }, linkguard.OutcomeCode, "replay: the proof was made on another rendering"},
		{"replay/verify report sent as confirm", false, func(n string) *fingerprint.Report { return provenReport(t, n, fingerprint.StageVerify, 3000) }, linkguard.OutcomeCode, "replay: the report was made for"},
		{"replay/clock beyond the rendering's age", false, func(n string) *fingerprint.Report { return provenReport(t, n, fingerprint.StageConfirm, 41_000) }, linkguard.OutcomeCode, "replay: the page says it was open 41.0 s"},
		{"cookie/a replay in the browser that asked still consumes", true, func(string) *fingerprint.Report { return &fingerprint.Report{V: 2} }, linkguard.OutcomeConsumed, "replay: "},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			binding := ""
			if c.binding {
				binding = "the-cookie"
			}
			token, nonce := page(binding)
			now = now.Add(10 * time.Second) // the page was rendered 10 s ago
			res, err := svc.Report(ctx, &linkguard.ReportRequest{Stage: fingerprint.StageConfirm, Token: token, Nonce: nonce,
				Report: c.report(nonce), Client: linkguard.Client{Binding: binding}})
			if err != nil || res.Outcome != c.want {
				t.Fatalf("outcome %v (%v), want %s", res, err, c.want)
			}
			id, _ := st.LinkByTokenHash(ctx, keys.TokenHash(token))
			var got string
			for i := 0; i < 200 && got == ""; i++ {
				vs, _ := st.Visits(ctx, id.ID)
				for _, v := range vs {
					if v.Input != nil {
						got = v.Input.Proof
					}
				}
				time.Sleep(2 * time.Millisecond)
			}
			if !strings.HasPrefix(got, c.proof) {
				t.Fatalf("recorded proof %q, want %q…", got, c.proof)
			}
		})
	}
}
