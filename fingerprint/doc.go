// Package fingerprint decides, from signals about the browser that asked
// for a link and the one that opened it, whether a visit may consume the
// link at once, must first show one trusted click, or must type the code
// from the email.
//
// Everything here is pure: no I/O, no clock reads (time is an input), so a
// decision can be tested exactly and replayed from recorded inputs. The
// collector's Report type is compiled into the WebAssembly module as well
// (GOOS=js), so files that the collector builds must not import fmt,
// encoding/json or reflect-heavy packages.
package fingerprint
