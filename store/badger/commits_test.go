package badger

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/fingerprint"
)

// consumer is a decider that consumes at once: what the engine says of
// the browser that asked the link, back with its device cookie.
type consumer struct{}

func (consumer) Decide(*fingerprint.Input) fingerprint.Verdict {
	return fingerprint.Verdict{Decision: fingerprint.Consume, Score: 1, Automation: 1}
}

// TestConsumptionIsOneSyncedCommit counts the store's committed
// transactions around each way a link is spent or a code is tried: a
// wrong code, the right code and a click each commit exactly once
// (count the attempt, compare and consume in one compare-and-set), and
// the decision's history is a read. Visits go through the batched
// writer, which is no transaction of the request.
func TestConsumptionIsOneSyncedCommit(t *testing.T) {
	ctx := context.Background()
	s, err := Open(Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	keys, err := linkguard.NewKeys(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	pol := linkguard.DefaultPolicy()
	pol.PublicURL = "https://kit.test"
	pol.RedirectOrigins = []string{"https://app.example.com"}
	svc := &linkguard.Service{Store: s, Keys: keys, Decider: consumer{}, Policy: pol,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	issue := func(email, binding string) *linkguard.Issued {
		is, err := svc.Issue(ctx, &linkguard.IssueRequest{Email: email, RedirectURL: "https://app.example.com/cb",
			Requester: linkguard.Client{Binding: binding}})
		if err != nil {
			t.Fatal(err)
		}
		return is
	}
	report := func(is *linkguard.Issued, code, binding string) (*linkguard.Result, uint64) {
		t.Helper()
		nonce := keys.Nonce(keys.TokenHash(is.Token), time.Now().UTC().Truncate(time.Millisecond))
		before := s.commits.Load()
		res, err := svc.Report(ctx, &linkguard.ReportRequest{Stage: fingerprint.StageConfirm, Token: is.Token,
			Nonce: nonce, Code: code, Client: linkguard.Client{Binding: binding}})
		n := s.commits.Load() - before
		if err != nil && code == is.Code {
			t.Fatal(err)
		}
		return res, n
	}

	coded := issue("code@example.com", "")
	wrong := "000000"
	if wrong == coded.Code {
		wrong = "000001"
	}
	if _, n := report(coded, wrong, ""); n != 1 {
		t.Errorf("a wrong code: %d commits, want 1 (the attempt counted)", n)
	}
	if res, n := report(coded, coded.Code, ""); n != 1 || res.Outcome != linkguard.OutcomeConsumed {
		t.Errorf("the right code: %d commits, outcome %v; want 1, consumed", n, res.Outcome)
	}
	if res, n := report(coded, coded.Code, ""); n != 0 || res.Outcome != linkguard.OutcomeUsed {
		t.Errorf("the code of a used link: %d commits, outcome %v; want 0, used", n, res.Outcome)
	}

	// Without a code: the browser that asked, by its device cookie (the
	// same ConsumeLink as a click the decider lets through).
	clicked := issue("click@example.com", "device-cookie")
	if res, n := report(clicked, "", "device-cookie"); n != 1 || res.Outcome != linkguard.OutcomeConsumed {
		t.Errorf("a consumption without a code: %d commits, outcome %v; want 1, consumed", n, res.Outcome)
	}
}
