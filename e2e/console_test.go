package e2e

import (
	"bufio"
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
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"gopkg.in/yaml.v3"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/fingerprint"
	"github.com/linkguard/linkguard/fingerprint/replay"
	"github.com/linkguard/linkguard/internal/smtptest"
	"github.com/linkguard/linkguard/kit"
	"github.com/linkguard/linkguard/webhook"
)

// The operator's console in real Chromium: an admin signs in with a link
// mailed through a real SMTP relay (internal/smtptest), sees the overview
// count a mail filter's visit and a headless scanner turned away, finds
// the scanned link, reads its timeline with both axes, revokes it, runs a
// what-if that flips the scanner's decision (checked against the offline
// replay of the console's own export) and saves it, and a forged form is
// refused. The host's webhook receiver hears of the scanner, signed.
// Every console page passes axe at 360 px and desktop, light and dark.

const (
	consoleAdmin      = "ops@example.com"
	consoleHookSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
)

var mailLinkRe = regexp.MustCompile(`http://127\.0\.0\.1:\d+/l/[A-Za-z0-9_-]+`)

func TestConsoleInChromium(t *testing.T) {
	relay := smtptest.Start(t, smtptest.Options{ImplicitTLS: true})
	hooks := make(chan string, 16)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		// The host's check, written without the webhook package.
		key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(consoleHookSecret, "whsec_"))
		m := hmac.New(sha256.New, key)
		fmt.Fprintf(m, "%s.%s.%s", r.Header.Get("webhook-id"), r.Header.Get("webhook-timestamp"), body)
		if r.Header.Get("webhook-signature") != "v1,"+base64.StdEncoding.EncodeToString(m.Sum(nil)) {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		hooks <- string(body)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(receiver.Close)
	cfgFile := filepath.Join(t.TempDir(), "linkguard.yaml")
	if err := os.WriteFile(cfgFile, []byte("# the operator's file\nlisten: 127.0.0.1:8080\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e := newKitEnv(t, nil, func(o *kit.Options) {
		o.Admin.Emails = []string{consoleAdmin}
		o.Admin.ConfigFile = cfgFile
		o.Webhooks = []webhook.Endpoint{{URL: receiver.URL, Secret: consoleHookSecret, Events: []string{"link.scanner_blocked"}}}
		o.SMTPURL = fmt.Sprintf("smtps://%s:%s@%s?insecure_skip_verify=1", smtptest.User, url.QueryEscape(smtptest.Password), relay.Addr)
	})
	src, _ := os.ReadFile(axePath()) // nil: pages not audited (TestAccessibilityAudit says why)
	shots := os.Getenv("LINKGUARD_SCREENSHOTS")
	if shots != "" {
		if err := os.MkdirAll(shots, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	audited := 0
	auditHere := func(ctx context.Context, page string) {
		audited++
		if n := audit(t, ctx, "console-"+page, src, shots); n > 0 {
			t.Errorf("console %s: %d serious or critical violations", page, n)
		}
		// audit leaves the last width and theme on: back to desktop.
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)); err != nil {
			t.Fatal(err)
		}
	}

	// A mail filter fetches alice's link (its user agent names it), and a
	// headless browser without her device cookie runs the page: the
	// engine turns it away.
	scanned := e.issue("alice-device")
	req, _ := http.NewRequest("GET", scanned.url, nil)
	req.Header.Set("User-Agent", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.0.0 Safari/537.36 MicrosoftPreview/2.0")
	if res, err := http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	} else {
		res.Body.Close()
	}
	scanner := e.browser(time.Minute)
	if err := chromedp.Do(scanner, chromedp.Navigate(scanned.url)); err != nil {
		t.Fatal(err)
	}
	if st, err := waitState(scanner, "code", "confirm", "error"); err != nil || st != "code" {
		t.Fatalf("the headless scanner got state %q (%v), want code", st, err)
	}

	// The host hears of it, signed.
	select {
	case b := <-hooks:
		if !strings.Contains(b, `"type":"link.scanner_blocked"`) || !strings.Contains(b, scanned.id) || strings.Contains(b, scanned.code) {
			t.Fatalf("webhook body: %s", b)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no link.scanner_blocked webhook")
	}

	// Sign in: /admin sends to the form; the link comes by SMTP.
	ctx := e.browser(3 * time.Minute)
	consoleSignIn(t, ctx, e, relay, func() { auditHere(ctx, "login") })
	cookie := text(t, ctx, `document.cookie`)
	if strings.Contains(cookie, "lg_admin") {
		t.Fatalf("the session cookie is readable by script: %q", cookie)
	}

	// Overview: the filter's visit by vendor, the scanner turned away.
	vendors := text(t, ctx, `(document.getElementById("lg-admin-vendors")||{}).innerText||""`)
	if !strings.Contains(vendors, "microsoft") {
		t.Errorf("scanner visits by vendor: %q, want microsoft", vendors)
	}
	month := text(t, ctx, `document.getElementById("lg-admin-month").innerText`)
	if !regexp.MustCompile(`Scanners turned away\s+1\b`).MatchString(month) {
		t.Errorf("30-day figures:\n%s", month)
	}
	if n := text(t, ctx, `String(document.querySelectorAll("svg.chart rect").length)`); n == "0" {
		t.Errorf("the overview draws no chart")
	}
	auditHere(ctx, "overview")

	// Links: search by address, open the scanned link.
	if err := chromedp.Do(ctx,
		chromedp.Navigate(e.base+"/admin/links?q=alice%40example"),
		chromedp.WaitVisible(chromedp.CSS(`a[href$="/admin/links/`+scanned.id+`"]`)),
	); err != nil {
		t.Fatalf("search by address: %v", err)
	}
	auditHere(ctx, "links")
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`a[href$="/admin/links/`+scanned.id+`"]`)),
		chromedp.WaitVisible(chromedp.CSS("#lg-admin-timeline")),
	); err != nil {
		t.Fatalf("open the link: %v", err)
	}
	timeline := text(t, ctx, `document.getElementById("lg-admin-timeline").innerText`)
	for _, want := range []string{"microsoft", "automation", "compatibility", "verify"} {
		if !strings.Contains(timeline, want) {
			t.Errorf("the timeline lacks %q:\n%s", want, timeline)
		}
	}
	auditHere(ctx, "link")

	// A forged revoke (wrong CSRF token) is refused, and changes nothing.
	if err := chromedp.Do(ctx,
		chromedp.SetValue(chromedp.CSS(`form[action$="/revoke"] input[name="csrf"]`), "forged"),
		chromedp.Click(chromedp.CSS("#lg-admin-revoke")),
		chromedp.WaitVisible(chromedp.CSS(`body[data-lg-console="error"]`)),
	); err != nil {
		t.Fatalf("forged revoke: %v", err)
	}
	if s := e.state(scanned); s != linkguard.Pending {
		t.Fatalf("after a forged revoke the link is %s", s)
	}
	auditHere(ctx, "error")
	// The real one works.
	if err := chromedp.Do(ctx,
		chromedp.Navigate(e.base+"/admin/links/"+scanned.id),
		chromedp.Click(chromedp.CSS("#lg-admin-revoke")),
		chromedp.WaitVisible(chromedp.CSS(`#lg-admin-state.revoked`)),
	); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	if s := e.state(scanned); s != linkguard.Revoked {
		t.Fatalf("after revoke the link is %s", s)
	}

	// Export: the decisions as JSONL, read by the browser with its session.
	jsonl := text(t, ctx, `fetch("/admin/export.jsonl?since=1h").then(function (r) { return r.ok ? r.text() : "status " + r.status; })`)
	var events []replay.Event
	sc := bufio.NewScanner(strings.NewReader(jsonl))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var ev replay.Event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("export line %q: %v", sc.Text(), err)
		}
		events = append(events, ev)
	}
	var vetoes []string
	for _, ev := range events {
		if ev.LinkID == scanned.id && ev.Kind == fingerprint.VisitVerify {
			for _, s := range ev.Verdict.Signals {
				if s.Veto {
					vetoes = append(vetoes, s.Signal)
				}
			}
		}
	}
	if len(events) == 0 || len(vetoes) == 0 {
		t.Fatalf("export: %d events, vetoes of the scanner's verify %v:\n%.2000s", len(events), vetoes, jsonl)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(e.base+"/admin/export"), chromedp.WaitVisible(chromedp.CSS("main"))); err != nil {
		t.Fatal(err)
	}
	auditHere(ctx, "export")

	// What-if: without the vetoes and with the gate wide open, the
	// scanner would have been offered Continue.
	var y strings.Builder
	y.WriteString("heuristics:\n  automation:\n    threshold: 100\n    signals:\n")
	for _, v := range vetoes {
		fmt.Fprintf(&y, "      %s: {enabled: false}\n", v)
	}
	y.WriteString("  compatibility:\n    thresholds: {confirm: 0.01, click: 0.01}\n")
	if err := chromedp.Do(ctx,
		chromedp.Navigate(e.base+"/admin/tuning"),
		chromedp.WaitVisible(chromedp.CSS("#lg-admin-yaml")),
		chromedp.SetValue(chromedp.CSS("#lg-admin-yaml"), y.String()),
		chromedp.SetValue(chromedp.CSS("#lg-admin-period"), "1h"),
		chromedp.Click(chromedp.CSS("#lg-admin-replay")),
		chromedp.WaitVisible(chromedp.CSS("#lg-admin-whatif")),
	); err != nil {
		t.Fatalf("what-if: %v", err)
	}
	flipped := text(t, ctx, `document.getElementById("lg-admin-whatif").getAttribute("data-flipped")`)
	changes := text(t, ctx, `(document.getElementById("lg-admin-changes")||{}).innerText||""`)
	if !strings.Contains(changes, scanned.id) {
		t.Errorf("the what-if does not flip the scanner's decision (flipped %s):\n%s", flipped, changes)
	}
	// The same replay offline, over the export, flips as many.
	cfg := fingerprint.DefaultConfig()
	if err := yamlHeuristics(y.String(), &cfg); err != nil {
		t.Fatal(err)
	}
	eng, err := fingerprint.NewEngine(cfg)
	if err != nil {
		t.Fatal(err)
	}
	offline := 0
	for _, ch := range replay.Replay(eng, events).Changes {
		if ch.Flipped() {
			offline++
		}
	}
	if flipped != fmt.Sprint(offline) {
		t.Errorf("the console flips %s decisions, the offline replay of its export %d", flipped, offline)
	}
	auditHere(ctx, "tuning")

	// Save: validated, written over the file (the rest of it kept), applied.
	before := e.k.Engine.Hash()
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("#lg-admin-save")),
		chromedp.WaitVisible(chromedp.CSS("#lg-admin-saved")),
	); err != nil {
		t.Fatalf("save: %v", err)
	}
	saved, _ := os.ReadFile(cfgFile)
	if after := e.k.Engine.Hash(); after == before || !strings.Contains(string(saved), "threshold: 100") || !strings.Contains(string(saved), "# the operator's file") {
		t.Fatalf("after saving: config %s (was %s), file:\n%s", after, before, saved)
	}

	if err := chromedp.Do(ctx, chromedp.Navigate(e.base+"/admin/webhooks"), chromedp.WaitVisible(chromedp.CSS("main"))); err != nil {
		t.Fatal(err)
	}
	if got := text(t, ctx, `(document.getElementById("lg-admin-webhooks")||{}).innerText||""`); !strings.Contains(got, "link.scanner_blocked") || !strings.Contains(got, "delivered") {
		t.Errorf("the webhooks page: %q", got)
	}
	auditHere(ctx, "webhooks")
	t.Logf("%d console pages audited (axe loaded: %v)", audited, src != nil)
}

// TestConsoleAbsentWithoutAdmins: no admin address, no console.
func TestConsoleAbsentWithoutAdmins(t *testing.T) {
	e := newKitEnv(t, nil)
	ctx := e.browser(time.Minute)
	if err := chromedp.Do(ctx, chromedp.Navigate(e.base+"/healthz")); err != nil {
		t.Fatal(err)
	}
	status := text(t, ctx, `fetch("/admin/login").then(function (r) { return String(r.status); })`)
	if status != "404" {
		t.Fatalf("GET /admin/login without admins: %s, want 404", status)
	}
}

// text evaluates js (a value or a promise of one) and returns it.
func text(t *testing.T, ctx context.Context, js string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](js, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("%s: %v", js, err)
	}
	return s
}

// yamlHeuristics lays the heuristics section of y over cfg, as the config
// file is read.
func yamlHeuristics(y string, cfg *fingerprint.Config) error {
	var doc struct {
		Heuristics *fingerprint.Config `yaml:"heuristics"`
	}
	doc.Heuristics = cfg
	d := yaml.NewDecoder(strings.NewReader(y))
	d.KnownFields(true)
	return d.Decode(&doc)
}
