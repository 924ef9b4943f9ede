package assertion

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestIntegrationDocSnippets builds every Go program in
// docs/integration.md (in this module, so the assertion import is this
// package) and syntax-checks every JavaScript one with node --check, so
// that the copy-paste code keeps compiling.
func TestIntegrationDocSnippets(t *testing.T) {
	if testing.Short() {
		t.Skip("builds programs")
	}
	doc, err := os.ReadFile("../docs/integration.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```(go|js)\n(.*?)```").FindAllStringSubmatch(string(doc), -1)
	var goN, jsN int
	dir := t.TempDir()
	for i, b := range blocks {
		lang, code := b[1], b[2]
		switch lang {
		case "go":
			if !strings.HasPrefix(code, "package main\n") {
				continue
			}
			goN++
			goBin, err := exec.LookPath("go")
			if err != nil {
				t.Skip("go is not on the PATH")
			}
			f := filepath.Join(dir, "snippet"+string(rune('a'+i))+".go")
			os.WriteFile(f, []byte(code), 0o600)
			cmd := exec.Command(goBin, "vet", f)
			cmd.Dir = ".."
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("Go block %d does not build: %v\n%s\n%s", i, err, out, code)
			}
		case "js":
			jsN++
			node, err := exec.LookPath("node")
			if err != nil {
				continue
			}
			f := filepath.Join(dir, "snippet"+string(rune('a'+i))+".mjs")
			os.WriteFile(f, []byte(code), 0o600)
			if out, err := exec.Command(node, "--check", f).CombinedOutput(); err != nil {
				t.Errorf("JS block %d does not parse: %v\n%s", i, err, out)
			}
		}
	}
	if goN != 3 || jsN != 4 { // the fourth JS block: the webhook handler
		t.Errorf("found %d Go programs and %d JS blocks, want 3 and 4", goN, jsN)
	}
}
