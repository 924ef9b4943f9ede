// Package web holds the pages a person sees (templates) and the assets
// they load (stylesheet, page script, the WebAssembly collector), embedded
// into the binary with go:embed and served under content-hashed names.
package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"mime"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"text/template/parse"
	"time"

	"github.com/andybalholm/brotli"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/web/brand"
	"github.com/linkguard/linkguard/web/i18n"
)

//go:embed templates static inline
var embedded embed.FS

// inlineScripts are the scripts that pages carry inline (web/inline), by
// file name, and inlineSources the CSP's sources that allow exactly
// them: one 'sha256-…' each (ScriptSources).
var inlineScripts, inlineSources = loadInlineScripts()

func loadInlineScripts() (map[string]template.JS, string) {
	entries, err := embedded.ReadDir("inline")
	if err != nil {
		panic(err)
	}
	scripts, sources := map[string]template.JS{}, ""
	for _, e := range entries {
		b, err := embedded.ReadFile("inline/" + e.Name())
		if err != nil {
			panic(err)
		}
		sum := sha256.Sum256(b)
		scripts[e.Name()] = template.JS(b)
		sources += " 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
	}
	return scripts, sources
}

// ScriptSources is what a page's CSP adds to script-src so that the
// pages' inline scripts run, and no other: the hash of each (web/inline),
// with a leading space ("" when there are none). The scripts are
// embedded, never an operator's, so the sources are the same for every
// Site.
func ScriptSources() string { return inlineSources }

// inline is the template function that writes an inline script's text:
// <script>{{inline "fast.js"}}</script>, with nothing else between the
// tags, or its hash would not match (the browser would not run it).
func inline(name string) (template.JS, error) {
	js, ok := inlineScripts[name]
	if !ok {
		return "", fmt.Errorf("no inline script %q in web/inline", name)
	}
	return js, nil
}

// Brand is what an operator may change of the pages' look (package brand
// holds its defaults, shared with the mails).
type Brand = brand.Brand

// Options configure a Site.
type Options struct {
	Brand Brand
	// TemplatesDir, when set, holds templates that replace the embedded
	// ones of the same file name.
	TemplatesDir string
	// BasePath is the path the kit is served under ("" at the root, or
	// "/auth" when mounted there); asset URLs start with it.
	BasePath string
	// Catalog holds the pages' words in every offered language; nil
	// loads the shipped languages with English as the default.
	Catalog *i18n.Catalog
}

// Asset is one static file, with its precompressed forms.
type Asset struct {
	Name        string // content-hashed name, e.g. "style.1a2b3c4d5e.css"
	ContentType string
	Raw         []byte
	Gzip        []byte // nil when compression does not help
	Brotli      []byte // nil when compression does not help
}

// Site renders pages and serves assets. It is safe for concurrent use.
type Site struct {
	brand Brand
	base  string
	tmpl  *template.Template // in the default language
	// tmpls holds the templates once per offered language: each set's
	// "t" speaks its language.
	tmpls   map[string]*template.Template
	catalog *i18n.Catalog
	assets  map[string]*Asset // by hashed name
	urls    map[string]string // logical name → "/assets/<hashed name>"
	// landing holds the landing page's pre-rendered variants (landing.go).
	landing landingCache
}

// New parses the templates and prepares the assets (hashing and
// compressing them once, at start).
func New(opts Options) (*Site, error) {
	s := &Site{brand: opts.Brand, base: strings.TrimRight(opts.BasePath, "/"), assets: map[string]*Asset{}, urls: map[string]string{},
		catalog: opts.Catalog, tmpls: map[string]*template.Template{}}
	if s.catalog == nil {
		c, err := i18n.New("", "")
		if err != nil {
			return nil, err
		}
		s.catalog = c
	}
	s.landing.limit = maxVariants
	s.brand = s.brand.WithDefaults()
	if !brand.ValidAccent(s.brand.Accent) {
		return nil, fmt.Errorf("brand accent %q: want a CSS color such as #2456d6, rgb(36 86 214) or teal", s.brand.Accent)
	}
	if err := s.loadAssets(); err != nil {
		return nil, err
	}
	// The accent goes into a small stylesheet of its own, served like the
	// others: the CSP allows no inline style.
	s.addAsset("brand.css", []byte(":root { --accent: "+s.brand.Accent+"; }\n"))
	t := template.New("").Funcs(template.FuncMap{
		"asset":  s.AssetURL,
		"inline": inline,
		"path":   s.Path,
		"brand":  func() Brand { return s.brand },
		"when":   s.when,
		// Each language's set replaces these (see langFuncs).
		"t":         func(id string, args ...any) string { return id },
		"tp":        func(p linkguard.Purpose, field string) string { return field },
		"lang":      func() string { return i18n.Default },
		"jsStrings": func() map[string]string { return nil },
	})
	t, err := t.ParseFS(embedded, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("parse embedded templates: %w", err)
	}
	if opts.TemplatesDir != "" {
		head, headStart := t.Lookup("head").Tree, t.Lookup("head-start").Tree
		matches, err := filepath.Glob(filepath.Join(opts.TemplatesDir, "*.html"))
		if err != nil {
			return nil, fmt.Errorf("templates folder %q: %w", opts.TemplatesDir, err)
		}
		if _, err := os.Stat(opts.TemplatesDir); err != nil {
			return nil, fmt.Errorf("templates folder %q: %w", opts.TemplatesDir, err)
		}
		for _, m := range matches {
			b, err := os.ReadFile(m)
			if err != nil {
				return nil, fmt.Errorf("read template %q: %w", m, err)
			}
			if _, err := t.New(filepath.Base(m)).Parse(string(b)); err != nil {
				return nil, fmt.Errorf("parse template %q: %w", m, err)
			}
		}
		if err := splitHead(t, head, headStart); err != nil {
			return nil, fmt.Errorf("templates folder %q: %w", opts.TemplatesDir, err)
		}
	}
	for _, lang := range s.catalog.Languages() {
		c, err := t.Clone()
		if err != nil {
			return nil, fmt.Errorf("templates for %s: %w", lang, err)
		}
		s.tmpls[lang] = c.Funcs(s.langFuncs(lang))
	}
	s.tmpl = s.tmpls[s.catalog.Lang("", "")]
	return s, nil
}

// splitHead keeps the landing page's head an operator's when a templates
// folder redefined "head" (layout.html) but not its first half,
// "head-start", which the landing page calls with "styles": the
// operator's head becomes "head-start" and "styles" empty. That page's
// inline script then follows the operator's stylesheets and waits for
// them, but the page is theirs. head and headStart are the embedded
// trees, from before the folder was read.
func splitHead(t *template.Template, head, headStart *parse.Tree) error {
	if t.Lookup("head").Tree == head || t.Lookup("head-start").Tree != headStart {
		return nil
	}
	if _, err := t.New("head-start").Parse(`{{template "head" .}}`); err != nil {
		return err
	}
	_, err := t.New("styles").Parse(`{{""}}`)
	return err
}

// langFuncs are the template functions that speak lang: t (a message),
// tp (a message of a purpose: tp .Purpose "title"), lang (for <html
// lang>) and strings (the page script's messages, as JSON).
func (s *Site) langFuncs(lang string) template.FuncMap {
	c := s.catalog
	return template.FuncMap{
		"t": func(id string, args ...any) string { return c.T(lang, id, args...) },
		"tp": func(p linkguard.Purpose, field string) string {
			return c.T(lang, "purpose."+string(p.OrDefault())+"."+field)
		},
		"lang":      func() string { return lang },
		"jsStrings": func() map[string]string { return s.jsStrings(lang) },
	}
}

// jsStrings are the page script's words in lang, written into the page
// as JSON (#lg-strings): the js.* messages, and the code errors for each
// number of tries left, so that the script needs no plural rules.
func (s *Site) jsStrings(lang string) map[string]string {
	m := s.catalog.Strings(lang, "js.")
	for n := 1; n <= maxCodeTries; n++ {
		m["wrong_"+strconv.Itoa(n)] = s.catalog.T(lang, "code.wrong", "Count", n)
	}
	m["format"] = s.catalog.T(lang, "code.format")
	m["locked"] = s.catalog.T(lang, "landing.locked.text")
	return m
}

// maxCodeTries bounds the tries-left messages written for the script.
const maxCodeTries = 10

// Catalog is the words of the pages in every offered language.
func (s *Site) Catalog() *i18n.Catalog { return s.catalog }

// Lang is the offered language of a page: the link's locale when it has
// one, else the browser's Accept-Language, else the default.
func (s *Site) Lang(locale, acceptLanguage string) string {
	return s.catalog.Lang(locale, acceptLanguage)
}

// T is message id in lang (see i18n.Catalog.T).
func (s *Site) T(lang, id string, args ...any) string { return s.catalog.T(lang, id, args...) }

// Speaker is template data that names the language of its page; data
// that does not is rendered in the default language.
type Speaker interface{ PageLang() string }

// templates is the template set of lang (the default set for a
// language not offered).
func (s *Site) templates(lang string) *template.Template {
	if t, ok := s.tmpls[lang]; ok {
		return t
	}
	return s.tmpl
}

// when is how pages write a time; the landing page's slots write theirs
// with it too.
// It is the same in every language (the page script rewrites it in the
// reader's own words and time zone).
func (s *Site) when(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

// Render executes the named page template ("landing.html", ...) into w.
// The landing page comes from its pre-rendered pieces (RenderLanding).
func (s *Site) Render(w io.Writer, name string, data any) error {
	if d, ok := data.(Landing); ok && name == landingPage {
		return s.RenderLanding(w, d)
	}
	return s.execute(w, name, data)
}

// execute runs a template into a buffer first, so that a failing template
// never leaves half a page behind.
func (s *Site) execute(w io.Writer, name string, data any) error {
	t := s.tmpl
	if sp, ok := data.(Speaker); ok {
		t = s.templates(sp.PageLang())
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, name, data); err != nil {
		return fmt.Errorf("render %s: %w", name, err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// Brand is the look the pages are rendered with.
func (s *Site) Brand() Brand { return s.brand }

// AssetURL returns the path under which the logical asset name (for
// example "style.css") is served. Unknown names return "" so that a
// template naming a missing asset shows up in tests.
func (s *Site) AssetURL(logical string) string {
	if u, ok := s.urls[logical]; ok {
		return s.base + u
	}
	return ""
}

// Path returns p (an absolute path of the kit, like "/login") under the
// base path, for links between the kit's own pages.
func (s *Site) Path(p string) string { return s.base + p }

// Asset returns the asset with the given hashed name.
func (s *Site) Asset(name string) (*Asset, bool) {
	a, ok := s.assets[name]
	return a, ok
}

// HasCollector reports whether the WebAssembly collector was built into
// this binary (make builds it; a bare `go build` does not).
func (s *Site) HasCollector() bool { return s.urls["collector.wasm"] != "" }

func (s *Site) loadAssets() error {
	var names []string
	err := fs.WalkDir(embedded, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		// Precompressed siblings (collector.wasm.br, .gz) are read with
		// their asset, not served on their own.
		if ext := path.Ext(p); ext == ".br" || ext == ".gz" {
			return nil
		}
		names = append(names, p)
		return nil
	})
	if err != nil {
		return err
	}
	assets := make([]*Asset, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, p := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			assets[i], errs[i] = loadAsset(p)
		}()
	}
	wg.Wait()
	for i, a := range assets {
		if errs[i] != nil {
			return errs[i]
		}
		s.assets[a.Name] = a
		s.urls[path.Base(names[i])] = "/assets/" + a.Name
	}
	return nil
}

// loadAsset reads one embedded file, names it by its content hash and
// attaches its compressed forms: the precompressed siblings that `make`
// writes (web/precompress) when they are there and match, else made now.
func loadAsset(p string) (*Asset, error) {
	raw, err := embedded.ReadFile(p)
	if err != nil {
		return nil, err
	}
	logical := path.Base(p)
	sum := sha256.Sum256(raw)
	ext := path.Ext(logical)
	hashed := strings.TrimSuffix(logical, ext) + "." + hex.EncodeToString(sum[:5]) + ext
	ct := mime.TypeByExtension(ext)
	if ext == ".wasm" {
		ct = "application/wasm"
	}
	if ct == "" {
		ct = "application/octet-stream"
	}
	a := &Asset{Name: hashed, ContentType: ct, Raw: raw}
	if !compressible(ext) {
		return a, nil
	}
	a.Gzip, a.Brotli = precompressed(p, raw)
	if a.Gzip == nil || a.Brotli == nil {
		gz, br := compress(raw)
		if a.Gzip == nil {
			a.Gzip = gz
		}
		if a.Brotli == nil {
			a.Brotli = br
		}
	}
	return a, nil
}

// precompressed returns the embedded p.gz and p.br when each decompresses
// to raw (a stale sibling from an older build is ignored) and is smaller.
func precompressed(p string, raw []byte) (gz, br []byte) {
	if b, err := embedded.ReadFile(p + ".gz"); err == nil && len(b) < len(raw) {
		if zr, err := gzip.NewReader(bytes.NewReader(b)); err == nil {
			if got, err := io.ReadAll(zr); err == nil && bytes.Equal(got, raw) {
				gz = b
			}
		}
	}
	if b, err := embedded.ReadFile(p + ".br"); err == nil && len(b) < len(raw) {
		if got, err := io.ReadAll(brotli.NewReader(bytes.NewReader(b))); err == nil && bytes.Equal(got, raw) {
			br = b
		}
	}
	return gz, br
}

// addAsset adds a generated asset under its logical name.
func (s *Site) addAsset(logical string, raw []byte) {
	sum := sha256.Sum256(raw)
	ext := path.Ext(logical)
	a := &Asset{Name: strings.TrimSuffix(logical, ext) + "." + hex.EncodeToString(sum[:5]) + ext,
		ContentType: mime.TypeByExtension(ext), Raw: raw}
	s.assets[a.Name] = a
	s.urls[logical] = "/assets/" + a.Name
}

func compressible(ext string) bool {
	switch ext {
	case ".js", ".css", ".wasm", ".svg", ".html", ".json", ".txt":
		return true
	}
	return false
}

// compress makes the gzip and brotli forms of raw at start-up. Large
// files get a fast brotli level (5: ~80 ms for 2 MB, against ~4 s at 11),
// so that an un-precompressed build still starts at once; `make` ships
// the collector precompressed at the best level (see web/precompress).
func compress(raw []byte) (gz, br []byte) {
	level := brotli.BestCompression
	if len(raw) > 256<<10 {
		level = 5
	}
	gz, br = Compress(raw, gzip.BestCompression, level)
	if len(gz) >= len(raw) {
		gz = nil
	}
	if len(br) >= len(raw) {
		br = nil
	}
	return gz, br
}

// Compress returns raw compressed with gzip and brotli at the given
// levels.
func Compress(raw []byte, gzipLevel, brotliLevel int) (gz, br []byte) {
	var g bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&g, gzipLevel)
	zw.Write(raw)
	zw.Close()
	var b bytes.Buffer
	bw := brotli.NewWriterOptions(&b, brotli.WriterOptions{Quality: brotliLevel, LGWin: brotliWindow(len(raw))})
	bw.Write(raw)
	bw.Close()
	return g.Bytes(), b.Bytes()
}

// brotliWindow is the smallest brotli window (log2, 10 to 24) that holds
// n bytes: a larger one compresses no better, but the encoder sizes its
// match tables by it. At the default (22 for level 11), one 7 KB script
// cost 35 MB of tables and 120 ms at every start; with its own window,
// 2 MB and 13 ms (TestCompressSmallAllocatesLittle).
func brotliWindow(n int) int {
	w := 10
	for w < 24 && (1<<w)-16 < n { // brotli's window holds 2^w - 16 bytes
		w++
	}
	return w
}
