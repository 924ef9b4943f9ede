package server

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/fingerprint/report"
	"github.com/linkguard/linkguard/store/storetest"
)

// TestReportBoundedAtTheEdge: a report a little over the collector's
// limits is cut before anything reads or stores it; one far over is
// refused with a 400 that names the field.
func TestReportBoundedAtTheEdge(t *testing.T) {
	h := newHarness(t, "")
	long, absurd := strings.Repeat("p", 2000), strings.Repeat("u", 8*report.MaxString+1)
	langs := func(n int) string {
		l := make([]string, n)
		for i := range l {
			l[i] = fmt.Sprintf("x-%d", i)
		}
		b, _ := json.Marshal(l)
		return string(b)
	}
	for _, tc := range []struct {
		name, signals string
		status        int
		field         string // named in the 400
	}{
		{"400/absurd string", `{"v":3,"device":{"user_agent":"` + absurd + `"}}`, 400, "signals.device.user_agent"},
		{"400/absurd nested string", `{"v":3,"device":{"webgl":{"renderer":"` + absurd + `"}}}`, 400, "signals.device.webgl.renderer"},
		{"400/absurd list", `{"v":3,"locale":{"languages":` + langs(8*report.MaxLanguages+1) + `}}`, 400, "signals.locale.languages"},
		{"400/absurd string in a list", `{"v":3,"errors":["` + absurd + `"]}`, 400, "signals.errors[0]"},
		{"200/cut", `{"v":3,"device":{"platform":"` + long + `","ua_data":{"brands":[{"brand":"` + long + `","version":"1"}]}},"errors":` + langs(40) + `,"locale":{"languages":` + langs(30) + `}}`, 200, ""},
	} {
		l := h.issue("")
		nonce := h.nonce(l.Token)
		r := h.do("POST", "/l/"+l.Token+"/verify", `{"nonce":"`+nonce+`","signals":`+tc.signals+`}`)
		if r.status != tc.status {
			t.Fatalf("%s: %d %s, want %d", tc.name, r.status, clipStr(r.body, 300), tc.status)
		}
		if tc.status == 400 {
			m, _ := r.json(t)["error"].(map[string]any)
			if m["code"] != "invalid_request" || !strings.Contains(fmt.Sprint(m["message"]), tc.field+" ") {
				t.Fatalf("%s: %s, want invalid_request naming %s", tc.name, clipStr(r.body, 300), tc.field)
			}
			continue
		}
		h.waitVisits(l.ID, 2)
		vs, err := h.store.Visits(context.Background(), l.ID)
		if err != nil {
			t.Fatal(err)
		}
		rep := vs[len(vs)-1].Input.Report
		if rep == nil {
			t.Fatalf("%s: the decision record has no report", tc.name)
		}
		if len(rep.Device.Platform) != report.MaxString || len(rep.Device.UAData.Brands[0].Brand) != report.MaxString ||
			len(rep.Errors) != report.MaxErrors || len(rep.Locale.Languages) != report.MaxLanguages {
			t.Fatalf("%s: stored report: platform %d bytes, brand %d, %d errors, %d languages; want %d, %d, %d, %d", tc.name,
				len(rep.Device.Platform), len(rep.Device.UAData.Brands[0].Brand), len(rep.Errors), len(rep.Locale.Languages),
				report.MaxString, report.MaxString, report.MaxErrors, report.MaxLanguages)
		}
	}
}

// maximalVerify is the largest verify the edge accepts: every string of
// the report just under the size it refuses, every list at the length it
// cuts to, in a body near MaxBody, and recorded headers of 4 KiB each.
func maximalVerify(nonce string) (body string, hdr []string) {
	s := strings.Repeat("m", 8*report.MaxString)
	list := func(n int) []string {
		l := make([]string, n)
		for i := range l {
			l[i] = s[:report.MaxString]
		}
		return l
	}
	r := report.Report{V: report.SchemaVersion, Stage: "verify", Errors: list(report.MaxErrors)}
	r.Device.UserAgent, r.Device.Platform = s, s
	r.Device.UAData = &report.UAData{Platform: s[:2000], Brands: []report.Brand{{Brand: s[:2000], Version: s[:2000]}}}
	r.Device.WebGL = &report.WebGL{Vendor: s, Renderer: s}
	r.Device.Worker = &report.Worker{UserAgent: s, Platform: s[:1000], Languages: list(report.MaxLanguages)}
	r.Locale.TimeZone, r.Locale.Language, r.Locale.Languages = s, s[:1000], list(report.MaxLanguages)
	r.Automation.UAMarks = list(report.MaxUAMarks)
	b, _ := json.Marshal(&r)
	body = `{"nonce":"` + nonce + `","signals":` + string(b) + `}`
	if len(body) > MaxBody {
		panic(fmt.Sprintf("maximal verify is %d bytes, over MaxBody", len(body)))
	}
	h := strings.Repeat("h", 4<<10)
	return body, []string{"User-Agent", h, "Accept-Language", h, "Sec-CH-UA", h}
}

// TestMaximalVerifiesKeepALinkBounded: 1,000 of the largest verifies the
// edge accepts, on one link, leave it within storetest.MaxLinkBytes on
// disk, its kept visits within the rings, and GET /v1/links/{id} within
// a constant size; each stored visit is within MaxVisitBytes. Latency and
// RSS are BenchmarkMaximalVerify's (docs/security.md has the figures).
func TestMaximalVerifiesKeepALinkBounded(t *testing.T) {
	n := 1000
	if raceEnabled || testing.Short() {
		n = 250 // still four times the decision ring; 1,000 take ~9 s without the race detector
	}
	h := newHarness(t, t.TempDir())
	l := h.issue("")
	nonce := h.nonce(l.Token)
	body, hdr := maximalVerify(nonce)
	for i := 0; i < n; i++ {
		if r := h.do("POST", "/l/"+l.Token+"/verify", body, hdr...); r.status != 200 {
			t.Fatalf("maximal verify %d: %d %s", i, r.status, clipStr(r.body, 300))
		}
	}
	h.waitVisits(l.ID, 1+linkguard.KeptDecisions)
	size, err := h.store.LinkBytes(context.Background(), l.ID)
	if err != nil {
		t.Fatal(err)
	}
	if size > storetest.MaxLinkBytes {
		t.Fatalf("after %d maximal verifies the link takes %d bytes, over %d", n, size, storetest.MaxLinkBytes)
	}
	vs, err := h.store.Visits(context.Background(), l.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) > linkguard.KeptViews+linkguard.KeptDecisions {
		t.Fatalf("%d visits kept, over %d", len(vs), linkguard.KeptViews+linkguard.KeptDecisions)
	}
	for _, v := range vs {
		if b, _ := linkguard.EncodeVisit(&v); len(b) > linkguard.MaxVisitBytes {
			t.Fatalf("a stored visit is %d bytes, over %d", len(b), linkguard.MaxVisitBytes)
		}
	}
	get := h.api("GET", "/v1/links/"+l.ID, "")
	if max := (linkguard.KeptViews + linkguard.KeptDecisions) * linkguard.MaxVisitBytes; len(get.body) > max {
		t.Fatalf("GET /v1/links/{id} is %d bytes, over %d", len(get.body), max)
	}
	t.Logf("after %d maximal verifies (%d-byte body): link %d bytes (bound %d), %d visits kept, GET %d bytes",
		n, len(body), size, storetest.MaxLinkBytes, len(vs), len(get.body))
}
