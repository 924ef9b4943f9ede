// Package kit assembles a whole linkguard from plain options: store, keys,
// decision engine, GeoIP, mail, pages and HTTP server. The linkguard
// command uses it, and so can a Go program that mounts the kit in its own
// Fiber app or net/http mux.
package kit

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/admin"
	"github.com/linkguard/linkguard/fingerprint"
	"github.com/linkguard/linkguard/fingerprint/geoip"
	"github.com/linkguard/linkguard/mail"
	lgoidc "github.com/linkguard/linkguard/oidc"
	"github.com/linkguard/linkguard/server"
	badgerstore "github.com/linkguard/linkguard/store/badger"
	"github.com/linkguard/linkguard/web"
	"github.com/linkguard/linkguard/web/i18n"
	"github.com/linkguard/linkguard/webhook"
)

// Options are the kit's settings, already parsed. Zero values take the
// documented defaults; PublicURL is required.
type Options struct {
	// PublicURL is the address links start with, including the path the
	// kit is mounted under ("https://example.com/auth").
	PublicURL string
	// DataDir is the Badger folder; empty keeps everything in memory
	// (tests and demos only: nothing survives a restart).
	DataDir string
	// Store, when set, is used instead of Badger (for instance a shared
	// Redis store, for several instances). The kit closes it on Close.
	Store linkguard.Store
	// SecretKey is the server key (32 bytes or more). Empty: read from, or
	// created in, DataDir/server.key.
	SecretKey []byte
	// APIKeys are the bearer keys of the /v1 API.
	APIKeys []string
	// RedirectOrigins are the allowed redirect origins; empty allows the
	// public URL's own origin.
	RedirectOrigins []string
	// RedirectPaths narrows the origins it names to path prefixes
	// ("https://app.example.com/auth/"); see linkguard.Policy.
	RedirectPaths []string
	// DefaultRedirect is used when a request names no redirect_url.
	DefaultRedirect string
	TrustedProxies  []netip.Prefix
	// Dev turns on the outbox, plain-http cookies and the demo site.
	Dev bool
	// Policy holds the lifecycle limits; zero fields take DefaultPolicy's.
	Policy linkguard.Policy
	// Retention is how long finished links are kept (default 7 days).
	Retention time.Duration
	// Heuristics configures the decision engine; nil: the defaults.
	Heuristics *fingerprint.Config
	// Decider, when set, replaces the engine's decisions (tests, or a
	// site's own rules). The engine still marks scanner ranges.
	Decider fingerprint.Decider
	// GeoIPCity and GeoIPASN are MaxMind database paths (optional).
	GeoIPCity, GeoIPASN string
	// SMTPURL and MailFrom configure mail delivery (optional).
	SMTPURL, MailFrom string
	Brand             web.Brand
	TemplatesDir      string
	// MailTemplatesDir overrides the embedded email templates.
	MailTemplatesDir string
	// MessagesDir holds message files (<lang>.yaml) that add languages
	// to the pages and mails, or override shipped messages (web/i18n).
	MessagesDir string
	// HandoffAssertion adds a signed Ed25519 JWT (lg_assertion) to every
	// redirect, verifiable with the JWKS at /.well-known/jwks.json.
	HandoffAssertion bool
	// AssertionKey is the signing key; nil: DataDir/assertion.key.
	AssertionKey ed25519.PrivateKey
	// OIDC turns on the OpenID Provider when it lists clients (oidc.go).
	OIDC lgoidc.Config
	// Admin turns on the operator's console at /admin (admin.go).
	Admin AdminOptions
	// Webhooks are the endpoints told of link events (docs/webhooks.md).
	Webhooks []webhook.Endpoint
	Log      *slog.Logger
}

// Kit is a running linkguard.
type Kit struct {
	Service *linkguard.Service
	Server  *server.Server
	Engine  *fingerprint.Engine
	Outbox  *mail.Outbox // dev mode only
	store   linkguard.Store
	geo     *geoip.Reader
	deliver *mail.Deliverer
	log     *slog.Logger
	catalog *i18n.Catalog
	stop    context.CancelFunc
	wg      sync.WaitGroup
	closeMu sync.Once
	// counter, webhooks and mailHooks are the event listeners (admin.go).
	counter   *admin.Counter
	webhooks  *webhook.Dispatcher
	mailHooks mailHooks
}

// New builds a kit. Call Start to run its background work, and Close to
// release it.
func New(opts Options) (*Kit, error) {
	log := opts.Log
	if log == nil {
		log = slog.Default()
	}
	pu, err := url.Parse(opts.PublicURL)
	if err != nil || pu.Host == "" || (pu.Scheme != "http" && pu.Scheme != "https") {
		return nil, fmt.Errorf("public URL %q: want an absolute http or https URL", opts.PublicURL)
	}
	base := strings.TrimRight(pu.Path, "/")
	publicURL := strings.TrimRight(opts.PublicURL, "/")

	secret := opts.SecretKey
	if secret == nil {
		if opts.DataDir == "" {
			secret = make([]byte, 32)
			rand.Read(secret)
		} else if secret, err = loadOrCreateSecret(filepath.Join(opts.DataDir, "server.key"), log); err != nil {
			return nil, err
		}
	}
	keys, err := linkguard.NewKeys(secret)
	if err != nil {
		return nil, err
	}

	hcfg := fingerprint.DefaultConfig()
	if opts.Heuristics != nil {
		hcfg = *opts.Heuristics
	}
	engine, err := fingerprint.NewEngine(hcfg)
	if err != nil {
		return nil, fmt.Errorf("heuristics: %w", err)
	}
	var geo *geoip.Reader
	if opts.GeoIPCity != "" || opts.GeoIPASN != "" {
		if geo, err = geoip.OpenWithLogger(opts.GeoIPCity, opts.GeoIPASN, log); err != nil {
			return nil, fmt.Errorf("geoip: %w", err)
		}
	}

	st := opts.Store
	if st == nil {
		if st, err = badgerstore.Open(badgerstore.Options{Dir: opts.DataDir, Retention: opts.Retention, Log: log}); err != nil {
			return nil, err
		}
	}
	k := &Kit{Engine: engine, store: st, geo: geo, log: log}

	pol := fillPolicy(opts.Policy)
	pol.PublicURL, pol.DefaultRedirect = publicURL, opts.DefaultRedirect
	pol.RedirectOrigins = opts.RedirectOrigins
	pol.RedirectPaths = opts.RedirectPaths
	if len(pol.RedirectOrigins) == 0 || len(opts.OIDC.Clients) > 0 && !slices.Contains(pol.RedirectOrigins, linkguard.Origin(pu)) {
		// The OpenID Provider's sign-ins come back to the kit itself.
		pol.RedirectOrigins = append(slices.Clip(pol.RedirectOrigins), linkguard.Origin(pu))
	}
	var decider fingerprint.Decider = engine
	if opts.Decider != nil {
		decider = opts.Decider
	}
	cat, err := i18n.New(opts.MessagesDir, pol.DefaultLocale)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("messages: %w", err)
	}
	k.catalog = cat
	svc := &linkguard.Service{Store: st, Keys: keys, Decider: decider, Policy: pol, Log: log,
		Locator: locators{geo: geo, engine: engine}, MatchLocale: cat.Match}
	k.Service = svc

	site, err := web.New(web.Options{Brand: opts.Brand, TemplatesDir: opts.TemplatesDir, BasePath: base, Catalog: cat})
	if err != nil {
		st.Close()
		return nil, err
	}
	if !site.HasCollector() {
		log.Warn("this binary has no WebAssembly collector (built without make): landing pages report no signals, so visitors without the device cookie are asked for the code")
	}

	mailOn, err := k.setupMail(opts, keys)
	if err != nil {
		st.Close()
		return nil, err
	}

	var jwks []byte
	if opts.HandoffAssertion {
		signer, err := k.setupAssertion(opts, publicURL)
		if err != nil {
			st.Close()
			return nil, err
		}
		jwks = signer.JWKS()
	}

	provider, err := k.setupOIDC(opts, publicURL, secret)
	if err != nil {
		st.Close()
		return nil, err
	}

	srv, err := server.New(server.Options{
		Service: svc, Site: site, APIKeys: opts.APIKeys, TrustedProxies: opts.TrustedProxies,
		Dev: opts.Dev, Demo: opts.Dev, MailConfigured: mailOn, Outbox: k.Outbox, JWKS: jwks, Log: log,
		OIDC: provider,
	})
	if err != nil {
		st.Close()
		return nil, err
	}
	k.Server = srv
	if err := k.setupEvents(opts, publicURL); err != nil {
		st.Close()
		return nil, err
	}
	return k, nil
}

// fillPolicy gives every zero field of p its DefaultPolicy value.
func fillPolicy(p linkguard.Policy) linkguard.Policy {
	d := linkguard.DefaultPolicy()
	p.DefaultTTL = or(p.DefaultTTL, d.DefaultTTL)
	p.MinTTL = or(p.MinTTL, d.MinTTL)
	p.MaxTTL = or(p.MaxTTL, d.MaxTTL)
	p.NonceMaxAge = or(p.NonceMaxAge, d.NonceMaxAge)
	p.HandoffTTL = or(p.HandoffTTL, d.HandoffTTL)
	p.MaxCodeAttempts = or(p.MaxCodeAttempts, d.MaxCodeAttempts)
	p.MaxMetadata = or(p.MaxMetadata, d.MaxMetadata)
	p.DefaultLocale = or(p.DefaultLocale, d.DefaultLocale)
	return p
}

// or is v, or def when v is the zero value.
func or[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// locators fills a Network from GeoIP, then marks configured scanner ranges.
type locators struct {
	geo    *geoip.Reader
	engine *fingerprint.Engine
}

func (l locators) Locate(ip netip.Addr, n *fingerprint.Network) {
	if l.geo != nil {
		l.geo.Locate(ip, n)
	}
	l.engine.MarkRanges(ip, n)
}

// Start runs the kit's background work (mail delivery, webhooks, the
// console's counters) until ctx ends or
// Close is called.
func (k *Kit) Start(ctx context.Context) {
	ctx, k.stop = context.WithCancel(ctx)
	k.startEvents(ctx)
	if k.deliver != nil {
		k.wg.Add(1)
		go func() {
			defer k.wg.Done()
			if err := k.deliver.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
				k.log.Error("mail deliverer stopped", "err", err)
			}
		}()
	}
}

// App is the kit's Fiber app.
func (k *Kit) App() *fiber.App { return k.Server.App() }

// Mount serves the kit in parent under prefix, which must match the path
// of the public URL.
func (k *Kit) Mount(parent *fiber.App, prefix string) {
	parent.Mount(prefix, k.App())
}

// Handler serves the kit as a net/http handler (through Fiber's adaptor),
// for http.ServeMux or any router: mount it with http.StripPrefix when the
// public URL has a path.
//
// NB: the adaptor routes on r.RequestURI, which http.StripPrefix (and most
// routers) leave unchanged, so the request URI is rebuilt from r.URL.
func (k *Kit) Handler() http.Handler {
	h := adaptor.FiberApp(k.App())
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r2 := new(http.Request)
		*r2 = *r
		r2.RequestURI = r.URL.RequestURI()
		if r.Body != nil && r.Body != http.NoBody {
			// The adaptor reads the whole body into memory: read at most
			// one byte past the limit, which the app then refuses (413).
			b, err := io.ReadAll(io.LimitReader(r.Body, server.MaxBody+1))
			if err != nil {
				http.Error(w, "cannot read the request body", http.StatusBadRequest)
				return
			}
			r2.Body = io.NopCloser(bytes.NewReader(b))
		}
		h.ServeHTTP(w, r2)
	})
}

// Reload re-reads the GeoIP databases and, when cfg is not nil, swaps in a
// new heuristics configuration (SIGHUP). A bad configuration is refused and
// the running one stays.
func (k *Kit) Reload(cfg *fingerprint.Config) error {
	var errs []error
	if k.geo != nil {
		if err := k.geo.Reload(); err != nil {
			errs = append(errs, fmt.Errorf("geoip: %w", err))
		}
	}
	if cfg != nil {
		if err := k.Engine.Swap(*cfg); err != nil {
			errs = append(errs, fmt.Errorf("heuristics: %w", err))
		}
	}
	return errors.Join(errs...)
}

// Close stops background work, waits for mail in flight, and closes the
// store. The HTTP server is the caller's to shut down first.
func (k *Kit) Close() error {
	var err error
	k.closeMu.Do(func() {
		if k.stop != nil {
			k.stop()
		}
		k.wg.Wait()
		err = k.store.Close()
	})
	return err
}

// loadOrCreateSecret reads the server key, creating it (0600) at first start.
func loadOrCreateSecret(path string, log *slog.Logger) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("create data folder: %w", err)
		}
		b = make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
		if err := os.WriteFile(path, b, 0o600); err != nil {
			return nil, fmt.Errorf("create server key: %w", err)
		}
		log.Info("created a new server key", "path", path)
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
