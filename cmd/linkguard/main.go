// Command linkguard runs the linkguard server and its operator tools.
//
//	linkguard serve [--config FILE] [--listen ADDR] [--dev]
//	linkguard events export [--config FILE] [--since 168h] [--out FILE]
//	linkguard replay [--config FILE] [--labels] EVENTS.jsonl
//	linkguard explain [--config FILE] [--redecide] --event ID [EVENTS.jsonl]
//	linkguard selftest --url URL --api-key KEY
//	linkguard version
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/kit"
	"github.com/linkguard/linkguard/metrics"
	lgoidc "github.com/linkguard/linkguard/oidc"
	"github.com/linkguard/linkguard/server"
	redisstore "github.com/linkguard/linkguard/store/redis"

	"github.com/linkguard/linkguard/web"
	goredis "github.com/redis/go-redis/v9"
)

// version is set by the Makefile (-ldflags -X main.version=...).
var version = "dev"

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
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
	case "selftest":
		return selftestMain(args[1:], stdout, stderr)
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
  selftest  selftest --url URL --api-key KEY: play scanners and a person against a running deployment
  version   print the version
`)
}

// loadConfig builds the configuration: defaults, then the file, then the
// environment, then flags.
func loadConfig(args []string, getenv func(string) string, stderr io.Writer) (*Config, *resolved, error) {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("config", getenv("LINKGUARD_CONFIG"), "YAML config `file`")
	listen := fs.String("listen", "", "address to listen on (overrides LINKGUARD_LISTEN)")
	dev := fs.Bool("dev", false, "dev mode: outbox, dev API key, plain-http cookies")
	if err := fs.Parse(args); err != nil {
		return nil, nil, err
	}
	if fs.NArg() > 0 {
		return nil, nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	cfg := Default()
	if *file != "" {
		if err := cfg.loadFile(*file); err != nil {
			return nil, nil, err
		}
	}
	cfg.file = *file
	if err := cfg.loadEnv(getenv); err != nil {
		return nil, nil, err
	}
	if *listen != "" {
		cfg.Listen = *listen
	}
	if *dev {
		cfg.Dev = true
	}
	r, err := cfg.validate()
	if err != nil {
		return nil, nil, fmt.Errorf("invalid configuration:\n%w", err)
	}
	return &cfg, r, nil
}

func serve(args []string, stdout, stderr io.Writer) error {
	cfg, r, err := loadConfig(args, os.Getenv, stderr)
	if err != nil {
		return err
	}
	log, err := newLogger(cfg.Log, stderr)
	if err != nil {
		return err
	}
	slog.SetDefault(log)
	if !hasCollector() && os.Getenv("LINKGUARD_ALLOW_NO_COLLECTOR") != "1" {
		return errNoCollector
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var secret []byte
	if cfg.SecretKeyFile != "" {
		if secret, err = os.ReadFile(cfg.SecretKeyFile); err != nil {
			return fmt.Errorf("secret_key_file: %w", err)
		}
	}
	if err := checkWeak(cfg, r.TrustedProxies, secret, log); err != nil {
		return err
	}
	if cfg.Dev && len(cfg.APIKeys) == 0 {
		k, err := devAPIKey(cfg.DataDir)
		if err != nil {
			return err
		}
		cfg.APIKeys = []string{k}
	}
	var store linkguard.Store // nil: Badger in the data folder
	if isRedis(cfg.Store) {
		goredis.SetLogger(redisLog{log})
		octx, cancel := context.WithTimeout(ctx, 15*time.Second)
		store, err = redisstore.Open(octx, cfg.Store, redisstore.Options{Retention: cfg.Links.Retention, Log: log})
		cancel()
		if err != nil {
			return err
		}
	}
	origins := r.RedirectOrigins
	if cfg.Dev && !slices.Contains(origins, r.PublicOrigin) {
		origins = append(origins, r.PublicOrigin) // the demo site redirects to the kit itself
	}
	if cfg.Dev && len(cfg.OIDC.Clients) == 0 {
		// examples/oidc-rp signs in against `make run` with no setup.
		cfg.OIDC.Clients = []lgoidc.ClientConfig{lgoidc.ExampleClient()}
	}
	k, err := kit.New(kit.Options{
		PublicURL: r.PublicURL, DataDir: cfg.DataDir, Store: store, SecretKey: secret, APIKeys: cfg.APIKeys,
		RedirectOrigins: origins, RedirectPaths: cfg.RedirectPaths, DefaultRedirect: cfg.DefaultRedirect, TrustedProxies: r.TrustedProxies,
		Dev: cfg.Dev, Retention: cfg.Links.Retention, Heuristics: &cfg.Heuristics,
		Policy: linkguard.Policy{DefaultTTL: cfg.Links.DefaultTTL, NonceMaxAge: cfg.Links.NonceMaxAge,
			HandoffTTL: cfg.Links.HandoffTTL, MaxCodeAttempts: cfg.Links.MaxCodeAttempts, DefaultLocale: cfg.DefaultLocale},
		GeoIPCity: cfg.GeoIP.City, GeoIPASN: cfg.GeoIP.ASN,
		SMTPURL: cfg.Mail.SMTPURL, MailFrom: cfg.Mail.From,
		Brand: web.Brand(cfg.Brand), TemplatesDir: cfg.TemplatesDir, Log: log,
		HandoffAssertion: cfg.Handoff.Assertion, MailTemplatesDir: cfg.Mail.TemplatesDir,
		OIDC:        cfg.OIDC,
		MessagesDir: cfg.MessagesDir,
		Admin:       kit.AdminOptions{Emails: cfg.Admin.Emails, ConfigFile: cfg.file},
		Webhooks:    cfg.Webhooks,
	})
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
	log.Info("linkguard listening", "addr", ln.Addr().String(), "public_url", r.PublicURL, "dev", cfg.Dev, "version", version)
	if cfg.Dev {
		printDevHelp(stdout, cfg, r)
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

// devAPIKey is a key kept in the data folder, so that the printed curl
// line keeps working across restarts. Dev mode only.
func devAPIKey(dir string) (string, error) {
	path := filepath.Join(dir, "dev-api-key")
	if b, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(b))) >= 16 {
		return strings.TrimSpace(string(b)), nil
	}
	raw := make([]byte, 18)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	k := "dev_" + base64.RawURLEncoding.EncodeToString(raw)
	if err := os.WriteFile(path, []byte(k+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write dev API key: %w", err)
	}
	return k, nil
}

func printDevHelp(w io.Writer, cfg *Config, r *resolved) {
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
`, r.PublicURL, cfg.APIKeys[0], r.PublicOrigin, oidcHelp(cfg, r), adminHelp(cfg, r))
}

// adminHelp is the dev banner's console paragraph.
func adminHelp(cfg *Config, r *resolved) string {
	if len(cfg.Admin.Emails) == 0 {
		return "Console: set LINKGUARD_ADMIN_EMAILS=you@example.com to turn on /admin (make run does).\n\n"
	}
	return fmt.Sprintf("Console: %s/admin  sign in as %s (the link lands in /dev/outbox)\n\n", r.PublicURL, cfg.Admin.Emails[0])
}

// oidcHelp is the dev banner's OpenID Connect paragraph.
func oidcHelp(cfg *Config, r *resolved) string {
	for _, c := range cfg.OIDC.Clients {
		if c.ID == lgoidc.ExampleClient().ID {
			return fmt.Sprintf("OpenID Connect: issuer %s, client %q (public, PKCE):\n  go run ./examples/oidc-rp    then open http://127.0.0.1:9090 (docs/oidc.md)\n\n", r.PublicURL, c.ID)
		}
	}
	return ""
}

// redisLog sends the Redis client's own messages (dial failures, pool
// trouble) to the structured log instead of bare stderr lines.
type redisLog struct{ log *slog.Logger }

func (r redisLog) Printf(ctx context.Context, format string, v ...any) {
	r.log.Warn("redis client", "msg", fmt.Sprintf(format, v...))
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
