package web

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

func TestBrandAccent(t *testing.T) {
	for _, ok := range []string{"", "#2456d6", "#abc", "teal", "rgb(36 86 214)", "hsl(220, 70%, 50%)"} {
		s, err := New(Options{Brand: Brand{Accent: ok}})
		if err != nil {
			t.Errorf("accent %q: %v", ok, err)
			continue
		}
		a, found := s.Asset(strings.TrimPrefix(s.AssetURL("brand.css"), "/assets/"))
		if !found || !bytes.Contains(a.Raw, []byte("--accent:")) || a.ContentType == "" {
			t.Errorf("accent %q: brand.css %v %+v", ok, found, a)
		}
	}
	for _, bad := range []string{"red; background: url(//evil)", "#12345678901", "}</style>", "expression(alert(1))"} {
		if _, err := New(Options{Brand: Brand{Accent: bad}}); err == nil {
			t.Errorf("accent %q accepted", bad)
		}
	}
}

func TestLandingLinksTheAssets(t *testing.T) {
	s, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := s.Render(&b, "landing.html", Landing{State: "checking", Nonce: "n0nce", ConfirmURL: "/l/x/confirm", Scripts: true}); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, want := range []string{`<meta name="lg-nonce" content="n0nce">`, `data-lg-state="checking"`, s.AssetURL("style.css"), s.AssetURL("brand.css"), s.AssetURL("lg.js"), `id="lg-continue"`, "<noscript>"} {
		if want == "" || !strings.Contains(page, want) {
			t.Errorf("landing page lacks %q", want)
		}
	}
	for _, bad := range []string{"<script>", "style=", "onclick", "http://", "https://"} {
		if strings.Contains(page, bad) {
			t.Errorf("landing page contains %q (CSP: no inline script or style, no outside resource)", bad)
		}
	}
}

// TestLandingIDs: every id of the landing page is unique in each tree a
// browser builds from it: the document with scripting off (<noscript>
// parsed), and each <template>'s contents. Between a template and the
// document only the code form's fields share ids, as docs/api.md names
// them in both (#lg-code, #lg-code-submit, and #lg-code-error that
// #lg-code describes itself by); the forms' own ids differ.
func TestLandingIDs(t *testing.T) {
	s, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := s.Render(&b, "landing.html", Landing{State: "code", Nonce: "n0nce", ConfirmURL: "/l/x/confirm", Scripts: true, NewLink: true}); err != nil {
		t.Fatal(err)
	}
	doc, err := html.ParseWithOptions(&b, html.ParseOptionEnableScripting(false))
	if err != nil {
		t.Fatal(err)
	}
	// ids collects the ids of n's tree into into; each template's
	// contents go into a tree of their own, appended to templates.
	var templates []map[string]int
	var ids func(n *html.Node, into map[string]int)
	ids = func(n *html.Node, into map[string]int) {
		if n.Type == html.ElementNode {
			for _, a := range n.Attr {
				if a.Key == "id" {
					into[a.Val]++
				}
			}
			if n.Data == "template" {
				inner := map[string]int{}
				for c := n.FirstChild; c != nil; c = c.NextSibling {
					ids(c, inner)
				}
				templates = append(templates, inner)
				return
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			ids(c, into)
		}
	}
	document := map[string]int{}
	ids(doc, document)
	if len(templates) == 0 || document["lg-code-form-nojs"] != 1 || templates[0]["lg-code-form"] != 1 {
		t.Fatalf("want the code form in a <template> (#lg-code-form) and in <noscript> (#lg-code-form-nojs); document %v, templates %v", document, templates)
	}
	shared := map[string]bool{"lg-code": true, "lg-code-submit": true, "lg-code-error": true}
	for i, tree := range append([]map[string]int{document}, templates...) {
		for id, n := range tree {
			if n > 1 {
				t.Errorf("tree %d: id %q %d times", i, id, n)
			}
			if i > 0 && document[id] > 0 && !shared[id] {
				t.Errorf("id %q both in a <template> and in the document", id)
			}
		}
	}
}

// TestInlineScriptsAreAllowedByHash: every script a landing page carries
// inline is one the CSP sources of ScriptSources allow, byte for byte
// (a browser hashes the text between the tags); only the fast page has
// one, before the stylesheets and after the nonce it reads; and the fast
// page asks for no collector (no wasm_exec.js, no preload).
func TestInlineScriptsAreAllowedByHash(t *testing.T) {
	s, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, fast := range []bool{false, true} {
		var b bytes.Buffer
		if err := s.Render(&b, "landing.html", Landing{State: "checking", Nonce: "n0nce", ConfirmURL: "/l/x/confirm", Scripts: true, Fast: fast}); err != nil {
			t.Fatal(err)
		}
		page := b.String()
		doc, err := html.Parse(strings.NewReader(page))
		if err != nil {
			t.Fatal(err)
		}
		var inline []string
		var walk func(n *html.Node)
		walk = func(n *html.Node) {
			if n.Type == html.ElementNode && n.Data == "script" {
				executable := true
				for _, a := range n.Attr {
					executable = executable && a.Key != "src" && !(a.Key == "type" && a.Val == "application/json")
				}
				if executable && n.FirstChild != nil {
					inline = append(inline, n.FirstChild.Data)
				}
			}
			for c := n.FirstChild; c != nil; c = c.NextSibling {
				walk(c)
			}
		}
		walk(doc)
		for _, js := range inline {
			sum := sha256.Sum256([]byte(js))
			if src := "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"; !strings.Contains(ScriptSources(), src) {
				t.Errorf("fast %v: an inline script whose hash %s is not in ScriptSources %q", fast, src, ScriptSources())
			}
		}
		if !fast {
			if len(inline) != 0 {
				t.Errorf("the collector's page has %d inline scripts, want none", len(inline))
			}
			continue
		}
		if len(inline) != 1 {
			t.Fatalf("the fast page has %d inline scripts, want 1", len(inline))
		}
		nonce, script, style := strings.Index(page, `<meta name="lg-nonce"`), strings.Index(page, "<script>"), strings.Index(page, `rel="stylesheet"`)
		if !(nonce < script && script < style) {
			t.Errorf("the fast page's order: nonce at %d, inline script at %d, first stylesheet at %d; want them in that order", nonce, script, style)
		}
		for _, bad := range []string{`<script src="` + s.AssetURL("wasm_exec.js"), `rel="preload"`} {
			if strings.Contains(page, bad) {
				t.Errorf("the fast page has %s", bad)
			}
		}
		if !strings.Contains(page, s.AssetURL("lg.js")) {
			t.Error("the fast page has no lg.js, which shows any answer but consumed")
		}
	}
}

// TestOperatorsHeadStaysOnTheLandingPage: a templates folder whose
// layout.html redefines "head" alone (as before the landing page called
// its halves) still gives the landing page that head, followed by the
// nonce and the fast page's inline script.
func TestOperatorsHeadStaysOnTheLandingPage(t *testing.T) {
	dir := t.TempDir()
	layout := `{{define "head"}}<!doctype html><html lang="{{lang}}"><head><title>{{.}}</title><link rel="icon" href="/operator.ico">{{end}}`
	if err := os.WriteFile(filepath.Join(dir, "layout.html"), []byte(layout), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{TemplatesDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := s.Render(&b, "landing.html", Landing{State: "checking", Nonce: "n0nce", ConfirmURL: "/l/x/confirm", Scripts: true, Fast: true}); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	icon, nonce, script := strings.Index(page, "/operator.ico"), strings.Index(page, `<meta name="lg-nonce"`), strings.Index(page, "<script>")
	if icon < 0 || strings.Contains(page, s.AssetURL("style.css")) || !(icon < nonce && nonce < script) {
		t.Errorf("the landing page lost the operator's head (icon at %d, nonce at %d, inline script at %d, our stylesheet: %v):\n%s",
			icon, nonce, script, strings.Contains(page, s.AssetURL("style.css")), page)
	}
}
