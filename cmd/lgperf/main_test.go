package main

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestHarness runs the Badger half of the load run for one second a path
// at 4 connections: the harness measures, and linkguard answers, for
// real. Skipped without wrk (make perf installs nothing; see Makefile).
func TestHarness(t *testing.T) {
	if _, err := exec.LookPath("wrk"); err != nil {
		t.Skip("wrk is not installed (apt-get install -y wrk)")
	}
	h := &harness{conns: 4, threads: 1, duration: time.Second, maxLinks: 2000}
	rows, err := h.measure([]string{"badger"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 {
		t.Fatalf("%d rows, want 3", len(rows))
	}
	for _, r := range rows {
		if r.lg.Requests == 0 || r.ceil.Requests == 0 || r.lg.Errors > 0 || r.lg.Non2xx > 0 {
			t.Errorf("%s: linkguard %+v, ceiling %+v", r.path, r.lg, r.ceil)
		}
	}
	if c := rows[2]; c.lg.Consumed == 0 || c.lg.Consumed > c.lg.Requests {
		t.Errorf("confirm run consumed %d links in %d requests", c.lg.Consumed, c.lg.Requests)
	}
	var out bytes.Buffer
	report(&out, rows)
	if !strings.Contains(out.String(), "| badger | `GET /l/{token}` |") {
		t.Errorf("report:\n%s", out.String())
	}
}

// TestFaultCost: the probe touches real memory and a real file mapping
// and reports a cost per page that is neither zero nor absurd.
func TestFaultCost(t *testing.T) {
	anon, file, err := faultCost(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for name, d := range map[string]time.Duration{"anonymous": anon, "file": file} {
		if d <= 0 || d > 10*time.Millisecond {
			t.Errorf("%s: %v a page", name, d)
		}
	}
}
