package selftest

import (
	"context"
	"errors"
	"os/exec"
	"time"
)

// Helper is the binary that carries the headless-browser step (package
// selftest/chromium, through chromedp): `linkguard selftest` runs it when
// it is installed, so that the server binary need not carry a browser
// driver.
const Helper = "linkguard-selftest"

// Browser opens link in a headless Chromium (named, empty: one looked up
// on PATH) and plays there what automation does, within timeout; it
// answers what it did. An error wrapping exec.ErrNotFound means no
// Chromium is installed. chromium.Play is the one there is.
//
// NB: link's path is the token: it must not reach the answer or the error.
type Browser func(ctx context.Context, link, named string, timeout time.Duration) (did string, err error)

// noDriver says why a run without Options.Browser has no browser step.
const noDriver = "linkguard carries no browser driver; put " + Helper + " beside it (make build, or the release archive)"

// browser runs the headless-browser step when a browser driver and a
// Chromium are at hand; it is skipped, saying why, when not.
func (t *tester) browser(ctx context.Context) {
	switch {
	case t.opts.Chromium == "off":
		t.add(StepBrowser, Skip, "--chromium off")
		return
	case t.opts.Browser == nil && t.opts.Chromium != "":
		t.add(StepBrowser, Fail, "--chromium %s: %s", t.opts.Chromium, noDriver)
		return
	case t.opts.Browser == nil:
		t.add(StepBrowser, Skip, "%s", noDriver)
		return
	}
	did, err := t.opts.Browser(ctx, t.link.URL, t.opts.Chromium, 4*t.opts.Timeout)
	switch {
	case errors.Is(err, exec.ErrNotFound) && t.opts.Chromium == "":
		t.add(StepBrowser, Skip, "no Chromium installed (or name it with --chromium)")
	case err != nil:
		t.add(StepBrowser, Fail, "%v", err)
	default:
		t.afterPlay(ctx, StepBrowser, did)
	}
}
