package kit_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/linkguard/linkguard/internal/smtptest"
	"github.com/linkguard/linkguard/kit"
	"github.com/linkguard/linkguard/metrics"
	badgerstore "github.com/linkguard/linkguard/store/badger"
)

// TestConsoleBackup: an operator signs in to the console of a whole kit
// (mail through a relay, the link opened by the browser that asked), and
// downloads a backup that restores; the metrics count it.
func TestConsoleBackup(t *testing.T) {
	r := newRelay(t)
	m := metrics.New()
	h := newKitMetrics(t, r, true, func(o *kit.Options) {
		o.Admin.Emails = []string{"ops@example.com"}
	}, m)
	b := &browser{h: h, ua: chromeWindows}

	res, page := h.do(b.req("GET", "/admin/login", nil))
	csrf := csrfRe.FindStringSubmatch(page)
	for _, c := range res.Cookies() {
		if c.Name == "lg_device" {
			b.cookie = c
		}
	}
	if csrf == nil || b.cookie == nil {
		t.Fatalf("GET /admin/login: no form token or device cookie: %d", res.StatusCode)
	}
	req := b.req("POST", "/admin/login", strings.NewReader(url.Values{"csrf": {csrf[1]}, "email": {"ops@example.com"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if res, page := h.do(req); res.StatusCode != 200 {
		t.Fatalf("POST /admin/login: %d %s", res.StatusCode, page)
	}
	p := smtptest.Parse(t, r.WaitFor(t, "ops@example.com", 10*time.Second).Data)
	link := regexp.MustCompile(regexp.QuoteMeta(h.base) + `/l/[A-Za-z0-9_-]{43}`).FindString(p.Text)
	out, redirect := b.open(link)
	if out != "consumed" || !strings.HasPrefix(redirect, h.base+"/admin/callback?") {
		t.Fatalf("the console's link: %q %q", out, redirect)
	}
	res, _ = h.do(b.req("GET", strings.TrimPrefix(redirect, h.base), nil))
	var session *http.Cookie
	for _, c := range res.Cookies() {
		if c.Name == "lg_admin" {
			session = c
		}
	}
	if session == nil {
		t.Fatalf("the callback opened no session: %d", res.StatusCode)
	}

	req, _ = http.NewRequest("GET", h.base+"/admin/backup", nil)
	req.AddCookie(&http.Cookie{Name: session.Name, Value: session.Value})
	res, file := h.do(req)
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/octet-stream" {
		t.Fatalf("GET /admin/backup: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	dir := filepath.Join(t.TempDir(), "restored")
	if _, err := badgerstore.Restore(context.Background(), dir, bytes.NewReader([]byte(file)), nil); err != nil {
		t.Fatalf("restore the downloaded backup: %v", err)
	}

	rec := httptest.NewRecorder()
	m.Mux().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	if !strings.Contains(string(body), `linkguard_backups_total{result="ok"} 1`) {
		t.Fatal("linkguard_backups_total does not count the backup")
	}
	if logs := h.logs.String(); !strings.Contains(logs, "console backup") || strings.Contains(logs, session.Value) {
		t.Fatalf("the backup's log line is missing, or the log holds the session cookie:\n%s", logs)
	}
}
