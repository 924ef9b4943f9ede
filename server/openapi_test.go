package server

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/internal/clip"
)

// The contract check: every /v1 response of the server tests (through
// harness.do, and the fuzz seeds) is validated against the OpenAPI
// document, status, headers and body, so the document cannot drift from
// the server.
var contract struct {
	once   sync.Once
	doc    *openapi3.T
	router routers.Router
	err    error

	mu   sync.Mutex
	seen map[string]bool // "METHOD /path STATUS" validated
}

func loadContract() (*openapi3.T, routers.Router, error) {
	contract.once.Do(func() {
		js, err := OpenAPI()
		if err != nil {
			contract.err = err
			return
		}
		doc, err := openapi3.NewLoader().LoadFromData(js)
		if err != nil {
			contract.err = fmt.Errorf("load: %w", err)
			return
		}
		if err := doc.Validate(context.Background()); err != nil {
			contract.err = fmt.Errorf("validate: %w", err)
			return
		}
		r, err := gorillamux.NewRouter(doc)
		if err != nil {
			contract.err = fmt.Errorf("router: %w", err)
			return
		}
		contract.doc, contract.router = doc, r
		contract.seen = map[string]bool{}
	})
	return contract.doc, contract.router, contract.err
}

// checkContract validates one /v1 response against the document. A path
// the document does not have must answer with the error shape (404, 405).
func checkContract(t testing.TB, method, target string, status int, header http.Header, body []byte) {
	t.Helper()
	if !strings.HasPrefix(target, "/v1/") || method == http.MethodHead {
		return
	}
	doc, router, err := loadContract()
	if err != nil {
		t.Fatalf("OpenAPI document: %v", err)
	}
	req := httptest.NewRequest(method, target, nil)
	route, params, err := router.FindRoute(req)
	if err != nil {
		// Not a documented operation: it must still be an error object.
		if status < 400 {
			t.Errorf("%s %s answered %d, and the OpenAPI document has no such operation", method, target, status)
			return
		}
		schema := doc.Components.Schemas["Error"].Value
		var v any
		if err := json.Unmarshal(body, &v); err != nil {
			t.Errorf("%s %s %d: body is not JSON: %s", method, target, status, body)
			return
		}
		if err := schema.VisitJSON(v); err != nil {
			t.Errorf("%s %s %d: not the error shape of the OpenAPI document: %v\n%s", method, target, status, err, body)
		}
		return
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
			Options: &openapi3filter.Options{ExcludeRequestBody: true, AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}},
		Status:  status,
		Header:  header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	in.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		t.Errorf("%s %s: the response does not match the OpenAPI document: %v\nstatus %d body %s", method, target, err, status, clip.String(string(body), 2000))
		return
	}
	contract.mu.Lock()
	contract.seen[fmt.Sprintf("%s %s %d", method, route.Path, status)] = true
	contract.mu.Unlock()
}

// JSON Lines (/v1/events): each line must be a JSON object; the body is
// then checked as the document's string.
func init() {
	openapi3filter.RegisterBodyDecoder("application/x-ndjson", func(r io.Reader, _ http.Header, _ *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
		b, err := io.ReadAll(r)
		if err != nil {
			return nil, err
		}
		for i, line := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
			var m map[string]any
			if line != "" && json.Unmarshal([]byte(line), &m) != nil {
				return nil, fmt.Errorf("line %d is not a JSON object", i+1)
			}
		}
		return string(b), nil
	})
}

// TestMain runs the tests and then, when the whole package ran, checks
// that each documented operation's success answer was validated once.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 && flag.Lookup("test.run").Value.String() == "" && !testing.Short() {
		if missing := unexercised(); len(missing) > 0 {
			fmt.Fprintf(os.Stderr, "FAIL: no server test validated these OpenAPI operations' success answers: %s\n", strings.Join(missing, ", "))
			code = 1
		}
	}
	os.Exit(code)
}

func unexercised() []string {
	doc, _, err := loadContract()
	if err != nil {
		return []string{err.Error()}
	}
	contract.mu.Lock()
	defer contract.mu.Unlock()
	var missing []string
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			ok := false
			for st := range op.Responses.Map() {
				if strings.HasPrefix(st, "2") && contract.seen[method+" "+path+" "+st] {
					ok = true
				}
			}
			if !ok {
				missing = append(missing, method+" "+path)
			}
		}
	}
	sort.Strings(missing)
	return missing
}

// TestOpenAPIDocument: the document is valid OpenAPI 3.1, served without
// a key, and says what the code says: every /v1 route, every error code,
// every purpose, every revoke reason.
func TestOpenAPIDocument(t *testing.T) {
	doc, _, err := loadContract()
	if err != nil {
		t.Fatal(err)
	}
	if !doc.IsOpenAPI31OrLater() || doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi %q, want 3.1.0", doc.OpenAPI)
	}
	h := newHarness(t, t.TempDir())
	r := h.do("GET", "/v1/openapi.json", "")
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
		t.Fatalf("GET /v1/openapi.json without a key: %d %s", r.status, r.header.Get("Content-Type"))
	}
	served, err := openapi3.NewLoader().LoadFromData([]byte(r.body))
	if err != nil || served.Info.Title != "linkguard" {
		t.Fatalf("served document: %v", err)
	}

	// Every /v1 route of the app is in the document, and nothing else.
	var routes []string
	for _, rt := range h.srv.App().GetRoutes(true) {
		if !strings.HasPrefix(rt.Path, "/v1/") || rt.Method == http.MethodHead {
			continue
		}
		p := rt.Path
		for _, seg := range strings.Split(p, "/") {
			if strings.HasPrefix(seg, ":") {
				p = strings.Replace(p, seg, "{"+seg[1:]+"}", 1)
			}
		}
		routes = append(routes, rt.Method+" "+p)
	}
	var documented []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented = append(documented, method+" "+path)
		}
	}
	slices.Sort(routes)
	routes = slices.Compact(routes)
	slices.Sort(documented)
	if !slices.Equal(routes, documented) {
		t.Errorf("routes and document differ:\nserver:   %v\ndocument: %v", routes, documented)
	}

	codes := doc.Components.Schemas["Error"].Value.Properties["error"].Value.Properties["code"].Value.Enum
	if want := enum(linkguard.ErrorCodes); !slices.Equal(codes, want) {
		t.Errorf("error codes of the document %v, of the code %v", codes, want)
	}
	for _, c := range []struct {
		schema string
		want   []any
	}{{"Purpose", enum(linkguard.Purposes)}, {"RevokeReason", enum(linkguard.RevokeReasons)}} {
		if got := doc.Components.Schemas[c.schema].Value.Enum; !slices.Equal(got, c.want) {
			t.Errorf("%s of the document %v, of the code %v", c.schema, got, c.want)
		}
	}
}

// enum is a vocabulary of the code as an OpenAPI enum reads.
func enum[T ~string](vs []T) []any {
	out := make([]any, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return out
}

// TestOpenAPIRejectsDrift: the check is not vacuous; a body that breaks
// the document fails it.
func TestOpenAPIRejectsDrift(t *testing.T) {
	for _, c := range []struct {
		method, target string
		status         int
		body           string
	}{
		{"POST", "/v1/links", 201, `{"id":"lnk_x","url":"https://k/l/t","code":"12","expires_at":"now"}`},
		{"POST", "/v1/links", 201, `{"id":"lnk_0123456789abcdefghjkmnpqrs","url":"https://k/l/t","code":"123456","expires_at":"2026-01-01T00:00:00Z","extra":1}`},
		{"POST", "/v1/exchange", 400, `{"error":{"code":"no_such_code","message":"x"}}`},
		{"POST", "/v1/exchange", 418, `{"error":{"code":"internal","message":"x"}}`},
		{"GET", "/v1/nope", 404, `{"message":"not found"}`},
	} {
		ft := &fakeT{TB: t}
		hdr := http.Header{"Content-Type": {"application/json"}}
		checkContract(ft, c.method, c.target, c.status, hdr, []byte(c.body))
		if !ft.failed {
			t.Errorf("%s %s %d %s passed the contract check", c.method, c.target, c.status, c.body)
		}
	}
}

type fakeT struct {
	testing.TB
	failed bool
}

func (f *fakeT) Errorf(string, ...any) { f.failed = true }
func (f *fakeT) Helper()               {}
