package main

// The operator tools of docs/tuning.md:
//
//	linkguard events export [--config FILE] [--since 168h|7d|RFC3339] [--out FILE]
//	linkguard replay [--config FILE] [--labels] EVENTS.jsonl
//	linkguard explain [--config FILE] [--redecide] --event ID [EVENTS.jsonl]
//
// export and explain without a file read the Badger store of the data
// folder. NB: Badger lets one process hold a data folder at a time, and
// its read-only mode takes a shared lock that the server's exclusive lock
// also refuses, so these run while the server is stopped. A locked folder
// is an error that says so (stop the server, export, start it again: the
// export of a week takes seconds). replay never touches the store.

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/fingerprint"
	"github.com/linkguard/linkguard/fingerprint/replay"
	"github.com/linkguard/linkguard/kit"
)

const eventsUsage = `usage: linkguard events export [--config FILE] [--since 168h|7d|RFC3339] [--out FILE]

Writes every recorded verify, confirm and code decision at or after --since
(default 168h, the last week) as JSON Lines, for linkguard replay and
linkguard explain. Settings come from the config file and the environment,
as for serve (data_dir, LINKGUARD_DATA_DIR). NB: stop the server first: the
data folder can be open in one process only.
`

const replayUsage = `usage: linkguard replay [--config FILE] [--labels] EVENTS.jsonl

Re-decides the events (from linkguard events export, or the corpus in
testdata/corpus) with the heuristics: section of --config (default
$LINKGUARD_CONFIG, else the built-in defaults) and prints how the decisions
change. --labels replays only the events that carry a label. EVENTS.jsonl
may be - for standard input.
`

const explainUsage = `usage: linkguard explain [--config FILE] [--redecide] --event ID [EVENTS.jsonl]
       linkguard explain [--config FILE] [--redecide] ID [EVENTS.jsonl]

Prints one event's decision: every signal's value, weight, points and reason.
The event is read from EVENTS.jsonl (- for standard input) or, without a
file, from the store of the configured data folder (stop the server first).
--redecide decides it again with the config's heuristics: section and shows
the recorded decision beside it; an event without a recorded decision (the
corpus) is always decided again.
`

// eventsMain is `linkguard events`: its only subcommand is export.
func eventsMain(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, eventsUsage)
		return errors.New("events: no subcommand given (want export)")
	}
	switch args[0] {
	case "export":
		return exportEvents(args[1:], stdout, stderr, os.Getenv, time.Now)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, eventsUsage)
		return nil
	}
	fmt.Fprint(stderr, eventsUsage)
	return fmt.Errorf("events: unknown subcommand %q (want export)", args[0])
}

func exportEvents(args []string, stdout, stderr io.Writer, getenv func(string) string, now func() time.Time) error {
	fs := newFlagSet("events export", eventsUsage, stderr)
	file := fs.String("config", getenv("LINKGUARD_CONFIG"), "YAML config `file`")
	sinceFlag := fs.String("since", "168h", "export decisions at or after this: a duration back from now (168h, 7d) or an RFC 3339 time")
	out := fs.String("out", "", "write to this `file` instead of standard output")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return flagErr("events export", err)
	}
	if len(pos) > 0 {
		return fmt.Errorf("events export: unexpected argument %q (write to a file with --out FILE)", pos[0])
	}
	since, err := replay.ParseSince(*sinceFlag, now())
	if err != nil {
		return fmt.Errorf("events export: --since %w", err)
	}
	cfg, err := operatorConfig(*file, getenv)
	if err != nil {
		return err
	}
	st, err := openStoreForTools(cfg, stderr)
	if err != nil {
		return err
	}
	defer st.Close()

	w, commit, err := createOutput(*out, stdout)
	if err != nil {
		return fmt.Errorf("events export: %w", err)
	}
	defer commit(false)
	counts := map[linkguard.VisitKind]int{}
	n := 0
	err = st.ScanVisits(context.Background(), since, func(v *linkguard.Visit) error {
		ev, ok := replay.FromVisit(v)
		if !ok {
			return nil
		}
		n++
		counts[ev.Kind]++
		return replay.Write(w, []replay.Event{ev})
	})
	if err != nil {
		return fmt.Errorf("events export: %w", err)
	}
	if err := commit(true); err != nil {
		return fmt.Errorf("events export: %w", err)
	}
	dest := "standard output"
	if *out != "" && *out != "-" {
		dest = *out
	}
	fmt.Fprintf(stderr, "exported %d events (verify %d, confirm %d, code %d) recorded since %s to %s\n",
		n, counts[linkguard.VisitVerify], counts[linkguard.VisitConfirm], counts[linkguard.VisitCode],
		since.UTC().Format(time.RFC3339), dest)
	return nil
}

// createOutput returns where to write and a function that finishes the
// output: a file is written beside its destination and renamed into place
// on success (synced first, so that a crash leaves the old file or the new
// one whole), so a failed export or backup never leaves half a file.
func createOutput(path string, stdout io.Writer) (io.Writer, func(ok bool) error, error) {
	if path == "" || path == "-" {
		return stdout, func(bool) error { return nil }, nil
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return nil, nil, fmt.Errorf("--out %s: %w", path, err)
	}
	bw := bufio.NewWriter(f)
	done := false
	return bw, func(ok bool) error {
		if done {
			return nil
		}
		done = true
		if !ok {
			f.Close()
			os.Remove(f.Name())
			return nil
		}
		if err := errors.Join(bw.Flush(), f.Sync(), f.Close()); err != nil {
			os.Remove(f.Name())
			return err
		}
		if err := os.Rename(f.Name(), path); err != nil {
			os.Remove(f.Name())
			return err
		}
		return nil
	}, nil
}

// replayMain is `linkguard replay`.
func replayMain(args []string, stdout, stderr io.Writer) error {
	return replayCmd(args, os.Stdin, stdout, stderr, os.Getenv)
}

func replayCmd(args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) error {
	fs := newFlagSet("replay", replayUsage, stderr)
	file := fs.String("config", getenv("LINKGUARD_CONFIG"), "YAML config `file` whose heuristics: decide")
	labels := fs.Bool("labels", false, "replay only the events that carry a label")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return flagErr("replay", err)
	}
	switch {
	case len(pos) == 0:
		fmt.Fprint(stderr, replayUsage)
		return errors.New("replay: no events file given (linkguard events export writes one)")
	case len(pos) > 1:
		return fmt.Errorf("replay: one events file at a time, got %d (%s)", len(pos), strings.Join(pos, ", "))
	}
	h, err := heuristics(*file, getenv)
	if err != nil {
		return err
	}
	r, closeFn, err := openEvents(pos[0], stdin)
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	defer closeFn()
	err = replay.Run(stdout, h, r, replay.RunOptions{Labelled: *labels, Source: configName(*file)})
	var ce *replay.ConfigError
	switch {
	case errors.As(err, &ce):
		return fmt.Errorf("replay: %s: %w", configName(*file), ce.Err)
	case errors.Is(err, replay.ErrNoLabels):
		return fmt.Errorf("replay: --labels: no event in %s carries a label (add \"label\": \"scanner\" or \"human\" to the lines you have checked)", pos[0])
	case errors.Is(err, replay.ErrEmpty):
		return fmt.Errorf("replay: %s holds no events: nothing to replay", pos[0])
	case err != nil:
		return fmt.Errorf("replay: %s: %w", pos[0], err)
	}
	return nil
}

// explainMain is `linkguard explain`.
func explainMain(args []string, stdout, stderr io.Writer) error {
	return explainCmd(args, os.Stdin, stdout, stderr, os.Getenv)
}

func explainCmd(args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) error {
	fs := newFlagSet("explain", explainUsage, stderr)
	file := fs.String("config", getenv("LINKGUARD_CONFIG"), "YAML config `file`: the data folder, and the heuristics for --redecide")
	id := fs.String("event", "", "the event's `id`")
	redecide := fs.Bool("redecide", false, "decide the event again with the config's heuristics")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return flagErr("explain", err)
	}
	if *id == "" && len(pos) > 0 {
		*id, pos = pos[0], pos[1:]
	}
	if *id == "" {
		fmt.Fprint(stderr, explainUsage)
		return errors.New("explain: no event id given (--event ID)")
	}
	if len(pos) > 1 {
		return fmt.Errorf("explain: one events file at a time, got %d (%s)", len(pos), strings.Join(pos, ", "))
	}
	cfg, err := operatorConfig(*file, getenv)
	if err != nil {
		return err
	}

	var ev replay.Event
	if len(pos) == 1 {
		r, closeFn, err := openEvents(pos[0], stdin)
		if err != nil {
			return fmt.Errorf("explain: %w", err)
		}
		ev, err = replay.FindEvent(r, *id)
		closeFn()
		if err != nil {
			return fmt.Errorf("explain: %s: %w", pos[0], err)
		}
	} else {
		st, err := openStoreForTools(cfg, stderr)
		if err != nil {
			return err
		}
		ev, err = storeEvent(st, *id)
		st.Close()
		if err != nil {
			return fmt.Errorf("explain: %w", err)
		}
	}
	if !*redecide && ev.Verdict.Decision != "" {
		return replay.Explain(stdout, ev)
	}
	if !*redecide {
		fmt.Fprintf(stdout, "no recorded decision: deciding with the heuristics from %s\n", configName(*file))
	}
	if err := replay.ExplainWith(stdout, ev, cfg.Heuristics); err != nil {
		return fmt.Errorf("explain: %s: %w", configName(*file), err)
	}
	return nil
}

// errFound stops a scan early.
var errFound = errors.New("found")

// storeEvent finds the recorded decision with the visit id in the store.
func storeEvent(st linkguard.Store, id string) (replay.Event, error) {
	var ev replay.Event
	var visit bool
	err := st.ScanVisits(context.Background(), time.Time{}, func(v *linkguard.Visit) error {
		if v.ID != id {
			return nil
		}
		var ok bool
		ev, ok = replay.FromVisit(v)
		visit = !ok
		return errFound
	})
	switch {
	case errors.Is(err, errFound) && visit:
		return ev, fmt.Errorf("visit %q is a page view: only verify, confirm and code visits record a decision", id)
	case errors.Is(err, errFound):
		return ev, nil
	case err != nil:
		return ev, err
	}
	return ev, fmt.Errorf("%w: %q in the store (visits are kept the retention plus a day, 8 days by default)", replay.ErrNoEvents, id)
}

// operatorConfig layers the configuration as serve does (defaults, the
// file, the environment) without validate: that one creates the data
// folder and demands API keys and an https public URL, none of which an
// offline tool needs. Each tool checks what it uses.
func operatorConfig(file string, getenv func(string) string) (*Config, error) {
	cfg := Default()
	if file != "" {
		if err := cfg.loadFile(file); err != nil {
			return nil, err
		}
	}
	if err := cfg.loadEnv(getenv); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// heuristics is the heuristics: section of file (the defaults where it
// is silent); unknown keys are errors, as for serve.
func heuristics(file string, getenv func(string) string) (fingerprint.Config, error) {
	cfg, err := operatorConfig(file, getenv)
	if err != nil {
		return fingerprint.Config{}, err
	}
	return cfg.Heuristics, nil
}

func configName(file string) string {
	if file == "" {
		return "the built-in defaults"
	}
	return file
}

// openStoreForTools opens the configured store for an offline tool, as
// serve does (kit.OpenStore). It refuses a missing folder or one without a
// store, rather than let Badger create an empty store there, and explains
// a locked one.
func openStoreForTools(cfg *Config, stderr io.Writer) (linkguard.Store, error) {
	opts := kit.Options{Store: cfg.Store, DataDir: cfg.DataDir, Retention: cfg.Links.Retention}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	switch kind, dir := kit.StoreKind(cfg.Store); {
	case kind == "redis":
		// Redis takes no lock: the tools can read while the servers run.
		opts.Log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelError}))
		return kit.OpenStore(ctx, opts)
	case kind != "badger":
		return nil, fmt.Errorf("store %q: want badger, a redis:// URL, or a redis+cluster:// URL", kit.RedactURL(cfg.Store))
	case dir != "":
		opts.DataDir = dir
	case cfg.DataDir == "":
		return nil, errors.New("data_dir: required with the badger store (set it in the config file or LINKGUARD_DATA_DIR)")
	}
	if st, err := os.Stat(opts.DataDir); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("data folder %s does not exist or is not a folder: point --config or LINKGUARD_DATA_DIR at the server's data_dir", opts.DataDir)
	}
	// MANIFEST is the file Badger writes first in a folder it owns.
	if _, err := os.Stat(filepath.Join(opts.DataDir, "MANIFEST")); err != nil {
		return nil, fmt.Errorf("data folder %s holds no linkguard store (no Badger MANIFEST): point --config or LINKGUARD_DATA_DIR at the server's data_dir", opts.DataDir)
	}
	opts.Log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	st, err := kit.OpenStore(ctx, opts)
	if errors.Is(err, linkguard.ErrLocked) {
		return nil, fmt.Errorf("data folder %s is in use by another process, most likely the running linkguard server (%w): Badger lets one process open it at a time, so stop the server (e.g. systemctl stop linkguard), run this command, and start the server again", opts.DataDir, linkguard.ErrLocked)
	}
	if err != nil {
		return nil, err
	}
	return st, nil
}

// readEvents reads a JSONL file, or standard input for "-".
func readEvents(path string, stdin io.Reader) ([]replay.Event, error) {
	r, closeFn, err := openEvents(path, stdin)
	if err != nil {
		return nil, err
	}
	defer closeFn()
	evs, err := replay.Read(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return evs, nil
}

func openEvents(path string, stdin io.Reader) (io.Reader, func(), error) {
	if path == "-" {
		return stdin, func() {}, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("events file: %w", err)
	}
	return f, func() { f.Close() }, nil
}

func newFlagSet(name, usage string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage, "\nflags:\n")
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args allowing flags after the positional arguments
// (`replay events.jsonl --config new.yaml`), which package flag alone
// does not; everything after "--" is positional.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			return append(pos, rest...), nil
		}
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// flagErr names the command in a flag error; asking for help is not one.
func flagErr(cmd string, err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return fmt.Errorf("%s: %w", cmd, err)
}
