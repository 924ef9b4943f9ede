// Package admin is the operator's console at /admin: an overview of links,
// scanner visits and decisions drawn as server-rendered SVG charts, a
// link's timeline with both axes of every verdict, a what-if replay of
// the recorded decisions under pasted heuristics (and saving them), the
// webhook deliveries, and the decisions' export as JSONL.
//
// It exists only when admin addresses are configured. Operators sign in
// with linkguard's own links: the console issues a link whose redirect is
// its callback, and the callback turns the handoff into a session, a
// short-lived HttpOnly __Host- cookie signed with the server key. Every
// form that changes something carries a CSRF token bound to that session.
// Pages are served under the same CSP as the rest: no inline script.
package admin

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/fingerprint"
)

//go:embed templates static
var files embed.FS

// Options configure a Console.
type Options struct {
	Service *linkguard.Service
	Engine  *fingerprint.Engine
	// Emails are the addresses that may sign in (case-insensitive).
	Emails []string
	// Dev: plain-http cookie names (no __Host- prefix, not Secure).
	Dev bool
	// BasePath is the path the kit is mounted under ("" or "/auth").
	BasePath string
	// DeviceCookie is the name of the server's device-binding cookie.
	DeviceCookie string
	// Client describes a request as the server does (trusted proxies).
	Client func(c *fiber.Ctx) *linkguard.Client
	// CSP is the pages' Content-Security-Policy.
	CSP string
	// SaveHeuristics persists and applies a new heuristics configuration
	// (validate, write the config file atomically, reload). Nil: the
	// console can replay but not save.
	SaveHeuristics func(cfg fingerprint.Config) (saved string, err error)
	// Counter is the per-hour counter the Service feeds.
	Counter *Counter
	// SessionTTL is how long a session lasts (default 1h).
	SessionTTL time.Duration
	// SearchLimit bounds the stored links that one listing or search by
	// address reads (default DefaultSearchLimit): the store has no index
	// by address, and a page must not read every link.
	SearchLimit int
	Now         func() time.Time
	Log         *slog.Logger
}

// Console serves /admin.
type Console struct {
	opts   Options
	svc    *linkguard.Service
	emails map[string]bool
	pages  map[string]*template.Template
	log    *slog.Logger
	// pending counts the sign-in links being issued after their answer.
	pending sync.WaitGroup
	backups backups
}

// New checks opts and parses the templates.
func New(opts Options) (*Console, error) {
	if opts.Service == nil || opts.Engine == nil {
		return nil, errors.New("admin: Service and Engine are required")
	}
	if len(opts.Emails) == 0 {
		return nil, errors.New("admin: no admin email is configured")
	}
	if opts.SessionTTL == 0 {
		opts.SessionTTL = time.Hour
	}
	if opts.SearchLimit <= 0 {
		opts.SearchLimit = DefaultSearchLimit
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.DeviceCookie == "" {
		opts.DeviceCookie = "__Host-lg_device"
		if opts.Dev {
			opts.DeviceCookie = "lg_device"
		}
	}
	c := &Console{opts: opts, svc: opts.Service, emails: map[string]bool{}, log: opts.Log}
	for _, e := range opts.Emails {
		e = strings.ToLower(strings.TrimSpace(e))
		if !strings.Contains(e, "@") {
			return nil, fmt.Errorf("admin.emails: %q is not an email address", e)
		}
		c.emails[e] = true
	}
	if err := c.parse(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Console) parse() error {
	funcs := template.FuncMap{
		"base": func() string { return c.opts.BasePath },
		"time": func(t time.Time) string {
			if t.IsZero() {
				return ""
			}
			return t.UTC().Format("2006-01-02 15:04:05")
		},
		"pct": func(f float64) string { return strconv.FormatFloat(f*100, 'f', 0, 64) + "%" },
		"num": func(f float64) string { return strconv.FormatFloat(f, 'f', 3, 64) },
	}
	layout, err := fs.ReadFile(files, "templates/layout.html")
	if err != nil {
		return err
	}
	names, err := fs.Glob(files, "templates/*.html")
	if err != nil {
		return err
	}
	c.pages = map[string]*template.Template{}
	for _, n := range names {
		if n == "templates/layout.html" {
			continue
		}
		b, err := fs.ReadFile(files, n)
		if err != nil {
			return err
		}
		t, err := template.New("layout").Funcs(funcs).Parse(string(layout))
		if err == nil {
			_, err = t.Parse(string(b))
		}
		if err != nil {
			return fmt.Errorf("admin template %s: %w", n, err)
		}
		c.pages[strings.TrimPrefix(n, "templates/")] = t
	}
	return nil
}

// Register adds the console's routes to r (the kit's app).
func (c *Console) Register(r fiber.Router) {
	r.Get("/admin/static/:name", c.static)
	r.Get("/admin/login", c.loginForm)
	r.Post("/admin/login", c.login)
	r.Get("/admin/callback", c.callback)

	g := r.Group("/admin", c.requireSession)
	g.Get("/", c.overview)
	g.Get("/links", c.links)
	g.Get("/links/:id", c.link)
	g.Post("/links/:id/revoke", c.checkCSRF, c.revoke)
	g.Get("/tuning", c.tuning)
	g.Post("/tuning", c.checkCSRF, c.tuningPost)
	g.Get("/webhooks", c.webhooks)
	g.Get("/export", c.exportPage)
	g.Get("/export.jsonl", c.export)
	g.Get("/backup", c.backup)
	g.Post("/logout", c.checkCSRF, c.logout)
}

// session cookie: "<base64url email>.<unix expiry>.<mac>".
func (c *Console) cookieName() string {
	if c.opts.Dev {
		return "lg_admin"
	}
	return "__Host-lg_admin"
}

func (c *Console) mac(parts ...string) string {
	return c.svc.Keys.CSRF("lg-admin|" + strings.Join(parts, "|"))
}

func (c *Console) newSession(email string, now time.Time) string {
	e := base64.RawURLEncoding.EncodeToString([]byte(email))
	exp := strconv.FormatInt(now.Add(c.opts.SessionTTL).Unix(), 10)
	return e + "." + exp + "." + c.mac("session", e, exp)
}

// session returns the signed-in address, or "".
func (c *Console) session(fc *fiber.Ctx) (email, raw string) {
	raw = fc.Cookies(c.cookieName())
	parts := strings.Split(raw, ".")
	if len(parts) != 3 || len(raw) > 600 {
		return "", ""
	}
	if !c.svc.Keys.CheckCSRF(parts[2], "lg-admin|session|"+parts[0]+"|"+parts[1]) {
		return "", ""
	}
	exp, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || c.opts.Now().Unix() >= exp {
		return "", ""
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil || !c.emails[strings.ToLower(string(b))] {
		return "", "" // removed from the configuration since
	}
	return string(b), utils.CopyString(raw)
}

func (c *Console) requireSession(fc *fiber.Ctx) error {
	email, raw := c.session(fc)
	if email == "" {
		return fc.Redirect(c.opts.BasePath+"/admin/login", http.StatusSeeOther)
	}
	fc.Locals("admin", email)
	fc.Locals("csrf", c.mac("csrf", raw))
	return fc.Next()
}

// checkCSRF guards every state change: the form's token must be the
// session's, and the browser must not say the form came from elsewhere.
func (c *Console) checkCSRF(fc *fiber.Ctx) error {
	if s := fc.Get("Sec-Fetch-Site"); s == "cross-site" || s == "same-site" {
		return c.fail(fc, http.StatusForbidden, "This form came from another site.")
	}
	want, _ := fc.Locals("csrf").(string)
	if want == "" || fc.FormValue("csrf") != want {
		return c.fail(fc, http.StatusForbidden, "This form had expired. Go back, reload the page and try again.")
	}
	return fc.Next()
}

// deviceCookie returns the browser's device cookie, setting one when it
// has none (as the hosted sign-in does), so that the link signs this
// browser in without a click.
func (c *Console) deviceCookie(fc *fiber.Ctx) string {
	if v := fc.Cookies(c.opts.DeviceCookie); len(v) >= 43 {
		return utils.CopyString(v)
	}
	var b [32]byte
	rand.Read(b[:])
	v := base64.RawURLEncoding.EncodeToString(b[:])
	fc.Cookie(&fiber.Cookie{Name: c.opts.DeviceCookie, Value: v, Path: "/", MaxAge: 400 * 24 * 3600,
		HTTPOnly: true, Secure: !c.opts.Dev, SameSite: fiber.CookieSameSiteLaxMode})
	return v
}

type loginPage struct {
	CSRF, Email, Error string
	Sent               bool
}

func (c *Console) loginForm(fc *fiber.Ctx) error {
	if email, _ := c.session(fc); email != "" {
		return fc.Redirect(c.opts.BasePath+"/admin/", http.StatusSeeOther)
	}
	return c.render(fc, http.StatusOK, "login.html", loginPage{CSRF: c.mac("login", c.deviceCookie(fc))})
}

// login issues a sign-in link to an admin address. Any other address
// gets the same page and no link, so the page says nothing of who is an
// admin.
func (c *Console) login(fc *fiber.Ctx) error {
	dev := utils.CopyString(fc.Cookies(c.opts.DeviceCookie))
	d := loginPage{Email: strings.TrimSpace(utils.CopyString(fc.FormValue("email")))}
	if s := fc.Get("Sec-Fetch-Site"); s == "cross-site" || s == "same-site" || dev == "" ||
		fc.FormValue("csrf") != c.mac("login", dev) {
		d.CSRF, d.Error = c.mac("login", c.deviceCookie(fc)), "This form had expired. Please enter your email again."
		return c.render(fc, http.StatusForbidden, "login.html", d)
	}
	d.CSRF = c.mac("login", dev)
	if len(d.Email) > 254 || !strings.Contains(d.Email, "@") {
		d.Error = "Please enter a valid email address."
		return c.render(fc, http.StatusBadRequest, "login.html", d)
	}
	cl := c.opts.Client(fc)
	ok, err := c.allow(fc, "admin-ip:"+c.svc.Keys.Family(cl.IP.String(), "limit/admin-ip"), time.Minute, signInsPerIP)
	if err != nil {
		return err
	}
	if !ok {
		d.Error = "Too many sign-in requests from here. Wait a minute and try again."
		return c.render(fc, http.StatusTooManyRequests, "login.html", d)
	}
	// From here on, the answer takes the same path and time for every
	// address: the same limiter write in the store, the same page. The
	// link itself, for an admin address within its limit, is issued after
	// the answer, so that its cost (a store transaction, the mail queued)
	// does not tell who is an admin.
	d.Sent = true
	key := strings.ToLower(d.Email)
	within, err := c.allow(fc, "admin-mail:"+c.svc.Keys.Family(key, "limit/admin-mail"), 15*time.Minute, linksPerAdmin)
	if err != nil {
		return err
	}
	switch {
	case !c.emails[key]:
		c.log.Info("console sign-in refused: not an admin address")
	case !within:
		// Over the address's limit the page is the same and no mail goes:
		// nobody can flood an operator's inbox.
		c.log.Warn("console sign-in held back: over the links per address limit")
	default:
		cl.Binding = dev
		c.issueLater(fc.UserContext(), &linkguard.IssueRequest{
			Email: d.Email, RedirectURL: strings.TrimRight(c.svc.Policy.PublicURL, "/") + "/admin/callback",
			TTL: 15 * time.Minute, SendEmail: true, Requester: *cl,
			Metadata: []byte(fmt.Sprintf(`{"lg_admin":%q}`, c.mac("link", key))),
		})
	}
	return c.render(fc, http.StatusOK, "login.html", d)
}

// issueLater issues a console sign-in link after the answer. Its errors
// are logged (the operator sees no mail and asks again).
func (c *Console) issueLater(ctx context.Context, req *linkguard.IssueRequest) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	c.pending.Add(1)
	go func() {
		defer c.pending.Done()
		defer cancel()
		if _, err := c.svc.Issue(ctx, req); err != nil {
			c.log.Error("console sign-in link not issued", "err", err)
		}
	}()
}

// Wait returns once the sign-in links asked for so far are issued (or
// failed): for a graceful stop, and for tests.
func (c *Console) Wait() { c.pending.Wait() }

// The console's sign-in limits, shared by the instances on one store.
const (
	signInsPerIP  = 10 // requests a minute per client address
	linksPerAdmin = 5  // links per admin address per 15 minutes
)

// allow counts one hit for key when the store keeps limits (every shipped
// store does), and reports whether it is within max per window.
func (c *Console) allow(fc *fiber.Ctx, key string, window time.Duration, max int) (bool, error) {
	l, ok := c.svc.Store.(linkguard.Limiter)
	if !ok {
		return true, nil
	}
	ok, _, err := l.Hit(fc.UserContext(), key, window, max, c.opts.Now())
	return ok, err
}

// callback turns the handoff of a console link into a session. The link
// must carry the console's keyed mark: a link that a host backend issued
// for an admin's address through the API (it knows that link's URL and
// code) never opens a session.
func (c *Console) callback(fc *fiber.Ctx) error {
	code := fc.Query("lg_code")
	h, err := c.svc.Exchange(fc.UserContext(), code)
	var le *linkguard.Error
	if errors.As(err, &le) {
		return c.fail(fc, http.StatusBadRequest, "This sign-in link was already used or has expired. Sign in again.")
	}
	if err != nil {
		return err
	}
	key := strings.ToLower(h.Email)
	var meta struct {
		Mark string `json:"lg_admin"`
	}
	_ = jsonUnmarshal(h.Metadata, &meta)
	if !c.emails[key] || meta.Mark == "" || meta.Mark != c.mac("link", key) {
		c.log.Warn("console callback refused", "link_id", h.LinkID)
		return c.fail(fc, http.StatusForbidden, "This link does not open the console.")
	}
	fc.Cookie(&fiber.Cookie{Name: c.cookieName(), Value: c.newSession(key, c.opts.Now()), Path: "/",
		MaxAge: int(c.opts.SessionTTL.Seconds()), HTTPOnly: true, Secure: !c.opts.Dev,
		SameSite: fiber.CookieSameSiteStrictMode})
	c.log.Info("console session opened", "link_id", h.LinkID)
	return fc.Redirect(c.opts.BasePath+"/admin/", http.StatusSeeOther)
}

func (c *Console) logout(fc *fiber.Ctx) error {
	fc.Cookie(&fiber.Cookie{Name: c.cookieName(), Value: "", Path: "/", MaxAge: -1,
		Expires: time.Unix(1, 0), HTTPOnly: true, Secure: !c.opts.Dev, SameSite: fiber.CookieSameSiteStrictMode})
	return fc.Redirect(c.opts.BasePath+"/admin/login", http.StatusSeeOther)
}

type errorPage struct{ Message string }

func (c *Console) fail(fc *fiber.Ctx, status int, msg string) error {
	return c.render(fc, status, "error.html", errorPage{Message: msg})
}

// view is what every page gets: the layout's data and the page's own.
type view struct {
	Admin, CSRF, Section string
	Data                 any
}

func (c *Console) render(fc *fiber.Ctx, status int, name string, data any) error {
	t := c.pages[name]
	if t == nil {
		return fmt.Errorf("admin: no template %s", name)
	}
	fc.Set(fiber.HeaderCacheControl, "no-store")
	fc.Set("Referrer-Policy", "no-referrer")
	fc.Set("X-Robots-Tag", "noindex, nofollow")
	fc.Set(fiber.HeaderContentSecurityPolicy, c.opts.CSP)
	fc.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	v := view{Data: data, Section: strings.TrimSuffix(name, ".html")}
	v.Admin, _ = fc.Locals("admin").(string)
	v.CSRF, _ = fc.Locals("csrf").(string)
	fc.Status(status)
	return t.Execute(fc.Response().BodyWriter(), v)
}

func (c *Console) static(fc *fiber.Ctx) error {
	name := fc.Params("name")
	if name != "admin.css" {
		return fiber.ErrNotFound
	}
	b, err := files.ReadFile("static/" + name)
	if err != nil {
		return fiber.ErrNotFound
	}
	fc.Set(fiber.HeaderContentType, "text/css; charset=utf-8")
	fc.Set(fiber.HeaderCacheControl, "public, max-age=300")
	return fc.Send(b)
}
