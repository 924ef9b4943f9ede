package server

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/linkguard/linkguard/web"
)

// TestLinkVariants is what mail systems and readers do to a link: each
// variant of a pending link's address answers as the token alone would,
// for GET and HEAD, never consumes, and the page it leads to still
// verifies and takes the code.
func TestLinkVariants(t *testing.T) {
	h := newHarness(t, "")
	for _, tc := range []struct{ name, path string }{
		{"canonical", "/l/{t}"},
		{"trailing dot", "/l/{t}."},
		{"trailing comma", "/l/{t},"},
		{"trailing paren", "/l/{t})"},
		{"trailing angle", "/l/{t}>"},
		{"trailing angle escaped", "/l/{t}%3E"},
		{"trailing space escaped", "/l/{t}%20"},
		{"trailing slash", "/l/{t}/"},
		{"jsessionid", "/l/{t};jsessionid=0A1B2C3D4E5F"},
		{"slash then params", "/l/{t}/;jsessionid=0A1B2C3D4E5F"},
		{"query added", "/l/{t}?utm_source=mail&utm_medium=email"},
		{"fragment", "/l/{t}#section"},
		{"upper-case L", "/L/{t}"},
		{"upper-case L, dot, query", "/L/{t}.?x=1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := h.issue("")
			path := strings.ReplaceAll(tc.path, "{t}", l.Token)
			for _, m := range []string{"HEAD", "GET"} {
				r := h.do(m, path, "")
				switch r.status {
				case 200:
				case 303:
					loc, err := url.Parse(r.header.Get("Location"))
					if err != nil || loc.Path != "/l/"+l.Token || loc.RawQuery != "" {
						t.Fatalf("%s %s: 303 to %q, want /l/{token}", m, tc.name, r.header.Get("Location"))
					}
					if cc := r.header.Get("Cache-Control"); cc != "no-store" {
						t.Errorf("%s %s: 303 Cache-Control = %q", m, tc.name, cc)
					}
					r = h.do(m, loc.Path, "")
					if r.status != 200 {
						t.Fatalf("%s %s: canonical answered %d", m, tc.name, r.status)
					}
				default:
					t.Fatalf("%s %s: %d, want 200 or 303", m, tc.name, r.status)
				}
				if m == "GET" && !strings.Contains(r.body, `data-lg-state="checking"`) {
					t.Fatalf("%s: the page of a pending link is not in state checking:\n%s", tc.name, r.body)
				}
			}
			if s := h.state(l.ID); s != "pending" {
				t.Fatalf("%s: state after GET and HEAD = %s", tc.name, s)
			}
			nonce := h.nonce(l.Token)
			r := h.do("POST", "/l/"+l.Token+"/verify", `{"nonce":"`+nonce+`","signals":`+trustedClick+`}`)
			if r.status != 200 {
				t.Fatalf("%s: verify after the variant: %d %s", tc.name, r.status, r.body)
			}
			r = h.do("POST", "/l/"+l.Token+"/confirm", `{"nonce":"`+nonce+`","code":"`+l.Code+`"}`)
			if r.json(t)["outcome"] != "consumed" {
				t.Fatalf("%s: code after the variant: %s", tc.name, r.body)
			}
		})
	}
}

// TestLinkVariantsOfUnknownTokens: a mangled unknown token is answered
// like a mangled good one (a 303, no store read), and its canonical page
// says expired.
func TestLinkVariantsOfUnknownTokens(t *testing.T) {
	h := newHarness(t, "")
	tok := strings.Repeat("B", 43)
	r := h.do("GET", "/l/"+tok+").", "")
	if r.status != 303 || r.header.Get("Location") != "/l/"+tok {
		t.Fatalf("mangled unknown token: %d %q", r.status, r.header.Get("Location"))
	}
	if r := h.do("GET", "/l/"+tok, ""); !strings.Contains(r.body, `data-lg-state="expired"`) {
		t.Fatalf("unknown token page is not expired")
	}
	if r := h.do("GET", "/l/.", ""); r.status != 200 || !strings.Contains(r.body, `data-lg-state="expired"`) {
		t.Fatalf("/l/.: %d", r.status)
	}
}

func TestCanonicalToken(t *testing.T) {
	for raw, want := range map[string]string{
		"abc_-XYZ09": "abc_-XYZ09", "abc.": "abc", "abc%20": "abc", "abc;jsessionid=1": "abc",
		"abc),": "abc", "": "", ".abc": "", "abc%3E": "abc",
	} {
		if got := canonicalToken(raw); got != want {
			t.Errorf("canonicalToken(%q) = %q, want %q", raw, got, want)
		}
	}
}

// TestScannerNotice: after a known mail filter opened a pending link,
// the person's page says which one, in one sentence with no address; the
// filter's own page and a link nobody scanned say nothing.
func TestScannerNotice(t *testing.T) {
	h := newHarness(t, "")
	l := h.issue("")
	h.clock.Add(3 * time.Second)
	scanner := h.do("GET", "/l/"+l.Token, "", "User-Agent", "Mozilla/5.0 (compatible; Barracuda Sentinel (EE))", "X-Forwarded-For", "203.0.113.9")
	if strings.Contains(scanner.body, `id="lg-notice"`) {
		t.Fatalf("the scanner's own page has the notice")
	}
	h.clock.Add(time.Minute)
	r := h.do("GET", "/l/"+l.Token, "", "User-Agent", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/145.0.0.0 Safari/537.36")
	want := `<p id="lg-notice" class="lg-notice">Your organisation’s mail filter (Barracuda) opened this link 3 seconds after it was sent. It could not use it.</p>`
	if !strings.Contains(r.body, want) {
		t.Fatalf("person's page lacks the notice %s:\n%s", want, r.body)
	}
	for _, bad := range []string{"203.0.113", "127.0.0.1", "0.0.0.0"} {
		if strings.Contains(r.body, bad) {
			t.Errorf("the page names an address (%s)", bad)
		}
	}
	other := h.issue(`{"email":"bob@example.com","redirect_url":"https://app.example.com/cb"}`)
	if r := h.do("GET", "/l/"+other.Token, ""); strings.Contains(r.body, `id="lg-notice"`) {
		t.Errorf("an unscanned link's page has the notice")
	}
}

// TestPageCSPAllowsTheInlineScripts: every page's CSP (the login page's
// too) lists the hash of each inline script the pages carry
// (web.ScriptSources) and still no 'unsafe-inline'.
func TestPageCSPAllowsTheInlineScripts(t *testing.T) {
	if !strings.Contains(web.ScriptSources(), "'sha256-") {
		t.Fatalf("web.ScriptSources() = %q: the fast page's script has no hash", web.ScriptSources())
	}
	for _, csp := range []string{pageCSP(""), pageCSP("", "https://app.example.com")} {
		if !strings.Contains(csp, "script-src 'self' 'wasm-unsafe-eval'"+web.ScriptSources()+";") || strings.Contains(csp, "unsafe-inline") {
			t.Errorf("CSP = %q", csp)
		}
	}
}
