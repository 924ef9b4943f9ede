package server

import (
	"io"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/linkguard/linkguard/internal/logbuf"
	"github.com/linkguard/linkguard/metrics"
	"github.com/linkguard/linkguard/web"
)

// withMetrics rebuilds h's server with metrics and an access log that
// writes into buf.
func withMetrics(t testing.TB, h *harness, buf io.Writer) *metrics.Metrics {
	t.Helper()
	m := metrics.New()
	log := slog.New(slog.NewJSONHandler(buf, nil))
	h.svc.Observer = m
	h.svc.Log = log
	site, err := web.New(web.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Options{Service: h.svc, Site: site, APIKeys: []string{testKey}, Dev: true, Log: log,
		Metrics: m, AccessLog: true})
	if err != nil {
		t.Fatal(err)
	}
	h.srv = srv
	return m
}

func scrapeMetrics(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Mux().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("GET /metrics: %d", rec.Code)
	}
	return rec.Body.String()
}

// TestMetricsAndAccessLog: a scanner's GET, a person's consumption and a
// wrong route move the counters; routes are patterns, and no token, code
// or cookie reaches the metrics or the log.
func TestMetricsAndAccessLog(t *testing.T) {
	h := newHarness(t, t.TempDir())
	var buf logbuf.Buffer
	m := withMetrics(t, h, &buf)

	l := h.personLink("")
	if r := h.do("GET", "/l/"+l.Token, "", "User-Agent", "Barracuda Sentinel (EE)"); r.status != 200 {
		t.Fatalf("scanner GET: %d", r.status)
	}
	if r := h.do("HEAD", "/l/"+l.Token, "", "User-Agent", "Mozilla/5.0 (compatible; Slackbot-LinkExpanding 1.0)"); r.status != 200 {
		t.Fatalf("unfurler HEAD: %d", r.status)
	}
	wrong := "000000"
	if wrong == l.Code {
		wrong = "111111"
	}
	if r := h.api("POST", "/v1/links/"+l.ID+"/redeem", `{"code":"`+wrong+`"}`); r.status != 400 {
		t.Fatalf("wrong code: %d %s", r.status, r.body)
	}
	r := h.api("POST", "/v1/links/"+l.ID+"/redeem", `{"code":"`+l.Code+`"}`)
	if r.status != 200 {
		t.Fatalf("redeem: %d %s", r.status, r.body)
	}
	h.do("GET", "/no/such/route", "")

	out := scrapeMetrics(t, m)
	for _, want := range []string{
		`linkguard_links_issued_total{purpose="sign_in"} 1`,
		`linkguard_scanner_visits_total{vendor="barracuda"} 1`,
		`linkguard_scanner_visits_total{vendor="chat-unfurlers"} 1`,
		`linkguard_code_attempts_total{result="wrong"} 1`,
		`linkguard_code_attempts_total{result="right"} 1`,
		`linkguard_links_consumed_total{by="code"} 1`,
		`linkguard_decisions_total{decision="consume",stage="code"} 1`,
		`linkguard_http_request_duration_seconds_count{code="200",method="GET",route="/l/:token"} 1`,
		`linkguard_http_request_duration_seconds_count{code="200",method="HEAD",route="/l/:token"} 1`,
		`linkguard_http_request_duration_seconds_count{code="201",method="POST",route="/v1/links"} 1`,
		`linkguard_http_request_duration_seconds_count{code="400",method="POST",route="/v1/links/:id/redeem"} 1`,
		`linkguard_http_request_duration_seconds_count{code="404",method="GET",route="unmatched"} 1`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	// A second link, consumed by its code on the landing page: its handoff
	// code is exchanged; neither it nor any cookie value may be logged.
	l2 := h.personLink("")
	nonce := h.nonce(l2.Token)
	cr := h.do("POST", "/l/"+l2.Token+"/confirm", `{"nonce":"`+nonce+`","code":"`+l2.Code+`"}`, personHeaders...)
	ru, _ := cr.json(t)["redirect_url"].(string)
	pu, err := url.Parse(ru)
	if err != nil || pu.Query().Get("lg_code") == "" {
		t.Fatalf("confirm with the code: %d %s", cr.status, cr.body)
	}
	handoff := pu.Query().Get("lg_code")
	if r := h.api("POST", "/v1/exchange", `{"code":"`+handoff+`"}`); r.status != 200 {
		t.Fatalf("exchange: %d %s", r.status, r.body)
	}
	var cookies []string
	for _, c := range cr.header.Values("Set-Cookie") {
		if _, v, ok := strings.Cut(strings.SplitN(c, ";", 2)[0], "="); ok && len(v) >= 8 {
			cookies = append(cookies, v)
		}
	}

	logs := buf.String()
	for _, secret := range append([]string{l.Token, l.Code, l.ID + "/redeem", l2.Token, l2.Code, handoff, nonce}, cookies...) {
		if strings.Contains(out, secret) {
			t.Errorf("metrics hold %q", secret)
		}
		if secret != l.ID+"/redeem" && strings.Contains(logs, secret) {
			t.Errorf("log holds %q", secret)
		}
	}
	if !strings.Contains(logs, `"msg":"request","method":"GET","route":"/l/:token","status":200`) {
		t.Errorf("no access log line for the landing GET:\n%s", logs)
	}
	if !strings.Contains(logs, `"msg":"scanner visit turned away"`) || !strings.Contains(logs, `"scanner":"barracuda"`) {
		t.Errorf("the scanner visit is not logged:\n%s", logs)
	}
	if !strings.Contains(logs, `"msg":"decision","link_id":"`+l.ID+`","stage":"code","decision":"consume"`) {
		t.Errorf("the decision is not logged:\n%s", logs)
	}
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		if !strings.HasPrefix(line, "{") || !strings.HasSuffix(line, "}") {
			t.Errorf("not one JSON object per line: %s", line)
		}
	}
}

// BenchmarkLandingGETMetrics is the landing GET through the app's
// handler, without a socket, so that allocs/op counts the server alone:
// "metrics" must report the allocs/op of "off" (recording allocates
// nothing); "metrics+log" adds the access log line.
func BenchmarkLandingGETMetrics(b *testing.B) {
	for _, mode := range []string{"off", "metrics", "metrics+log"} {
		b.Run(mode, func(b *testing.B) {
			h := newHarness(b, b.TempDir())
			if mode != "off" {
				m := metrics.New()
				h.svc.Observer = m
				site, err := web.New(web.Options{})
				if err != nil {
					b.Fatal(err)
				}
				quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
				if h.srv, err = New(Options{Service: h.svc, Site: site, APIKeys: []string{testKey}, Dev: true,
					Log: quiet, Metrics: m, AccessLog: mode == "metrics+log"}); err != nil {
					b.Fatal(err)
				}
			}
			l := h.issue("")
			handler := h.srv.App().Handler()
			var ctx fasthttp.RequestCtx
			uri := "/l/" + l.Token
			b.ReportAllocs()
			for b.Loop() {
				ctx.Request.Reset()
				ctx.Response.Reset()
				ctx.Request.SetRequestURI(uri)
				ctx.Request.Header.SetMethod("GET")
				ctx.Request.Header.Set("User-Agent", personUA)
				handler(&ctx)
				if ctx.Response.StatusCode() != 200 {
					b.Fatalf("status %d", ctx.Response.StatusCode())
				}
			}
		})
	}
}
