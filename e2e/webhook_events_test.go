package e2e

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/internal/smtptest"
	"github.com/linkguard/linkguard/kit"
	"github.com/linkguard/linkguard/webhook"
)

// delivery is one webhook request as the host's receiver got it.
type delivery struct {
	headers map[string]string
	body    string
}

// hookReceiver is the host's webhook endpoint: it keeps every request.
type hookReceiver struct {
	mu   sync.Mutex
	got  []delivery
	srv  *httptest.Server
	wake chan struct{}
}

func newHookReceiver(t *testing.T) *hookReceiver {
	r := &hookReceiver{wake: make(chan struct{}, 1)}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		d := delivery{headers: map[string]string{}, body: string(body)}
		for _, h := range []string{"webhook-id", "webhook-timestamp", "webhook-signature"} {
			d.headers[h] = req.Header.Get(h)
		}
		r.mu.Lock()
		r.got = append(r.got, d)
		r.mu.Unlock()
		select {
		case r.wake <- struct{}{}:
		default:
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// waitType waits for a delivery of the event type typ about linkID.
func (r *hookReceiver) waitType(t *testing.T, typ, linkID string, d time.Duration) delivery {
	t.Helper()
	deadline := time.After(d)
	for {
		r.mu.Lock()
		for _, g := range r.got {
			if strings.Contains(g.body, `"type":"`+typ+`"`) && strings.Contains(g.body, linkID) {
				r.mu.Unlock()
				return g
			}
		}
		r.mu.Unlock()
		select {
		case <-r.wake:
		case <-deadline:
			t.Fatalf("no %s webhook for %s within %s", typ, linkID, d)
		}
	}
}

// TestWebhooksMailFailedAndExpired: the two event types that no browser
// causes, end to end. A real SMTP relay refuses a recipient for good
// (550), and a link with a 2-second lifetime expires unused; the host's
// real HTTP receiver gets mail.failed and link.expired, each signed so
// that an implementation written apart from linkguard (Node's crypto,
// examples/webhook-node/verify.mjs; without node, the HMAC here) accepts
// it and refuses it tampered, each once. The console's webhook page,
// read in Chromium after signing in, lists both as delivered.
func TestWebhooksMailFailedAndExpired(t *testing.T) {
	relay := smtptest.Start(t, smtptest.Options{ImplicitTLS: true})
	rc := newHookReceiver(t)
	e := newKitEnv(t, nil, func(o *kit.Options) {
		o.Admin.Emails = []string{consoleAdmin}
		o.Webhooks = []webhook.Endpoint{{URL: rc.srv.URL, Secret: consoleHookSecret,
			Events: []string{"mail.failed", "link.expired"}}}
		o.SMTPURL = fmt.Sprintf("smtps://%s:%s@%s?insecure_skip_verify=1", smtptest.User, url.QueryEscape(smtptest.Password), relay.Addr)
		o.Policy.MinTTL = time.Second // a link that expires within the test
	})
	ctx := context.Background()
	refused, err := e.svc.Issue(ctx, &linkguard.IssueRequest{Email: "nobody@example.com",
		RedirectURL: e.base + "/?from=link", SendEmail: true})
	if err != nil {
		t.Fatal(err)
	}
	short, err := e.svc.Issue(ctx, &linkguard.IssueRequest{Email: "bob@example.com",
		RedirectURL: e.base + "/?from=link", TTL: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}

	failed := rc.waitType(t, "mail.failed", refused.Link.ID, 30*time.Second)
	expired := rc.waitType(t, "link.expired", short.Link.ID, 30*time.Second)
	for name, d := range map[string]delivery{"mail.failed": failed, "link.expired": expired} {
		for _, secret := range []string{refused.Token, refused.Code, short.Token, short.Code, "nobody@example.com"} {
			if strings.Contains(d.body, secret) {
				t.Errorf("the %s body carries a token, a code or the address: %s", name, d.body)
			}
		}
		if why := verifyApart(t, d); why != "" {
			t.Errorf("%s: the host's check refuses it: %s\nheaders %v\nbody %s", name, why, d.headers, d.body)
		}
		tampered := d
		tampered.body = strings.Replace(d.body, `"type":"`, `"type":"x`, 1)
		if verifyApart(t, tampered) == "" {
			t.Errorf("%s: the host's check accepts a tampered body", name)
		}
	}
	var fb struct {
		Type string `json:"type"`
		Data struct {
			LinkID   string `json:"link_id"`
			Attempts int    `json:"attempts"`
			Error    string `json:"error"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(failed.body), &fb); err != nil || fb.Data.LinkID != refused.Link.ID || !strings.Contains(fb.Data.Error, "550") {
		t.Errorf("mail.failed body (%v): %s", err, failed.body)
	}
	// Each message once.
	seen := map[string]int{}
	rc.mu.Lock()
	for _, g := range rc.got {
		seen[g.headers["webhook-id"]]++
	}
	rc.mu.Unlock()
	for id, n := range seen {
		if n != 1 {
			t.Errorf("webhook-id %s delivered %d times", id, n)
		}
	}

	// The console lists both, delivered.
	b := e.browser(time.Minute)
	consoleSignIn(t, b, e, relay, nil)
	if err := chromedp.Do(b, chromedp.Navigate(e.base+"/admin/webhooks"), chromedp.WaitVisible(chromedp.CSS("#lg-admin-webhooks"))); err != nil {
		t.Fatalf("the console's webhook page: %v", err)
	}
	rows := text(t, b, `Array.from(document.querySelectorAll("#lg-admin-webhooks tbody tr")).map(function (tr) {
		return Array.from(tr.cells).map(function (c) { return c.innerText.trim(); }).join("|"); }).join("\n")`)
	for typ, id := range map[string]string{"mail.failed": refused.Link.ID, "link.expired": short.Link.ID} {
		found := false
		for _, row := range strings.Split(rows, "\n") {
			c := strings.Split(row, "|")
			if len(c) >= 5 && c[1] == typ && c[2] == id && c[3] != "" && c[4] == "delivered" {
				found = true
			}
		}
		if !found {
			t.Errorf("the console's webhook list has no delivered %s for %s:\n%s", typ, id, rows)
		}
	}
}

// verifyApart checks a delivery's signature as a host would, with code
// that shares nothing with package webhook: Node's crypto running
// examples/webhook-node/verify.mjs, or, without node (and not on CI),
// HMAC-SHA256 here. It answers "" or why not.
func verifyApart(t *testing.T, d delivery) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("node is not on the PATH; CI must have it")
		}
		key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(consoleHookSecret, "whsec_"))
		m := hmac.New(sha256.New, key)
		fmt.Fprintf(m, "%s.%s.%s", d.headers["webhook-id"], d.headers["webhook-timestamp"], d.body)
		if !hmac.Equal([]byte(d.headers["webhook-signature"]), []byte("v1,"+base64.StdEncoding.EncodeToString(m.Sum(nil)))) {
			return "no signature matches (Go HMAC; node not found)"
		}
		return ""
	}
	script, _ := filepath.Abs("../examples/webhook-node/verify.mjs")
	in, _ := json.Marshal(map[string]any{"secret": consoleHookSecret, "headers": d.headers, "body": d.body,
		"now": json.Number(d.headers["webhook-timestamp"])})
	cmd := exec.Command(node, script)
	cmd.Stdin = bytes.NewReader(in)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != "ok" {
		return got
	}
	return ""
}

// consoleSignIn signs browser b in to the console as consoleAdmin: the
// form, the mail from relay, its link, the overview. atForm, when set,
// runs on the sign-in form before it is filled.
func consoleSignIn(t *testing.T, b context.Context, e *kitEnv, relay *smtptest.Relay, atForm func()) {
	t.Helper()
	if err := chromedp.Do(b,
		chromedp.Navigate(e.base+"/admin/"),
		chromedp.WaitVisible(chromedp.CSS("#lg-admin-email")),
	); err != nil {
		t.Fatalf("the console's sign-in form: %v", err)
	}
	if atForm != nil {
		atForm()
	}
	if err := chromedp.Do(b,
		chromedp.SendKeys(chromedp.CSS("#lg-admin-email"), consoleAdmin),
		chromedp.Click(chromedp.CSS("#lg-admin-submit")),
		chromedp.WaitVisible(chromedp.CSS(`[data-lg-state="sent"]`)),
	); err != nil {
		t.Fatalf("submitting the sign-in form: %v", err)
	}
	mail := smtptest.Parse(t, relay.WaitFor(t, consoleAdmin, 10*time.Second).Data)
	link := mailLinkRe.FindString(mail.Text)
	if link == "" {
		t.Fatalf("no link in the mail:\n%s", mail.Text)
	}
	if err := chromedp.Do(b, chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS(`body[data-lg-console="overview"]`))); err != nil {
		loc, _ := chromedp.Run(b, chromedp.Location())
		t.Fatalf("the link did not open the console: %v (at %s)", err, loc)
	}
}
