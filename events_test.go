package linkguard_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/fingerprint"
	badgerstore "github.com/linkguard/linkguard/store/badger"
	"github.com/linkguard/linkguard/webhook"
)

// gateClosed decides as the engine does for a page run by a machine.
type gateClosed struct{}

func (gateClosed) Decide(*fingerprint.Input) fingerprint.Verdict {
	return fingerprint.Verdict{Decision: fingerprint.Code, Automation: 0, Compatibility: 0.7,
		Rule: "automation gate closed", Config: "cfg1"}
}

type recorder struct {
	mu     sync.Mutex
	events []linkguard.Event
	visits int
}

func (r *recorder) notify(_ context.Context, e *linkguard.Event) {
	r.mu.Lock()
	r.events = append(r.events, *e)
	r.mu.Unlock()
}

func (r *recorder) types() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.events {
		out = append(out, string(e.Type)+":"+string(e.Via))
	}
	return out
}

// TestEventsOfALifecycle: every state change tells Notify, after it is
// stored, with ids and a verdict summary and never a secret.
func TestEventsOfALifecycle(t *testing.T) {
	st, err := badgerstore.Open(badgerstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	keys, _ := linkguard.NewKeys(bytes.Repeat([]byte{3}, 32))
	pol := linkguard.DefaultPolicy()
	pol.RedirectOrigins = []string{"https://app.example.com"}
	rec := &recorder{}
	var all []string
	for _, t := range linkguard.EventTypes {
		all = append(all, string(t))
	}
	hooks, err := webhook.New(webhook.Options{Store: st, Endpoints: []webhook.Endpoint{{URL: "http://127.0.0.1:1/",
		Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", Events: all}}})
	if err != nil {
		t.Fatal(err)
	}
	svc := &linkguard.Service{Store: st, Keys: keys, Decider: gateClosed{}, Policy: pol, Webhooks: hooks,
		Notify: rec.notify, Visited: func(*linkguard.Visit) { rec.mu.Lock(); rec.visits++; rec.mu.Unlock() }}
	ctx := context.Background()
	issue := func(email string) *linkguard.Issued {
		is, err := svc.Issue(ctx, &linkguard.IssueRequest{Email: email, RedirectURL: "https://app.example.com/"})
		if err != nil {
			t.Fatal(err)
		}
		return is
	}

	// A machine runs the page: blocked. Then the right code: consumed via code.
	a := issue("a@example.com")
	page, _ := svc.View(ctx, a.Token, &linkguard.Client{})
	res, err := svc.Report(ctx, &linkguard.ReportRequest{Stage: fingerprint.StageVerify, Token: a.Token, Nonce: page.Nonce,
		Report: provenReport(t, page.Nonce, fingerprint.StageVerify, 400)})
	if err != nil || res.Outcome != linkguard.OutcomeCode {
		t.Fatalf("%v %v", res, err)
	}
	if _, err := svc.Report(ctx, &linkguard.ReportRequest{Stage: fingerprint.StageConfirm, Token: a.Token, Nonce: page.Nonce, Code: a.Code}); err != nil {
		t.Fatal(err)
	}
	// Wrong codes until none are left: locked, once.
	b := issue("b@example.com")
	pb, _ := svc.View(ctx, b.Token, &linkguard.Client{})
	for range pol.MaxCodeAttempts + 1 {
		wrong := "000000"
		if b.Code == wrong {
			wrong = "111111"
		}
		svc.Report(ctx, &linkguard.ReportRequest{Stage: fingerprint.StageConfirm, Token: b.Token, Nonce: pb.Nonce, Code: wrong})
	}
	// Revoked.
	c := issue("c@example.com")
	if err := svc.Revoke(ctx, c.Link.ID, linkguard.RevokeAPI); err != nil {
		t.Fatal(err)
	}

	got := strings.Join(rec.types(), " ")
	want := "link.issued: link.scanner_blocked: link.consumed:code link.issued: link.locked: link.issued: link.revoked:"
	if got != want {
		t.Fatalf("events:\n got %s\nwant %s", got, want)
	}
	for _, e := range rec.events {
		if e.At.IsZero() || e.LinkID == "" || e.Email == "" {
			t.Fatalf("event without time, link or address: %+v", e)
		}
		body, _ := json.Marshal(e)
		for _, secret := range []string{a.Token, a.Code, b.Token, b.Code, c.Token, c.Code, "@example.com"} {
			if strings.Contains(string(body), secret) {
				t.Fatalf("%s event carries a secret or the address: %s", e.Type, body)
			}
		}
	}
	blocked := rec.events[1]
	if blocked.Verdict == nil || blocked.Verdict.Decision != "code" || blocked.Verdict.Config != "cfg1" {
		t.Fatalf("blocked: %+v", blocked)
	}
	if locked := rec.events[4]; locked.Attempts != pol.MaxCodeAttempts {
		t.Fatalf("locked after %d attempts", locked.Attempts)
	}
	if revoked := rec.events[6]; revoked.Reason != linkguard.RevokeAPI {
		t.Fatalf("revoked: reason %q, want api", revoked.Reason)
	}
	if rec.visits < 3 {
		t.Fatalf("Visited saw %d visits", rec.visits)
	}

	// Each event was queued for the webhook by the store, with its change
	// (link.scanner_blocked with its visit, which is written a moment
	// later), under the event's message id.
	jobs := map[string]linkguard.EventType{}
	bodies := map[linkguard.EventType]string{}
	deadline := time.Now().Add(5 * time.Second)
	for len(jobs) < len(rec.events) && time.Now().Before(deadline) {
		due, err := st.DueWebhooks(ctx, time.Now().Add(time.Minute), time.Hour, 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range due {
			jobs[j.MsgID] = j.Type
			bodies[j.Type] = string(j.Body)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if len(jobs) != len(rec.events) {
		t.Fatalf("%d webhook jobs queued for %d events: %v", len(jobs), len(rec.events), jobs)
	}
	for _, e := range rec.events {
		if e.ID == "" || jobs[e.ID] != e.Type {
			t.Fatalf("event %s (id %q) has no queued job of its type: %v", e.Type, e.ID, jobs)
		}
	}
	// The reason was known when the job was made, with the change.
	if b := bodies[linkguard.EventLinkRevoked]; !strings.Contains(b, `"reason":"api"`) {
		t.Fatalf("link.revoked body without its reason: %s", b)
	}
	for typ, b := range bodies {
		if typ != linkguard.EventLinkRevoked && strings.Contains(b, `"reason"`) {
			t.Fatalf("%s body carries a reason: %s", typ, b)
		}
	}
}
