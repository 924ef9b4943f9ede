package metrics

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/fingerprint"
)

func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	srv := httptest.NewServer(m.Mux())
	defer srv.Close()
	res, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		t.Fatalf("GET /metrics: %d %s", res.StatusCode, b)
	}
	return string(b)
}

func TestExposition(t *testing.T) {
	m := New()
	var queue float64 = 3
	var dropped uint64 = 7
	m.WatchMailQueue(func() float64 { return queue })
	m.WatchDroppedVisits(func() uint64 { return dropped })
	m.WatchStoreSyncs(func() (uint64, float64, map[float64]uint64) {
		return 3, 0.0125, map[float64]uint64{0.001: 1, 0.005: 2, 0.01: 2}
	})
	m.WatchStoreWaits([]string{"read", "durable"}, func(w string) (uint64, float64, map[float64]uint64) {
		if w == "read" {
			return 4, 0.002, map[float64]uint64{0.0005: 3, 0.001: 4}
		}
		return 0, 0, map[float64]uint64{0.0005: 0, 0.001: 0}
	})
	m.LinkIssued(linkguard.PurposeInvite)
	m.Decided(linkguard.VisitVerify, fingerprint.Consume)
	m.Decided(linkguard.VisitConfirm, fingerprint.Code)
	m.LinkConsumed(linkguard.ViaClick)
	m.ScannerVisit("microsoft")
	m.ScannerVisit("microsoft")
	m.CodeAttempt(linkguard.CodeResultWrong)
	m.MailDelivery(MailSent)
	m.Backup(linkguard.BackupOK)
	m.Request("/l/:token", "GET", 200, 3*time.Millisecond)

	out := scrape(t, m)
	for _, want := range []string{
		`linkguard_links_issued_total{purpose="invite"} 1`,
		`linkguard_links_issued_total{purpose="sign_in"} 0`,
		`linkguard_decisions_total{decision="consume",stage="verify"} 1`,
		`linkguard_decisions_total{decision="code",stage="confirm"} 1`,
		`linkguard_links_consumed_total{by="click"} 1`,
		`linkguard_links_consumed_total{by="cookie"} 0`,
		`linkguard_scanner_visits_total{vendor="microsoft"} 2`,
		`linkguard_scanner_visits_total{vendor="unknown"} 0`,
		`linkguard_code_attempts_total{result="wrong"} 1`,
		`linkguard_mail_deliveries_total{result="sent"} 1`,
		`linkguard_mail_deliveries_total{result="canceled"} 0`,
		`linkguard_mail_queue_depth 3`,
		`linkguard_backups_total{result="ok"} 1`,
		`linkguard_backups_total{result="refused"} 0`,
		`linkguard_visits_dropped_total 7`,
		`linkguard_store_sync_seconds_bucket{le="0.005"} 2`,
		`linkguard_store_sync_seconds_bucket{le="+Inf"} 3`,
		`linkguard_store_sync_seconds_sum 0.0125`,
		`linkguard_store_sync_seconds_count 3`,
		`linkguard_store_wait_seconds_bucket{wait="read",le="0.0005"} 3`,
		`linkguard_store_wait_seconds_count{wait="read"} 4`,
		`linkguard_store_wait_seconds_sum{wait="read"} 0.002`,
		`linkguard_store_wait_seconds_count{wait="durable"} 0`,
		`linkguard_http_request_duration_seconds_count{code="200",method="GET",route="/l/:token"} 1`,
		"go_goroutines ", "process_cpu_seconds_total ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("scrape lacks %q", want)
		}
	}
	for _, n := range Names {
		if !strings.Contains(out, "# TYPE "+n+" ") {
			t.Errorf("metric %s is not exposed", n)
		}
	}
}

func TestOnlyMetricsRoute(t *testing.T) {
	srv := httptest.NewServer(New().Mux())
	defer srv.Close()
	for _, p := range []string{"/", "/v1/links", "/metricsx"} {
		res, err := http.Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 404 {
			t.Errorf("GET %s: %d, want 404", p, res.StatusCode)
		}
	}
}

// TestRecordingDoesNotAllocate: what the landing GET records (its request
// duration, a scanner visit) costs no allocation once the labels exist.
func TestRecordingDoesNotAllocate(t *testing.T) {
	m := New()
	route, method := "/l/:token", "GET"
	m.Request(route, method, 200, time.Millisecond)
	m.ScannerVisit("microsoft")
	m.Decided(linkguard.VisitVerify, fingerprint.Confirm)
	n := testing.AllocsPerRun(1000, func() {
		m.Request(route, method, 200, time.Millisecond)
		m.ScannerVisit("microsoft")
		m.Decided(linkguard.VisitVerify, fingerprint.Confirm)
		m.LinkConsumed(linkguard.ViaCookie)
	})
	if n != 0 {
		t.Fatalf("recording allocates %v times per request", n)
	}
}

func BenchmarkRequest(b *testing.B) {
	m := New()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.Request("/l/:token", "GET", 200, time.Millisecond)
		}
	})
}
