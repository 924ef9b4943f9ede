// Command linkguard runs the linkguard server and its operator tools.
//
//	linkguard serve [--config FILE] [--listen ADDR] [--dev]
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
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/fingerprint"
	"github.com/linkguard/linkguard/server"
	badgerstore "github.com/linkguard/linkguard/store/badger"
	"github.com/linkguard/linkguard/web"
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
	case "version":
		fmt.Fprintln(stdout, "linkguard", version)
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
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	slog.SetDefault(log)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	secret, err := loadSecret(cfg)
	if err != nil {
		return err
	}
	keys, err := linkguard.NewKeys(secret)
	if err != nil {
		return err
	}
	if cfg.Dev && len(cfg.APIKeys) == 0 {
		k, err := devAPIKey(cfg.DataDir)
		if err != nil {
			return err
		}
		cfg.APIKeys = []string{k}
	}
	st, err := badgerstore.Open(badgerstore.Options{Dir: cfg.DataDir, Retention: cfg.Links.Retention, Log: log})
	if err != nil {
		return err
	}
	defer func() {
		if err := st.Close(); err != nil {
			log.Error("close store", "err", err)
		}
	}()

	engine, err := fingerprint.NewEngine(cfg.Heuristics)
	if err != nil {
		return fmt.Errorf("heuristics: %w", err)
	}
	pol := linkguard.DefaultPolicy()
	pol.DefaultTTL, pol.NonceMaxAge, pol.HandoffTTL = cfg.Links.DefaultTTL, cfg.Links.NonceMaxAge, cfg.Links.HandoffTTL
	pol.MaxCodeAttempts = cfg.Links.MaxCodeAttempts
	pol.RedirectOrigins, pol.DefaultRedirect, pol.PublicURL = r.RedirectOrigins, cfg.DefaultRedirect, r.PublicURL
	svc := &linkguard.Service{Store: st, Keys: keys, Decider: engine, Policy: pol, Log: log}

	site, err := web.New(web.Options{TemplatesDir: cfg.TemplatesDir, Brand: web.Brand(cfg.Brand)})
	if err != nil {
		return err
	}
	if !site.HasCollector() {
		log.Warn("this binary has no WebAssembly collector (built without make): pages fall back to the code and Continue without signals")
	}
	srv, err := server.New(server.Options{
		Service: svc, Site: site, APIKeys: cfg.APIKeys, TrustedProxies: r.TrustedProxies,
		Dev: cfg.Dev, Log: log,
	})
	if err != nil {
		return err
	}

	errc := make(chan error, 1)
	go func() { errc <- srv.App().Listen(cfg.Listen) }()
	log.Info("linkguard listening", "addr", cfg.Listen, "public_url", r.PublicURL, "dev", cfg.Dev, "version", version)
	if cfg.Dev {
		printDevHelp(stdout, cfg, r)
	}
	select {
	case err := <-errc:
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	if err := srv.App().ShutdownWithTimeout(cfg.ShutdownTimeout); err != nil {
		log.Error("shutdown", "err", err)
	}
	return nil
}

// loadSecret reads the server key, creating it (0600) at first start.
func loadSecret(cfg *Config) ([]byte, error) {
	path := cfg.SecretKeyFile
	if path == "" {
		path = filepath.Join(cfg.DataDir, "server.key")
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) && cfg.SecretKeyFile == "" {
		b = make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
		if err := os.WriteFile(path, b, 0o600); err != nil {
			return nil, fmt.Errorf("create server key: %w", err)
		}
		slog.Info("created a new server key", "path", path)
		return b, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read server key: %w", err)
	}
	if len(b) < 32 {
		return nil, fmt.Errorf("server key %s is %d bytes; it must hold at least 32 random bytes (head -c 32 /dev/urandom > %s)", path, len(b), path)
	}
	return b, nil
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

  dev API key: %[2]s

Issue a link:
  curl -s -X POST %[1]s/v1/links \
    -H 'Authorization: Bearer %[2]s' -H 'Content-Type: application/json' \
    -d '{"email":"alice@example.com","redirect_url":"%[3]s/"}'

Open the "url" it returns in a browser, press Continue, and you land on the
redirect with ?lg_code=...; then exchange the code, once:
  curl -s -X POST %[1]s/v1/exchange \
    -H 'Authorization: Bearer %[2]s' -H 'Content-Type: application/json' \
    -d '{"code":"<lg_code>"}'

Stop with Ctrl-C.
`, r.PublicURL, cfg.APIKeys[0], r.RedirectOrigins[0])
}
