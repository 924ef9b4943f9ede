package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// The paced runs answer the question the closed loop cannot: does a
// write path hold its p99 goal at the rate its ratio goal asks for?
//
// wrk keeps 64 requests in flight, so it drives every server to the
// rate where its two cores are full, and the p99 it reports is the
// queue's at that rate (Little's law: 64 in flight at 6,000 a second is
// a mean of 10.7 ms before any tail). The p99 goal of issue 12 goes
// with a ratio goal ("confirm/synced-txn ≥ 0.8 with p99 ≤ 25 ms"): a
// server that does 0.8 of the ceiling's rate with a p99 of 25 ms
// meets it, whatever its p99 when pushed to 1.6 times the ceiling.
//
// So, after the closed-loop runs of a Badger round, lgperf offers each
// write path the rate its goal names against Badger's synced
// transaction in the same round (issue 0.9, confirm 0.8 of it), open
// loop: vegeta sends one request every 1/rate s whatever the answers
// do, over at most h.conns connections, and times each request from its
// scheduled send, so that a request that waits for a connection, or
// behind a stall, counts its wait (no coordinated omission). vegeta runs
// in a child process of lgperf (paceEnv), as wrk runs in its own.

// paceSpec is what the child process is asked to do.
type paceSpec struct {
	URL      string        `json:"url"`  // the base URL of the instance
	Kind     string        `json:"kind"` // "issue" or "confirm"
	File     string        `json:"file"` // confirm: lines "path<TAB>body" (confirmFile)
	Rate     int           `json:"rate"` // requests a second
	Duration time.Duration `json:"duration"`
	Conns    int           `json:"conns"`
}

// pacedRun is one paced run, the rate it was offered and what share of
// the round's synced transaction that was.
type pacedRun struct {
	offered int
	of      float64
	res     result
}

// paced runs spec in a child process, after the machine has settled as
// before a wrk run, and counts this process's CPU as wrk does.
func (h *harness) paced(spec paceSpec) (result, error) {
	h.settled()
	self, err := os.Executable()
	if err != nil {
		return result{}, err
	}
	b, err := json.Marshal(spec)
	if err != nil {
		return result{}, err
	}
	cpu0, server0 := h.cpu()
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), paceEnv+"="+string(b))
	out, err := cmd.CombinedOutput()
	if err != nil {
		return result{}, fmt.Errorf("paced %s: %w\n%s", spec.Kind, err, out)
	}
	r, err := summary(out)
	if err != nil {
		return result{}, fmt.Errorf("paced %s: %w", spec.Kind, err)
	}
	r.RSS = rss()
	cpu1, server1 := h.cpu()
	r.CPU, r.ServerCPU = cpu1-cpu0, server1-server0
	r.genCPU = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	return r, nil
}

// pacedPaths runs the issue and the confirm of inst at goal × sw, the
// rate of Badger's synced transaction in the same round.
func (h *harness) pacedPaths(store, cpuprofile string, inst *instance, sw float64) (issue, confirm pacedRun, err error) {
	issue.offered, confirm.offered = int(0.9*sw), int(0.8*sw)
	if h.pacedRate > 0 {
		issue.offered, confirm.offered = h.pacedRate, h.pacedRate
	}
	issue.of, confirm.of = float64(issue.offered)/sw, float64(confirm.offered)/sw
	if issue.offered < 1 || confirm.offered < 1 {
		return issue, confirm, fmt.Errorf("paced runs: the synced transaction ran %.0f/s, too few to pace", sw)
	}
	run := func(p *pacedRun, path, kind, file string) (err error) {
		fmt.Printf("%s: %s, paced at %d/s (%.2f of the synced txn)…\n", store, path, p.offered, p.of)
		p.res, err = profiled(cpuprofile, "paced-"+kind, func() (result, error) {
			return h.paced(paceSpec{URL: inst.url, Kind: kind, File: file, Rate: p.offered, Duration: h.duration, Conns: h.conns})
		})
		if err == nil {
			fmt.Printf("%s: %s, paced: %s\n", store, kind, p.res.pacedTail())
		}
		return err
	}
	if err := run(&issue, "POST /v1/links", "issue", ""); err != nil {
		return issue, confirm, err
	}
	// Every paced confirm spends a link of its own, and a tenth more in
	// case the child runs late and catches up.
	count := int(float64(confirm.offered)*h.duration.Seconds()*1.1) + 100
	f := filepath.Join(h.dir, store+"-paced-confirm.txt")
	if err := confirmFile(inst, count, f); err != nil {
		return issue, confirm, err
	}
	if err := run(&confirm, "POST /l/{token}/confirm", "confirm", f); err != nil {
		return issue, confirm, err
	}
	return issue, confirm, nil
}

// pacedTail is a paced run's latencies, the CPU linkguard spent a
// request and the load generator's (vegeta's, in its own process).
func (r result) pacedTail() string {
	return fmt.Sprintf("%s; %s of CPU a request, the load generator %.0f µs", r.tail(), r.cpuString(), r.perRequest(r.genCPU))
}

// pacedNote is the report's line for the paced runs of every round:
// medians, and each round's p99.
func pacedNote(store string, conns int, issues, confirms []pacedRun) string {
	if len(issues) == 0 {
		return ""
	}
	part := func(path string, p99Goal time.Duration, runs []pacedRun, consumes bool) string {
		offered := medianOf(collect(runs, func(r pacedRun) float64 { return float64(r.offered) }))
		of := medianOf(collect(runs, func(r pacedRun) float64 { return r.of }))
		done := medianOf(collect(runs, func(r pacedRun) float64 { return r.res.Rate() }))
		p50 := medianOf(collect(runs, func(r pacedRun) float64 { return float64(r.res.P50US) }))
		p99 := medianOf(collect(runs, func(r pacedRun) float64 { return float64(r.res.P99US) }))
		mark := "ok"
		if p99 > float64(p99Goal.Microseconds()) {
			mark = "OVER"
		}
		var each []string
		bad := int64(0)
		for _, r := range runs {
			each = append(each, ms(r.res.P99US))
			bad += r.res.Errors + r.res.Non2xx
		}
		s := fmt.Sprintf("%s offered %.0f/s (%.2f of the synced txn), answered %.0f/s, p50 %s, p99 %s (≤ %s %s; rounds %s)",
			path, offered, of, done, msf(p50), msf(p99), p99Goal, mark, strings.Join(each, ", "))
		if bad > 0 {
			s += fmt.Sprintf(", %d errors or non-2xx", bad)
		}
		if consumes {
			s += fmt.Sprintf(", %.0f consumed (median)", medianOf(collect(runs, func(r pacedRun) float64 { return float64(r.res.Consumed) })))
		}
		return s
	}
	return fmt.Sprintf("%s: paced, open loop (vegeta, from each request's scheduled send, at most %d connections): %s; %s",
		store, conns, part("POST /v1/links", 20*time.Millisecond, issues, false),
		part("POST /l/{token}/confirm + code", 25*time.Millisecond, confirms, true))
}

// paceEnv, in lgperf's environment, makes it the child process of a
// paced run (paceMain): its value is the paceSpec, as JSON. The tests'
// binary obeys it too (TestMain).
const paceEnv = "LGPERF_PACE"

// paceMain is the child process of a paced run: it runs spec, prints
// one LGPERF line as the wrk scripts do, and exits.
func paceMain(spec string) {
	if err := paceChild(spec); err != nil {
		fmt.Fprintln(os.Stderr, "lgperf:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

func paceChild(arg string) error {
	var spec paceSpec
	if err := json.Unmarshal([]byte(arg), &spec); err != nil {
		return fmt.Errorf("%s: %w", paceEnv, err)
	}
	r, err := pace(spec)
	if err != nil {
		return err
	}
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	fmt.Printf("LGPERF %s\n", b)
	return nil
}

// pace sends spec's load, open loop, and sums it up.
func pace(spec paceSpec) (result, error) {
	if spec.Rate < 1 || spec.Duration <= 0 || spec.Conns < 1 {
		return result{}, fmt.Errorf("paced run: rate %d, duration %s, %d connections: each must be positive", spec.Rate, spec.Duration, spec.Conns)
	}
	targets, err := pacedTargets(spec)
	if err != nil {
		return result{}, err
	}
	atk := vegeta.NewAttacker(
		vegeta.Connections(spec.Conns), vegeta.MaxConnections(spec.Conns),
		// Workers enough that every tick is sent on time: a request
		// waiting for one of the connections waits inside the client, on
		// its own clock.
		vegeta.Workers(uint64(spec.Conns)), vegeta.MaxWorkers(8192),
		vegeta.KeepAlive(true), vegeta.HTTP2(false), vegeta.Timeout(5*time.Second), vegeta.MaxBody(4096),
		vegeta.Redirects(vegeta.NoFollow),
	)
	var (
		lats        []time.Duration
		r           result
		first, last time.Time
	)
	for res := range atk.Attack(targets.next, vegeta.Rate{Freq: spec.Rate, Per: time.Second}, spec.Duration, spec.Kind) {
		if first.IsZero() || res.Timestamp.Before(first) {
			first = res.Timestamp
		}
		if end := res.End(); end.After(last) {
			last = end
		}
		r.Requests++
		lats = append(lats, res.Latency)
		switch {
		case res.Error != "" && res.Code == 0:
			r.Errors++
		case res.Code/100 != 2:
			r.Non2xx++
		case spec.Kind == "confirm" && bytes.Contains(res.Body, []byte(`"consumed"`)):
			r.Consumed++
		}
	}
	r.Wrapped = targets.wrapped.Load()
	if len(lats) == 0 {
		return result{}, errors.New("paced run: no request was sent")
	}
	slices.Sort(lats)
	pct := func(p float64) int64 {
		i := int(p / 100 * float64(len(lats)))
		return lats[min(i, len(lats)-1)].Microseconds()
	}
	r.DurationUS = last.Sub(first).Microseconds()
	r.P50US, r.P90US, r.P99US, r.P999US, r.MaxUS = pct(50), pct(90), pct(99), pct(99.9), lats[len(lats)-1].Microseconds()
	return r, nil
}

// pacedTarget hands out the requests of a paced run.
type pacedTarget struct {
	spec    paceSpec
	lines   [][2]string // confirm: path, body
	n       atomic.Int64
	wrapped atomic.Int64
}

func pacedTargets(spec paceSpec) (*pacedTarget, error) {
	t := &pacedTarget{spec: spec}
	switch spec.Kind {
	case "issue":
	case "confirm":
		f, err := os.Open(spec.File)
		if err != nil {
			return nil, fmt.Errorf("paced run: %w", err)
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			path, body, ok := strings.Cut(sc.Text(), "\t")
			if !ok {
				return nil, fmt.Errorf("paced run: %s: a line without a tab", spec.File)
			}
			t.lines = append(t.lines, [2]string{path, body})
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("paced run: %s: %w", spec.File, err)
		}
		if len(t.lines) == 0 {
			return nil, fmt.Errorf("paced run: %s has no requests", spec.File)
		}
	default:
		return nil, fmt.Errorf("paced run: kind %q (want issue or confirm)", spec.Kind)
	}
	return t, nil
}

// next is a vegeta.Targeter: issues for new addresses, or the confirm
// file's lines in order, each once (a wrap is counted: a wrapped
// confirm answers "used").
func (t *pacedTarget) next(tg *vegeta.Target) error {
	i := t.n.Add(1) - 1
	tg.Method = http.MethodPost
	tg.Header = http.Header{"Content-Type": {"application/json"}}
	if t.spec.Kind == "issue" {
		tg.URL = t.spec.URL + "/v1/links"
		tg.Header.Set("Authorization", "Bearer "+apiKey)
		tg.Body = fmt.Appendf(nil, `{"email":"paced-%d@perf.test","redirect_url":%q,"send_email":false}`, i, redirect)
		return nil
	}
	if i >= int64(len(t.lines)) && i%int64(len(t.lines)) == 0 {
		t.wrapped.Add(1)
	}
	l := t.lines[i%int64(len(t.lines))]
	tg.URL, tg.Body = t.spec.URL+l[0], []byte(l[1])
	return nil
}
