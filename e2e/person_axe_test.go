package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/fingerprint/fingerprinttest"
)

// The person's pages, every state, in light and dark, at 360 px and at
// desktop width, audited by axe-core (the npm package, fetched by `make
// axe`, loaded into the page by the test and never shipped) in real
// Chromium: no serious or critical violation may remain. With
// LINKGUARD_SCREENSHOTS set to a folder, each view is also saved there
// as a PNG (`make screenshots`; the folder is git-ignored).

// axePath is axe-core's browser build: $LINKGUARD_AXE, else where `make
// axe` puts it.
func axePath() string {
	if p := os.Getenv("LINKGUARD_AXE"); p != "" {
		return p
	}
	return filepath.Join("..", ".cache", "axe", "node_modules", "axe-core", "axe.min.js")
}

// view is one page state to audit: a page, and the state it is put in.
type view struct {
	page, state string
	// force sets data-lg-state (and shows the code form) on a page that
	// reaches the state only through a person's steps or time.
	force bool
}

type axeViolation struct {
	ID     string   `json:"id"`
	Impact string   `json:"impact"`
	Help   string   `json:"help"`
	Nodes  []string `json:"nodes"`
}

func TestAccessibilityAudit(t *testing.T) {
	src, err := os.ReadFile(axePath())
	shots := os.Getenv("LINKGUARD_SCREENSHOTS")
	if err != nil && shots == "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("axe-core not found (%v): `make axe` fetches it", err)
		}
		t.Skipf("axe-core not found (%v): run `make axe`", err)
	}
	if shots != "" {
		if err := os.MkdirAll(shots, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	e := newKitEnv(t, fingerprinttest.Basic{})

	// The pages: the sign-in form; the waiting page of a browser that
	// asked; a pending link's landing page in another browser; a used
	// link's page; an unknown token's page.
	asker := e.browser(3 * time.Minute)
	signIn(t, asker, e, "alice@example.com")
	m := e.mailTo("alice@example.com")
	other := e.browser(3 * time.Minute)
	if err := chromedp.Do(other, chromedp.Navigate(m.URL)); err != nil {
		t.Fatal(err)
	}
	if _, err := waitState(other, "confirm", "code"); err != nil {
		t.Fatal(err)
	}
	used := e.issue("")
	if _, err := e.svc.Redeem(context.Background(), used.id, used.code, &linkguard.Client{}); err != nil {
		t.Fatal(err)
	}

	pages := map[string]struct {
		ctx context.Context
		url string // "" for the page the context is on
	}{
		"login":   {e.browser(3 * time.Minute), e.base + "/login"},
		"waiting": {asker, ""},
		"landing": {other, ""},
		"used":    {other, used.url},
		"expired": {other, e.base + "/l/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
	}
	views := []view{
		{"login", "", false},
		{"waiting", "sent", false}, {"waiting", "elsewhere", true}, {"waiting", "locked", true}, {"waiting", "expired", true},
		{"landing", "checking", true}, {"landing", "confirm", true}, {"landing", "code", true}, {"landing", "locked", true},
		{"landing", "done", true}, {"landing", "error", true},
		{"used", "used", false}, {"expired", "expired", false},
	}
	total := 0
	checked := false
	for _, v := range views {
		p := pages[v.page]
		if p.url != "" {
			if err := chromedp.Do(p.ctx, chromedp.Navigate(p.url)); err != nil {
				t.Fatal(err)
			}
			p.url = ""
			pages[v.page] = p
		}
		if v.force {
			js := fmt.Sprintf(`document.body.setAttribute("data-lg-state", %q);
				(function(){ var s = document.getElementById("lg-code-slot"), t = document.getElementById("lg-code-template");
				  if (%q === "code" && s && t && !document.getElementById("lg-code")) { s.appendChild(t.content.cloneNode(true)); } })(); true`, v.state, v.state)
			if _, err := chromedp.Run(p.ctx, chromedp.Evaluate[bool](js)); err != nil {
				t.Fatal(err)
			}
		}
		if src != nil {
			if ok, _ := chromedp.Run(p.ctx, chromedp.Evaluate[bool](`typeof axe === "object"`)); !ok {
				if _, err := chromedp.Run(p.ctx, chromedp.Evaluate[bool](string(src)+";\ntrue")); err != nil {
					t.Fatalf("load axe-core: %v", err)
				}
			}
		}
		if src != nil && !checked {
			// The audit can fail: an image without alt text is found.
			checked = true
			out, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](`(function () {
				var i = document.createElement("img"); i.id = "lg-axe-probe"; i.src = "data:,"; document.querySelector("main").appendChild(i);
				return axe.run(document, {runOnly: ["image-alt"]}).then(function (r) { i.remove(); return r.violations.map(function (v) { return v.id + ":" + v.impact; }).join(","); });
			})()`, chromedp.EvalAwaitPromise))
			if err != nil || out != "image-alt:critical" {
				t.Fatalf("axe does not find an image without alt text: %q (%v)", out, err)
			}
		}
		name := v.page
		if v.state != "" && v.state != v.page {
			name += "-" + v.state
		}
		total += audit(t, p.ctx, name, src, shots)
	}
	t.Logf("%d views × 2 widths × 2 themes audited; %d serious or critical violations", len(views), total)
}

// audit runs axe-core (src; nil: no audit) over the page ctx is on, at
// 360 px and desktop width, light and dark, failing t on every serious or
// critical violation, and saves each view as page-width-theme.png in shots
// when set. It returns how many serious or critical violations it found.
func audit(t *testing.T, ctx context.Context, page string, src []byte, shots string) int {
	t.Helper()
	if src != nil {
		if ok, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`typeof axe === "object"`)); !ok {
			if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](string(src)+";\ntrue")); err != nil {
				t.Fatalf("load axe-core: %v", err)
			}
		}
	}
	total := 0
	for _, width := range []int64{360, 1280} {
		for _, theme := range []string{"light", "dark"} {
			name := fmt.Sprintf("%s-%d-%s", page, width, theme)
			if _, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
				Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: theme}}}); err != nil {
				t.Fatal(err)
			}
			if err := chromedp.Do(ctx, chromedp.EmulateViewport(width, 800)); err != nil {
				t.Fatal(err)
			}
			if src != nil {
				out, err := chromedp.Run(ctx, chromedp.Evaluate[string](`axe.run(document, {resultTypes: ["violations"]}).then(function (r) {
					return JSON.stringify(r.violations.map(function (v) {
						return {id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map(function (n) { return n.target.join(" "); })};
					}));
				})`, chromedp.EvalAwaitPromise))
				if err != nil {
					t.Fatalf("%s: axe: %v", name, err)
				}
				var vs []axeViolation
				if err := json.Unmarshal([]byte(out), &vs); err != nil {
					t.Fatalf("%s: axe answer: %v", name, err)
				}
				serious := 0
				for _, x := range vs {
					if x.Impact == "serious" || x.Impact == "critical" {
						serious++
						t.Errorf("%s: %s (%s): %s at %v", name, x.ID, x.Impact, x.Help, x.Nodes)
					} else {
						t.Logf("%s: %s (%s): %s", name, x.ID, x.Impact, x.Help)
					}
				}
				total += serious
			}
			if shots != "" {
				png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(shots, name+".png"), png, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	return total
}
