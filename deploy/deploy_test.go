// Package deploy holds what runs linkguard as a service: the systemd
// unit, the Grafana dashboard, reverse-proxy examples and the OCI image
// builder (deploy/image). Its tests keep them true.
package deploy

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/linkguard/linkguard/metrics"
)

// TestSystemdUnit: `systemd-analyze verify` accepts the unit, and the
// hardening the docs promise is in it.
func TestSystemdUnit(t *testing.T) {
	unit, err := os.ReadFile("linkguard.service")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"DynamicUser=yes", "StateDirectory=linkguard", "ProtectSystem=strict",
		"NoNewPrivileges=yes", "CapabilityBoundingSet=\n", "PrivateTmp=yes", "SystemCallFilter=@system-service",
		"ExecStart=/usr/local/bin/linkguard serve", "LINKGUARD_DATA_DIR=/var/lib/linkguard"} {
		if !strings.Contains(string(unit), want) {
			t.Errorf("the unit lacks %q", want)
		}
	}
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("systemd-analyze is not installed (apt-get install -y systemd), and CI is set")
		}
		t.Skip("systemd-analyze is not installed")
	}
	// verify wants ExecStart's binary to exist: point it at a stand-in.
	dir := t.TempDir()
	stand := filepath.Join(dir, "linkguard")
	if err := os.WriteFile(stand, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "linkguard.service")
	os.WriteFile(path, []byte(strings.ReplaceAll(string(unit), "/usr/local/bin/linkguard", stand)), 0o644)
	out, err := exec.Command("systemd-analyze", "verify", path).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	if out, err := exec.Command("systemd-analyze", "security", "--offline=yes", "--threshold=20", path).CombinedOutput(); err != nil {
		t.Errorf("systemd-analyze security: exposure over 2.0: %v\n%s", err, out)
	}
}

var metricRE = regexp.MustCompile(`\b(linkguard_[a-z_]+?)(_bucket|_count|_sum)?\b`)

// TestDashboard: the Grafana dashboard is JSON, and every linkguard
// metric it queries exists, and every metric has a panel.
func TestDashboard(t *testing.T) {
	b, err := os.ReadFile("grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	known := map[string]bool{}
	for _, n := range metrics.Names {
		known[n] = true
	}
	used := map[string]bool{}
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			for _, m := range metricRE.FindAllStringSubmatch(tg.Expr, -1) {
				if !known[m[1]] {
					t.Errorf("panel %q queries %s, which linkguard does not export", p.Title, m[1])
				}
				used[m[1]] = true
			}
		}
	}
	for n := range known {
		if !used[n] {
			t.Errorf("no panel shows %s", n)
		}
	}
}
