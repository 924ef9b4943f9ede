package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// line is one line of the report: a row of every round (the same path
// against the same ceiling), reported by its medians.
type line struct {
	row          // the first round's: store, path, ceiling and goals
	rounds []row // every round's, in order
}

// merge makes the report's lines from rounds of rows, which every round
// gives in the same order.
func merge(rounds [][]row) []line {
	if len(rounds) == 0 {
		return nil
	}
	lines := make([]line, len(rounds[0]))
	for i := range lines {
		lines[i].row = rounds[0][i]
		for _, rs := range rounds {
			lines[i].rounds = append(lines[i].rounds, rs[i])
		}
	}
	return lines
}

// median is the median of the values of f over the rounds (the mean of
// the middle two for an even count).
func (l line) median(f func(r row) float64) float64 { return medianOf(collect(l.rounds, f)) }

func medianOf(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	v = slices.Clone(v)
	slices.Sort(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

// ratio is linkguard's rate over its ceiling's in the same round.
func (r row) ratio() float64 {
	if c := r.ceil.Rate(); c > 0 {
		return r.lg.Rate() / c
	}
	return 0
}

// each lists f over the rounds, "a / b / c".
func (l line) each(f func(r row) string) string {
	parts := make([]string, len(l.rounds))
	for i, r := range l.rounds {
		parts[i] = f(r)
	}
	return strings.Join(parts, " / ")
}

func report(w io.Writer, lines []line) {
	rounds := 0
	if len(lines) > 0 {
		rounds = len(lines[0].rounds)
	}
	fmt.Fprintln(w)
	if rounds > 1 {
		fmt.Fprintf(w, "Medians of %d rounds; each round's ratio is against the ceiling measured in the same round.\n\n", rounds)
	}
	fmt.Fprintln(w, "| store | path | linkguard req/s | p50 | p99 | ceiling | ceiling req/s | ceiling p99 | ratio | goal | CPU/req, linkguard / ceiling | RSS (round 1) | ratio, p99 of each round |")
	fmt.Fprintln(w, "| --- | --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
	for _, l := range lines {
		ratio := l.median(row.ratio)
		p99 := l.median(func(r row) float64 { return float64(r.lg.P99US) })
		goal, mark := fmt.Sprintf("≥ %.1f", l.goal), "ok"
		if ratio < l.goal {
			mark = "BELOW"
		}
		if l.p99Goal > 0 {
			goal += fmt.Sprintf(", p99 ≤ %d ms", l.p99Goal.Milliseconds())
			if time.Duration(p99)*time.Microsecond > l.p99Goal {
				mark += ", p99 OVER"
			}
		}
		var lgErr, ceilErr, consumed int64
		for _, r := range l.rounds {
			lgErr += r.lg.Errors + r.lg.Non2xx
			ceilErr += r.ceil.Errors + r.ceil.Non2xx
			consumed += r.lg.Consumed
		}
		// NB: the first round's RSS: the Go heap of a round's closed
		// stores is given back to the system lazily, so later rounds'
		// RSS carries some of the rounds before.
		rss := l.rounds[0].lg.RSS
		extra := ""
		if lgErr > 0 {
			extra = fmt.Sprintf(" (%d errors or non-2xx)", lgErr)
		}
		if ceilErr > 0 {
			mark += fmt.Sprintf(" (ceiling: %d errors or non-2xx)", ceilErr)
		}
		if consumed > 0 {
			extra += fmt.Sprintf(" (%d consumed)", consumed)
		}
		cpu := func(res func(r row) result) string {
			us := l.median(func(r row) float64 { return res(r).CPUPerRequest() })
			if res(l.row).ServerCPU == 0 {
				return fmt.Sprintf("%.0f µs", us)
			}
			return fmt.Sprintf("%.0f µs (server %.0f)", us, l.median(func(r row) float64 { x := res(r); return x.perRequest(x.ServerCPU) }))
		}
		each := l.each(func(r row) string { return fmt.Sprintf("%.2f, %s", r.ratio(), ms(r.lg.P99US)) })
		fmt.Fprintf(w, "| %s | `%s` | %.0f%s | %s | %s | %s | %.0f | %s | %.2f | %s %s | %s / %s | %d MiB | %s |\n",
			l.store, l.path, l.median(func(r row) float64 { return r.lg.Rate() }), extra,
			msf(l.median(func(r row) float64 { return float64(r.lg.P50US) })), msf(p99), l.ceiling,
			l.median(func(r row) float64 { return r.ceil.Rate() }),
			msf(l.median(func(r row) float64 { return float64(r.ceil.P99US) })), ratio, goal, mark,
			cpu(func(r row) result { return r.lg }), cpu(func(r row) result { return r.ceil }),
			rss>>20, each)
	}
}

// syncWritesNote compares the write paths of the Badger lines with
// Badger's own synced transaction, one run of it a round (sw), by the
// median of each round's ratio: issue 12 named that ceiling, which the
// table's stricter one (the store's own durable write) replaced.
func syncWritesNote(lines []line, sw []result) string {
	if len(sw) == 0 {
		return ""
	}
	rate := medianOf(collect(sw, func(r result) float64 { return r.Rate() }))
	p50 := medianOf(collect(sw, func(r result) float64 { return float64(r.P50US) }))
	p99 := medianOf(collect(sw, func(r result) float64 { return float64(r.P99US) }))
	note := fmt.Sprintf("badger: one Badger txn with SyncWrites (an msync each, in line; issue 12's ceiling), same rounds: %.0f req/s, p50 %s, p99 %s",
		rate, msf(p50), msf(p99))
	var by []string
	for _, l := range lines {
		if l.p99Goal == 0 || len(l.rounds) != len(sw) {
			continue
		}
		ratios := make([]float64, len(sw))
		for i, r := range l.rounds {
			if c := sw[i].Rate(); c > 0 {
				ratios[i] = r.lg.Rate() / c
			}
		}
		ratio, mark := medianOf(ratios), "ok"
		if ratio < l.goal {
			mark = "BELOW"
		}
		by = append(by, fmt.Sprintf("%s %.2f (≥ %.1f %s)", l.path, ratio, l.goal, mark))
	}
	if len(by) > 0 {
		note += "; linkguard against it: " + strings.Join(by, ", ")
	}
	return note
}

func collect[T any](xs []T, f func(T) float64) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = f(x)
	}
	return out
}

func msf(us float64) string { return fmt.Sprintf("%.2f ms", us/1000) }
