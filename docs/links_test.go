// Package docs holds the project's documentation; its test checks that
// every relative link in README.md and docs/ names a file in the repository,
// so a clone never carries a dead or outside link.
package docs

import (
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var linkRE = regexp.MustCompile(`\]\(([^)\s]+)\)`)

func TestLinksStayInTheRepo(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("*.md")
	files = append(files, filepath.Join(root, "README.md"))
	if len(files) < 2 {
		t.Fatal("no markdown files found")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range linkRE.FindAllStringSubmatch(string(b), -1) {
			target := m[1]
			if u, err := url.Parse(target); err == nil && u.Host != "" && !placeholderHost(u.Hostname()) {
				t.Errorf("%s links %q, outside the repository (name it in text instead)", filepath.Base(f), target)
				continue
			}
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") || strings.HasPrefix(target, "#") {
				continue
			}
			target, _, _ = strings.Cut(target, "#")
			abs, err := filepath.Abs(filepath.Join(filepath.Dir(f), target))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(abs, root+string(filepath.Separator)) {
				t.Errorf("%s links %q, outside the repository", filepath.Base(f), m[1])
				continue
			}
			if _, err := os.Stat(abs); err != nil {
				t.Errorf("%s links %q: %v", filepath.Base(f), m[1], err)
			}
		}
	}
}

// placeholderHost reports whether a link's host is one of an example or
// of the dev server (example.com, *.example, localhost, 127.0.0.1), not
// a real place outside the repository.
func placeholderHost(h string) bool {
	h = strings.ToLower(h)
	return h == "localhost" || h == "127.0.0.1" || h == "example.com" || strings.HasSuffix(h, ".example.com") ||
		strings.HasSuffix(h, ".example") || strings.HasSuffix(h, ".test")
}
