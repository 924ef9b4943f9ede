package web

import (
	"bytes"
	"strings"
	"testing"
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
