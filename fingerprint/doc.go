// Package fingerprint decides, from signals about the browser that asked
// for a link and the one that opened it, whether a visit may consume the
// link at once, must first show one trusted click, or must type the code
// from the email.
//
// It asks two questions (docs/tuning.md). The automation axis, "is this a
// machine?", is a gate: past its threshold, or on any strong mark alone,
// the decision is the code whatever else is true. The compatibility axis,
// "is this the person who asked?", only chooses between one click and the
// code for a browser that passed the gate. The device cookie of the
// browser that asked consumes on its own; a visit without a report from
// the page's collector never passes. Signals register once, in signals.go,
// and live in their own files (auto_*.go, compat_*.go).
//
// Everything here is pure: no I/O, no clock reads (time is an input), so a
// decision can be tested exactly and replayed from recorded inputs. The
// WebAssembly collector links only the report types (package
// fingerprint/report, re-exported here), never this package.
package fingerprint
