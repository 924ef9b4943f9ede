// Package chromium is the headless-browser step of package selftest:
// a Chromium driven through chromedp opens a link and clicks everything,
// as automation in a mail scanner does.
//
// It lives apart from selftest so that only the linkguard-selftest binary
// carries chromedp; the server binary runs the other steps without it
// (docs/operations.md).
package chromium

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/chromedp/chromedp"
)

// chromiumNames are looked up on PATH when no browser is named.
var chromiumNames = []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"}

func findChromium(named string) (string, error) {
	if named != "" {
		p, err := exec.LookPath(named)
		if err != nil {
			return "", fmt.Errorf("--chromium %s: %w", named, err)
		}
		return p, nil
	}
	for _, n := range chromiumNames {
		if p, err := exec.LookPath(n); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("none of %s on PATH: %w", strings.Join(chromiumNames, ", "), exec.ErrNotFound)
}

// browserRounds is how many times the browser clicks everything it sees:
// each click or submit may show a new state with new buttons.
const browserRounds = 3

// submitAll submits, by script and without validation, every form but
// the new-link one, as a scanner's script does; it answers how many.
const submitAll = `(() => { let n = 0;
  for (const f of document.querySelectorAll("form")) {
    if (f.querySelector("[name=new]")) continue;
    n++; HTMLFormElement.prototype.submit.call(f); break;
  } return n; })()`

// Play opens link in a headless Chromium without any cookie and clicks
// every visible button (real input events, as automation does), then
// submits a form by script, a few rounds, all within timeout; it answers
// what it did. named is the browser's name or path, empty to look one up
// on PATH; an error wrapping exec.ErrNotFound means there is none.
// It has the type selftest.Browser.
//
// NB: errors never carry link, whose path is the token.
func Play(ctx context.Context, link, named string, timeout time.Duration) (string, error) {
	path, err := findChromium(named)
	if err != nil {
		return "", err
	}
	bctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-component-update", true), chromedp.WindowSize(1280, 800),
	}
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // Chromium refuses root with its sandbox
	}
	alloc, acancel := chromedp.NewExecAllocator(bctx, opts...)
	defer acancel()
	bc, bcancel := chromedp.NewContext(alloc)
	defer bcancel()
	if _, err := chromedp.Run(bc, chromedp.Navigate(link)); err != nil {
		return "", fmt.Errorf("open the link in %s: %w", path, err)
	}
	states := []string{settle(bc)}
	clicked, submitted := 0, 0
	for range browserRounds {
		clicked += clickAll(bc)
		states = appendState(states, settle(bc))
		if n, err := chromedp.Run(bc, chromedp.Evaluate[int](submitAll)); err == nil && n > 0 {
			submitted += n
			time.Sleep(500 * time.Millisecond) // the form's answer loads
		}
		states = appendState(states, settle(bc))
	}
	if bctx.Err() != nil {
		return "", fmt.Errorf("the browser ran out of time (%s) after %d clicks", timeout, clicked)
	}
	return fmt.Sprintf("page %s; clicked %d, submitted %d form(s)", strings.Join(states, "→"), clicked, submitted), nil
}

func appendState(states []string, s string) []string {
	if s != "" && states[len(states)-1] != s {
		return append(states, s)
	}
	return states
}

// settle waits, up to 10 s, for the page to leave state "checking" and
// answers its data-lg-state.
func settle(ctx context.Context) string {
	var state string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? (document.body.dataset.lgState || "none") : ""`))
		if err != nil {
			if ctx.Err() != nil {
				return state
			}
		} else if state = s; state != "" && state != "checking" {
			return state
		}
		time.Sleep(200 * time.Millisecond)
	}
	return state
}

// visibleTargets answers the middle of every visible button, submit
// input and role=button but the new-link one (it would mail the test
// address), at most 16.
const visibleTargets = `(() => { const out = [];
  for (const e of document.querySelectorAll("button, input[type=submit], [role=button]")) {
    if (e.id === "lg-new-link" || e.closest(".lg-new")) continue;
    const r = e.getBoundingClientRect();
    if (r.width > 0 && r.height > 0 && getComputedStyle(e).visibility !== "hidden" && out.length < 16) {
      out.push([r.left + r.width / 2, r.top + r.height / 2]);
    }
  } return out; })()`

// clickAll clicks every visible target with real mouse events, as
// automation does.
func clickAll(ctx context.Context) int {
	qctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	targets, err := chromedp.Run(qctx, chromedp.Evaluate[[][]float64](visibleTargets))
	cancel()
	if err != nil {
		return 0
	}
	n := 0
	for _, xy := range targets {
		if len(xy) != 2 {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		if _, err := chromedp.Run(cctx, chromedp.MouseClickXY(xy[0], xy[1])); err == nil {
			n++
		}
		cancel()
		time.Sleep(300 * time.Millisecond) // what the click starts
	}
	return n
}
