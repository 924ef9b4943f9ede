package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/fingerprint"
	"github.com/linkguard/linkguard/fingerprint/replay"
	badgerstore "github.com/linkguard/linkguard/store/badger"
)

var updateEvents = flag.Bool("update-events", false, "rewrite testdata/events/week.jsonl")

var (
	corpusFile = filepath.Join("..", "..", "testdata", "corpus", "profiles.jsonl")
	eventsDir  = filepath.Join("..", "..", "testdata", "events")
	weekFile   = filepath.Join(eventsDir, "week.jsonl")
)

// cleanEnv empties the variables the tools read, so that a developer's
// shell cannot steer the tests.
func cleanEnv(t *testing.T) {
	t.Helper()
	for _, name := range append([]string{"LINKGUARD_CONFIG"}, envNames...) {
		t.Setenv(name, "")
	}
}

// writeConfig writes a config file naming dir as the data folder.
func writeConfig(t *testing.T, dir string, extra string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "linkguard.yaml")
	if err := os.WriteFile(path, []byte("data_dir: "+dir+"\n"+extra), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func openStore(t *testing.T, dir string) *badgerstore.Store {
	t.Helper()
	st, err := badgerstore.Open(badgerstore.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func readEventsFile(t *testing.T, path string) []replay.Event {
	t.Helper()
	evs, err := readEvents(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// TestExportFromService records verify visits through the real Service,
// engine and Badger store, then exports them: decided visits become
// events with their inputs and verdicts; page views are left out.
func TestExportFromService(t *testing.T) {
	cleanEnv(t)
	dir := t.TempDir()
	st := openStore(t, dir)
	keys, err := linkguard.NewKeys(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	eng, err := fingerprint.NewEngine(fingerprint.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	pol := linkguard.DefaultPolicy()
	pol.PublicURL = "http://kit.test"
	pol.RedirectOrigins = []string{"https://app.example.com"}
	svc := &linkguard.Service{Store: st, Keys: keys, Decider: eng, Policy: pol, Now: func() time.Time { return now }}
	ctx := context.Background()
	const ua = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36"
	home := linkguard.Client{IP: netip.MustParseAddr("198.51.100.7"), Visitor: fingerprint.Visitor{UserAgent: ua}, Binding: "the-device-cookie"}
	stranger := linkguard.Client{IP: netip.MustParseAddr("203.0.113.9"), Visitor: fingerprint.Visitor{UserAgent: "python-requests/2.31"}}

	visit := func(email string, c linkguard.Client) (string, linkguard.Outcome) {
		iss, err := svc.Issue(ctx, &linkguard.IssueRequest{Email: email, RedirectURL: "https://app.example.com/in", Requester: home})
		if err != nil {
			t.Fatal(err)
		}
		page, err := svc.View(ctx, iss.Token, &c)
		if err != nil {
			t.Fatal(err)
		}
		res, err := svc.Report(ctx, &linkguard.ReportRequest{Stage: fingerprint.StageVerify, Token: iss.Token, Nonce: page.Nonce, Client: c})
		if err != nil {
			t.Fatal(err)
		}
		return iss.Link.ID, res.Outcome
	}
	sameID, sameOut := visit("alice@example.com", home)
	otherID, otherOut := visit("bob@example.com", stranger)
	if sameOut != linkguard.OutcomeConsumed || otherOut == linkguard.OutcomeConsumed {
		t.Fatalf("outcomes: same browser %s, stranger %s", sameOut, otherOut)
	}
	if err := st.Close(); err != nil { // flushes the buffered visits
		t.Fatal(err)
	}

	out := filepath.Join(t.TempDir(), "week.jsonl")
	var stdout, stderr bytes.Buffer
	if err := eventsMain([]string{"export", "--config", writeConfig(t, dir, ""), "--out", out}, &stdout, &stderr); err != nil {
		t.Fatalf("export: %v\n%s", err, stderr.String())
	}
	if stdout.Len() != 0 {
		t.Errorf("with --out, standard output got %q", stdout.String())
	}
	if !strings.Contains(stderr.String(), "exported 2 events (verify 2, confirm 0, code 0)") {
		t.Errorf("summary: %q", stderr.String())
	}
	evs := readEventsFile(t, out)
	if len(evs) != 2 {
		t.Fatalf("exported %d events, want the 2 verify visits (not the 2 views)", len(evs))
	}
	byLink := map[string]replay.Event{}
	for _, ev := range evs {
		byLink[ev.LinkID] = ev
		if ev.Kind != linkguard.VisitVerify || ev.ID == "" || !ev.At.Equal(now) || ev.Verdict.Config != eng.Hash() {
			t.Errorf("event %+v", ev)
		}
	}
	if ev := byLink[sameID]; !ev.Input.Binding || ev.Verdict.Decision != fingerprint.Consume || len(ev.Verdict.Signals) == 0 {
		t.Errorf("same-browser event: binding %v, decision %s", ev.Input.Binding, ev.Verdict.Decision)
	}
	if ev := byLink[otherID]; ev.Input.Binding || string(ev.Verdict.Decision) != string(otherOut) {
		t.Errorf("stranger event: binding %v, decision %s, outcome %s", ev.Input.Binding, ev.Verdict.Decision, otherOut)
	}
	// No raw address leaves the store.
	raw, _ := os.ReadFile(out)
	for _, ip := range []string{"198.51.100.7", "203.0.113.9", "the-device-cookie"} {
		if bytes.Contains(raw, []byte(ip)) {
			t.Errorf("export holds %q", ip)
		}
	}
}

// weekProfiles are the corpus profiles of week.jsonl, by link id.
var weekProfiles = []struct{ link, profile string }{
	{"lnk_human_abroad", "confirm_human/abroad other device"},
	{"lnk_human_phone", "confirm_human/phone on mobile"},
	{"lnk_human_same", "consume_human/same browser"},
	{"lnk_scanner_cdp", "code_scanner/cdp click"},
	{"lnk_scanner_http", "code_scanner/plain http client"},
	{"lnk_scanner_stealth", "code_scanner/stealth headless same country"},
}

// weekStore writes week.jsonl's visits into a Badger store in dir.
func weekStore(t *testing.T, dir string) {
	t.Helper()
	corpus := map[string]replay.Event{}
	for _, ev := range readEventsFile(t, corpusFile) {
		corpus[ev.ID] = ev
	}
	eng, err := fingerprint.NewEngine(fingerprint.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	st := openStore(t, dir)
	ctx := context.Background()
	for i, p := range weekProfiles {
		ev, ok := corpus[p.profile]
		if !ok {
			t.Fatalf("corpus has no profile %q", p.profile)
		}
		in := ev.Input
		v := eng.Decide(&in)
		// Ids as the store makes them: time, then a counter.
		id := fmt.Sprintf("%016x%08x", ev.At.UnixNano(), i+1)
		if i == 0 {
			view := &linkguard.Visit{ID: fmt.Sprintf("%016x%08x", ev.At.Add(-time.Second).UnixNano(), 100), LinkID: p.link,
				At: ev.At.Add(-time.Second), Kind: linkguard.VisitView, Outcome: linkguard.VisitOutcomeNone, Network: in.Visitor.Network}
			if err := st.AddVisit(ctx, view); err != nil {
				t.Fatal(err)
			}
		}
		vis := &linkguard.Visit{ID: id, LinkID: p.link, At: ev.At, Kind: ev.Kind, Outcome: linkguard.VisitOutcome(v.Decision),
			Network: in.Visitor.Network, UserAgent: in.Visitor.UserAgent, Input: &in, Verdict: &v}
		if err := st.AddVisit(ctx, vis); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestExportGolden exports a store written with AddVisit, with the data
// folder from the environment, and compares the JSONL with week.jsonl.
func TestExportGolden(t *testing.T) {
	cleanEnv(t)
	dir := t.TempDir()
	weekStore(t, dir)
	t.Setenv("LINKGUARD_DATA_DIR", dir)

	var stdout, stderr bytes.Buffer
	if err := eventsMain([]string{"export", "--since", "2026-03-01T00:00:00Z"}, &stdout, &stderr); err != nil {
		t.Fatalf("export: %v\n%s", err, stderr.String())
	}
	if *updateEvents {
		if err := os.WriteFile(weekFile, stdout.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(weekFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(stdout.Bytes(), want) {
		t.Errorf("export differs from %s (regenerate: go test ./cmd/linkguard -run TestExportGolden -update-events, then review the diff)\ngot:\n%s", weekFile, stdout.String())
	}
	if !strings.Contains(stderr.String(), "exported 6 events") {
		t.Errorf("summary: %q", stderr.String())
	}

	// --since after the visits: nothing, and an empty file rather than none.
	stdout.Reset()
	stderr.Reset()
	out := filepath.Join(t.TempDir(), "none.jsonl")
	if err := eventsMain([]string{"export", "--out", out, "--since", "2026-03-03T00:00:00Z"}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(out); err != nil || len(b) != 0 {
		t.Errorf("empty export: %q, %v", b, err)
	}
	if !strings.Contains(stderr.String(), "exported 0 events") {
		t.Errorf("summary: %q", stderr.String())
	}
}

// flipLine finds the "changed decisions" line of a link in replay output.
func flipLine(out, link string) string {
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if strings.Contains(sc.Text(), " link "+link+" at ") {
			return sc.Text()
		}
	}
	return ""
}

func TestReplayWeightChangeFlips(t *testing.T) {
	cleanEnv(t)
	var stdout, stderr bytes.Buffer
	// Flags after the file work too.
	err := replayMain([]string{weekFile, "--config", filepath.Join(eventsDir, "geo-heavy.yaml")}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("replay: %v\n%s", err, stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{
		"heuristics from " + filepath.Join(eventsDir, "geo-heavy.yaml"),
		"replayed 6 events",
		"was \\ now",
		"1 of 6 decisions change.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if l := flipLine(out, "lnk_human_abroad"); !strings.Contains(l, "confirm → code") {
		t.Errorf("abroad person: %q\n%s", l, out)
	}
	// Compatibility cannot open the automation gate, whatever it weighs.
	for _, link := range []string{"lnk_scanner_stealth", "lnk_human_same", "lnk_human_phone", "lnk_scanner_cdp", "lnk_scanner_http"} {
		if l := flipLine(out, link); l != "" {
			t.Errorf("%s flips: %q", link, l)
		}
	}
	// The flipped events show their signals with the old points beside.
	geoRow := false
	for _, l := range strings.Split(out, "\n") {
		geoRow = geoRow || strings.HasPrefix(l, "  geo ") && strings.Contains(l, " 3.00 ")
	}
	if !strings.Contains(out, "points  was") || !geoRow {
		t.Errorf("no signal table:\n%s", out)
	}

	// The recorded configuration changes nothing.
	stdout.Reset()
	if err := replayMain([]string{weekFile}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), "heuristics from the built-in defaults") || !strings.Contains(stdout.String(), "no decision changes.") {
		t.Errorf("default replay:\n%s", stdout.String())
	}
}

// newRow returns the fields of the "new" row of replay's labelled table:
// new, scanners, passed, held, humans, consumed, held, precision, recall.
func newRow(t *testing.T, out string) []string {
	t.Helper()
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) == 9 && f[0] == "new" {
			return f
		}
	}
	t.Fatalf("no \"new\" row in:\n%s", out)
	return nil
}

// TestReplayCorpusDefault is the shipped corpus through the command, as
// docs/tuning.md asks operators to run it: with the default heuristics no
// scanner is offered Continue or consumes.
func TestReplayCorpusDefault(t *testing.T) {
	cleanEnv(t)
	empty := filepath.Join(t.TempDir(), "empty.yaml")
	if err := os.WriteFile(empty, []byte("heuristics: {}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{corpusFile},
		{"--config", empty, "--labels", corpusFile},
	} {
		var stdout, stderr bytes.Buffer
		if err := replayMain(args, &stdout, &stderr); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, stderr.String())
		}
		out := stdout.String()
		row := newRow(t, out)
		if row[2] != "0" {
			t.Errorf("%v: %s scanners passed:\n%s", args, row[2], out)
		}
		if row[1] == "0" || row[1] != row[3] {
			t.Errorf("%v: scanners %s, held %s", args, row[1], row[3])
		}
		if strings.Contains(out, "WARNING") {
			t.Errorf("%v: %s", args, out)
		}
	}
}

func TestReplayStdin(t *testing.T) {
	cleanEnv(t)
	b, err := os.ReadFile(weekFile)
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if err := replayCmd([]string{"-"}, bytes.NewReader(b), &stdout, &stderr, os.Getenv); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), "replayed 6 events") {
		t.Errorf("stdin replay:\n%s", stdout.String())
	}
}

func TestExplain(t *testing.T) {
	cleanEnv(t)
	evs := readEventsFile(t, weekFile)
	var abroad replay.Event
	for _, ev := range evs {
		if ev.LinkID == "lnk_human_abroad" {
			abroad = ev
		}
	}
	if abroad.ID == "" {
		t.Fatal("week.jsonl has no lnk_human_abroad event")
	}
	signals := func(t *testing.T, out string) {
		t.Helper()
		for _, c := range abroad.Verdict.Signals {
			if !strings.Contains(out, "\n  "+c.Signal+" ") {
				t.Errorf("signal %s missing:\n%s", c.Signal, out)
			}
			if c.Reason != "" && !strings.Contains(out, c.Reason) {
				t.Errorf("reason %q missing", c.Reason)
			}
		}
	}

	t.Run("from a file", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		if err := explainMain([]string{"--event", abroad.ID, weekFile}, &stdout, &stderr); err != nil {
			t.Fatal(err)
		}
		out := stdout.String()
		if !strings.Contains(out, "event "+abroad.ID+": verify of link lnk_human_abroad") || !strings.Contains(out, "decision: confirm") {
			t.Errorf("output:\n%s", out)
		}
		signals(t, out)
	})
	t.Run("positional id, as docs/tuning.md writes it", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		if err := explainMain([]string{abroad.ID, weekFile}, &stdout, &stderr); err != nil {
			t.Fatal(err)
		}
		signals(t, stdout.String())
	})
	t.Run("redecide with another config", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		err := explainMain([]string{"--config", filepath.Join(eventsDir, "geo-heavy.yaml"), "--redecide", "--event", abroad.ID, weekFile}, &stdout, &stderr)
		if err != nil {
			t.Fatal(err)
		}
		out := stdout.String()
		if !strings.Contains(out, "recorded: confirm") || !strings.Contains(out, "decision: code") || !strings.Contains(out, "3.00") {
			t.Errorf("output:\n%s", out)
		}
	})
	t.Run("corpus profile without a recorded decision", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		if err := explainMain([]string{"--event", "code_scanner/cdp click", corpusFile}, &stdout, &stderr); err != nil {
			t.Fatal(err)
		}
		out := stdout.String()
		if !strings.Contains(out, "no recorded decision: deciding with the heuristics from the built-in defaults") ||
			!strings.Contains(out, "decision: code") || !strings.Contains(out, "label: scanner") {
			t.Errorf("output:\n%s", out)
		}
	})
	t.Run("from the store", func(t *testing.T) {
		dir := t.TempDir()
		weekStore(t, dir)
		var stdout, stderr bytes.Buffer
		if err := explainMain([]string{"--config", writeConfig(t, dir, ""), "--event", abroad.ID}, &stdout, &stderr); err != nil {
			t.Fatalf("%v\n%s", err, stderr.String())
		}
		signals(t, stdout.String())
		err := explainMain([]string{"--config", writeConfig(t, dir, ""), "--event", "00000000"}, &stdout, &stderr)
		if !errors.Is(err, replay.ErrNoEvents) {
			t.Errorf("unknown id: %v", err)
		}
	})
}

// TestLockedDataFolder: while a server holds the folder, the tools say so
// and name the fix.
func TestLockedDataFolder(t *testing.T) {
	cleanEnv(t)
	dir := t.TempDir()
	weekStore(t, dir)
	st := openStore(t, dir) // the running server
	defer st.Close()
	cfg := writeConfig(t, dir, "")
	for _, tc := range []struct {
		name string
		run  func(stdout, stderr *bytes.Buffer) error
	}{
		{"export", func(o, e *bytes.Buffer) error { return eventsMain([]string{"export", "--config", cfg}, o, e) }},
		{"explain", func(o, e *bytes.Buffer) error { return explainMain([]string{"--config", cfg, "--event", "x"}, o, e) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := tc.run(&stdout, &stderr)
			if !errors.Is(err, linkguard.ErrLocked) {
				t.Fatalf("err = %v, want ErrLocked", err)
			}
			for _, want := range []string{dir, "linkguard server", "stop the server", "start the server again"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q lacks %q", err, want)
				}
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout: %q", stdout.String())
			}
		})
	}
}

func TestBadArguments(t *testing.T) {
	cleanEnv(t)
	storeDir := t.TempDir()
	weekStore(t, storeDir)
	cfg := writeConfig(t, storeDir, "")
	emptyDir := t.TempDir()
	missing := filepath.Join(t.TempDir(), "nope")
	badJSON := filepath.Join(t.TempDir(), "bad.jsonl")
	if err := os.WriteFile(badJSON, []byte("{\"id\": \"a\", \"colour\": 1}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(t.TempDir(), "empty.jsonl")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	// Port 1 on loopback: nothing listens, so opening the store fails fast.
	redis := writeConfig(t, storeDir, "store: redis://:secret@127.0.0.1:1\n")

	events := func(a ...string) func(o, e *bytes.Buffer) error {
		return func(o, e *bytes.Buffer) error { return eventsMain(a, o, e) }
	}
	replayArgs := func(a ...string) func(o, e *bytes.Buffer) error {
		return func(o, e *bytes.Buffer) error { return replayMain(a, o, e) }
	}
	explain := func(a ...string) func(o, e *bytes.Buffer) error {
		return func(o, e *bytes.Buffer) error { return explainMain(a, o, e) }
	}
	for _, tc := range []struct {
		name    string
		run     func(o, e *bytes.Buffer) error
		want    []string
		notWant string
	}{
		{"events/no subcommand", events(), []string{"no subcommand", "export"}, ""},
		{"events/unknown subcommand", events("import"), []string{`unknown subcommand "import"`}, ""},
		{"export/unknown flag", events("export", "--folder", "x"), []string{"events export", "flag provided but not defined: -folder"}, ""},
		{"export/since not a time", events("export", "--config", cfg, "--since", "last week"), []string{`--since "last week"`, "168h", "RFC 3339"}, ""},
		{"export/since negative", events("export", "--config", cfg, "--since", "-5h"), []string{"positive duration"}, ""},
		{"export/stray argument", events("export", "--config", cfg, "out.jsonl"), []string{`unexpected argument "out.jsonl"`, "--out"}, ""},
		{"export/missing config file", events("export", "--config", missing), []string{"config file", "nope"}, ""},
		{"export/missing data folder", events("export", "--config", writeConfig(t, missing, "")), []string{"does not exist", "LINKGUARD_DATA_DIR"}, ""},
		{"export/folder without a store", events("export", "--config", writeConfig(t, emptyDir, "")), []string{"holds no linkguard store"}, ""},
		{"export/redis store unreachable", events("export", "--config", redis), []string{"redis store redis://:xxxxx@127.0.0.1:1"}, "secret"},
		{"export/out folder missing", events("export", "--config", cfg, "--out", filepath.Join(missing, "x.jsonl")), []string{"--out"}, ""},
		{"export/unknown config key", events("export", "--config", filepath.Join(eventsDir, "typo.yaml")), []string{"wieght"}, ""},
		{"replay/no events file", replayArgs(), []string{"no events file"}, ""},
		{"replay/two events files", replayArgs(weekFile, corpusFile), []string{"one events file at a time"}, ""},
		{"replay/missing events file", replayArgs(missing), []string{"events file", "nope"}, ""},
		{"replay/unknown config key", replayArgs("--config", filepath.Join(eventsDir, "typo.yaml"), weekFile), []string{"typo.yaml", "wieght"}, ""},
		{"replay/invalid weight", replayArgs("--config", filepath.Join(eventsDir, "bad-weight.yaml"), weekFile), []string{"heuristics.compatibility.signals.geo.weight", "between 0 and 10"}, ""},
		{"replay/one-axis config", replayArgs("--config", filepath.Join(eventsDir, "one-axis.yaml"), weekFile), []string{"one-axis.yaml", "heuristics.thresholds has moved", "heuristics.compatibility.thresholds", "docs/tuning.md"}, ""},
		{"replay/unknown field in an event", replayArgs(badJSON), []string{"line 1", "colour"}, ""},
		{"replay/empty events file", replayArgs(empty), []string{"holds no events"}, ""},
		{"replay/labels without labels", replayArgs("--labels", weekFile), []string{"--labels", "no event", "carries a label"}, ""},
		{"replay/unknown flag", replayArgs("--cfg", "x", weekFile), []string{"replay", "-cfg"}, ""},
		{"explain/store folder missing", explain("--config", writeConfig(t, missing, ""), "--event", "a"), []string{"does not exist"}, ""},
		{"explain/no id at all", explain(), []string{"no event id given"}, ""},
		{"explain/unknown id", explain("--event", "ev_none", weekFile), []string{"no event with that id", "ev_none"}, ""},
		{"explain/too many files", explain("--event", "a", weekFile, corpusFile), []string{"one events file at a time"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := tc.run(&stdout, &stderr)
			if err == nil {
				t.Fatalf("no error; stdout:\n%s", stdout.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if tc.notWant != "" && strings.Contains(err.Error()+stderr.String(), tc.notWant) {
				t.Errorf("error %q or stderr shows %q", err, tc.notWant)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout on error: %q", stdout.String())
			}
		})
	}
	// A failed export leaves no file behind.
	if m, _ := filepath.Glob(filepath.Join(emptyDir, "*.jsonl*")); len(m) != 0 {
		t.Errorf("left behind: %v", m)
	}
}

func TestHelpIsNotAnError(t *testing.T) {
	cleanEnv(t)
	for _, args := range [][]string{{"export", "-h"}, {"help"}} {
		var stdout, stderr bytes.Buffer
		if err := eventsMain(args, &stdout, &stderr); err != nil {
			t.Errorf("%v: %v", args, err)
		}
		if !strings.Contains(stdout.String()+stderr.String(), "usage: linkguard events export") {
			t.Errorf("%v: no usage", args)
		}
	}
}
