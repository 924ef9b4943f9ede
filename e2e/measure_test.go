package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/chromedp/cdproto/network"
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

// TestMeasure prints the collector's sizes, the median time from
// navigation to verdict over 20 same-browser runs, and the median time to
// the first state after "checking" for 20 browsers without the cookie. It runs only when
// LINKGUARD_MEASURE is set (make bench):
//
//	LINKGUARD_MEASURE=1 go test -count=1 -run '^TestMeasure$' -v ./e2e/
//
// Navigation → verdict is, in Chromium's own network clock, from the
// request for the landing page to the request for the redirect URL,
// which the page makes as soon as the verify answer says consumed. The
// page's own clock is shown too: performance.now() when the report was
// ready (module fetched, compiled, probed).
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
	var nav, ready []float64
	for i := 0; i < runs; i++ {
		l := e.issue("binding-for-measure")
		ctx := e.browser(30 * time.Second)
		e.setBinding(ctx, l.binding)
		if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
			t.Fatal(err)
		}
		var start, end float64
		lctx, cancel := context.WithCancel(ctx)
		chromedp.Listen(lctx, func(ev any) {
			if r, ok := ev.(*network.EventRequestWillBeSent); ok {
				switch {
				case r.Request.URL == l.url && start == 0:
					start = r.Timestamp.Float64()
				case r.Request.URL != l.url && len(r.Request.URL) > len(e.base) && r.Type == network.ResourceTypeDocument && end == 0:
					end = r.Timestamp.Float64()
				}
			}
		})
		if err := chromedp.Do(ctx, chromedp.Navigate(l.url)); err != nil {
			t.Fatal(err)
		}
		if _, err := waitRedirect(ctx); err != nil {
			t.Fatal(err)
		}
		cancel()
		if start == 0 || end == 0 {
			t.Fatalf("run %d: no timestamps (start %v end %v)", i, start, end)
		}
		nav = append(nav, (end-start)*1000)
		// The browser that asked reports at once (data-lg-fast), usually
		// before the collector is ready: then there is no report timing.
		if in := rec.inputs(); in[len(in)-1].Report != nil {
			ready = append(ready, in[len(in)-1].Report.Timing.VerifyMS)
		}
	}
	t.Logf("navigation → verdict over %d same-browser runs: median %.0f ms (min %.0f, max %.0f)", runs, median(nav), slices.Min(nav), slices.Max(nav))
	if len(ready) > 0 {
		t.Logf("report with signals (performance.now at verify) in %d of %d runs: median %.0f ms", len(ready), runs, median(ready))
	} else {
		t.Logf("every run reported at once, before the collector was ready (the device-cookie fast path)")
	}

	// A browser without the cookie (the phone that opens the mail): from
	// the navigation to the page's first state after "checking" (confirm
	// or code), which waits for the collector's report and its answer.
	// Wall clock around CDP, polled every 20 ms.
	var first []float64
	for range runs {
		l := e.issue("binding-for-measure")
		ctx := e.browser(30 * time.Second)
		t0 := time.Now()
		if err := chromedp.Do(ctx, chromedp.Navigate(l.url)); err != nil {
			t.Fatal(err)
		}
		if _, err := waitState(ctx, "confirm", "code", "locked", "error"); err != nil {
			t.Fatal(err)
		}
		first = append(first, float64(time.Since(t0).Microseconds())/1000)
	}
	t.Logf("navigation → first state without the cookie over %d runs: median %.0f ms (min %.0f, max %.0f)", runs, median(first), slices.Min(first), slices.Max(first))
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
