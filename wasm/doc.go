// Command wasm is the landing page's signal collector, built with
// GOOS=js GOARCH=wasm into web/static/gen/collector.wasm.
//
// It is a thin syscall/js bridge: it reads browser values and events and
// hands them to report.Recorder (package fingerprint/report), which does the accounting in plain,
// host-tested Go. At start it registers
//
//	globalThis.lgCollector = {
//	    report(stage) → string, // the report.Report as JSON
//	    ready: Promise,         // settles once the asynchronous probes have
//	    version: number,        // report.SchemaVersion
//	}
//
// and listens (capture phase, passive) for pointer, touch, key, scroll,
// focus, click and visibility events from then on. The page script (web/
// static/lg.js) waits for ready, then posts report("verify"); a click on
// #lg-continue posts report("confirm"). The collector's own click
// listener runs first (capture on window), so the confirm report already
// holds that click.
//
// NB: no fmt, encoding/json, reflect or time here or in package report:
// they would cost ~370 KB brotli of a 480 KB budget.
package main
