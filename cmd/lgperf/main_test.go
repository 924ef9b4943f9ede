package main

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestHarness runs the Badger half of the load run for one second a path
// at 4 connections, in two rounds: the harness measures, and linkguard
// answers, for real, in each round.
// Skipped without wrk (make perf installs nothing; see Makefile).
func TestHarness(t *testing.T) {
	if _, err := exec.LookPath("wrk"); err != nil {
		t.Skip("wrk is not installed (apt-get install -y wrk)")
	}
	h := &harness{conns: 4, threads: 1, duration: time.Second, maxLinks: 2000, rounds: 2}
	lines, err := h.measure([]string{"badger"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 3 {
		t.Fatalf("%d lines, want 3", len(lines))
	}
	for _, l := range lines {
		if len(l.rounds) != 2 {
			t.Fatalf("%s: %d rounds, want 2", l.path, len(l.rounds))
		}
		for i, r := range l.rounds {
			if r.lg.Requests == 0 || r.ceil.Requests == 0 || r.lg.Errors > 0 || r.lg.Non2xx > 0 {
				t.Errorf("%s, round %d: linkguard %+v, ceiling %+v", r.path, i+1, r.lg, r.ceil)
			}
		}
	}
	for i, r := range lines[2].rounds {
		if r.lg.Consumed == 0 || r.lg.Consumed > r.lg.Requests {
			t.Errorf("confirm, round %d: consumed %d links in %d requests", i+1, r.lg.Consumed, r.lg.Requests)
		}
	}
	if len(h.notes) != 2 || !strings.Contains(h.notes[0], "SyncWrites") {
		t.Fatalf("notes %q, want the SyncWrites comparison and the paced runs", h.notes)
	}
	// The paced runs, in both rounds: offered rates from the same
	// round's synced transaction, answered, and every confirm consumed.
	if p := h.notes[1]; !strings.Contains(p, "open loop") || !strings.Contains(p, "(0.80 of the synced txn)") ||
		strings.Contains(p, "errors or non-2xx") || strings.Contains(p, " 0 consumed") {
		t.Errorf("paced note: %s", p)
	}
	var out bytes.Buffer
	report(&out, lines)
	if !strings.Contains(out.String(), "| badger | `GET /l/{token}` |") || !strings.Contains(out.String(), "Medians of 2 rounds") {
		t.Errorf("report:\n%s", out.String())
	}
}

// TestReportMedians: the report gives each figure's median over the
// rounds, and the ratio is the median of each round's own ratio, not a
// ratio of medians.
func TestReportMedians(t *testing.T) {
	res := func(rate, p99ms int64) result {
		return result{Requests: rate, DurationUS: 1e6, P99US: p99ms * 1000, P50US: 1000, CPU: time.Duration(rate) * 100 * time.Microsecond}
	}
	mk := func(lg, ceil result) row {
		return row{store: "badger", path: "POST /v1/links", ceiling: "one durable store write", lg: lg, ceil: ceil, goal: 0.9, p99Goal: 20 * time.Millisecond}
	}
	// Ratios 0.5, 0.9 and 0.6: median 0.6. Rates 500, 900, 1200: median
	// 900; a ratio of the median rates would be 900/1000 = 0.9.
	lines := merge([][]row{
		{mk(res(500, 30), res(1000, 50))},
		{mk(res(900, 10), res(1000, 40))},
		{mk(res(1200, 15), res(2000, 45))},
	})
	if len(lines) != 1 || len(lines[0].rounds) != 3 {
		t.Fatalf("merged %+v", lines)
	}
	l := lines[0]
	if got := l.median(row.ratio); got != 0.6 {
		t.Errorf("median ratio %v, want 0.6", got)
	}
	if got := l.median(func(r row) float64 { return float64(r.lg.P99US) }); got != 15000 {
		t.Errorf("median p99 %v µs, want 15000", got)
	}
	if got := medianOf([]float64{4, 1, 3, 2}); got != 2.5 {
		t.Errorf("median of an even count %v, want 2.5", got)
	}
	var out bytes.Buffer
	report(&out, lines)
	for _, want := range []string{"| 900 |", "| 15.00 ms |", "| 0.60 |", "BELOW", "| 0.50, 30.00 ms / 0.90, 10.00 ms / 0.60, 15.00 ms |"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "p99 OVER") {
		t.Errorf("median p99 15 ms is within 20 ms, report says OVER:\n%s", out.String())
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

// TestCheckNice: a -wrk-nice that cannot be had fails before any run.
func TestCheckNice(t *testing.T) {
	for _, c := range []struct {
		n    int
		want string // "" for no error
	}{
		{0, ""},
		{5, ""},
		{20, "niceness runs from -20 to 19"},
		{-21, "niceness runs from -20 to 19"},
	} {
		h := &harness{wrkNice: c.n}
		err := h.checkNice()
		if c.want == "" {
			if err != nil {
				t.Errorf("-wrk-nice %d: %v", c.n, err)
			} else if c.n != 0 && h.nicePath == "" {
				t.Errorf("-wrk-nice %d: nice not found", c.n)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("-wrk-nice %d: %v, want %q", c.n, err, c.want)
		}
	}
}
