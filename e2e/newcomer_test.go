package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestNewcomerConsole is issue 11's "done when" as a newcomer meets it:
// the real binary started as `make run` starts it (the Makefile's own
// environment: dev mode, its default admin address; a fresh data folder
// and a free port), and, following only what its start banner prints,
// real Chromium signs in to the console through the dev outbox and finds
// the dev demo's scanner and person visits in the overview, its charts
// with bars. Under LINKGUARD_SCREENSHOTS it saves that overview (the
// README's docs/console-overview.png is newcomer-overview-1280-light.png).
func TestNewcomerConsole(t *testing.T) {
	chrome := chromiumPath(t)
	environ := makeRunEnv(t)
	environ = append(environ, "LINKGUARD_LISTEN=127.0.0.1:"+strconv.Itoa(freeTCPPort(t)), "LINKGUARD_DATA_DIR="+t.TempDir())
	banner := startBinary(t, environ)

	// What the banner says to do.
	consoleURL := bannerField(t, banner, `(?m)^The operator's console:\s+(http\S+/admin)$`)
	admin := bannerField(t, banner, `(?m)^\s+1\. enter (\S+@\S+) `)
	outbox := bannerField(t, banner, `(?m)^\s+2\. open (http\S+/dev/outbox) `)
	if !strings.Contains(banner, "demo@example.com") {
		t.Errorf("the banner does not say what the demo visits are:\n%s", banner)
	}

	shared.once.Do(func() { setup(chrome) })
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	ctx := (&env{t: t, root: shared.root}).browser(2 * time.Minute)
	if err := chromedp.Do(ctx,
		chromedp.Navigate(consoleURL),
		chromedp.WaitVisible(chromedp.CSS("#lg-admin-email")),
		chromedp.SendKeys(chromedp.CSS("#lg-admin-email"), admin),
		chromedp.Click(chromedp.CSS("#lg-admin-submit")),
		chromedp.WaitVisible(chromedp.CSS(`[data-lg-state="sent"]`)),
	); err != nil {
		t.Fatalf("the console's sign-in form at %s: %v", consoleURL, err)
	}
	// The outbox lists the newest mail first: the console's link.
	// The link is issued just after the answer: a newcomer who is very
	// quick reloads the outbox once.
	newest := `ol > li:first-child a[href*="/l/"]`
	for i := 0; ; i++ {
		if err := chromedp.Do(ctx, chromedp.Navigate(outbox), chromedp.WaitReady(chromedp.CSS("body"))); err != nil {
			t.Fatal(err)
		}
		if text(t, ctx, `String(!!document.querySelector('`+newest+`'))`) == "true" {
			break
		}
		if i == 50 {
			t.Fatalf("no link in the outbox at %s after 10 s", outbox)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if to := text(t, ctx, `document.querySelector("ol > li:first-child").innerText`); !strings.Contains(to, admin) {
		t.Fatalf("the newest mail in the outbox is not for %s:\n%s", admin, to)
	}
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(newest)),
		chromedp.WaitVisible(chromedp.CSS(`body[data-lg-console="overview"]`)),
	); err != nil {
		loc, _ := chromedp.Run(ctx, chromedp.Location())
		t.Fatalf("the outbox's link did not open the console: %v (at %s)", err, loc)
	}

	// The demo's two mail filters, by vendor.
	vendors := text(t, ctx, `(document.getElementById("lg-admin-vendors")||{}).innerText||""`)
	for _, v := range []string{"microsoft", "barracuda"} {
		if !strings.Contains(vendors, v) {
			t.Errorf("scanner visits by vendor: %q, want %s", vendors, v)
		}
	}
	// Scanners turned away, the person's code, the newcomer's own sign-in.
	month := figures(t, ctx, "lg-admin-month")
	for _, name := range []string{"Links issued", "Scanners turned away", "Consumed by code", "Consumed by cookie"} {
		if month[name] < 1 {
			t.Errorf("30-day figure %q is %d, want at least 1 (all: %v)", name, month[name], month)
		}
	}
	decisions := text(t, ctx, `(document.getElementById("lg-admin-decisions")||{}).innerText||""`)
	for _, d := range []string{"verify.code", "code.consume"} {
		if !strings.Contains(decisions, d) {
			t.Errorf("decisions by stage lack %s (the scanner's verify, the person's code):\n%s", d, decisions)
		}
	}
	// Both charts draw bars, the scanners' among them.
	bars := text(t, ctx, `JSON.stringify(Array.from(document.querySelectorAll("svg.chart")).map(function (svg) {
		return Array.from(svg.querySelectorAll("rect")).filter(function (r) { return parseFloat(r.getAttribute("height")) > 0; })
			.map(function (r) { return r.textContent; });
	}))`)
	if strings.Count(bars, "[]") > 0 || !strings.Contains(bars, "scanners turned away") || strings.Count(bars, "consumed") < 2 {
		t.Errorf("the overview's charts lack bars (each chart's non-empty bars): %s", bars)
	}
	if n := strings.Count(bars, "],["); n != 1 {
		t.Errorf("want 2 charts, got %s", bars)
	}
	if shots := os.Getenv("LINKGUARD_SCREENSHOTS"); shots != "" {
		if err := os.MkdirAll(shots, 0o755); err != nil {
			t.Fatal(err)
		}
		src, _ := os.ReadFile(axePath())
		if n := audit(t, ctx, "newcomer-overview", src, shots); n > 0 {
			t.Errorf("the newcomer's overview: %d serious or critical violations", n)
		}
	}

	// The demo's link: the person consumed it.
	if err := chromedp.Do(ctx,
		chromedp.Navigate(strings.TrimSuffix(consoleURL, "/admin")+"/admin/links?q=demo%40example.com"),
		chromedp.WaitVisible(chromedp.CSS("main")),
	); err != nil {
		t.Fatal(err)
	}
	if rows := text(t, ctx, `document.querySelector("main").innerText`); !strings.Contains(rows, "consumed") {
		t.Errorf("the demo's link is not listed as consumed:\n%s", rows)
	}
}

// makeRunEnv is the environment `make run` gives the server, read from the
// Makefile's run recipe: LINKGUARD_DEV=1 and the default admin address.
// Every LINKGUARD_ variable of the test's own environment is left out.
func makeRunEnv(t *testing.T) []string {
	t.Helper()
	mk, err := os.ReadFile("../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	recipe := regexp.MustCompile(`(?m)^run:.*\n\t(.*)$`).FindSubmatch(mk)
	if recipe == nil || !strings.Contains(string(recipe[1]), "LINKGUARD_DEV=1") {
		t.Fatalf("the Makefile's run recipe no longer starts the server with LINKGUARD_DEV=1: %q", recipe)
	}
	admin := regexp.MustCompile(`LINKGUARD_ADMIN_EMAILS=\$\$\{LINKGUARD_ADMIN_EMAILS:-([^}]+)\}`).FindSubmatch(recipe[1])
	if admin == nil {
		t.Fatalf("the Makefile's run recipe sets no default admin address: %s", recipe[1])
	}
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "LINKGUARD_") {
			env = append(env, kv)
		}
	}
	return append(env, "LINKGUARD_DEV=1", "LINKGUARD_ADMIN_EMAILS="+string(admin[1]))
}

var built struct {
	once sync.Once
	path string
	err  error
}

// linkguardBinary builds cmd/linkguard once per test binary; the
// collector it embeds is what `make wasm` built.
func linkguardBinary(t *testing.T) string {
	t.Helper()
	sharedSite(t) // fails, saying so, without `make wasm`
	built.once.Do(func() {
		dir, err := os.MkdirTemp("", "lg-e2e-bin-")
		if err != nil {
			built.err = err
			return
		}
		built.path = filepath.Join(dir, "linkguard")
		if out, err := exec.Command("go", "build", "-o", built.path, "../cmd/linkguard").CombinedOutput(); err != nil {
			built.err = fmt.Errorf("go build ./cmd/linkguard: %v\n%s", err, out)
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.path
}

// startBinary runs `linkguard serve` with env and answers its start
// banner (stdout up to "Stop with Ctrl-C."); the server stops with the
// test.
func startBinary(t *testing.T, env []string) string {
	t.Helper()
	cmd := exec.Command(linkguardBinary(t), "serve")
	cmd.Env = env
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	var logMu sync.Mutex
	cmd.Stderr = writerFunc(func(p []byte) (int, error) {
		logMu.Lock()
		defer logMu.Unlock()
		if logs.Len() < 1<<20 {
			logs.Write(p)
		}
		return len(p), nil
	})
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			logMu.Lock()
			t.Logf("the server's log:\n%s", logs.String())
			logMu.Unlock()
		}
	})
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		io.Copy(io.Discard, out)
	}()
	var banner strings.Builder
	deadline := time.After(time.Minute)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("the server's output ended before its banner did:\n%s", banner.String())
			}
			banner.WriteString(l + "\n")
			if strings.HasPrefix(l, "Stop with Ctrl-C.") {
				go func() {
					for range lines {
					}
				}()
				return banner.String()
			}
		case <-deadline:
			t.Fatalf("no start banner within a minute:\n%s", banner.String())
		}
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func bannerField(t *testing.T, banner, re string) string {
	t.Helper()
	m := regexp.MustCompile(re).FindStringSubmatch(banner)
	if m == nil {
		t.Fatalf("the start banner lacks %s:\n%s", re, banner)
	}
	return m[1]
}

// figures reads a <dl> of the overview as name → value.
func figures(t *testing.T, ctx context.Context, id string) map[string]int {
	t.Helper()
	raw := text(t, ctx, `Array.from(document.querySelectorAll("#`+id+` dt")).map(function (dt) {
		return dt.textContent + "=" + dt.nextElementSibling.textContent; }).join("\n")`)
	out := map[string]int{}
	for _, l := range strings.Split(raw, "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			out[k], _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	return out
}

func freeTCPPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
