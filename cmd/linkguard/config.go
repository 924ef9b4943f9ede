package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/fingerprint"
	"github.com/linkguard/linkguard/kit"
	lgoidc "github.com/linkguard/linkguard/oidc"
	"github.com/linkguard/linkguard/web"
	"github.com/linkguard/linkguard/webhook"
)

// Config is every setting of `linkguard serve`. Default fills it; then a
// YAML file, then environment variables, then flags are laid on top.
type Config struct {
	Listen          string      `yaml:"listen"`
	PublicURL       string      `yaml:"public_url"`
	DataDir         string      `yaml:"data_dir"`
	Store           string      `yaml:"store"`
	APIKeys         []string    `yaml:"api_keys"`
	RedirectOrigins []string    `yaml:"redirect_origins"`
	RedirectPaths   []string    `yaml:"redirect_paths"`
	DefaultRedirect string      `yaml:"default_redirect"`
	TrustedProxies  []string    `yaml:"trusted_proxies"`
	SecretKeyFile   string      `yaml:"secret_key_file"`
	Dev             bool        `yaml:"dev"`
	GeoIP           GeoIPConfig `yaml:"geoip"`
	Mail            MailConfig  `yaml:"mail"`
	Links           LinksConfig `yaml:"links"`
	Brand           BrandConfig `yaml:"brand"`
	TemplatesDir    string      `yaml:"templates_dir"`
	// MessagesDir holds message files (<lang>.yaml) that add languages or
	// override shipped messages, for the pages and the mails.
	MessagesDir string `yaml:"messages_dir"`
	// DefaultLocale is the language of pages and mails that match no
	// offered one (default en).
	DefaultLocale   string        `yaml:"default_locale"`
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	Handoff         HandoffConfig `yaml:"handoff"`
	// MetricsListen is the Prometheus listener's address (off when empty).
	MetricsListen string    `yaml:"metrics_listen"`
	Log           LogConfig `yaml:"log"`
	// OIDC is the OpenID Provider, on when it lists clients (docs/oidc.md).
	OIDC lgoidc.Config `yaml:"oidc"`

	// Admin turns on the operator's console at /admin (docs/console.md).
	Admin AdminConfig `yaml:"admin"`
	// Webhooks are the endpoints told of link events (docs/webhooks.md).
	Webhooks []webhook.Endpoint `yaml:"webhooks"`
	// WebhookTimeout bounds one delivery; a crash's deliveries in flight
	// wait 3× it and 10 s more before they are sent again.
	WebhookTimeout time.Duration `yaml:"webhook_timeout"`

	Heuristics fingerprint.Config `yaml:"heuristics"`

	// file is the YAML file read, if any: where the console saves.
	file string
}

// AdminConfig is the operator's console.
type AdminConfig struct {
	// Emails may sign in to /admin; none: there is no console.
	Emails []string `yaml:"emails"`
}

// GeoIPConfig names the MaxMind databases.
type GeoIPConfig struct {
	City string `yaml:"city"`
	ASN  string `yaml:"asn"`
}

// HandoffConfig is how a consumption is handed to the host.
type HandoffConfig struct {
	// Assertion adds a signed Ed25519 JWT (lg_assertion) to redirects.
	Assertion bool `yaml:"assertion"`
}

// MailConfig is how email is sent.
type MailConfig struct {
	SMTPURL string `yaml:"smtp_url"`
	From    string `yaml:"from"`
	// TemplatesDir holds email templates (subject.txt, body.txt,
	// body.html) that replace the embedded ones.
	TemplatesDir string `yaml:"templates_dir"`
}

// LinksConfig holds the lifecycle's limits.
type LinksConfig struct {
	DefaultTTL      time.Duration `yaml:"default_ttl"`
	NonceMaxAge     time.Duration `yaml:"nonce_max_age"`
	HandoffTTL      time.Duration `yaml:"handoff_ttl"`
	MaxCodeAttempts int           `yaml:"max_code_attempts"`
	Retention       time.Duration `yaml:"retention"`
}

// BrandConfig is the look of the pages and mails.
type BrandConfig struct {
	Name    string `yaml:"name"`
	LogoURL string `yaml:"logo_url"`
	Accent  string `yaml:"accent"`
	Support string `yaml:"support"`
}

// Default returns the configuration with every default filled in: the
// kit's (kit.Defaults), and those of the command alone (where to listen,
// the data folder, logging, the shutdown grace).
func Default() Config {
	d := kit.Defaults()
	p := d.Policy
	return Config{
		Listen:  "127.0.0.1:8080",
		DataDir: "./data",
		Store:   "badger",
		Links: LinksConfig{
			DefaultTTL: p.DefaultTTL, NonceMaxAge: p.NonceMaxAge, HandoffTTL: p.HandoffTTL,
			MaxCodeAttempts: p.MaxCodeAttempts, Retention: d.Retention,
		},
		DefaultLocale:   p.DefaultLocale,
		Brand:           BrandConfig(d.Brand),
		Log:             LogConfig{Format: "text", Level: "info"},
		ShutdownTimeout: 10 * time.Second,
		WebhookTimeout:  webhook.DefaultTimeout,
		Heuristics:      *d.Heuristics,
		OIDC:            lgoidc.DefaultConfig(),
	}
}

// loadFile lays a YAML file over c. Unknown keys are errors naming the key.
func (c *Config) loadFile(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config file: %w", err)
	}
	d := yaml.NewDecoder(bytes.NewReader(b))
	d.KnownFields(true)
	if err := d.Decode(c); err != nil && !errors.Is(err, io.EOF) { // io.EOF: an empty file
		return fmt.Errorf("config file %s: %s", path, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	return nil
}

// envNames are the environment variables of docs/api.md (and a few more).
var envNames = []string{
	"LINKGUARD_LISTEN", "LINKGUARD_PUBLIC_URL", "LINKGUARD_DATA_DIR", "LINKGUARD_STORE",
	"LINKGUARD_API_KEYS", "LINKGUARD_REDIRECT_ORIGINS", "LINKGUARD_TRUSTED_PROXIES",
	"LINKGUARD_GEOIP_CITY", "LINKGUARD_GEOIP_ASN", "LINKGUARD_SMTP_URL", "LINKGUARD_MAIL_FROM",
	"LINKGUARD_DEV", "LINKGUARD_SECRET_KEY_FILE", "LINKGUARD_DEFAULT_REDIRECT", "LINKGUARD_TEMPLATES_DIR",
	"LINKGUARD_HANDOFF_ASSERTION", "LINKGUARD_MAIL_TEMPLATES_DIR", "LINKGUARD_REDIRECT_PATHS",
	"LINKGUARD_METRICS_LISTEN", "LINKGUARD_LOG_FORMAT", "LINKGUARD_LOG_LEVEL",
	"LINKGUARD_ADMIN_EMAILS", "LINKGUARD_MESSAGES_DIR", "LINKGUARD_DEFAULT_LOCALE",
}

// loadEnv lays the environment over c; getenv is os.Getenv outside tests.
func (c *Config) loadEnv(getenv func(string) string) error {
	list := func(v string) []string {
		var out []string
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
		return out
	}
	for _, name := range envNames {
		v := getenv(name)
		if v == "" {
			continue
		}
		switch name {
		case "LINKGUARD_LISTEN":
			c.Listen = v
		case "LINKGUARD_PUBLIC_URL":
			c.PublicURL = v
		case "LINKGUARD_DATA_DIR":
			c.DataDir = v
		case "LINKGUARD_STORE":
			c.Store = v
		case "LINKGUARD_API_KEYS":
			c.APIKeys = list(v)
		case "LINKGUARD_REDIRECT_ORIGINS":
			c.RedirectOrigins = list(v)
		case "LINKGUARD_REDIRECT_PATHS":
			c.RedirectPaths = list(v)
		case "LINKGUARD_TRUSTED_PROXIES":
			c.TrustedProxies = list(v)
		case "LINKGUARD_GEOIP_CITY":
			c.GeoIP.City = v
		case "LINKGUARD_GEOIP_ASN":
			c.GeoIP.ASN = v
		case "LINKGUARD_SMTP_URL":
			c.Mail.SMTPURL = v
		case "LINKGUARD_MAIL_FROM":
			c.Mail.From = v
		case "LINKGUARD_DEV":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("LINKGUARD_DEV=%q: use 1 or 0", v)
			}
			c.Dev = b
		case "LINKGUARD_MAIL_TEMPLATES_DIR":
			c.Mail.TemplatesDir = v
		case "LINKGUARD_HANDOFF_ASSERTION":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("LINKGUARD_HANDOFF_ASSERTION=%q: use 1 or 0", v)
			}
			c.Handoff.Assertion = b
		case "LINKGUARD_SECRET_KEY_FILE":
			c.SecretKeyFile = v
		case "LINKGUARD_DEFAULT_REDIRECT":
			c.DefaultRedirect = v
		case "LINKGUARD_TEMPLATES_DIR":
			c.TemplatesDir = v
		case "LINKGUARD_METRICS_LISTEN":
			c.MetricsListen = v
		case "LINKGUARD_LOG_FORMAT":
			c.Log.Format = v
		case "LINKGUARD_LOG_LEVEL":
			c.Log.Level = v
		case "LINKGUARD_MESSAGES_DIR":
			c.MessagesDir = v
		case "LINKGUARD_DEFAULT_LOCALE":
			c.DefaultLocale = v
		case "LINKGUARD_ADMIN_EMAILS":
			c.Admin.Emails = list(v)
		}
	}
	return nil
}

// options turns the configuration into the kit's options, without
// reading or creating anything: the server key file is serve's to read.
// The dev mode example client (examples/oidc-rp signs in against `make
// run` with no setup) is added here.
func (c *Config) options(log *slog.Logger) (kit.Options, error) {
	var errs []error
	var proxies []netip.Prefix
	for _, p := range c.TrustedProxies {
		pre, err := netip.ParsePrefix(p)
		if err != nil {
			a, aerr := netip.ParseAddr(p)
			if aerr != nil {
				errs = append(errs, fmt.Errorf("trusted proxy %q: want a CIDR like 10.0.0.0/8 or an address", p))
				continue
			}
			pre = netip.PrefixFrom(a, a.BitLen())
		}
		proxies = append(proxies, pre.Masked())
	}
	oidc := c.OIDC
	if c.Dev && len(oidc.Clients) == 0 {
		oidc.Clients = []lgoidc.ClientConfig{lgoidc.ExampleClient()}
	}
	h := c.Heuristics
	return kit.Options{
		PublicURL: c.PublicURL, Listen: c.Listen, DataDir: c.DataDir, Store: c.Store, APIKeys: c.APIKeys,
		RedirectOrigins: c.RedirectOrigins, RedirectPaths: c.RedirectPaths, DefaultRedirect: c.DefaultRedirect,
		TrustedProxies: proxies, Dev: c.Dev, Retention: c.Links.Retention, Heuristics: &h,
		Policy: linkguard.Policy{DefaultTTL: c.Links.DefaultTTL, NonceMaxAge: c.Links.NonceMaxAge,
			HandoffTTL: c.Links.HandoffTTL, MaxCodeAttempts: c.Links.MaxCodeAttempts, DefaultLocale: c.DefaultLocale},
		GeoIPCity: c.GeoIP.City, GeoIPASN: c.GeoIP.ASN, SMTPURL: c.Mail.SMTPURL, MailFrom: c.Mail.From,
		Brand: web.Brand(c.Brand), TemplatesDir: c.TemplatesDir, MailTemplatesDir: c.Mail.TemplatesDir,
		MessagesDir: c.MessagesDir, HandoffAssertion: c.Handoff.Assertion, OIDC: oidc, Log: log,
		Admin: kit.AdminOptions{Emails: c.Admin.Emails, ConfigFile: c.file}, Webhooks: c.Webhooks, WebhookTimeout: c.WebhookTimeout,
	}, errors.Join(errs...)
}

// validate checks c and returns the kit's options with their defaults
// filled in (kit.Options.Resolve checks the URLs, the store and the data
// folder). Every message names the setting and says what would be right.
// It creates nothing.
func (c *Config) validate() (kit.Options, error) {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }

	host, port, err := net.SplitHostPort(c.Listen)
	if err != nil {
		bad("listen %q: want host:port, like 127.0.0.1:8080", c.Listen)
	} else if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		bad("listen %q: port %q is not a number from 0 to 65535", c.Listen, port)
	} else if host != "" && net.ParseIP(host) == nil && host != "localhost" {
		bad("listen %q: host must be an IP address or localhost", c.Listen)
	}
	opts, err := c.options(nil)
	if err != nil {
		errs = append(errs, err)
	}
	opts, err = opts.Resolve()
	if err != nil {
		errs = append(errs, err)
	}
	if u, err := url.Parse(opts.PublicURL); err == nil && u.Scheme == "http" && !c.Dev {
		bad("public_url %q: outside dev mode links must use https (the device cookie is Secure); set LINKGUARD_DEV=1 for local use", opts.PublicURL)
	}
	if isRedis(c.Store) && c.SecretKeyFile == "" {
		// Instances sharing a Redis must hash and sign alike.
		bad("store %s: several instances share one Redis, so they must share the server key: set secret_key_file (LINKGUARD_SECRET_KEY_FILE) to the same 32-byte file on every instance", kit.RedactURL(c.Store))
	}

	if len(c.APIKeys) == 0 && !c.Dev {
		bad("api_keys: at least one API key is required outside dev mode (LINKGUARD_API_KEYS=key1,key2)")
	}
	for i, k := range c.APIKeys {
		if len(k) < 16 {
			bad("api_keys[%d]: a key must be at least 16 characters (it is %d)", i, len(k))
		}
	}
	l := c.Links
	if l.DefaultTTL < time.Minute || l.DefaultTTL > 24*time.Hour {
		bad("links.default_ttl %s: want between 1m and 24h", l.DefaultTTL)
	}
	if l.NonceMaxAge < time.Minute {
		bad("links.nonce_max_age %s: want at least 1m", l.NonceMaxAge)
	}
	if l.HandoffTTL < 5*time.Second || l.HandoffTTL > 10*time.Minute {
		bad("links.handoff_ttl %s: want between 5s and 10m", l.HandoffTTL)
	}
	if l.MaxCodeAttempts < 1 || l.MaxCodeAttempts > 20 {
		bad("links.max_code_attempts %d: want 1 to 20", l.MaxCodeAttempts)
	}
	if err := c.Heuristics.Validate(); err != nil {
		bad("heuristics: %v", err)
	}
	for _, p := range []struct{ name, path string }{{"geoip.city", c.GeoIP.City}, {"geoip.asn", c.GeoIP.ASN}} {
		if p.path == "" {
			continue
		}
		if _, err := os.Stat(p.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			bad("%s %q: %v", p.name, p.path, err)
		}
	}
	for _, d := range []struct{ name, path string }{{"templates_dir", c.TemplatesDir}, {"mail.templates_dir", c.Mail.TemplatesDir}, {"messages_dir", c.MessagesDir}} {
		if d.path == "" {
			continue
		}
		if st, err := os.Stat(d.path); err != nil || !st.IsDir() {
			bad("%s %q: not a readable folder", d.name, d.path)
		}
	}
	if len(c.OIDC.Clients) > 0 {
		if err := c.OIDC.Validate(c.Dev); err != nil {
			errs = append(errs, err)
		}
		if isRedis(c.Store) && c.DataDir == "" {
			bad("oidc: with a redis store, data_dir must hold the ID token signing keys (assertion.key, oidc-rs256.key), the same files on every instance")
		}
	}
	if _, err := newLogger(c.Log, io.Discard); err != nil {
		bad("%v", err)
	}
	if c.MetricsListen != "" {
		if _, _, err := net.SplitHostPort(c.MetricsListen); err != nil {
			bad("metrics_listen %q: want host:port, like 127.0.0.1:9464 (LINKGUARD_METRICS_LISTEN)", c.MetricsListen)
		}
	}
	for i, e := range c.Admin.Emails {
		if at := strings.LastIndexByte(e, '@'); at < 1 || at == len(e)-1 || strings.ContainsAny(e, " ,<>") {
			bad("admin.emails[%d] %q: want one address like ops@example.com (LINKGUARD_ADMIN_EMAILS=a@example.com,b@example.com)", i, e)
		}
	}
	if err := webhook.CheckEndpoints(c.Webhooks); err != nil {
		bad("%v", err)
	}
	if c.WebhookTimeout < time.Second || c.WebhookTimeout > time.Minute {
		bad("webhook_timeout %s: want 1s to 1m, like 10s", c.WebhookTimeout)
	}
	return opts, errors.Join(errs...)
}

// isRedis reports whether a store setting names a Redis server or a
// Redis Cluster (redis+cluster://, rediss+cluster://).
func isRedis(store string) bool {
	kind, _ := kit.StoreKind(store)
	return kind == "redis"
}
