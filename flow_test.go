package linkguard_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/fingerprint"
	badgerstore "github.com/linkguard/linkguard/store/badger"
)

// alwaysConsume is a reckless decider, to show that the service keeps
// docs/api.md's rules whatever a decider says.
type alwaysConsume struct{}

func (alwaysConsume) Decide(*fingerprint.Input) fingerprint.Verdict {
	return fingerprint.Verdict{Decision: fingerprint.Consume, Score: 1}
}

func TestNoReportNeverConsumesWhateverTheDecider(t *testing.T) {
	st, err := badgerstore.Open(badgerstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	keys, _ := linkguard.NewKeys(bytes.Repeat([]byte{3}, 32))
	pol := linkguard.DefaultPolicy()
	pol.RedirectOrigins = []string{"https://app.example.com"}
	svc := &linkguard.Service{Store: st, Keys: keys, Decider: alwaysConsume{}, Policy: pol}
	ctx := context.Background()
	is, err := svc.Issue(ctx, &linkguard.IssueRequest{Email: "a@example.com", RedirectURL: "https://app.example.com/"})
	if err != nil {
		t.Fatal(err)
	}
	page, err := svc.View(ctx, is.Token, &linkguard.Client{})
	if err != nil {
		t.Fatal(err)
	}
	for _, stage := range []fingerprint.Stage{fingerprint.StageVerify, fingerprint.StageConfirm} {
		res, err := svc.Report(ctx, &linkguard.ReportRequest{Stage: stage, Token: is.Token, Nonce: page.Nonce})
		if err != nil {
			t.Fatal(err)
		}
		if res.Outcome != linkguard.OutcomeCode {
			t.Fatalf("%s without a report: %s, want code", stage, res.Outcome)
		}
	}
	res, err := svc.Report(ctx, &linkguard.ReportRequest{Stage: fingerprint.StageVerify, Token: is.Token, Nonce: page.Nonce,
		Report: provenReport(t, page.Nonce, fingerprint.StageVerify, 400)})
	if err != nil || res.Outcome != linkguard.OutcomeConsumed {
		t.Fatalf("with a report the decider decides: %v %v", res, err)
	}
}
