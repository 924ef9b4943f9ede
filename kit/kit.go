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
	"encoding/base64"
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
	"github.com/linkguard/linkguard/internal/keyfile"
	"github.com/linkguard/linkguard/mail"
	lgoidc "github.com/linkguard/linkguard/oidc"
	"github.com/linkguard/linkguard/server"
	"github.com/linkguard/linkguard/web"
	"github.com/linkguard/linkguard/web/i18n"
	"github.com/linkguard/linkguard/webhook"
)

// Options are the kit's settings, already parsed. Zero values take the
// defaults that withDefaults fills in (the one place they are written);
// PublicURL, or Listen to derive it from, is required.
type Options struct {
	// PublicURL is the address links start with, including the path the
	// kit is mounted under ("https://example.com/auth"). Default: http://
	// and Listen.
	PublicURL string
	// Listen is the address of the kit's own listener when it has one
	// (linkguard serve); "" when the kit is mounted in another app.
	Listen string
	// DataDir is the folder of the key files and, with a Badger store, of
	// the store. The kit creates it (0700) when it needs it. Empty keeps
	// everything in memory (tests and demos only: nothing survives a
	// restart). Default: the folder of a badger:///path Store.
	DataDir string
	// Store names the store, opened by the kit and closed by Close:
	//   ""  or "badger"   Badger in DataDir (in memory when DataDir is "")
	//   badger:///path    Badger in /path
	//   memory            Badger in memory
	//   redis://[:password@]host:port/db, rediss://…, redis+cluster://
	//                     host:port,host:port: a Redis (Cluster) shared by
	//                     several instances; key_prefix=… in the query
	//                     sets the prefix of its keys (default lg:)
	Store string
	// SecretKey is the server key (32 bytes or more). Empty: read from, or
	// created in, DataDir/server.key (random, in memory, without DataDir).
	SecretKey []byte
	// APIKeys are the bearer keys of the /v1 API. Empty in dev mode: one
	// key kept in DataDir/dev-api-key (Options() shows it).
	APIKeys []string
	// RedirectOrigins are the allowed redirect origins. Default: the
	// public URL's own origin, which is also always allowed in dev mode
	// (the demo site) and with OIDC clients (sign-ins come back to it).
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
	// Retention is how long finished links are kept (default
	// linkguard.DefaultRetention, 7 days); visits are kept a day longer
	// (linkguard.VisitTTL), in every store.
	Retention time.Duration
	// Heuristics configures the decision engine; nil: the defaults.
	Heuristics *fingerprint.Config
	// Decider, when set, replaces the engine's decisions (tests, or a
	// site's own rules). The engine still marks scanner ranges.
	Decider fingerprint.Decider
	// GeoIPCity and GeoIPASN are MaxMind database paths (optional).
	GeoIPCity, GeoIPASN string
	// SMTPURL and MailFrom configure mail delivery (optional). MailFrom
	// defaults to linkguard@ and the public URL's host.
	SMTPURL, MailFrom string
	// Brand is the look of pages and mails; empty fields take package
	// brand's defaults.
	Brand        web.Brand
	TemplatesDir string
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
	// WebhookTimeout bounds one delivery (0: webhook.DefaultTimeout).
	WebhookTimeout time.Duration
	Log            *slog.Logger
}

// Defaults are the options a kit runs with when none is set: what
// withDefaults fills in. linkguard serve's configuration starts from them.
func Defaults() Options { return Options{}.withDefaults() }

// withDefaults fills every zero field that has a default: the one place
// the kit's defaults are written. It reads and writes nothing.
func (o Options) withDefaults() Options {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.PublicURL == "" && o.Listen != "" {
		o.PublicURL = "http://" + o.Listen
	}
	o.PublicURL = strings.TrimRight(o.PublicURL, "/")
	if kind, dir := StoreKind(o.Store); kind == "badger" && o.DataDir == "" {
		o.DataDir = dir
	}
	if o.Retention == 0 {
		o.Retention = linkguard.DefaultRetention
	}
	o.Policy = fillPolicy(o.Policy)
	if o.Heuristics == nil {
		h := fingerprint.DefaultConfig()
		o.Heuristics = &h
	}
	o.Brand = o.Brand.WithDefaults()
	if pu, err := url.Parse(o.PublicURL); err == nil && pu.Host != "" {
		if len(o.RedirectOrigins) == 0 {
			o.RedirectOrigins = []string{linkguard.Origin(pu)}
		}
		if o.MailFrom == "" {
			o.MailFrom = "linkguard@" + pu.Hostname()
		}
	}
	return o
}

// Resolve returns the options with every default filled in, or an error
// naming each setting that cannot work. It creates nothing: New does
// that, when it opens the store and the key files.
func (o Options) Resolve() (Options, error) {
	o = o.withDefaults()
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	pu, err := url.Parse(o.PublicURL)
	if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" || pu.RawQuery != "" || pu.Fragment != "" {
		bad("public_url %q: want an absolute http or https URL like https://kit.example.com", o.PublicURL)
	}
	origins := make([]string, 0, len(o.RedirectOrigins))
	for _, s := range o.RedirectOrigins {
		ou, err := url.Parse(s)
		if err != nil || (ou.Scheme != "http" && ou.Scheme != "https") || ou.Host == "" || strings.Trim(ou.Path, "/") != "" || ou.RawQuery != "" || ou.User != nil {
			bad("redirect origin %q is not an origin: want scheme://host[:port], like https://app.example.com", s)
			continue
		}
		origins = append(origins, linkguard.Origin(ou))
	}
	o.RedirectOrigins = origins
	for _, p := range o.RedirectPaths {
		pu, err := url.Parse(p)
		if err != nil || pu.Host == "" || !slices.Contains(o.RedirectOrigins, linkguard.Origin(pu)) || pu.RawQuery != "" || pu.Fragment != "" {
			bad("redirect path %q: want an allowed origin with a path prefix, like https://app.example.com/auth/", p)
		}
	}
	if o.DefaultRedirect != "" {
		if du, err := url.Parse(o.DefaultRedirect); err != nil || du.Host == "" {
			bad("default_redirect %q: want an absolute URL", o.DefaultRedirect)
		}
	}
	switch kind, _ := StoreKind(o.Store); kind {
	case "":
		bad("store %q: want badger, badger:///path, memory, a redis:// URL, or a redis+cluster:// URL", RedactURL(o.Store))
	case "badger":
		if o.Store == "badger" && o.DataDir == "" {
			bad("data_dir: required with the badger store")
		}
	}
	if o.DataDir != "" {
		if err := checkDir(o.DataDir); err != nil {
			bad("data_dir %q: %v", o.DataDir, err)
		}
	}
	if len(errs) > 0 {
		return o, errors.Join(errs...)
	}
	return o, nil
}

// Kit is a running linkguard.
type Kit struct {
	Service *linkguard.Service
	Server  *server.Server
	Engine  *fingerprint.Engine
	Outbox  *mail.Outbox // dev mode only
	opts    Options
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
	console   *admin.Console // nil without admin addresses
	webhooks  *webhook.Dispatcher
	mailHooks mailHooks
}

// New builds a kit: it opens the store and the key files (creating the
// data folder and missing keys), then assembles the service, the pages,
// mail and the HTTP server. Call Start to run its background work, and
// Close to release it.
func New(opts Options) (_ *Kit, err error) {
	o, err := opts.Resolve()
	if err != nil {
		return nil, err
	}
	k := &Kit{opts: o, log: o.Log}
	defer func() {
		if err != nil && k.store != nil {
			k.store.Close() // the one cleanup path of a failed New
		}
	}()
	if err := k.open(); err != nil {
		return nil, err
	}
	if err := k.assemble(); err != nil {
		return nil, err
	}
	return k, nil
}

// open reads or creates what lives on disk or across the network: the
// data folder, the server key, the dev API key, the store, GeoIP.
func (k *Kit) open() error {
	o := &k.opts
	if o.DataDir != "" {
		if err := os.MkdirAll(o.DataDir, 0o700); err != nil {
			return fmt.Errorf("data_dir %q: cannot create it: %w", o.DataDir, err)
		}
	}
	if o.SecretKey == nil {
		var err error
		if o.SecretKey, err = k.keyFile("server.key", "server key", randomBytes(32)); err != nil {
			return err
		}
		if len(o.SecretKey) < 32 {
			path := filepath.Join(o.DataDir, "server.key")
			return fmt.Errorf("server key %s is %d bytes; it must hold at least 32 random bytes (head -c 32 /dev/urandom > %s)", path, len(o.SecretKey), path)
		}
	}
	if o.Dev && len(o.APIKeys) == 0 {
		// Kept in the data folder, so that the printed curl line keeps
		// working across restarts.
		b, err := k.keyFile("dev-api-key", "dev API key", func() ([]byte, error) {
			raw, err := randomBytes(18)()
			return []byte("dev_" + base64.RawURLEncoding.EncodeToString(raw) + "\n"), err
		})
		if err != nil {
			return err
		}
		key := strings.TrimSpace(string(b))
		if len(key) < 16 {
			return fmt.Errorf("dev API key %s: shorter than 16 characters; remove the file to get a new one", filepath.Join(o.DataDir, "dev-api-key"))
		}
		o.APIKeys = []string{key}
	}
	if o.GeoIPCity != "" || o.GeoIPASN != "" {
		var err error
		if k.geo, err = geoip.OpenWithLogger(o.GeoIPCity, o.GeoIPASN, k.log); err != nil {
			return fmt.Errorf("geoip: %w", err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	st, err := OpenStore(ctx, *o)
	if err != nil {
		return err
	}
	k.store = st
	return nil
}

// keyFile is the data folder's file name, created by gen at first start;
// without a data folder, gen's bytes in memory.
func (k *Kit) keyFile(name, what string, gen func() ([]byte, error)) ([]byte, error) {
	if k.opts.DataDir == "" {
		return gen()
	}
	path := filepath.Join(k.opts.DataDir, name)
	b, created, err := keyfile.LoadOrCreate(path, gen)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if created {
		k.log.Info("created a new "+what, "path", path)
	}
	return b, nil
}

// randomBytes makes n random bytes.
func randomBytes(n int) func() ([]byte, error) {
	return func() ([]byte, error) {
		b := make([]byte, n)
		_, err := rand.Read(b)
		return b, err
	}
}

// assemble builds the service, pages, mail, assertions, OIDC and server
// over what open opened.
func (k *Kit) assemble() error {
	o := &k.opts
	keys, err := linkguard.NewKeys(o.SecretKey)
	if err != nil {
		return err
	}
	if k.Engine, err = fingerprint.NewEngine(*o.Heuristics); err != nil {
		return fmt.Errorf("heuristics: %w", err)
	}
	pu, _ := url.Parse(o.PublicURL) // Resolve checked it
	pol := o.Policy
	pol.PublicURL, pol.DefaultRedirect, pol.RedirectPaths = o.PublicURL, o.DefaultRedirect, o.RedirectPaths
	pol.RedirectOrigins = o.RedirectOrigins
	if (o.Dev || len(o.OIDC.Clients) > 0) && !slices.Contains(pol.RedirectOrigins, linkguard.Origin(pu)) {
		// The demo site and the OpenID Provider's sign-ins come back to
		// the kit itself.
		pol.RedirectOrigins = append(slices.Clip(pol.RedirectOrigins), linkguard.Origin(pu))
	}
	var decider fingerprint.Decider = k.Engine
	if o.Decider != nil {
		decider = o.Decider
	}
	if k.catalog, err = i18n.New(o.MessagesDir, pol.DefaultLocale); err != nil {
		return fmt.Errorf("messages: %w", err)
	}
	k.Service = &linkguard.Service{Store: k.store, Keys: keys, Decider: decider, Policy: pol, Log: k.log,
		Locator: locators{geo: k.geo, engine: k.Engine}, MatchLocale: k.catalog.Match}

	site, err := web.New(web.Options{Brand: o.Brand, TemplatesDir: o.TemplatesDir, BasePath: strings.TrimRight(pu.Path, "/"), Catalog: k.catalog})
	if err != nil {
		return err
	}
	if !site.HasCollector() {
		k.log.Warn("this binary has no WebAssembly collector (built without make): landing pages report no signals, so visitors without the device cookie are asked for the code")
	}
	mailOn, err := k.setupMail(*o, keys)
	if err != nil {
		return err
	}
	var jwks []byte
	if o.HandoffAssertion {
		signer, err := k.setupAssertion(*o, o.PublicURL)
		if err != nil {
			return err
		}
		jwks = signer.JWKS()
	}
	provider, err := k.setupOIDC(*o, o.PublicURL, o.SecretKey)
	if err != nil {
		return err
	}
	k.Server, err = server.New(server.Options{
		Service: k.Service, Site: site, APIKeys: o.APIKeys, TrustedProxies: o.TrustedProxies,
		Dev: o.Dev, Demo: o.Dev, MailConfigured: mailOn, Outbox: k.Outbox, JWKS: jwks, Log: k.log,
		OIDC: provider,
	})
	if err != nil {
		return err
	}
	return k.setupEvents(*o, o.PublicURL)
}

// Options are the options the kit runs with: every default filled in,
// and the keys it read or created (the dev API key among them).
// NB: they hold the secrets; never log them whole.
func (k *Kit) Options() Options { return k.opts }

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
		if k.console != nil {
			// Sign-in links asked for just before the stop are issued
			// (and their mail queued) while the store is open.
			k.console.Wait()
		}
		if k.stop != nil {
			k.stop()
		}
		k.wg.Wait()
		err = k.store.Close()
	})
	return err
}
