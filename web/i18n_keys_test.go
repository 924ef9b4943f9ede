package web

import (
	"io/fs"
	"regexp"
	"testing"

	"github.com/linkguard/linkguard"
)

// TestTemplatesNameKnownMessages: every message a page template names
// ({{t "id"}}, {{tp .Purpose "field"}}) exists, for every purpose, so a
// typo cannot ship as a message id on a page.
func TestTemplatesNameKnownMessages(t *testing.T) {
	s, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	tRE := regexp.MustCompile(`\{\{-?\s*t "([a-z_.]+)"|\(t "([a-z_.]+)"`)
	tpRE := regexp.MustCompile(`tp [^"]+ "([a-z_]+)"`)
	files, _ := fs.Glob(embedded, "templates/*.html")
	n := 0
	for _, f := range files {
		b, _ := fs.ReadFile(embedded, f)
		for _, m := range tRE.FindAllStringSubmatch(string(b), -1) {
			id := m[1] + m[2]
			n++
			if !s.Catalog().Has(id) {
				t.Errorf("%s names message %q, which does not exist", f, id)
			}
		}
		for _, m := range tpRE.FindAllStringSubmatch(string(b), -1) {
			for _, p := range linkguard.Purposes {
				n++
				if id := "purpose." + string(p) + "." + m[1]; !s.Catalog().Has(id) {
					t.Errorf("%s names message %q, which does not exist", f, id)
				}
			}
		}
	}
	if n < 40 {
		t.Fatalf("found only %d message uses in the templates", n)
	}
}
