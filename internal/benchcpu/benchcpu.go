// Package benchcpu reports a benchmark's CPU time per operation beside
// its wall time. On the shared machines where `make bench` runs, wall time
// per operation grows with the load of everyone else's work; the process's
// own CPU time (user + system, every thread, GC included) does not, so a
// budget is checked against cpu-ns/op.
package benchcpu

import (
	"testing"
	"time"
)

// Start returns the process's CPU time so far; pass it to Report after
// the benchmark loop.
func Start() time.Duration { return cpu() }

// Report adds the metric cpu-ns/op: the CPU time since start divided by
// b.N.
func Report(b *testing.B, start time.Duration) {
	if b.N > 0 {
		b.ReportMetric(float64(cpu()-start)/float64(b.N), "cpu-ns/op")
	}
}
