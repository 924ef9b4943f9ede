package e2e

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"io"
	"maps"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/linkguard/linkguard/fingerprint/fingerprinttest"
	"github.com/linkguard/linkguard/web"
)

// Budget of the collector (issue 3), in bytes.
const (
	budgetRaw    = 2_200_000
	budgetBrotli = 480_000
)

const wasmPath = "../web/static/gen/collector.wasm"

// TestCollectorBudget fails when collector.wasm outgrows its budget.
func TestCollectorBudget(t *testing.T) {
	raw, err := os.ReadFile(wasmPath)
	if err != nil {
		t.Fatalf("%v: run `make wasm` first", err)
	}
	_, br := sizes(t, raw)
	if len(raw) > budgetRaw || len(br) > budgetBrotli {
		t.Errorf("collector.wasm is %d bytes raw (budget %d), %d brotli (budget %d)", len(raw), budgetRaw, len(br), budgetBrotli)
	}
}

// TestMeasure prints the collector's sizes and the page's path, measured
// in real Chromium. It runs only when LINKGUARD_MEASURE is set (make
// bench):
//
//	LINKGUARD_MEASURE=1 go test -count=1 -run '^TestMeasure$' -v ./e2e/
//
// Same browser (it holds the device cookie), 20 runs: from the request
// for the landing page to the request for the redirect URL, which the
// page makes as soon as the verify answer says consumed, in Chromium's
// own network clock. Each run is a fresh browser context (an empty
// cache: "cold") that then opens a second link ("warm": the page's
// assets are in its cache, as for a person who signed in before).
//
// Without the cookie, 20 runs: from the navigation to the page's first
// state after "checking" (confirm or code), which waits for the
// collector, its report and the decision (wall clock around CDP).
//
// Each series also prints where its time goes: the median, over its
// runs, of when each request was sent and answered (its last byte), in
// ms after the landing page's request.
func TestMeasure(t *testing.T) {
	if os.Getenv("LINKGUARD_MEASURE") == "" {
		t.Skip("set LINKGUARD_MEASURE=1 to measure (make bench)")
	}
	raw, err := os.ReadFile(wasmPath)
	if err != nil {
		t.Fatalf("%v: run `make wasm` first", err)
	}
	gz, br := sizes(t, raw)
	t.Logf("collector.wasm: %d bytes raw (budget %d), %d gzip, %d brotli (budget %d)",
		len(raw), budgetRaw, len(gz), len(br), budgetBrotli)

	rec := &recorder{inner: fingerprinttest.Basic{}}
	e := newEnv(t, rec)
	const runs = 20
	var cold, warm paths
	for range runs {
		ctx := e.browser(30 * time.Second)
		e.setBinding(ctx, "binding-for-measure")
		if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
			t.Fatal(err)
		}
		for _, p := range []*paths{&cold, &warm} {
			l := e.issue("binding-for-measure")
			tr := startTrace(ctx, e.base, l.url)
			if err := chromedp.Do(ctx, chromedp.Navigate(l.url)); err != nil {
				t.Fatal(err)
			}
			if _, err := waitRedirect(ctx); err != nil {
				t.Fatal(err)
			}
			if in := rec.inputs(); in[len(in)-1].Report != nil {
				t.Errorf("a same-browser run reported signals: the page did not take the device-cookie fast path")
			}
			p.add(t, tr.stop(), "redirect sent")
		}
	}
	cold.log(t, "same browser, cold cache: navigation → redirect")
	warm.log(t, "same browser, warm cache: navigation → redirect")

	// A browser without the cookie (the phone that opens the mail).
	var first paths
	var ready []float64
	for range runs {
		l := e.issue("binding-for-measure")
		ctx := e.browser(30 * time.Second)
		if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
			t.Fatal(err)
		}
		tr := startTrace(ctx, e.base, l.url)
		t0 := time.Now()
		if err := chromedp.Do(ctx, chromedp.Navigate(l.url)); err != nil {
			t.Fatal(err)
		}
		if _, err := waitState(ctx, "confirm", "code", "locked", "error"); err != nil {
			t.Fatal(err)
		}
		m := tr.stop()
		m["first state (wall clock)"] = float64(time.Since(t0).Microseconds()) / 1000
		if in := rec.inputs(); in[len(in)-1].Report != nil {
			tm := in[len(in)-1].Report.Timing
			ready = append(ready, tm.VerifyMS-tm.StartMS)
			m["collector started (page clock)"], m["report made (page clock)"] = tm.StartMS, tm.VerifyMS
		}
		first.add(t, m, "first state (wall clock)")
	}
	first.log(t, "no cookie: navigation → first state")
	if len(ready) > 0 {
		t.Logf("collector start → report made: median %.0f ms over %d runs", median(ready), len(ready))
	}
}

// paths collects the runs of one series: the figure each run is judged
// by, and every mark of its trace.
type paths struct {
	total []float64
	marks map[string][]float64
}

func (p *paths) add(t *testing.T, m map[string]float64, total string) {
	t.Helper()
	v, ok := m[total]
	if !ok {
		t.Fatalf("run %d: no %q in its trace %v", len(p.total), total, m)
	}
	p.total = append(p.total, v)
	if p.marks == nil {
		p.marks = map[string][]float64{}
	}
	for k, v := range m {
		p.marks[k] = append(p.marks[k], v)
	}
}

// log prints the series' median, min and max, then the median of each
// mark that most runs have, in order.
func (p *paths) log(t *testing.T, what string) {
	t.Helper()
	t.Logf("%s over %d runs: median %.0f ms (min %.0f, max %.0f)", what, len(p.total), median(p.total), slices.Min(p.total), slices.Max(p.total))
	type mark struct {
		name string
		at   float64
	}
	var ms []mark
	for k, v := range p.marks {
		if len(v) > len(p.total)/2 {
			ms = append(ms, mark{k, median(v)})
		}
	}
	slices.SortFunc(ms, func(a, b mark) int { return cmp.Compare(a.at, b.at) })
	for _, m := range ms {
		t.Logf("    %7.1f ms  %s", m.at, m.name)
	}
}

// trace notes the first time of each mark of one navigation, in
// Chromium's network clock: "<request> sent" and "<request> answered"
// (its last byte), where a request is named by what it is (landing,
// verify, an asset's logical name, redirect), "DOMContentLoaded", and
// when the page first asked to navigate, by the test's clock.
type trace struct {
	mu     sync.Mutex
	base   string
	url    string
	t0     float64
	t0w    time.Time // when the landing request's event arrived
	names  map[network.RequestID]string
	marks  map[string]float64
	cancel context.CancelFunc
}

func startTrace(ctx context.Context, base, url string) *trace {
	tr := &trace{base: base, url: url, names: map[network.RequestID]string{}, marks: map[string]float64{}}
	lctx, cancel := context.WithCancel(ctx)
	tr.cancel = cancel
	chromedp.Listen(lctx, func(ev any) {
		tr.mu.Lock()
		defer tr.mu.Unlock()
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			name := tr.name(ev.Request.URL, ev.Type)
			if name == "" {
				return
			}
			if name == "landing" && tr.t0 == 0 {
				tr.t0, tr.t0w = ev.Timestamp.Float64(), time.Now()
			}
			tr.names[ev.RequestID] = name
			tr.mark(name+" sent", ev.Timestamp.Float64())
		case *network.EventLoadingFinished:
			if name, ok := tr.names[ev.RequestID]; ok {
				tr.mark(name+" answered", ev.Timestamp.Float64())
			}
		case *page.EventFrameRequestedNavigation:
			// The page's own navigation (a script's or a form's): the
			// event has no stamp, so it is timed by the test's clock
			// from the landing request's event, which arrives as late.
			const m = "page navigates (wall clock)"
			if _, ok := tr.marks[m]; !ok && tr.t0 != 0 {
				tr.marks[m] = float64(time.Since(tr.t0w).Microseconds()) / 1000
			}
		case *page.EventDomContentEventFired:
			tr.mark("DOMContentLoaded", ev.Timestamp.Float64())
		}
	})
	return tr
}

// name is what a request is, or "" for one that is not the page's.
func (tr *trace) name(u string, typ network.ResourceType) string {
	switch {
	case u == tr.url:
		return "landing"
	case !strings.HasPrefix(u, tr.base+"/"):
		return ""
	case strings.HasPrefix(u, tr.url+"/"):
		return strings.TrimPrefix(u, tr.url+"/") // verify, confirm
	case typ == network.ResourceTypeDocument:
		return "redirect"
	}
	// /assets/lg.0123456789.js → lg.js
	n := path.Base(u)
	if ext := path.Ext(n); strings.Count(n, ".") >= 2 {
		n = strings.TrimSuffix(strings.TrimSuffix(n, ext), path.Ext(strings.TrimSuffix(n, ext))) + ext
	}
	return n
}

func (tr *trace) mark(name string, at float64) {
	if _, ok := tr.marks[name]; !ok && tr.t0 != 0 {
		tr.marks[name] = (at - tr.t0) * 1000
	}
}

// stop ends the trace and returns its marks, in ms after the landing
// page's request.
func (tr *trace) stop() map[string]float64 {
	tr.cancel()
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return maps.Clone(tr.marks)
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// sizes returns the collector's gzip and brotli forms at the best levels:
// the ones `make wasm` wrote beside it (web/precompress) when they match,
// else made here (brotli 11 takes seconds, a minute under -race).
func sizes(t *testing.T, raw []byte) (gz, br []byte) {
	t.Helper()
	gz, _ = os.ReadFile(wasmPath + ".gz")
	br, _ = os.ReadFile(wasmPath + ".br")
	if gz != nil && br != nil {
		zr, err1 := gzip.NewReader(bytes.NewReader(gz))
		var g, b []byte
		var err2, err3 error
		if err1 == nil {
			g, err2 = io.ReadAll(zr)
		}
		b, err3 = io.ReadAll(brotli.NewReader(bytes.NewReader(br)))
		if err1 == nil && err2 == nil && err3 == nil && bytes.Equal(g, raw) && bytes.Equal(b, raw) {
			return gz, br
		}
	}
	return web.Compress(raw, gzip.BestCompression, brotli.BestCompression)
}
