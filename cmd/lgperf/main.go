// Command lgperf is `make perf`: a reproducible load run that measures the
// machine's ceilings and linkguard in the same run and prints the ratios.
//
// Every figure is a wrk run (Debian's wrk, the load generator; 64
// connections by default) against servers on 127.0.0.1 in this process:
//
//   - GET /l/{token} of a pending link, against a bare Fiber handler that
//     sends a page of the same size;
//   - POST /v1/links, against one synced store write per request;
//   - POST /l/{token}/confirm with the right code (each request consumes
//     its own link), against the same synced write;
//
// for Badger (one instance, on disk, synced writes) and for Redis (two
// instances on one redis-server with appendfsync always, the load split
// between them). Each run is bounded in time (-duration) and the links it
// may consume are issued before it (bounded by -max-links).
//
// Each run starts once the one before it has finished its background
// work (settle.go): Badger's flushes and compactions are paid by the run
// that caused them, not the next.
//
// A round measures every path and ceiling of a store, on fresh stores;
// -rounds (3 by default) runs several, and the report gives the median
// of each figure over the rounds, with each round's ratio (against the
// ceiling of the same round) and p99 beside it: on a shared machine one
// run's p99 spreads by 5x, so a single run says little about the tail.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/linkguard/linkguard/internal/redistest"
	"github.com/linkguard/linkguard/kit"
)

type harness struct {
	dir      string
	wrkPath  string
	nicePath string // nice(1), when -wrk-nice is set
	conns    int
	threads  int
	duration time.Duration
	maxLinks int
	run      int
	stats    bool
	// unsettled skips settle before each run (-unsettled): the way runs
	// were measured before, each paying for the background work of the
	// one before it.
	unsettled bool
	// busy is set once a settle did not end in its round: the machine
	// is busy with more than this round's work, and the round's later
	// runs start at once (settled). A new round, on fresh stores, waits
	// again.
	busy bool
	// wrkNice, when not 0, runs wrk at that niceness (-wrk-nice): wrk
	// shares the machine's cores with the servers it measures.
	wrkNice  int
	redisURL string // the Redis server of the run, while Redis is measured
	closers  []func() error
	rounds   int
	round    int      // the round running, from 1: its folders are roundDir
	notes    []string // printed under the table
	// syncWrites is each Badger round's run of Badger's own synced
	// transaction (badger), for the note under the table.
	syncWrites []result
	// noPaced skips the paced runs (paced.go); pacedIssues and
	// pacedConfirms are each Badger round's, for the note under the table.
	noPaced       bool
	pacedRate     int // -paced-rate: 0 for the goals' rates
	pacedIssues   []pacedRun
	pacedConfirms []pacedRun
	// serverCPU, when set, is the CPU time so far of the store's server
	// (redis-server), counted with this process's in a run's CPU.
	serverCPU func() time.Duration
	// serverStats, when set, resets (true) or prints (false) the store
	// server's per-command statistics around each run (-server-stats).
	serverStats func(reset bool)
}

// ceiling is a server whose POST /txn is one store write: its URL, and
// what it is for the report.
type ceiling struct{ url, name string }

// row is one line of a round: linkguard against its ceiling.
type row struct {
	store, path, ceiling string
	lg, ceil             result
	goal                 float64
	p99Goal              time.Duration // 0: none
}

func main() {
	h := &harness{}
	flag.IntVar(&h.conns, "connections", 64, "connections wrk keeps open")
	flag.IntVar(&h.threads, "threads", 2, "wrk threads")
	flag.DurationVar(&h.duration, "duration", 8*time.Second, "length of each run (whole seconds)")
	flag.IntVar(&h.maxLinks, "max-links", 200000, "most links issued ahead of a confirm run")
	flag.IntVar(&h.rounds, "rounds", 3, "rounds of every store's runs; the report gives the medians")
	stores := flag.String("stores", "badger,redis", "stores to measure: badger, redis or both")
	size := flag.Int("size", 0, "instead of the load runs, measure what `n` pending links and 1,000 views weigh (n ≥ 2000)")
	cpuprofile := flag.String("cpuprofile", "", "write CPU profiles of the runs to `prefix`-get.prof, -issue.prof and -confirm.prof (Redis: prefix-redis-get.prof, …)")
	flag.BoolVar(&h.stats, "server-stats", false, "print redis-server's per-command statistics (calls, µs per call) after each Redis run")
	flag.BoolVar(&h.unsettled, "unsettled", false, "start each run at once, not after the last one's background work (flushes, compactions) is done")
	flag.BoolVar(&h.noPaced, "no-paced", false, "skip the paced runs (Badger's write paths offered the rates of their goals, open loop)")
	flag.IntVar(&h.pacedRate, "paced-rate", 0, "offer the paced runs `n` requests a second each, instead of the goals' shares of the synced txn (capacity planning)")
	flag.IntVar(&h.wrkNice, "wrk-nice", 0, "run wrk at niceness `n` (-20 to 19; below 0 needs root): how much of a tail is the load generator's share of the cores")
	if spec := os.Getenv(paceEnv); spec != "" {
		paceMain(spec)
	}
	flag.Parse()
	if *size > 0 {
		if *size < 2000 {
			fmt.Fprintln(os.Stderr, "lgperf: -size must be at least 2000")
			os.Exit(2)
		}
		rows, err := h.measureSize(strings.Split(*stores, ","), *size)
		if err != nil {
			fmt.Fprintln(os.Stderr, "lgperf:", err)
			os.Exit(1)
		}
		reportSize(os.Stdout, rows)
		return
	}
	watchStalls()
	lines, err := h.measure(strings.Split(*stores, ","), *cpuprofile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "lgperf:", err)
		os.Exit(1)
	}
	report(os.Stdout, lines)
	for _, n := range h.notes {
		fmt.Println("\n" + n)
	}
}

// measure runs every path of every store, h.rounds times, and returns
// the report's lines.
func (h *harness) measure(stores []string, cpuprofile string) (lines []line, err error) {
	if h.duration < time.Second {
		return nil, errors.New("-duration must be at least 1s")
	}
	if h.rounds < 1 {
		return nil, errors.New("-rounds must be at least 1")
	}
	if h.pacedRate < 0 {
		return nil, errors.New("-paced-rate must be 0 (the goals' rates) or more")
	}
	if h.wrkPath, err = exec.LookPath("wrk"); err != nil {
		return nil, errors.New("wrk is not installed: apt-get install -y wrk")
	}
	if err := h.checkNice(); err != nil {
		return nil, err
	}
	if h.dir, err = os.MkdirTemp("", "lgperf-"); err != nil {
		return nil, err
	}
	defer os.RemoveAll(h.dir)
	defer h.closeAll()
	if err := h.writeScripts(); err != nil {
		return nil, err
	}
	nice := ""
	if h.wrkNice != 0 {
		nice = fmt.Sprintf(" at niceness %d", h.wrkNice)
	}
	fmt.Printf("lgperf: %d connections, %d wrk threads%s, %s per run, %d rounds, loopback\n", h.conns, h.threads, nice, h.duration, h.rounds)
	anon, file, err := faultCost(h.dir)
	if err != nil {
		return nil, err
	}
	fmt.Printf("lgperf: a first write to a 4 KiB page costs %.1f µs of anonymous memory, %.1f µs of a new file's mapping (16 MiB: %s, %s)\n\n",
		us(anon), us(file), (anon * faultProbeSize / 4096).Round(time.Millisecond/10), (file * faultProbeSize / 4096).Round(time.Millisecond/10))
	for _, st := range stores {
		st = strings.TrimSpace(st)
		var run func(cpuprofile string) ([]row, error)
		switch st {
		case "badger":
			run = h.badger
		case "redis":
			run = h.redis
		default:
			return nil, fmt.Errorf("-stores: unknown store %q (want badger or redis)", st)
		}
		var rounds [][]row
		for i := range h.rounds {
			if h.rounds > 1 {
				fmt.Printf("%s: round %d of %d\n", st, i+1, h.rounds)
			}
			prof := cpuprofile
			if prof != "" && h.rounds > 1 {
				prof = fmt.Sprintf("%s-%d", cpuprofile, i+1)
			}
			h.nextRound()
			rs, err := run(prof)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", st, err)
			}
			rounds = append(rounds, rs)
			// NB: every round starts from nothing: its stores (and its
			// redis-server) closed and deleted, so that no compaction
			// or AOF rewrite of one round runs in the next.
			h.closeAll()
			if err := os.RemoveAll(h.roundDir()); err != nil {
				return nil, err
			}
		}
		ls := merge(rounds)
		if note := syncWritesNote(ls, h.syncWrites); note != "" {
			h.notes = append(h.notes, note)
		}
		h.syncWrites = nil
		if note := pacedNote(st, h.conns, h.pacedIssues, h.pacedConfirms); note != "" {
			h.notes = append(h.notes, note)
		}
		h.pacedIssues, h.pacedConfirms = nil, nil
		lines = append(lines, ls...)
	}
	return lines, nil
}

// closeAll closes what the runs so far opened, newest first.
func (h *harness) closeAll() {
	for i := len(h.closers) - 1; i >= 0; i-- {
		h.closers[i]()
	}
	h.closers = nil
}

// nextRound starts a round: its number, and its own settling (busy).
func (h *harness) nextRound() {
	h.round++
	h.busy = false
}

// roundDir is the folder of the round's stores (tempDir).
func (h *harness) roundDir() string { return filepath.Join(h.dir, fmt.Sprintf("round-%d", h.round)) }

// badger measures the three paths on one instance on disk.
func (h *harness) badger(cpuprofile string) ([]row, error) {
	// The Ps that linkguard serve runs a Badger store with, for the
	// product and its ceilings alike (kit.RaiseProcs).
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	procs, _ := kit.RaiseProcs("badger", os.Getenv)
	fmt.Printf("badger: GOMAXPROCS %d on %d cores, as linkguard serve runs Badger\n", procs, runtime.NumCPU())
	insts, err := h.product(tempDir(h, "badger-product"), "", 1)
	if err != nil {
		return nil, err
	}
	txn, err := h.storeTxn(tempDir(h, "badger-ceiling"))
	if err != nil {
		return nil, err
	}
	rows, err := h.paths("badger", insts, []ceiling{{txn, "one durable store write"}}, cpuprofile)
	if err != nil {
		return nil, err
	}
	// Badger's own synced transaction, for comparison: not the ceiling
	// (the store does not use it), but what the ratios were against
	// before the group commit.
	raw, err := h.badgerTxn(tempDir(h, "badger-raw"))
	if err != nil {
		return nil, err
	}
	fmt.Println("badger: Badger's own synced txn (SyncWrites, for comparison)…")
	res, err := h.wrk(load{url: raw + "/txn", args: []string{"issue", "-", "-"}})
	if err != nil {
		return nil, err
	}
	h.syncWrites = append(h.syncWrites, res)
	if !h.noPaced {
		issue, confirm, err := h.pacedPaths("badger", cpuprofile, insts[0], res.Rate())
		if err != nil {
			return nil, err
		}
		h.pacedIssues = append(h.pacedIssues, issue)
		h.pacedConfirms = append(h.pacedConfirms, confirm)
	}
	return rows, nil
}

// redis measures the three paths on two instances sharing one
// redis-server that fsyncs every write.
func (h *harness) redis(cpuprofile string) ([]row, error) {
	if ok, why, _ := redistest.Available(); !ok {
		return nil, errors.New(why)
	}
	srv, err := redistest.Start("--appendonly", "yes", "--appendfsync", "always")
	if err != nil {
		return nil, err
	}
	h.closers = append(h.closers, func() error { srv.Stop(); return nil })
	insts, err := h.product("", srv.URL, 2)
	if err != nil {
		return nil, err
	}
	h.redisURL = srv.URL
	h.serverCPU = func() time.Duration { return redisCPU(srv.URL) }
	if h.stats {
		h.serverStats = func(reset bool) { redisStats(srv.URL, reset) }
	}
	defer func() { h.serverCPU, h.serverStats, h.redisURL = nil, nil, "" }()
	set, err := h.redisTxn(srv.URL)
	if err != nil {
		return nil, err
	}
	script, err := h.redisScript(srv.URL)
	if err != nil {
		return nil, err
	}
	if cpuprofile != "" {
		cpuprofile += "-redis"
	}
	return h.paths("redis", insts, []ceiling{{set, "one Redis SET (fsync always)"},
		{script, "one EVALSHA, 512 B each way (fsync always)"}}, cpuprofile)
}

// paths runs landing, issue and confirm on insts, each beside its ceiling.
func (h *harness) paths(store string, insts []*instance, txns []ceiling, cpuprofile string) ([]row, error) {
	ctx := context.Background()
	// The landing GET: one pending link per instance.
	var gets []load
	pageSize := 0
	for i, in := range insts {
		l, err := issue(ctx, in.kit.Service, fmt.Sprintf("get%d@perf.test", i))
		if err != nil {
			return nil, err
		}
		u := in.url + "/l/" + l.Token
		if pageSize, err = fetch(u); err != nil {
			return nil, err
		}
		gets = append(gets, load{url: u, args: []string{"get"}})
	}
	bare, err := h.bareFiber(pageSize)
	if err != nil {
		return nil, err
	}
	getCeils := []ceiling{{bare, "bare Fiber handler"}}
	if h.redisURL != "" {
		u, err := h.fiberRedisRead(h.redisURL, pageSize)
		if err != nil {
			return nil, err
		}
		getCeils = append(getCeils, ceiling{u, "Fiber + one EVALSHA read of 512 B"})
	}
	ceilGets := make([]result, len(getCeils))
	for i, c := range getCeils {
		fmt.Printf("%s: GET ceiling (%s, %d-byte page)…\n", store, c.name, pageSize)
		if ceilGets[i], err = h.wrk(load{url: c.url + "/l/" + strings.Repeat("A", 43), args: []string{"get"}}); err != nil {
			return nil, err
		}
	}
	fmt.Printf("%s: GET /l/{token}…\n", store)
	lgGet, err := h.measured(store, "GET", cpuprofile, insts, gets)
	if err != nil {
		return nil, err
	}

	ceilTxns := make([]result, len(txns))
	for i, c := range txns {
		fmt.Printf("%s: synced write ceiling (%s)…\n", store, c.name)
		if ceilTxns[i], err = h.wrk(load{url: c.url + "/txn", args: []string{"issue", "-", "-"}}); err != nil {
			return nil, err
		}
		fmt.Printf("%s: synced write ceiling: %s\n", store, ceilTxns[i].tail())
	}
	fmt.Printf("%s: POST /v1/links…\n", store)
	var issues []load
	for i, in := range insts {
		// Each instance's wrk its own addresses: else the second instance
		// to issue for an address would revoke the first one's link.
		issues = append(issues, load{url: in.url + "/v1/links", args: []string{"issue", apiKey, redirect, fmt.Sprint(i)}})
	}
	lgIssue, err := h.measured(store, "issue", cpuprofile, insts, issues)
	if err != nil {
		return nil, err
	}

	// Enough links that no confirm repeats one: the issue rate for the
	// run's length, and a fifth more (a consumption costs at least what an
	// issue does: both are one durable write, and a confirm decides too).
	// Not the ceiling's rate: links issued and never confirmed are writes
	// that only the product's store carries into the confirm run (a
	// memtable rotation lands in it), which would not be the same shape
	// as the ceiling's. A run that runs out says so (wraps, below).
	count := min(h.maxLinks, int(lgIssue.Rate()*h.duration.Seconds()*1.2)+1000)
	fmt.Printf("%s: issuing %d links for the confirm run…\n", store, count)
	var confirms []load
	for i, in := range insts {
		f := filepath.Join(h.dir, fmt.Sprintf("%s-confirm-%d.txt", store, i))
		if err := confirmFile(in, count/len(insts), f); err != nil {
			return nil, err
		}
		confirms = append(confirms, load{url: in.url, replay: true, args: []string{f}})
	}
	fmt.Printf("%s: POST /l/{token}/confirm with the code…\n", store)
	lgConfirm, err := h.measured(store, "confirm", cpuprofile, insts, confirms)
	if err != nil {
		return nil, err
	}
	if lgConfirm.Wrapped > 0 {
		fmt.Printf("%s: NB: the confirm run ran out of links (%d wraps); raise -max-links\n", store, lgConfirm.Wrapped)
	}
	var rows []row
	for i, c := range getCeils {
		rows = append(rows, row{store, "GET /l/{token}", c.name, lgGet, ceilGets[i], 0.5, 0})
	}
	for i, c := range txns {
		rows = append(rows, row{store, "POST /v1/links", c.name, lgIssue, ceilTxns[i], 0.9, 20 * time.Millisecond})
	}
	for i, c := range txns {
		rows = append(rows, row{store, "POST /l/{token}/confirm + code", c.name, lgConfirm, ceilTxns[i], 0.8, 25 * time.Millisecond})
	}
	return rows, nil
}

// measured runs wrk's loads against the product's instances, profiled
// when asked (-cpuprofile: prefix-<name>.prof) and with what its tail is
// made of printed after it (diagnosed).
func (h *harness) measured(store, name, cpuprofile string, insts []*instance, loads []load) (result, error) {
	return profiled(cpuprofile, strings.ToLower(name), func() (result, error) {
		return diagnosed(store, name, insts, func() (result, error) { return h.wrk(loads...) })
	})
}

// profiled runs fn, with the CPU profile written to prefix-name.prof
// when prefix is set.
func profiled(prefix, name string, fn func() (result, error)) (result, error) {
	if prefix == "" {
		return fn()
	}
	f, err := os.Create(prefix + "-" + name + ".prof")
	if err != nil {
		return result{}, err
	}
	defer f.Close()
	if err := pprof.StartCPUProfile(f); err != nil {
		return result{}, err
	}
	defer pprof.StopCPUProfile()
	return fn()
}

// fetch GETs u once and returns the body's size.
func fetch(u string) (int, error) {
	res, err := http.Get(u)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		return 0, fmt.Errorf("GET %s: %d", u, res.StatusCode)
	}
	return len(b), err
}

func ms(us int64) string { return fmt.Sprintf("%.2f ms", float64(us)/1000) }
