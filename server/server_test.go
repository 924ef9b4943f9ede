package server

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/fingerprint"
	badgerstore "github.com/linkguard/linkguard/store/badger"
	"github.com/linkguard/linkguard/web"
)

const testKey = "test-api-key-0123456789"

// clock is a settable time source for exact expiry tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type harness struct {
	t     testing.TB
	srv   *Server
	svc   *linkguard.Service
	store *badgerstore.Store
	clock *clock
}

func newHarness(t testing.TB, dir string) *harness {
	t.Helper()
	st, err := badgerstore.Open(badgerstore.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	keys, err := linkguard.NewKeys(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: time.Now().UTC().Truncate(time.Second)}
	pol := linkguard.DefaultPolicy()
	pol.PublicURL = "http://kit.test"
	pol.RedirectOrigins = []string{"https://app.example.com"}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	// The real engine with its default configuration: what a server runs.
	eng, err := fingerprint.NewEngine(fingerprint.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	svc := &linkguard.Service{Store: st, Keys: keys, Decider: eng, Policy: pol, Now: clk.Now, Log: quiet}
	site, err := web.New(web.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Options{Service: svc, Site: site, APIKeys: []string{testKey}, Dev: true, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, srv: srv, svc: svc, store: st, clock: clk}
}

type resp struct {
	status int
	header http.Header
	body   string
}

func (r resp) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(r.body), &m); err != nil {
		t.Fatalf("body is not JSON (%v): %s", err, r.body)
	}
	return m
}

// do sends one request through the real Fiber stack.
func (h *harness) do(method, path, body string, hdr ...string) resp {
	h.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := h.srv.App().Test(req, -1)
	if err != nil {
		h.t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	checkContract(h.t, method, path, res.StatusCode, res.Header, b) // openapi_test.go
	return resp{status: res.StatusCode, header: res.Header, body: string(b)}
}

func (h *harness) api(method, path, body string) resp {
	return h.do(method, path, body, "Authorization", "Bearer "+testKey)
}

type issued struct {
	ID, URL, Code, Token string
}

func (h *harness) issue(body string) issued {
	h.t.Helper()
	if body == "" {
		body = `{"email":"alice@example.com","redirect_url":"https://app.example.com/cb?x=1"}`
	}
	r := h.api("POST", "/v1/links", body)
	if r.status != 201 {
		h.t.Fatalf("issue: %d %s", r.status, r.body)
	}
	m := r.json(h.t)
	u := m["url"].(string)
	return issued{ID: m["id"].(string), URL: u, Code: m["code"].(string), Token: u[strings.LastIndex(u, "/")+1:]}
}

var nonceRE = regexp.MustCompile(`<meta name="lg-nonce" content="([^"]+)">`)

func (h *harness) nonce(token string) string {
	h.t.Helper()
	r := h.do("GET", "/l/"+token, "")
	m := nonceRE.FindStringSubmatch(r.body)
	if m == nil {
		h.t.Fatalf("no nonce in page: %s", r.body)
	}
	return m[1]
}

// issueBound issues a link to redirect as a person's browser that holds
// the device cookie "the-device-cookie-value" asked for it.
func (h *harness) issueBound(redirect string) *linkguard.Issued {
	h.t.Helper()
	out, err := h.svc.Issue(h.t.Context(), &linkguard.IssueRequest{
		Email: "alice@example.com", RedirectURL: redirect,
		Requester: linkguard.Client{Binding: "the-device-cookie-value",
			Visitor: fingerprint.Visitor{UserAgent: personUA, AcceptLanguage: personLang}},
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return out
}

func (h *harness) state(id string) string {
	h.t.Helper()
	r := h.api("GET", "/v1/links/"+id, "")
	if r.status != 200 {
		h.t.Fatalf("get link: %d %s", r.status, r.body)
	}
	return r.json(h.t)["state"].(string)
}

// The person of the server tests: Firefox on the Windows computer that
// asked for the link, without its device cookie (the corpus profiles
// "Firefox on the same Windows computer" and "that Firefox clicking
// Continue with a mouse path"), running the Firefox release of the day
// (Firefox 100 shipped 2022-05-03; one release about every four weeks).
// The real engine asks it for one click on verify and consumes on its
// trusted click.
var (
	personUA = func() string {
		major := 100 + int(time.Since(time.Date(2022, 5, 3, 0, 0, 0, 0, time.UTC)).Hours()/24/28)
		return fmt.Sprintf("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:%d.0) Gecko/20100101 Firefox/%d.0", major, major)
	}()
	personLang = "en-GB,en;q=0.9"
	// personIssue is an issue body whose requester is that computer.
	personIssue  = `{"email":"alice@example.com","redirect_url":"https://app.example.com/cb?x=1","requester":{"user_agent":"` + personUA + `","accept_language":"` + personLang + `"}}`
	personDevice = `"automation":{"webdriver":false,"chrome_object":false,"notification_permission":"default","notification_query":"prompt","plugins":5,"mime_types":2,"pdf_viewer":true},` +
		`"device":{"user_agent":"` + personUA + `","platform":"Win32","hardware_concurrency":8,"device_memory":8,"max_touch_points":0,"pointer_fine":true,"hover":true,` +
		`"screen":{"width":1920,"height":1080,"avail_width":1920,"avail_height":1040,"color_depth":24,"pixel_ratio":1},` +
		`"window":{"inner_width":1280,"inner_height":900,"outer_width":1296,"outer_height":1010},` +
		`"webgl":{"vendor":"Google Inc.","renderer":"ANGLE (NVIDIA, NVIDIA GeForce RTX 3060 Direct3D11 vs_5_0 ps_5_0, D3D11)","unmasked":true}},` +
		`"locale":{"time_zone":"Europe/London","offset_minutes":0,"language":"en-GB","languages":["en-GB","en"]},` +
		`"page":{"visibility":"visible","visible_at_start":true,"visibility_changes":0,"has_focus":true,"focused_at_start":true,"prerendered":false}`
	// personVerify is its collector's first report: mouse moves, no click.
	personVerify = `{"v":2,"stage":"verify",` + personDevice + `,"interaction":{"trusted":{"pointermove":{"n":30,"first_ms":500}},"path":{"end_distance":-1}},` +
		`"timing":{"navigation_type":"navigate","dom_content_loaded_ms":180,"load_ms":260,"start_ms":300,"verify_ms":450}}`
	// trustedClick is its report of a click on Continue with a mouse path.
	trustedClick = `{"v":2,"stage":"confirm",` + personDevice + `,"interaction":{"trusted":{"pointermove":{"n":60,"first_ms":500}},"path":{"end_distance":-1},` +
		`"click":{"trusted":true,"on_continue":true,"at_ms":3400,"x":310,"y":420,"detail":1,"pointer_type":"mouse","path":{"points":24,"length":288,"straightness":0.7,"duration_ms":960,"speed_cv":0.6,"end_distance":1}}},` +
		`"timing":{"navigation_type":"navigate","dom_content_loaded_ms":180,"load_ms":260,"start_ms":300,"verify_ms":450,"confirm_ms":3400}}`
)

// personHeaders are the headers its browser sends with the page's reports.
var personHeaders = []string{"User-Agent", personUA, "Accept-Language", personLang,
	"Sec-Fetch-Site", "same-origin", "Sec-Fetch-Mode", "cors", "Sec-Fetch-Dest", "empty"}

// personLink issues a link for the person (body "" is personIssue) and
// lets the clock run to when they open the mail.
func (h *harness) personLink(body string) issued {
	h.t.Helper()
	if body == "" {
		body = personIssue
	}
	l := h.issue(body)
	h.clock.Add(50 * time.Second)
	return l
}

// person sends a request as the person's browser.
func (h *harness) person(method, path, body string, hdr ...string) resp {
	h.t.Helper()
	return h.do(method, path, body, append(append([]string{}, personHeaders...), hdr...)...)
}

func TestAPI(t *testing.T) {
	h := newHarness(t, "")
	l := h.issue("")
	cases := []struct {
		name, method, path, body string
		auth                     bool
		status                   int
		code                     string   // error code, when an error
		notIn                    []string // must NOT appear in the body
	}{
		{"201/issue", "POST", "/v1/links", `{"email":"bob@example.com","redirect_url":"https://app.example.com/x","ttl_seconds":120,"metadata":{"a":1},"send_email":false,"requester":{"ip":"81.2.69.142","user_agent":"UA","accept_language":"en"}}`, true, 201, "", []string{"token_hash", "code_hash"}},
		{"400/unknown field", "POST", "/v1/links", `{"email":"a@example.com","redirect_url":"https://app.example.com/","colour":"red"}`, true, 400, "unknown_field", nil},
		{"400/unknown nested field", "POST", "/v1/links", `{"email":"a@example.com","redirect_url":"https://app.example.com/","requester":{"ipv6":"::1"}}`, true, 400, "unknown_field", nil},
		{"400/not json", "POST", "/v1/links", `{"email":`, true, 400, "invalid_json", nil},
		{"400/trailing data", "POST", "/v1/links", `{"email":"a@example.com"} {}`, true, 400, "invalid_json", nil},
		{"400/wrong type", "POST", "/v1/links", `{"email":5}`, true, 400, "invalid_json", nil},
		{"400/missing email", "POST", "/v1/links", `{"redirect_url":"https://app.example.com/"}`, true, 400, "invalid_request", nil},
		{"400/bad email", "POST", "/v1/links", `{"email":"not-an-address","redirect_url":"https://app.example.com/"}`, true, 400, "invalid_email", nil},
		{"400/redirect_not_allowed", "POST", "/v1/links", `{"email":"a@example.com","redirect_url":"https://evil.example.net/"}`, true, 400, "redirect_not_allowed", nil},
		{"400/redirect not absolute", "POST", "/v1/links", `{"email":"a@example.com","redirect_url":"/relative"}`, true, 400, "redirect_not_allowed", nil},
		{"400/redirect javascript", "POST", "/v1/links", `{"email":"a@example.com","redirect_url":"javascript:alert(1)"}`, true, 400, "redirect_not_allowed", nil},
		{"400/ttl too short", "POST", "/v1/links", `{"email":"a@example.com","redirect_url":"https://app.example.com/","ttl_seconds":59}`, true, 400, "invalid_request", nil},
		{"400/ttl too long", "POST", "/v1/links", `{"email":"a@example.com","redirect_url":"https://app.example.com/","ttl_seconds":86401}`, true, 400, "invalid_request", nil},
		{"400/metadata too big", "POST", "/v1/links", `{"email":"a@example.com","redirect_url":"https://app.example.com/","metadata":{"x":"` + strings.Repeat("y", 5000) + `"}}`, true, 400, "invalid_request", nil},
		{"400/bad requester ip", "POST", "/v1/links", `{"email":"a@example.com","redirect_url":"https://app.example.com/","requester":{"ip":"999.1.1.1"}}`, true, 400, "invalid_request", nil},
		{"415/form body", "POST", "/v1/exchange", "", true, 415, "unsupported_media_type", nil},
		{"401/no key", "POST", "/v1/links", `{}`, false, 401, "unauthorized", nil},
		{"401/no key on unknown link", "GET", "/v1/links/lnk_00000000000000000000000000", "", false, 401, "unauthorized", nil},
		{"401/no key on real link", "GET", "/v1/links/" + l.ID, "", false, 401, "unauthorized", []string{l.ID, "alice"}},
		{"404/unknown link", "GET", "/v1/links/lnk_00000000000000000000000000", "", true, 404, "not_found", nil},
		{"404/malformed id", "GET", "/v1/links/xyz", "", true, 404, "not_found", nil},
		{"404/delete unknown", "DELETE", "/v1/links/lnk_00000000000000000000000000", "", true, 404, "not_found", nil},
		{"200/get link", "GET", "/v1/links/" + l.ID, "", true, 200, "", []string{l.Code, l.Token, "token_hash", "code_hash", "binding"}},
		{"400/exchange unknown", "POST", "/v1/exchange", `{"code":"nope"}`, true, 400, "invalid_code", nil},
		{"404/unknown route", "GET", "/v1/nothing", "", true, 404, "not_found", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var r resp
			if c.auth {
				r = h.api(c.method, c.path, c.body)
			} else {
				r = h.do(c.method, c.path, c.body)
			}
			if c.name == "415/form body" {
				r = h.do("POST", c.path, "", "Authorization", "Bearer "+testKey, "Content-Type", "application/x-www-form-urlencoded")
			}
			if r.status != c.status {
				t.Fatalf("status = %d, want %d; body %s", r.status, c.status, r.body)
			}
			if c.code != "" {
				e, ok := r.json(t)["error"].(map[string]any)
				if !ok || e["code"] != c.code || e["message"] == "" {
					t.Fatalf("error body = %s, want code %q with a message", r.body, c.code)
				}
			}
			for _, s := range c.notIn {
				if strings.Contains(r.body, s) {
					t.Fatalf("body contains %q: %s", s, r.body)
				}
			}
		})
	}
}

func TestIssueShape(t *testing.T) {
	h := newHarness(t, "")
	r := h.api("POST", "/v1/links", `{"email":"alice@example.com","redirect_url":"https://app.example.com/cb"}`)
	m := r.json(t)
	if !regexp.MustCompile(`^lnk_[0-9a-z]{26}$`).MatchString(m["id"].(string)) {
		t.Errorf("id %q does not look like lnk_ + 26 base32 chars", m["id"])
	}
	if !regexp.MustCompile(`^http://kit\.test/l/[A-Za-z0-9_-]{43}$`).MatchString(m["url"].(string)) {
		t.Errorf("url %q is not public URL + /l/ + 43-char token", m["url"])
	}
	if !regexp.MustCompile(`^[0-9]{6}$`).MatchString(m["code"].(string)) {
		t.Errorf("code %q is not 6 digits", m["code"])
	}
	exp, err := time.Parse(time.RFC3339, m["expires_at"].(string))
	if err != nil || exp.Sub(h.clock.Now()) != 15*time.Minute {
		t.Errorf("expires_at = %v (%v), want now + 900 s", m["expires_at"], err)
	}
}

func TestFullFlowWithExchange(t *testing.T) {
	h := newHarness(t, "")
	l := h.issue(strings.Replace(personIssue, `}}`, `},"metadata":{"plan":"pro"}}`, 1))
	h.clock.Add(50 * time.Second) // the person opens the mail
	nonce := h.nonce(l.Token)

	r := h.person("POST", "/l/"+l.Token+"/verify", `{"nonce":"`+nonce+`","signals":`+proven(t, nonce, "verify", personVerify)+`}`)
	if r.status != 200 || r.json(t)["outcome"] != "confirm" {
		t.Fatalf("verify without cookie: %d %s, want confirm", r.status, r.body)
	}
	// A confirm without a trusted click is not consumed: the engine asks
	// for the code (fingerprint's rule "no trusted click").
	h.clock.Add(2 * time.Second)
	r = h.person("POST", "/l/"+l.Token+"/confirm", `{"nonce":"`+nonce+`","signals":`+proven(t, nonce, "confirm", `{"v":3,"interaction":{"click":{"trusted":false}}}`)+`}`)
	if r.json(t)["outcome"] != "code" || h.state(l.ID) != "pending" {
		t.Fatalf("untrusted click: %s; state %s", r.body, h.state(l.ID))
	}
	h.clock.Add(3 * time.Second)
	r = h.person("POST", "/l/"+l.Token+"/confirm", `{"nonce":"`+nonce+`","signals":`+proven(t, nonce, "confirm", trustedClick)+`}`)
	m := r.json(t)
	if m["outcome"] != "consumed" {
		t.Fatalf("trusted click: %s, want consumed", r.body)
	}
	ru, _ := url.Parse(m["redirect_url"].(string))
	if ru.Host != "app.example.com" || ru.Path != "/cb" || ru.Query().Get("x") != "1" || len(ru.Query().Get("lg_code")) != 43 {
		t.Fatalf("redirect_url = %s", ru)
	}
	lgCode := ru.Query().Get("lg_code")

	// Every later report says used, whatever it carries.
	for _, p := range []string{"/verify", "/confirm"} {
		r = h.do("POST", "/l/"+l.Token+p, `{"nonce":"`+nonce+`","signals":`+trustedClick+`}`)
		if r.json(t)["outcome"] != "used" {
			t.Fatalf("%s after consume: %s, want used", p, r.body)
		}
	}
	if h.state(l.ID) != "consumed" {
		t.Fatalf("state = %s", h.state(l.ID))
	}

	r = h.api("POST", "/v1/exchange", `{"code":"`+lgCode+`"}`)
	m = r.json(t)
	if r.status != 200 || m["email"] != "alice@example.com" || m["link_id"] != l.ID ||
		m["metadata"].(map[string]any)["plan"] != "pro" || m["verdict"].(map[string]any)["decision"] != "consume" {
		t.Fatalf("exchange: %d %s", r.status, r.body)
	}
	r = h.api("POST", "/v1/exchange", `{"code":"`+lgCode+`"}`)
	if r.status != 400 || r.json(t)["error"].(map[string]any)["code"] != "invalid_code" {
		t.Fatalf("second exchange: %d %s", r.status, r.body)
	}

	// The visits tell the story, with scores and reasons. They are
	// written off the request path: wait for the writer.
	g := h.api("GET", "/v1/links/"+l.ID, "").json(t)
	for deadline := time.Now().Add(5 * time.Second); len(g["visits"].([]any)) < 4 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
		g = h.api("GET", "/v1/links/"+l.ID, "").json(t)
	}
	visits := g["visits"].([]any)
	kinds := ""
	for _, v := range visits {
		vm := v.(map[string]any)
		kinds += vm["kind"].(string) + ":" + vm["outcome"].(string) + " "
	}
	want := "view:none verify:confirm confirm:code confirm:consumed "
	if !strings.HasPrefix(kinds, want) {
		t.Fatalf("visits = %q, want prefix %q", kinds, want)
	}
	if g["consumed_at"] == nil {
		t.Fatal("consumed_at missing")
	}
}

func TestHandoffExpires(t *testing.T) {
	h := newHarness(t, "")
	l := h.personLink("")
	nonce := h.nonce(l.Token)
	m := h.person("POST", "/l/"+l.Token+"/confirm", `{"nonce":"`+nonce+`","signals":`+proven(t, nonce, "confirm", trustedClick)+`}`).json(t)
	ru, _ := url.Parse(m["redirect_url"].(string))
	h.clock.Add(61 * time.Second)
	r := h.api("POST", "/v1/exchange", `{"code":"`+ru.Query().Get("lg_code")+`"}`)
	if r.status != 400 {
		t.Fatalf("exchange after 61 s: %d %s, want 400 invalid_code", r.status, r.body)
	}
}

func TestCodePath(t *testing.T) {
	h := newHarness(t, "")
	l := h.issue("")
	nonce := h.nonce(l.Token)
	wrong := fmt.Sprintf("%06d", (atoi(l.Code)+1)%1000000)
	r := h.do("POST", "/l/"+l.Token+"/confirm", `{"nonce":"`+nonce+`","code":"`+wrong+`"}`)
	if r.status != 400 || r.json(t)["error"].(map[string]any)["code"] != "invalid_code" {
		t.Fatalf("wrong code: %d %s", r.status, r.body)
	}
	if !strings.Contains(r.body, "4 tries left") {
		t.Fatalf("wrong code message should count tries: %s", r.body)
	}
	r = h.do("POST", "/l/"+l.Token+"/confirm", `{"nonce":"`+nonce+`","code":"`+l.Code+`"}`)
	if r.json(t)["outcome"] != "consumed" {
		t.Fatalf("right code: %s", r.body)
	}
}

func TestCodeAttemptsRunOut(t *testing.T) {
	h := newHarness(t, "")
	l := h.issue("")
	nonce := h.nonce(l.Token)
	wrong := fmt.Sprintf("%06d", (atoi(l.Code)+1)%1000000)
	for i := 0; i < 5; i++ {
		h.do("POST", "/l/"+l.Token+"/confirm", `{"nonce":"`+nonce+`","code":"`+wrong+`"}`)
	}
	r := h.do("POST", "/l/"+l.Token+"/confirm", `{"nonce":"`+nonce+`","code":"`+l.Code+`"}`)
	if r.status != 429 || h.state(l.ID) != "pending" {
		t.Fatalf("right code after 5 wrong: %d %s, state %s; want 429 and still pending", r.status, r.body, h.state(l.ID))
	}
}

func atoi(s string) int { n := 0; fmt.Sscan(s, &n); return n }

func TestNoJavaScriptCodeForm(t *testing.T) {
	h := newHarness(t, "")
	l := h.issue("")
	nonce := h.nonce(l.Token)
	form := func(code string) resp {
		v := url.Values{"nonce": {nonce}, "code": {code}}
		return h.do("POST", "/l/"+l.Token+"/confirm", v.Encode(), "Content-Type", "application/x-www-form-urlencoded")
	}
	r := form("000000")
	if l.Code == "000000" {
		r = form("111111")
	}
	if r.status != 200 || !strings.Contains(r.body, `data-lg-state="code"`) || !strings.Contains(r.body, "not right") {
		t.Fatalf("wrong code form: %d %s", r.status, r.body)
	}
	r = form("")
	if !strings.Contains(r.body, `data-lg-state="code"`) || h.state(l.ID) != "pending" {
		t.Fatalf("form without a code must not consume: %s", r.body)
	}
	r = form(l.Code)
	if !strings.Contains(r.body, `data-lg-state="done"`) || !strings.Contains(r.body, "lg_code=") || h.state(l.ID) != "consumed" {
		t.Fatalf("right code form: %s", r.body)
	}
}

func TestLandingHeadersAndMarkers(t *testing.T) {
	h := newHarness(t, "")
	l := h.issue("")
	for _, tok := range []string{l.Token, "unknown-token", strings.Repeat("A", 43)} {
		for _, m := range []string{"GET", "HEAD"} {
			r := h.do(m, "/l/"+tok, "")
			if r.status != 200 {
				t.Fatalf("%s /l/%s: %d", m, tok, r.status)
			}
			want := map[string]string{
				"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex",
			}
			if tok == l.Token {
				// The collector runs: isolated, for the key clock's 5 µs
				// (render). A page without it (unknown tokens) is not.
				want["Cross-Origin-Opener-Policy"], want["Cross-Origin-Embedder-Policy"] = "same-origin", "credentialless"
			} else if r.header.Get("Cross-Origin-Opener-Policy") != "" || r.header.Get("Cross-Origin-Embedder-Policy") != "" {
				t.Errorf("%s %s: a page without the collector is isolated", m, tok)
			}
			for k, want := range want {
				if !strings.Contains(r.header.Get(k), want) {
					t.Errorf("%s %s: %s = %q, want %q", m, tok, k, r.header.Get(k), want)
				}
			}
			csp := r.header.Get("Content-Security-Policy")
			if !strings.Contains(csp, "script-src 'self' 'wasm-unsafe-eval'") || !strings.Contains(csp, "worker-src 'self';") ||
				strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "blob:") {
				t.Errorf("CSP = %q", csp)
			}
		}
	}
	body := h.do("GET", "/l/"+l.Token, "").body
	for _, marker := range []string{`<meta name="lg-nonce"`, `data-lg-state="checking"`, `id="lg-continue"`, `<noscript>`, `id="lg-code"`, `id="lg-code-submit"`} {
		if !strings.Contains(body, marker) {
			t.Errorf("landing page lacks %s", marker)
		}
	}
	if strings.Contains(body, "<script>") {
		t.Error("landing page has an inline script")
	}
	if body := h.do("GET", "/l/unknown-token", "").body; !strings.Contains(body, `data-lg-state="expired"`) {
		t.Errorf("unknown token page state is not expired")
	}
}

func TestGetAndHeadNeverConsume(t *testing.T) {
	h := newHarness(t, "")
	l := h.issue("")
	hdrs := [][]string{
		nil,
		{"Cookie", "lg_device=whatever"},
		{"Sec-Purpose", "prefetch", "User-Agent", "Mozilla/5.0 HeadlessChrome/120"},
		{"User-Agent", "Barracuda Sentinel (EE)"},
	}
	for i := 0; i < 40; i++ {
		m := []string{"GET", "HEAD"}[i%2]
		h.do(m, "/l/"+l.Token, "", hdrs[i%len(hdrs)]...)
		h.do(m, "/l/"+l.Token+"/verify", "", hdrs[i%len(hdrs)]...)
		h.do(m, "/l/"+l.Token+"/confirm", "", hdrs[i%len(hdrs)]...)
	}
	if s := h.state(l.ID); s != "pending" {
		t.Fatalf("state after GET/HEAD storm = %s", s)
	}
}

func TestNonceIsRequired(t *testing.T) {
	h := newHarness(t, "")
	a := h.issue(`{"email":"alice@example.com","redirect_url":"https://app.example.com/","ttl_seconds":86400}`)
	b := h.issue(`{"email":"bob@example.com","redirect_url":"https://app.example.com/"}`)
	otherNonce := h.nonce(b.Token)
	stale := h.nonce(a.Token)
	h.clock.Add(3 * time.Hour)
	for name, body := range map[string]string{
		"missing":        `{"signals":` + trustedClick + `}`,
		"forged":         `{"nonce":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","signals":` + trustedClick + `}`,
		"other link":     `{"nonce":"` + otherNonce + `","signals":` + trustedClick + `}`,
		"stale (3 h)":    `{"nonce":"` + stale + `","signals":` + trustedClick + `}`,
		"garbage base64": `{"nonce":"!!!","signals":` + trustedClick + `}`,
	} {
		r := h.do("POST", "/l/"+a.Token+"/confirm", body)
		if r.status != 400 || r.json(t)["error"].(map[string]any)["code"] != "invalid_nonce" {
			t.Errorf("%s nonce: %d %s, want 400 invalid_nonce", name, r.status, r.body)
		}
	}
	if s := h.state(a.ID); s != "pending" {
		t.Fatalf("state = %s, want pending", s)
	}
}

func TestExpiredRevokedAndReissued(t *testing.T) {
	h := newHarness(t, "")
	exp := h.issue(`{"email":"e@example.com","redirect_url":"https://app.example.com/","ttl_seconds":60}`)
	rev := h.issue(`{"email":"r@example.com","redirect_url":"https://app.example.com/"}`)
	old := h.issue(`{"email":"o@example.com","redirect_url":"https://app.example.com/a"}`)
	newer := h.issue(`{"email":"O@example.com","redirect_url":"https://app.example.com/b"}`)
	nonces := map[string]string{}
	for _, l := range []issued{exp, rev, old, newer} {
		nonces[l.ID] = h.nonce(l.Token)
	}
	if r := h.api("DELETE", "/v1/links/"+rev.ID, ""); r.status != 204 {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	if r := h.api("DELETE", "/v1/links/"+rev.ID, ""); r.status != 204 {
		t.Fatalf("revoke again: %d %s, want 204 (safe to repeat)", r.status, r.body)
	}
	h.clock.Add(61 * time.Second)
	for _, c := range []struct {
		l      issued
		state  string
		reason any // revoke_reason, nil for absent
	}{{exp, "expired", nil}, {rev, "revoked", "api"}, {old, "revoked", "replaced"}, {newer, "pending", nil}} {
		r := h.api("GET", "/v1/links/"+c.l.ID, "")
		got := r.json(t)
		if got["state"] != c.state {
			t.Errorf("%s: state %v, want %s", c.l.ID, got["state"], c.state)
		}
		if reason, ok := got["revoke_reason"]; reason != c.reason || (c.reason == nil && ok) {
			t.Errorf("%s (%s): revoke_reason %v, want %v\n%s", c.l.ID, c.state, reason, c.reason, r.body)
		}
	}
	for _, l := range []issued{exp, rev, old} {
		r := h.do("POST", "/l/"+l.Token+"/confirm", `{"nonce":"`+nonces[l.ID]+`","code":"`+l.Code+`"}`)
		if r.json(t)["outcome"] != "expired" {
			t.Errorf("report on %s: %s, want expired", l.ID, r.body)
		}
		if body := h.do("GET", "/l/"+l.Token, "").body; !strings.Contains(body, `data-lg-state="expired"`) {
			t.Errorf("page of %s is not in state expired", l.ID)
		}
	}
	if r := h.api("DELETE", "/v1/links/"+exp.ID, ""); r.status != 409 {
		t.Errorf("revoke expired: %d, want 409", r.status)
	}
}

// TestFastPageFormVerify: the page of the browser that asked posts its
// report as a form (web/inline/fast.js). With the device cookie the
// answer is a 303 to the redirect, which the page's form-action allows,
// with any https origin the host's own redirects go on to;
// anything else is a 303 back to the page with the collector (lg_fast=0),
// whatever the cookie, so that no answer makes a loop of posts; a post
// from another site consumes nothing.
func TestFastPageFormVerify(t *testing.T) {
	const cookie = "lg_device=the-device-cookie-value"
	h := newHarness(t, "")
	post := func(tok, nonce string, hdr ...string) resp {
		return h.do("POST", "/l/"+tok+"/verify", url.Values{"nonce": {nonce}}.Encode(),
			append([]string{"Content-Type", "application/x-www-form-urlencoded", "Sec-Fetch-Site", "same-origin"}, hdr...)...)
	}
	back := func(what, tok string, r resp) {
		t.Helper()
		if r.status != 303 || r.header.Get("Location") != "/l/"+tok+"?lg_fast=0" {
			t.Errorf("%s: %d to %q, want 303 to the page with lg_fast=0", what, r.status, r.header.Get("Location"))
		}
	}

	out := h.issueBound("https://app.example.com/cb")
	tok, id := out.Token, out.Link.ID
	h.clock.Add(50 * time.Second)
	page := h.do("GET", "/l/"+tok, "", "Cookie", cookie)
	if !strings.Contains(page.body, `data-lg-fast="1"`) {
		t.Fatal("no fast page for the browser that asked")
	}
	if csp := page.header.Get("Content-Security-Policy"); !strings.Contains(csp, "; form-action 'self' https:;") {
		t.Errorf("fast page CSP %q: form-action does not allow the redirects after its form", csp)
	}
	if csp := h.do("GET", "/l/"+tok, "").header.Get("Content-Security-Policy"); !strings.Contains(csp, "; form-action 'self';") {
		t.Errorf("the page of another browser names another origin in form-action: %q", csp)
	}
	nonce := h.nonce(tok)
	// The code form's answer is the landing page again, and for this
	// browser the fast page, whose form needs the same form-action.
	again := h.do("POST", "/l/"+tok+"/confirm", url.Values{"nonce": {nonce}, "code": {"000000"}}.Encode(),
		"Content-Type", "application/x-www-form-urlencoded", "Sec-Fetch-Site", "same-origin", "Cookie", cookie)
	if !strings.Contains(again.body, `data-lg-fast="1"`) {
		t.Error("the code form's answer to the browser that asked is not the fast page")
	} else if csp := again.header.Get("Content-Security-Policy"); !strings.Contains(csp, "; form-action 'self' https:;") {
		t.Errorf("the fast page at the code form's address: CSP %q stops the redirects after its form", csp)
	}

	back("no cookie", tok, post(tok, nonce))
	back("another cookie", tok, post(tok, nonce, "Cookie", "lg_device=another-value"))
	back("another site", tok, post(tok, nonce, "Cookie", cookie, "Sec-Fetch-Site", "cross-site"))
	back("a stale nonce", tok, post(tok, "not-a-nonce", "Cookie", cookie))
	if st := h.state(id); st != "pending" {
		t.Fatalf("link %s after refused form posts, want pending", st)
	}
	if body := h.do("GET", "/l/"+tok+"?lg_fast=0", "", "Cookie", cookie).body; strings.Contains(body, `data-lg-fast`) || !strings.Contains(body, `data-lg-state="checking"`) {
		t.Error("the page after a refused form post is not the collector's")
	}

	r := post(tok, nonce, "Cookie", cookie)
	if st := h.state(id); st != "consumed" {
		t.Errorf("link %s after the right cookie's form, want consumed", st)
	}
	loc, _ := url.Parse(r.header.Get("Location"))
	if r.status != 303 || loc == nil || loc.Host != "app.example.com" || loc.Query().Get("lg_code") == "" {
		t.Fatalf("right cookie: %d to %q, want 303 to the redirect with lg_code", r.status, r.header.Get("Location"))
	}
	for k, want := range map[string]string{"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"} {
		if got := r.header.Get(k); got != want {
			t.Errorf("consumed answer: %s = %q, want %q", k, got, want)
		}
	}
	back("a used link", tok, post(tok, nonce, "Cookie", cookie))
	if r := post("abc%0D%0ASet-Cookie:%20x", nonce, "Cookie", cookie); r.status != 404 || r.header.Get("Location") != "" {
		t.Errorf("a path that is no token: %d to %q, want 404 and no Location", r.status, r.header.Get("Location"))
	}
}

func TestBindingCookieConsumesWithoutClick(t *testing.T) {
	h := newHarness(t, "")
	out := h.issueBound("https://app.example.com/")
	tok := out.Token
	h.clock.Add(50 * time.Second)
	nonce := h.nonce(tok)
	fast := h.do("GET", "/l/"+tok, "", "Cookie", "lg_device=the-device-cookie-value")
	if !strings.Contains(fast.body, `data-lg-fast="1"`) || !regexp.MustCompile(`<script src="/assets/lg\.[0-9a-f]+\.js" defer>`).MatchString(fast.body) {
		t.Error("the page of the browser that asked does not report at once, or has no page script")
	}
	// NB: isolation would cost this browser a renderer process of its own
	// (render); the key clock is for browsers without the cookie.
	if coop, coep := fast.header.Get("Cross-Origin-Opener-Policy"), fast.header.Get("Cross-Origin-Embedder-Policy"); coop != "" || coep != "" {
		t.Errorf("the page of the browser that asked is isolated (COOP %q, COEP %q)", coop, coep)
	}
	other := h.do("GET", "/l/"+tok, "", "Cookie", "lg_device=another-value")
	if strings.Contains(other.body, `data-lg-fast`) {
		t.Error("a page without the device cookie skips the collector")
	}
	if other.header.Get("Cross-Origin-Opener-Policy") != "same-origin" || other.header.Get("Cross-Origin-Embedder-Policy") != "credentialless" {
		t.Error("the collector's page for a browser without the device cookie is not isolated")
	}
	r := h.person("POST", "/l/"+tok+"/verify", `{"nonce":"`+nonce+`","signals":`+proven(t, nonce, "verify", personVerify)+`}`, "Cookie", "lg_device=another-value")
	if r.json(t)["outcome"] != "confirm" {
		t.Fatalf("wrong cookie: %s, want confirm", r.body)
	}
	r = h.do("POST", "/l/"+tok+"/verify", `{"nonce":"`+nonce+`","signals":{}}`, "Cookie", "lg_device=the-device-cookie-value")
	if r.json(t)["outcome"] != "consumed" {
		t.Fatalf("right cookie: %s, want consumed", r.body)
	}
}

func TestConcurrentConsumeThroughHandler(t *testing.T) {
	h := newHarness(t, "")
	l := h.personLink("")
	nonce := h.nonce(l.Token)
	var wg sync.WaitGroup
	var mu sync.Mutex
	counts := map[string]int{}
	start := make(chan struct{})
	body := `{"nonce":"` + nonce + `","signals":` + proven(t, nonce, "confirm", trustedClick) + `}`
	for i := 0; i < 200; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			req := httptest.NewRequest("POST", "/l/"+l.Token+"/confirm", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			for i := 0; i+1 < len(personHeaders); i += 2 {
				req.Header.Set(personHeaders[i], personHeaders[i+1])
			}
			res, err := h.srv.App().Test(req, -1)
			if err != nil {
				t.Error(err)
				return
			}
			var m map[string]any
			json.NewDecoder(res.Body).Decode(&m)
			mu.Lock()
			counts[fmt.Sprint(m["outcome"])]++
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	if counts["consumed"] != 1 || counts["used"] != 199 {
		t.Fatalf("outcomes = %v, want exactly 1 consumed and 199 used", counts)
	}
}

func TestRestartKeepsState(t *testing.T) {
	dir := t.TempDir()
	h := newHarness(t, dir)
	pending := h.issue("")
	consumed := h.personLink(strings.Replace(personIssue, "alice@", "bob@", 1))
	n := h.nonce(consumed.Token)
	m := h.person("POST", "/l/"+consumed.Token+"/confirm", `{"nonce":"`+n+`","signals":`+proven(t, n, "confirm", trustedClick)+`}`).json(t)
	ru, _ := url.Parse(m["redirect_url"].(string))
	lg := ru.Query().Get("lg_code")
	if r := h.api("POST", "/v1/exchange", `{"code":"`+lg+`"}`); r.status != 200 {
		t.Fatalf("exchange before restart: %d", r.status)
	}
	h.store.Close()

	h2 := newHarness(t, dir)
	if s := h2.state(consumed.ID); s != "consumed" {
		t.Fatalf("consumed link after restart: %s", s)
	}
	if r := h2.api("POST", "/v1/exchange", `{"code":"`+lg+`"}`); r.status != 400 {
		t.Fatalf("handoff reused across restart: %d", r.status)
	}
	n = h2.nonce(pending.Token)
	r := h2.do("POST", "/l/"+pending.Token+"/confirm", `{"nonce":"`+n+`","code":"`+pending.Code+`"}`)
	if r.json(t)["outcome"] != "consumed" {
		t.Fatalf("pending link after restart: %s", r.body)
	}
}

func TestAssetsAreHashedImmutableAndCompressed(t *testing.T) {
	h := newHarness(t, "")
	page := h.do("GET", "/l/x", "").body
	m := regexp.MustCompile(`href="(/assets/style\.[0-9a-f]{10}\.css)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no hashed stylesheet link in page")
	}
	for enc, want := range map[string]string{"br": "br", "gzip": "gzip", "": "",
		// q=0 refuses a coding, in any spelling of zero (RFC 9110 12.4.2).
		"br;q=0": "", "br;q=0.0": "", "br;q=0.000, gzip": "gzip", "br;Q=0": "", "br; q=0.00": "",
		"gzip, br;q=0.5": "gzip", "gzip;q=0.2, br": "br", "identity": "", "deflate": "",
		"br;q=0.0, gzip;q=0": ""} {
		r := h.do("GET", m[1], "", "Accept-Encoding", enc)
		if r.status != 200 || r.header.Get("Content-Encoding") != want ||
			r.header.Get("Cache-Control") != "public, max-age=31536000, immutable" {
			t.Errorf("Accept-Encoding %q: %d, Content-Encoding %q, Cache-Control %q", enc, r.status, r.header.Get("Content-Encoding"), r.header.Get("Cache-Control"))
		}
	}
	if r := h.do("GET", "/assets/nope.css", ""); r.status != 404 {
		t.Errorf("unknown asset: %d", r.status)
	}
}

// TestBodyTooLarge runs over a real listener: Fiber's in-memory Test
// refuses large bodies before the server sees them.
func TestBodyTooLarge(t *testing.T) {
	h := newHarness(t, "")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go h.srv.App().Listener(ln)
	t.Cleanup(func() { h.srv.App().Shutdown() })
	big := `{"email":"a@example.com","redirect_url":"https://app.example.com/","metadata":"` + strings.Repeat("x", 70<<10) + `"}`
	for _, path := range []string{"/v1/links", "/l/sometoken/verify"} {
		// A raw connection: the server answers 413 as soon as it reads the
		// headers and may close before the body is written, which an
		// http.Client reports as a reset instead of the answer.
		conn, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: kit.test\r\nContent-Type: application/json\r\nAuthorization: Bearer %s\r\nContent-Length: %d\r\n\r\n", path, testKey, len(big))
		go conn.Write([]byte(big))
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		conn.Close()
		var e errorBody
		if res.StatusCode != 413 || json.Unmarshal(b, &e) != nil || e.Error.Code != "body_too_large" {
			t.Errorf("%s: %d %s, want 413 body_too_large", path, res.StatusCode, b)
		}
	}
}

func TestEventsStream(t *testing.T) {
	h := newHarness(t, "")
	l := h.personLink("")
	nonce := h.nonce(l.Token)
	h.person("POST", "/l/"+l.Token+"/verify", `{"nonce":"`+nonce+`","signals":`+proven(t, nonce, "verify", personVerify)+`}`)
	h.clock.Add(3 * time.Second)
	h.person("POST", "/l/"+l.Token+"/confirm", `{"nonce":"`+nonce+`","signals":`+proven(t, nonce, "confirm", trustedClick)+`}`)
	var r resp
	for i := 0; i < 100; i++ { // visits are written in the background
		r = h.api("GET", "/v1/events?since=1h", "")
		if strings.Count(r.body, "\n") >= 2 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	lines := strings.Split(strings.TrimSpace(r.body), "\n")
	if r.status != 200 || len(lines) != 2 || r.header.Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("events: %d %q %s", r.status, r.header.Get("Content-Type"), r.body)
	}
	var ev struct {
		LinkID  string                    `json:"link_id"`
		Kind    string                    `json:"kind"`
		Verdict struct{ Decision string } `json:"verdict"`
	}
	json.Unmarshal([]byte(lines[1]), &ev)
	if ev.LinkID != l.ID || ev.Kind != "confirm" || ev.Verdict.Decision != "consume" {
		t.Fatalf("second event: %s", lines[1])
	}
	for _, secret := range []string{l.Token, l.Code} {
		if strings.Contains(r.body, secret) {
			t.Fatalf("events carry a secret: %s", secret)
		}
	}
	if r := h.api("GET", "/v1/events?since=yesterday", ""); r.status != 400 {
		t.Fatalf("bad since: %d", r.status)
	}
	if r := h.do("GET", "/v1/events", ""); r.status != 401 {
		t.Fatalf("events without a key: %d", r.status)
	}
}

func TestCSPAllowsTheBrandLogoOnly(t *testing.T) {
	if csp := pageCSP(""); !strings.Contains(csp, "img-src 'self' data:;") {
		t.Fatalf("no logo: %s", csp)
	}
	if csp := pageCSP("https://cdn.example.com/logo.svg?v=2"); !strings.Contains(csp, "img-src 'self' data: https://cdn.example.com;") {
		t.Fatalf("outside logo: %s", csp)
	}
	if csp := pageCSP("javascript:alert(1)"); strings.Contains(csp, "javascript") {
		t.Fatalf("script URL in the CSP: %s", csp)
	}
}
