// Package server is linkguard over HTTP, with Fiber v2: routes, handlers,
// middleware and the one place where errors become statuses. Handlers
// parse, validate, call one method of linkguard.Service and render.
package server

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/limiter"
	"github.com/gofiber/fiber/v2/middleware/recover"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/internal/memo"
	"github.com/linkguard/linkguard/mail"
	"github.com/linkguard/linkguard/web"
)

// MaxBody is the largest request body accepted (docs/api.md: 413 above it).
const MaxBody = 64 << 10

// Options configure a Server.
type Options struct {
	Service *linkguard.Service
	Site    *web.Site
	// APIKeys are the accepted bearer keys of the /v1 routes.
	APIKeys []string
	// TrustedProxies are the networks whose X-Forwarded-For is believed.
	TrustedProxies []netip.Prefix
	// Dev turns on dev mode: the outbox routes and a plain-http cookie name.
	Dev bool
	// MailConfigured makes send_email default to true and enables the
	// hosted sign-in.
	MailConfigured bool
	// Outbox is the dev outbox behind /dev/outbox (dev mode only).
	Outbox *mail.Outbox
	// Demo serves the demo host site at /demo.
	Demo bool
	// JWKS, when set, is served at /.well-known/jwks.json (signed
	// assertions are on).
	JWKS []byte
	// OIDC, when set, is the OpenID Provider (package oidc): it answers
	// /.well-known/openid-configuration and everything under /oidc/.
	OIDC http.Handler
	Log  *slog.Logger
	// Metrics, when set, records every request (server/metrics.go).
	Metrics RequestRecorder
	// AccessLog writes one info line per request (server/metrics.go).
	AccessLog bool
	// ReadyChecks are checked by GET /readyz after the store (health.go).
	ReadyChecks []ReadyCheck
}

// Server is the HTTP face of a Service.
type Server struct {
	app  *fiber.App
	opts Options
	svc  *linkguard.Service
	site *web.Site
	log  *slog.Logger
	keys [][32]byte // sha256 of each API key, compared in constant time
	// limits are the hosted sign-in's counts: the store's, or this
	// instance's when the store keeps none.
	limits linkguard.Limiter
	csp    string // the pages' Content-Security-Policy
	// cspForm is the CSP of a page whose form is answered by a 303 to the
	// host (formRedirectCSP): [0] for an https redirect, [1] for http.
	cspForm [2]string
	// inst holds the metrics recorder, the access log switch and the
	// readiness checks: Options', or Instrument's (metrics.go).
	inst atomic.Pointer[instruments]
	// notReady is the last /readyz answer, to log changes once.
	notReady atomic.Bool
	// backURLs is backURL's answer by redirect address.
	backURLs memo.Table[string]
}

// New builds the Fiber app with every route of docs/api.md.
func New(opts Options) (*Server, error) {
	if opts.Service == nil || opts.Site == nil {
		return nil, errors.New("server: Service and Site are required")
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	logo := opts.Site.Brand().LogoURL
	s := &Server{opts: opts, svc: opts.Service, site: opts.Site, log: opts.Log, csp: pageCSP(logo),
		cspForm: [2]string{pageCSP(logo, "https:"), pageCSP(logo, "https:", "http:")}}
	s.limits, _ = opts.Service.Store.(linkguard.Limiter)
	if s.limits == nil {
		s.limits = &memLimits{}
	}
	for _, k := range opts.APIKeys {
		s.keys = append(s.keys, sha256.Sum256([]byte(k)))
	}
	s.app = fiber.New(fiber.Config{
		AppName:               "linkguard",
		BodyLimit:             MaxBody,
		DisableStartupMessage: true,
		ErrorHandler:          s.errorHandler,
		ReadBufferSize:        16 << 10,
	})
	s.inst.Store(&instruments{rec: opts.Metrics, accessLog: opts.AccessLog, ready: opts.ReadyChecks})
	s.app.Use(s.observe)
	s.app.Use(recover.New(recover.Config{EnableStackTrace: true}))
	s.app.Use(limitBody)
	s.app.Use(securityHeaders)
	s.routes()
	return s, nil
}

// App returns the Fiber app, to listen with or to mount.
func (s *Server) App() *fiber.App { return s.app }

func (s *Server) routes() {
	a := s.app
	a.Get("/healthz", s.healthz) // health.go
	a.Get("/readyz", s.readyz)
	a.Get("/", s.home)
	a.Get("/assets/:name", s.asset)

	a.Get("/v1/openapi.json", s.openAPI) // before the key check: public
	v1 := a.Group("/v1", s.requireKey)
	v1.Post("/links", s.createLink)
	v1.Get("/links/:id", s.getLink)
	v1.Delete("/links/:id", s.deleteLink)
	v1.Post("/links/:id/redeem", s.redeem)
	v1.Post("/exchange", s.exchange)
	v1.Get("/events", s.events)
	v1.Get("/client", s.clientInfo) // health.go

	a.Get("/l/:token", s.landing) // Fiber answers HEAD for GET routes; routes ignore case (/L/)
	a.Get("/l/:token/*", s.landingRest)
	a.Post("/l/:token/verify", s.verify)
	a.Post("/l/:token/confirm", s.newLinkGate(), s.confirm)

	a.Get("/login", s.loginForm)
	a.Post("/login", s.loginLimiter(), s.login)
	a.Post("/login/code", s.waitLimiter(), s.waitCode)
	a.Get("/login/status/:id", s.waitPoll)

	if s.opts.Dev && s.opts.Outbox != nil {
		a.Get("/dev/outbox", s.outboxPage)
		a.Get("/dev/outbox.json", s.outboxJSON)
	}
	if s.opts.JWKS != nil {
		a.Get("/.well-known/jwks.json", func(c *fiber.Ctx) error {
			c.Set(fiber.HeaderCacheControl, "public, max-age=300")
			c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
			return c.Send(s.opts.JWKS)
		})
	}
	if s.opts.OIDC != nil {
		h := s.oidcHandler()
		a.All("/.well-known/openid-configuration", h)
		// Each authorization request is stored until it expires: bound
		// them per client address, as the sign-in form is bounded.
		a.All("/oidc/authorize", limiter.New(limiter.Config{
			Max: 30, Expiration: time.Minute,
			KeyGenerator: func(c *fiber.Ctx) string { return s.clientIP(c).String() },
			LimitReached: func(c *fiber.Ctx) error {
				return c.Status(fiber.StatusTooManyRequests).SendString("Too many sign-in requests from your network. Please wait a minute and try again.")
			},
		}), h)
		a.All("/oidc/*", h)
	}
	if s.opts.Demo {
		a.Get("/demo", s.demo)
		a.Get("/demo/callback", s.demo)
	}
}

// requireKey checks the bearer key of /v1 routes. The answer is the same
// whether or not the route or resource exists.
func (s *Server) requireKey(c *fiber.Ctx) error {
	h := c.Get(fiber.HeaderAuthorization)
	key, ok := strings.CutPrefix(h, "Bearer ")
	if ok && key != "" {
		sum := sha256.Sum256([]byte(strings.TrimSpace(key)))
		match := 0
		for i := range s.keys {
			match |= subtle.ConstantTimeCompare(sum[:], s.keys[i][:])
		}
		if match == 1 {
			return c.Next()
		}
	}
	c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="linkguard"`)
	return linkguard.Errorf(linkguard.KindUnauthorized, linkguard.CodeUnauthorized, "a valid API key is required: send the header Authorization: Bearer <api key>")
}

// limitBody answers 413 for a body over MaxBody. When the app listens
// itself, BodyLimit already does; NB: mounted in another Fiber app the
// parent's BodyLimit applies instead (4 MiB by default), and through the
// net/http adaptor none does, so the app checks again.
func limitBody(c *fiber.Ctx) error {
	if c.Request().Header.ContentLength() > MaxBody || len(c.Request().Body()) > MaxBody {
		return fiber.ErrRequestEntityTooLarge
	}
	return c.Next()
}

func securityHeaders(c *fiber.Ctx) error {
	c.Set("X-Content-Type-Options", "nosniff")
	c.Set("X-Frame-Options", "DENY")
	c.Set("Referrer-Policy", "no-referrer")
	return c.Next()
}
