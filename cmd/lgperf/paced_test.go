package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestMain lets the tests' binary be a paced run's child process, as
// lgperf is (the harness's paced runs run os.Executable).
func TestMain(m *testing.M) {
	if spec := os.Getenv(paceEnv); spec != "" {
		paceMain(spec)
	}
	os.Exit(m.Run())
}

// TestPaceCountsTheWaitBehindAStall: the paced run times each request
// from its scheduled send. A server that stalls for 300 ms once, at 200
// requests a second on 4 connections, delays the ~60 requests scheduled
// in the stall; a closed loop (wrk) would have sent only the 4 in
// flight, and a pacer that timed from the actual send would see only
// those 4 as slow.
func TestPaceCountsTheWaitBehindAStall(t *testing.T) {
	var n, consumed atomic.Int64
	var stall sync.RWMutex // the whole server stops while one request sleeps
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 100 {
			stall.Lock()
			time.Sleep(300 * time.Millisecond)
			stall.Unlock()
		}
		stall.RLock()
		defer stall.RUnlock()
		if strings.HasPrefix(r.URL.Path, "/l/") {
			consumed.Add(1)
			w.Write([]byte(`{"outcome":"consumed"}`))
			return
		}
		w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	f := filepath.Join(t.TempDir(), "confirm.txt")
	if err := os.WriteFile(f, []byte("/l/a/confirm\t{}\n/l/b/confirm\t{}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := pace(paceSpec{URL: srv.URL, Kind: "confirm", File: f, Rate: 200, Duration: 2 * time.Second, Conns: 4})
	if err != nil {
		t.Fatal(err)
	}
	if r.Requests < 380 || r.Requests > 420 || r.Errors+r.Non2xx > 0 {
		t.Fatalf("%+v: want about 400 requests, none failed", r)
	}
	if r.Consumed != r.Requests || r.Wrapped < 150 {
		t.Errorf("consumed %d of %d, wrapped %d: want every answer counted and the 2-line file wrapped", r.Consumed, r.Requests, r.Wrapped)
	}
	// ~60 of ~400 requests (15 %) waited behind the stall.
	if r.P90US < 50_000 {
		t.Errorf("p90 %d µs: the requests scheduled during a 300 ms stall were not counted as waiting", r.P90US)
	}
	if r.P50US > 50_000 {
		t.Errorf("p50 %d µs: most requests came after the stall and should be fast", r.P50US)
	}
	if r.Rate() < 150 || r.Rate() > 230 {
		t.Errorf("rate %.0f/s, offered 200", r.Rate())
	}
}

// TestPaceIssuesNewAddresses: a paced issue sends a new address each
// time, with the API key, as wrk's plain.lua does.
func TestPaceIssuesNewAddresses(t *testing.T) {
	seen := map[string]bool{}
	var dup, auth atomic.Int64
	ch := make(chan string, 1000)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/links" || r.Header.Get("Authorization") != "Bearer "+apiKey {
			auth.Add(1)
			w.WriteHeader(401)
			return
		}
		var b [256]byte
		k, _ := r.Body.Read(b[:])
		ch <- string(b[:k])
		w.WriteHeader(201)
	}))
	defer srv.Close()
	r, err := pace(paceSpec{URL: srv.URL, Kind: "issue", Rate: 100, Duration: time.Second, Conns: 2})
	if err != nil {
		t.Fatal(err)
	}
	close(ch)
	for b := range ch {
		if seen[b] {
			dup.Add(1)
		}
		seen[b] = true
	}
	if r.Requests < 90 || r.Non2xx > 0 || auth.Load() > 0 || dup.Load() > 0 {
		t.Errorf("%+v: %d refused, %d repeated bodies", r, auth.Load(), dup.Load())
	}
}

// TestPaceRefusesBadSpecs names what is wrong.
func TestPaceRefusesBadSpecs(t *testing.T) {
	f := filepath.Join(t.TempDir(), "bad.txt")
	os.WriteFile(f, []byte("no tab here\n"), 0o600)
	for _, c := range []struct {
		spec paceSpec
		want string
	}{
		{paceSpec{URL: "http://127.0.0.1:1", Kind: "issue", Rate: 0, Duration: time.Second, Conns: 1}, "must be positive"},
		{paceSpec{URL: "http://127.0.0.1:1", Kind: "get", Rate: 1, Duration: time.Second, Conns: 1}, `kind "get"`},
		{paceSpec{URL: "http://127.0.0.1:1", Kind: "confirm", File: f, Rate: 1, Duration: time.Second, Conns: 1}, "a line without a tab"},
		{paceSpec{URL: "http://127.0.0.1:1", Kind: "confirm", File: f + "x", Rate: 1, Duration: time.Second, Conns: 1}, "no such file"},
	} {
		if _, err := pace(c.spec); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.spec, err, c.want)
		}
	}
}

// TestPacedNote: medians over the rounds, each round's p99, and OVER
// when the median p99 misses the goal.
func TestPacedNote(t *testing.T) {
	run := func(offered int, p99ms int64) pacedRun {
		return pacedRun{offered: offered, of: float64(offered) / 3500, res: result{Requests: int64(offered), DurationUS: 1e6, P50US: 1000, P99US: p99ms * 1000, Consumed: int64(offered)}}
	}
	note := pacedNote("badger", 64,
		[]pacedRun{run(3000, 30), run(3100, 12), run(3200, 15)},
		[]pacedRun{run(2700, 20), run(2800, 40), run(2900, 50)})
	for _, want := range []string{
		"POST /v1/links offered 3100/s (0.89 of the synced txn), answered 3100/s, p50 1.00 ms, p99 15.00 ms (≤ 20ms ok; rounds 30.00 ms, 12.00 ms, 15.00 ms)",
		"POST /l/{token}/confirm + code offered 2800/s (0.80 of the synced txn), answered 2800/s, p50 1.00 ms, p99 40.00 ms (≤ 25ms OVER;",
		"2800 consumed", "at most 64 connections",
	} {
		if !strings.Contains(note, want) {
			t.Errorf("note lacks %q:\n%s", want, note)
		}
	}
	if pacedNote("badger", 64, nil, nil) != "" {
		t.Error("a note without paced runs")
	}
}

// TestPacedRateMustNotBeNegative: a -paced-rate below 0 fails before
// any run, naming the flag.
func TestPacedRateMustNotBeNegative(t *testing.T) {
	h := &harness{duration: time.Second, rounds: 1, pacedRate: -5}
	if _, err := h.measure([]string{"badger"}, ""); err == nil || !strings.Contains(err.Error(), "-paced-rate") {
		t.Errorf("measure with -paced-rate -5: %v", err)
	}
}
