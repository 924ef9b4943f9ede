package kit_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/kit"
	"github.com/linkguard/linkguard/metrics"
)

// TestInstrumentScannerVisit: with metrics on, a plain GET of a link from
// a Microsoft EOP address through a trusted proxy moves
// linkguard_scanner_visits_total{vendor="microsoft"}.
func TestInstrumentScannerVisit(t *testing.T) {
	k, err := kit.New(kit.Options{PublicURL: "https://kit.example.com", APIKeys: []string{apiKey},
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("0.0.0.0/32")},
		Log:            slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	m := metrics.New()
	k.Instrument(m, false)
	out, err := k.Service.Issue(context.Background(), &linkguard.IssueRequest{Email: "a@example.com", RedirectURL: "https://kit.example.com/"})
	if err != nil {
		t.Fatal(err)
	}
	u := out.URL[strings.Index(out.URL, "/l/"):]
	req := httptest.NewRequest("GET", u, nil)
	req.Header.Set("X-Forwarded-For", "40.107.22.33")
	res, err := k.App().Test(req, -1)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("GET: %v %v", err, res.StatusCode)
	}
	rec := httptest.NewRecorder()
	m.Mux().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{`linkguard_scanner_visits_total{vendor="microsoft"} 1`,
		`linkguard_links_issued_total{purpose="sign_in"} 1`, "linkguard_mail_queue_depth 0",
		"linkguard_visits_dropped_total 0", `route="/l/:token"`} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// TestInstrumentStoreSyncs: a kit on a Badger folder publishes how long
// its syncs took, and every durable write (here an issue) counts one.
func TestInstrumentStoreSyncs(t *testing.T) {
	k, err := kit.New(kit.Options{PublicURL: "https://kit.example.com", APIKeys: []string{apiKey},
		DataDir: t.TempDir(), Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	m := metrics.New()
	k.Instrument(m, false)
	if _, err := k.Service.Issue(context.Background(), &linkguard.IssueRequest{Email: "a@example.com", RedirectURL: "https://kit.example.com/"}); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	m.Mux().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	var n float64
	for _, line := range strings.Split(rec.Body.String(), "\n") {
		if v, ok := strings.CutPrefix(line, "linkguard_store_sync_seconds_count "); ok {
			if n, err = strconv.ParseFloat(v, 64); err != nil {
				t.Fatal(err)
			}
		}
	}
	if n < 1 {
		t.Fatalf("linkguard_store_sync_seconds_count is %v after an issue, want at least 1", n)
	}
}
