package main

import (
	"bytes"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/linkguard/linkguard/selftest"
)

// TestServerBinaryHasNoBrowserDriver: chromedp (about 1.6 MB of the
// stripped binary, and a browser driver in a server) stays in
// linkguard-selftest.
func TestServerBinaryHasNoBrowserDriver(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.Contains(dep, "chromedp") || dep == "github.com/linkguard/linkguard/selftest/chromium" {
			t.Errorf("cmd/linkguard imports %s: the browser driver belongs to cmd/linkguard-selftest", dep)
		}
	}
}

// TestSelftestRunsTheHelper: with linkguard-selftest on PATH, `linkguard
// selftest` is its run (its message, its exit status); without it, the
// same flags are read here.
func TestSelftestRunsTheHelper(t *testing.T) {
	args := []string{"--url", "kit.example.com", "--api-key", "k"}

	dir := t.TempDir()
	if out, err := exec.Command("go", "build", "-o", filepath.Join(dir, selftest.Helper), "../linkguard-selftest").CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", selftest.Helper, err, out)
	}

	t.Setenv("PATH", t.TempDir())
	var stdout, stderr bytes.Buffer
	err := selftestMain(args, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), `--url "kit.example.com"`) {
		t.Fatalf("without the helper: error %v, want one naming --url", err)
	}

	t.Setenv("PATH", dir)
	stdout.Reset()
	stderr.Reset()
	err = selftestMain(args, &stdout, &stderr)
	var status exitStatus
	if !errors.As(err, &status) || status != 1 {
		t.Fatalf("with the helper: error %v, want its exit status 1", err)
	}
	if want := selftest.Helper + `: selftest: --url "kit.example.com"`; !strings.Contains(stderr.String(), want) {
		t.Errorf("with the helper: stderr %q, want %q", stderr.String(), want)
	}
}
