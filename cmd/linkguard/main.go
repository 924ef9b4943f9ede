// Command linkguard runs the linkguard server and its operator tools.
//
//	linkguard serve [--config FILE] [--listen ADDR] [--dev]
//	linkguard events export [--config FILE] [--since 168h] [--out FILE]
//	linkguard replay [--config FILE] [--labels] EVENTS.jsonl
//	linkguard explain [--config FILE] [--redecide] --event ID [EVENTS.jsonl]
//	linkguard backup --data-dir DIR --out FILE
//	linkguard restore --data-dir DIR FILE
//	linkguard end-credentials [--config FILE] [--store URL | --data-dir DIR]
//	linkguard selftest --url URL --api-key KEY
//	linkguard config --print-defaults
//	linkguard version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/kit"
	"github.com/linkguard/linkguard/metrics"
	lgoidc "github.com/linkguard/linkguard/oidc"
	"github.com/linkguard/linkguard/server"

	"github.com/linkguard/linkguard/internal/keyfile"
)

// version is set by the Makefile (-ldflags -X main.version=...).
var version = "dev"

func main() {
	err := run(os.Args[1:], os.Stdout, os.Stderr)
	var status exitStatus
	switch {
	case errors.As(err, &status):
		os.Exit(int(status))
	case err != nil && !errors.Is(err, flag.ErrHelp):
		fmt.Fprintln(os.Stderr, "linkguard:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		usage(stderr)
		return errors.New("no command given")
	}
	switch args[0] {
	case "serve":
		return serve(args[1:], stdout, stderr)
	case "events":
		return eventsMain(args[1:], stdout, stderr)
	case "replay":
		return replayMain(args[1:], stdout, stderr)
	case "explain":
		return explainMain(args[1:], stdout, stderr)
	case "oidc":
		return oidcMain(args[1:], stdout, stderr)
	case "backup":
		return backupMain(args[1:], stdout, stderr)
	case "restore":
		return restoreMain(args[1:], stdout, stderr)
	case "end-credentials":
		return endMain(args[1:], stdout, stderr)
	case "selftest":
		return selftestMain(args[1:], stdout, stderr)
	case "config":
		return configMain(args[1:], stdout, stderr)
	case "version":
		printVersion(stdout)
		return nil
	case "help", "-h", "--help":
		usage(stdout)
		return nil
	}
	usage(stderr)
	return fmt.Errorf("unknown command %q", args[0])
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage: linkguard <command> [flags]

commands:
  serve     run the server (flags: --config FILE, --listen ADDR, --dev)
  events    events export [--config FILE] [--since 168h|7d|RFC3339] [--out FILE]: recorded decisions as JSONL (server stopped)
  replay    replay [--config FILE] [--labels] EVENTS.jsonl: re-decide events with a config's heuristics
  explain   explain [--config FILE] [--redecide] --event ID [EVENTS.jsonl]: one decision's signals
  oidc      oidc add-client --id ID --redirect-uri URL [--public] [--scopes "email profile"] [--alg RS256]:
            a relying party for oidc.clients, its secret printed once
  backup    backup --data-dir DIR --out FILE: a backup of the Badger store (server stopped;
            a running one is backed up from its console, /admin/backup)
  restore   restore --data-dir DIR FILE: a backup into a missing or empty folder
  end-credentials
            end-credentials [--config FILE] [--store URL | --data-dir DIR]: revoke every pending
            link, delete handoffs and OpenID tokens (after restoring a Redis snapshot)
  config    config --print-defaults: the full YAML with every default, each key commented
  selftest  selftest --url URL --api-key KEY: play scanners and a person against a running deployment
  version   print the version
`)
}

// loadConfig builds the configuration (defaults, then the file, then the
// environment, then flags) and the kit's options from it, defaults filled.
func loadConfig(args []string, getenv func(string) string, stderr io.Writer) (*Config, kit.Options, error) {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("config", getenv("LINKGUARD_CONFIG"), "YAML config `file`")
	listen := fs.String("listen", "", "address to listen on (overrides LINKGUARD_LISTEN)")
	dev := fs.Bool("dev", false, "dev mode: outbox, dev API key, plain-http cookies")
	if err := fs.Parse(args); err != nil {
		return nil, kit.Options{}, err
	}
	if fs.NArg() > 0 {
		return nil, kit.Options{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	cfg := Default()
	if *file != "" {
		if err := cfg.loadFile(*file); err != nil {
			return nil, kit.Options{}, err
		}
	}
	cfg.file = *file
	if err := cfg.loadEnv(getenv); err != nil {
		return nil, kit.Options{}, err
	}
	if *listen != "" {
		cfg.Listen = *listen
	}
	if *dev {
		cfg.Dev = true
	}
	opts, err := cfg.validate()
	if err != nil {
		return nil, kit.Options{}, fmt.Errorf("invalid configuration:\n%w", err)
	}
	return &cfg, opts, nil
}

func serve(args []string, stdout, stderr io.Writer) error {
	cfg, opts, err := loadConfig(args, os.Getenv, stderr)
	if err != nil {
		return err
	}
	log, err := newLogger(cfg.Log, stderr)
	if err != nil {
		return err
	}
	slog.SetDefault(log)
	opts.Log = log
	if procs, raised := kit.RaiseProcs(opts.Store, os.Getenv); raised {
		// More Ps than cores for Badger's page faults (docs/operations.md).
		log.Info("GOMAXPROCS raised for the Badger store", "gomaxprocs", procs, "cores", runtime.NumCPU())
	}
	if !hasCollector() && os.Getenv("LINKGUARD_ALLOW_NO_COLLECTOR") != "1" {
		return errNoCollector
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if cfg.SecretKeyFile != "" {
		if opts.SecretKey, err = keyfile.Read(cfg.SecretKeyFile); err != nil {
			return fmt.Errorf("secret_key_file: %w", err)
		}
	}
	if err := checkWeak(cfg, opts.TrustedProxies, opts.SecretKey, log); err != nil {
		return err
	}
	k, err := kit.New(opts)
	if err != nil {
		return err
	}
	defer func() {
		if err := k.Close(); err != nil {
			log.Error("close", "err", err)
		}
	}()
	var m *metrics.Metrics
	if cfg.MetricsListen != "" {
		m = metrics.New()
		if err := serveMetrics(ctx, cfg.MetricsListen, m, log); err != nil {
			return err
		}
	}
	geo := &geoStatus{}
	k.Instrument(m, true, server.ReadyCheck{Name: "geoip", Check: geo.check})
	k.Start(ctx)
	go reloadOnHUP(ctx, k, args, log, geo)

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	errc := make(chan error, 1)
	go func() { errc <- k.App().Listener(ln) }()
	log.Info("linkguard listening", "addr", ln.Addr().String(), "public_url", k.Options().PublicURL, "dev", cfg.Dev, "version", version)
	if cfg.Dev {
		demo := ""
		if len(k.Options().Admin.Emails) > 0 {
			dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			id, err := devDemo(dctx, k.Service, k.Options().PublicURL, ln.Addr().String(), k.Options().APIKeys[0])
			cancel()
			if err != nil {
				log.Warn("dev demo: the console's demo visits were not played", "err", err)
			}
			demo = id
		}
		printDevHelp(stdout, k.Options(), demo)
	}
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	if err := k.App().ShutdownWithTimeout(cfg.ShutdownTimeout); err != nil {
		log.Error("shutdown", "err", err)
	}
	return nil
}

// reloadOnHUP re-reads the GeoIP databases and the heuristics of the
// config file on SIGHUP. A bad file is logged and the running one stays.
func reloadOnHUP(ctx context.Context, k *kit.Kit, args []string, log *slog.Logger, geo *geoStatus) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			cfg, _, err := loadConfig(args, os.Getenv, io.Discard)
			if err != nil {
				log.Error("reload: configuration refused; the running one stays", "err", err)
				continue
			}
			err = k.Reload(&cfg.Heuristics)
			geo.set(err) // /readyz names a failed reload until one works
			if err != nil {
				log.Error("reload", "err", err)
				continue
			}
			log.Info("reloaded", "heuristics", k.Engine.Hash())
		}
	}
}

func printDevHelp(w io.Writer, o kit.Options, demo string) {
	origin := o.PublicURL
	if u, err := url.Parse(o.PublicURL); err == nil {
		origin = linkguard.Origin(u)
	}
	fmt.Fprintf(w, `
linkguard is running in dev mode at %[1]s

  Try the whole flow in a browser:  %[1]s/demo
  (sign in with any address; the email lands in %[1]s/dev/outbox)

  dev API key: %[2]s

Issue a link from your backend:
  curl -s -X POST %[1]s/v1/links \
    -H 'Authorization: Bearer %[2]s' -H 'Content-Type: application/json' \
    -d '{"email":"alice@example.com","redirect_url":"%[3]s/"}'

Open the "url" it returns in a browser, press Continue (or type the "code"),
and you land on the redirect with ?lg_code=...; exchange it, once:
  curl -s -X POST %[1]s/v1/exchange \
    -H 'Authorization: Bearer %[2]s' -H 'Content-Type: application/json' \
    -d '{"code":"<lg_code>"}'

%[4]s%[5]sStop with Ctrl-C.
`, o.PublicURL, o.APIKeys[0], origin, oidcHelp(o), adminHelp(o, demo))
}

// adminHelp is the dev banner's console paragraph; demo is the id of the
// link the dev demo played against at this start, if it did.
func adminHelp(o kit.Options, demo string) string {
	if len(o.Admin.Emails) == 0 {
		return "Console: set LINKGUARD_ADMIN_EMAILS=you@example.com to turn on /admin (make run does).\n\n"
	}
	s := fmt.Sprintf(`The operator's console:  %[1]s/admin
  1. enter %[2]s there and press "Email me a sign-in link"
  2. open %[1]s/dev/outbox in the same browser and click the newest mail's link
`, o.PublicURL, o.Admin.Emails[0])
	if demo != "" {
		s += fmt.Sprintf(`  To give the console something to show, this start played demo visits
  through the real routes: two mail filters (Microsoft Safe Links, which ran
  the page and was turned away, and Barracuda) opened a link for
  %s, then the person typed its code (link %s).
`, demoEmail, demo)
	}
	return s + "\n"
}

// oidcHelp is the dev banner's OpenID Connect paragraph.
func oidcHelp(o kit.Options) string {
	for _, c := range o.OIDC.Clients {
		if c.ID == lgoidc.ExampleClient().ID {
			return fmt.Sprintf("OpenID Connect: issuer %s, client %q (public, PKCE):\n  go run ./examples/oidc-rp    then open http://127.0.0.1:8090 (docs/oidc.md)\n\n", o.PublicURL, c.ID)
		}
	}
	return ""
}

// checkWeak refuses or warns about weak settings (kit.CheckWeak) before
// the start: the server key file (secret_key_file, else the data folder's
// server.key when it exists), trusted proxies, and dev mode off loopback.
func checkWeak(cfg *Config, proxies []netip.Prefix, secret []byte, log *slog.Logger) error {
	w := kit.Weak{KeyPath: cfg.SecretKeyFile, Key: secret, TrustedProxies: proxies, Dev: cfg.Dev, Listen: cfg.Listen}
	if w.KeyPath == "" && cfg.DataDir != "" {
		p := filepath.Join(cfg.DataDir, "server.key")
		if b, err := os.ReadFile(p); err == nil {
			w.KeyPath, w.Key = p, b
		}
	}
	warnings, err := kit.CheckWeak(w)
	for _, m := range warnings {
		log.Warn(m)
	}
	return err
}
