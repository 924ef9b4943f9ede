package main

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/linkguard/linkguard/internal/benchcpu"
	"github.com/linkguard/linkguard/internal/redistest"
)

// The wrk scripts: plain.lua drives GETs and issues (no response parsing,
// so wrk stays as fast as it can), replay.lua sends prepared requests from
// a file and counts the consumed answers. Both print one LGPERF line.
var (
	//go:embed plain.lua
	plainLua []byte
	//go:embed replay.lua
	replayLua []byte
)

// result is one wrk run, as its done() function reports it.
type result struct {
	Requests   int64 `json:"requests"`
	DurationUS int64 `json:"duration_us"`
	Errors     int64 `json:"errors"`
	Non2xx     int64 `json:"non2xx"`
	P50US      int64 `json:"p50_us"`
	P99US      int64 `json:"p99_us"`
	// P90US, P999US and MaxUS are the tail's shape, for the diagnosis.
	P90US    int64 `json:"p90_us"`
	P999US   int64 `json:"p999_us"`
	MaxUS    int64 `json:"max_us"`
	Consumed int64 `json:"consumed"`
	Wrapped  int64 `json:"wrapped"`
	RSS      int64 `json:"-"` // bytes, of this process after the run
	// CPU is what this process (servers and instances, not wrk) and the
	// store's server spent during the run, user + system.
	CPU time.Duration `json:"-"`
	// ServerCPU is the store server's part of CPU.
	ServerCPU time.Duration `json:"-"`
	// genCPU is a paced run's load generator's CPU (wrk's is not counted).
	genCPU time.Duration
}

// CPUPerRequest is CPU in µs per completed request: unlike the rate, it
// barely moves with the load of other work on the machine.
func (r result) CPUPerRequest() float64 { return r.perRequest(r.CPU) }

// perRequest is d in µs per completed request.
func (r result) perRequest(d time.Duration) float64 {
	if r.Requests == 0 {
		return 0
	}
	return float64(d.Microseconds()) / float64(r.Requests)
}

// cpuString is CPUPerRequest, with the store server's part when there is one.
func (r result) cpuString() string {
	if r.ServerCPU == 0 {
		return fmt.Sprintf("%.0f µs", r.CPUPerRequest())
	}
	return fmt.Sprintf("%.0f µs (server %.0f)", r.CPUPerRequest(), r.perRequest(r.ServerCPU))
}

// Rate is completed requests per second.
func (r result) Rate() float64 {
	if r.DurationUS == 0 {
		return 0
	}
	return float64(r.Requests) / (float64(r.DurationUS) / 1e6)
}

// load is one wrk invocation: URL, script and the script's arguments.
type load struct {
	url    string
	replay bool // replay.lua (prepared requests) instead of plain.lua
	args   []string
}

// wrk runs every load at once (so two instances can share the load),
// each with its share of the connections, and sums what they did.
func (h *harness) wrk(loads ...load) (result, error) {
	type out struct {
		res result
		err error
	}
	h.settled()
	if h.serverStats != nil {
		h.serverStats(true)
		defer h.serverStats(false)
	}
	cpu0, server0 := h.cpu()
	ch := make(chan out, len(loads))
	conns := max(1, h.conns/len(loads))
	threads := max(1, h.threads/len(loads))
	for _, l := range loads {
		go func() {
			script := filepath.Join(h.dir, "plain.lua")
			if l.replay {
				script = filepath.Join(h.dir, "replay.lua")
			}
			args := []string{"-t", strconv.Itoa(threads), "-c", strconv.Itoa(conns),
				"-d", fmt.Sprintf("%ds", int(h.duration/time.Second)), "--timeout", "5s", "-s", script, l.url, "--"}
			args = append(args, l.args...)
			if l.replay {
				args = append(args, strconv.Itoa(threads))
			}
			cmd := exec.Command(h.wrkPath, args...)
			if h.wrkNice != 0 {
				cmd = exec.Command(h.nicePath, append([]string{"-n", strconv.Itoa(h.wrkNice), h.wrkPath}, args...)...)
			}
			b, err := cmd.CombinedOutput()
			if err != nil {
				ch <- out{err: fmt.Errorf("wrk %s: %w\n%s", l.url, err, b)}
				return
			}
			r, err := summary(b)
			if err != nil {
				err = fmt.Errorf("wrk %s: %w", l.url, err)
			}
			ch <- out{res: r, err: err}
		}()
	}
	var sum result
	for range loads {
		o := <-ch
		if o.err != nil {
			return sum, o.err
		}
		r := o.res
		sum.Requests += r.Requests
		sum.DurationUS = max(sum.DurationUS, r.DurationUS)
		sum.Errors += r.Errors
		sum.Non2xx += r.Non2xx
		sum.Consumed += r.Consumed
		sum.Wrapped += r.Wrapped
		// NB: percentiles of two runs do not add; the worse of the two
		// is what a client of the pair would see at worst.
		sum.P50US = max(sum.P50US, r.P50US)
		sum.P99US = max(sum.P99US, r.P99US)
		sum.P90US = max(sum.P90US, r.P90US)
		sum.P999US = max(sum.P999US, r.P999US)
		sum.MaxUS = max(sum.MaxUS, r.MaxUS)
	}
	sum.RSS = rss()
	cpu1, server1 := h.cpu()
	sum.CPU, sum.ServerCPU = cpu1-cpu0, server1-server0
	return sum, nil
}

// summary reads the LGPERF line that a load generator prints (the wrk
// scripts' done(), a paced run's child).
func summary(out []byte) (result, error) {
	var r result
	for _, line := range strings.Split(string(out), "\n") {
		if j, ok := strings.CutPrefix(line, "LGPERF "); ok {
			if err := json.Unmarshal([]byte(j), &r); err != nil {
				return r, fmt.Errorf("read its summary: %w", err)
			}
			return r, nil
		}
	}
	return r, fmt.Errorf("no summary in its output:\n%s", out)
}

// cpu is this process's CPU time so far plus the store server's, and the
// store server's alone.
func (h *harness) cpu() (all, server time.Duration) {
	if h.serverCPU != nil {
		server = h.serverCPU()
	}
	return benchcpu.Start() + server, server
}

// redisCPU is the CPU time so far of the redis-server at url, or 0 when
// it does not answer.
func redisCPU(url string) time.Duration {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return 0
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	return redistest.ServerCPU(context.Background(), rdb)
}

// writeScripts puts the embedded wrk scripts where wrk can read them.
func (h *harness) writeScripts() error {
	if err := os.WriteFile(filepath.Join(h.dir, "plain.lua"), plainLua, 0o600); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(h.dir, "replay.lua"), replayLua, 0o600)
}

// rss is this process's resident set, in bytes, from /proc.
func rss() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// redisStats resets (reset) or prints the command statistics of the
// redis-server at url: what each command cost the server, per call.
func redisStats(url string, reset bool) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	ctx := context.Background()
	if reset {
		rdb.ConfigResetStat(ctx)
		return
	}
	info, err := rdb.Info(ctx, "commandstats").Result()
	if err != nil {
		return
	}
	for _, line := range strings.Split(info, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok && strings.HasPrefix(k, "cmdstat_") {
			fmt.Printf("  redis-server %s %s\n", strings.TrimPrefix(k, "cmdstat_"), v)
		}
	}
}

// checkNice checks -wrk-nice before the first run, so that a value that
// cannot be had fails at once rather than as nice's warning in a run
// that then measures at the usual priority.
func (h *harness) checkNice() (err error) {
	switch {
	case h.wrkNice == 0:
		return nil
	case h.wrkNice < -20 || h.wrkNice > 19:
		return fmt.Errorf("-wrk-nice %d: niceness runs from -20 to 19", h.wrkNice)
	case h.wrkNice < 0 && os.Geteuid() != 0:
		return fmt.Errorf("-wrk-nice %d: a niceness below 0 needs root", h.wrkNice)
	}
	if h.nicePath, err = exec.LookPath("nice"); err != nil {
		return errors.New("-wrk-nice: nice is not installed (coreutils)")
	}
	return nil
}
