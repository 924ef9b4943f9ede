package server

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"github.com/linkguard/linkguard"
)

// resendCooldown is how long the "check your inbox" page makes a person
// wait before the same address gets another link from the same site.
const resendCooldown = 30 * time.Second

type loginData struct {
	// Lang is the page's language (Accept-Language, or a link's locale).
	Lang                            string
	CSRF, RedirectURL, Email, Error string
	// Sent switches the page to "check your inbox".
	Sent     bool
	Cooldown int // seconds before a resend is accepted
	// State is the waiting page's data-lg-state: sent, then elsewhere
	// (used on another device), locked or expired.
	State linkguard.PageState
	// LinkID names the link the waiting page waits for; its code form and
	// its status poll carry it ("" when unknown: no code form).
	LinkID string
	// CodeError is shown under the waiting page's code field.
	CodeError    string
	AttemptsLeft int
}

// deviceCookie returns the browser's device-binding cookie, setting a new
// one (256 random bits) when it has none.
func (s *Server) deviceCookie(c *fiber.Ctx) string {
	if v := c.Cookies(s.DeviceCookie()); len(v) >= 43 {
		return utils.CopyString(v)
	}
	var b [32]byte
	rand.Read(b[:])
	v := base64.RawURLEncoding.EncodeToString(b[:])
	c.Cookie(&fiber.Cookie{
		Name: s.DeviceCookie(), Value: v, Path: "/", MaxAge: 400 * 24 * 3600,
		HTTPOnly: true, Secure: !s.opts.Dev, SameSite: fiber.CookieSameSiteLaxMode,
	})
	return v
}

func (s *Server) renderLogin(c *fiber.Ctx, status int, d loginData) error {
	if !d.Sent || d.LinkID == "" {
		return s.page(c, status, "login.html", d)
	}
	// The waiting page's code form is answered by a 303 to the host's
	// redirect_url, most often on another origin, which the host may send
	// on again: form-action must allow them (formRedirectCSP).
	s.pageHeaders(c)
	c.Set(fiber.HeaderContentSecurityPolicy, s.formRedirectCSP(d.RedirectURL))
	c.Status(status)
	return s.site.Render(c.Response().BodyWriter(), "login.html", d)
}

// defaultRedirect is where a sign-in started without redirect_url goes.
func (s *Server) defaultRedirect() string {
	if r := s.svc.Policy.DefaultRedirect; r != "" {
		return r
	}
	if s.opts.Demo {
		return strings.TrimRight(s.svc.Policy.PublicURL, "/") + "/demo/callback"
	}
	return ""
}

// loginForm answers GET /login: the email form, with a CSRF token bound to
// the device cookie it sets.
func (s *Server) loginForm(c *fiber.Ctx) error {
	dev := s.deviceCookie(c)
	d := loginData{Lang: s.acceptLang(c), CSRF: s.svc.Keys.CSRF(dev), RedirectURL: utils.CopyString(c.Query("redirect_url"))}
	if d.RedirectURL == "" {
		d.RedirectURL = s.defaultRedirect()
	}
	if d.RedirectURL == "" {
		d.Error = s.site.T(d.Lang, "login.error.no_redirect")
		return s.renderLogin(c, fiber.StatusBadRequest, d)
	}
	if _, err := s.svc.CheckRedirect(d.RedirectURL); err != nil {
		d.Error = s.site.T(d.Lang, "login.error.redirect")
		d.RedirectURL = ""
		return s.renderLogin(c, fiber.StatusBadRequest, d)
	}
	return s.renderLogin(c, fiber.StatusOK, d)
}

// login answers POST /login: it issues a link whose requester is this
// very request and shows "check your inbox", the same page whether or
// not anybody uses that address.
func (s *Server) login(c *fiber.Ctx) error {
	cookie := utils.CopyString(c.Cookies(s.DeviceCookie()))
	d := loginData{
		Lang:        s.acceptLang(c),
		Email:       strings.TrimSpace(utils.CopyString(c.FormValue("email"))),
		RedirectURL: utils.CopyString(c.FormValue("redirect_url")),
	}
	if fromAnotherSite(c) || !s.svc.Keys.CheckCSRF(c.FormValue("csrf"), cookie) {
		dev := s.deviceCookie(c)
		d.CSRF = s.svc.Keys.CSRF(dev)
		d.Error = s.site.T(d.Lang, "login.error.form")
		return s.renderLogin(c, fiber.StatusForbidden, d)
	}
	d.CSRF = s.svc.Keys.CSRF(cookie)
	if !s.opts.MailConfigured {
		d.Error = s.site.T(d.Lang, "login.error.no_mail")
		return s.renderLogin(c, fiber.StatusServiceUnavailable, d)
	}
	cl := s.client(c)
	cl.Binding = cookie
	if d.RedirectURL == "" {
		d.RedirectURL = s.defaultRedirect()
	}
	origin, err := s.svc.CheckRedirect(d.RedirectURL)
	if err != nil {
		d.Error = s.site.T(d.Lang, "login.error.redirect")
		return s.renderLogin(c, fiber.StatusBadRequest, d)
	}
	if _, err := linkguard.CheckEmail(d.Email); err != nil {
		d.Error = s.site.T(d.Lang, "login.error.email")
		return s.renderLogin(c, fiber.StatusBadRequest, d)
	}
	// Every refusal by a limit below answers as a sent link does: the
	// page must not tell a prober that someone signed in a moment ago,
	// or that the address is much asked for. It waits for the link this
	// browser asked for last, or for an id no link has.
	d.Sent, d.State, d.Cooldown = true, linkguard.PageSent, int(resendCooldown.Seconds())
	coolKey, ok, err := s.allowSend(c.UserContext(), d.Email, origin, cookie)
	if err != nil {
		return err
	}
	if !ok {
		d.LinkID = s.lastLink(c.UserContext(), coolKey)
		return s.renderLogin(c, fiber.StatusOK, d)
	}
	is, err := s.svc.Issue(c.UserContext(), &linkguard.IssueRequest{
		Email: d.Email, RedirectURL: d.RedirectURL, SendEmail: true, Requester: *cl,
		NewestPerDevice: true,
	})
	if err != nil {
		return err
	}
	s.rememberLink(c.UserContext(), coolKey, is.Link.ID)
	d.LinkID = is.Link.ID
	return s.renderLogin(c, fiber.StatusOK, d)
}

// The hosted sign-in's limits, counted in the store (linkguard.Limiter,
// sliding windows) so that every instance on one store shares them. Addresses count in
// their LimitAddress form (carol+1@ is carol@); mail goes where typed.
const (
	// loginPerIP requests per minute from one client address.
	loginPerIP = 10
	// loginPerAddress links per address (all sites, all devices) in any
	// interval of the default link TTL (a sliding window), so at most 3
	// links sent from the form are pending for one address at a time,
	// whoever asks.
	loginPerAddress = 3
	// loginPerAddressDay links per address per day.
	loginPerAddressDay = 10
)

// loginLimiter bounds sign-in requests per client address, so the form
// cannot be used to flood a mailbox or the mail server.
func (s *Server) loginLimiter() fiber.Handler {
	return func(c *fiber.Ctx) error {
		ip := s.clientIP(c).String()
		ok, _, err := s.limits.Hit(c.UserContext(), "login-ip:"+s.svc.Keys.Family(ip, "limit/ip"), time.Minute, loginPerIP, s.now())
		if err != nil {
			return err
		}
		if !ok {
			lang := s.acceptLang(c)
			return s.renderLogin(c, fiber.StatusTooManyRequests, loginData{Lang: lang, Error: s.site.T(lang, "login.error.rate")})
		}
		return c.Next()
	}
}

// allowSend counts a link for email to origin asked by the device cookie
// against the resend cooldown (per address, site and device) and then
// the address's limits, and says whether it may be sent; coolKey names
// the (address, site, device) for lastLink.
func (s *Server) allowSend(ctx context.Context, email, origin, cookie string) (coolKey string, ok bool, err error) {
	addr, now := linkguard.LimitAddress(email), s.now()
	window := max(s.svc.Policy.DefaultTTL, time.Minute)
	coolKey = s.svc.Keys.Family(addr, origin+" device "+cookie)
	for _, l := range []struct {
		key    string
		window time.Duration
		max    int
	}{
		{"login-cool:" + coolKey, resendCooldown, 1},
		{"login-addr:" + s.svc.Keys.Family(addr, "limit/address"), window, loginPerAddress},
		{"login-day:" + s.svc.Keys.Family(addr, "limit/address"), 24 * time.Hour, loginPerAddressDay},
	} {
		if ok, _, err = s.limits.Hit(ctx, l.key, l.window, l.max, now); err != nil || !ok {
			return coolKey, false, err
		}
	}
	return coolKey, true, nil
}

// lastLink is the id of the link that this browser asked for last for
// the address and site (coolKey), kept in the store's KV when it has one,
// or else a fresh id that no link has: the waiting page looks the same.
func (s *Server) lastLink(ctx context.Context, coolKey string) string {
	if kv, ok := s.svc.Store.(linkguard.KV); ok {
		if id, err := kv.GetKV(ctx, "login_last", coolKey); err == nil && linkguard.ValidID(string(id)) {
			return string(id)
		}
	}
	id, _ := linkguard.NewID(rand.Reader, s.now())
	return id
}

// rememberLink notes the link a browser was sent, for lastLink.
func (s *Server) rememberLink(ctx context.Context, coolKey, id string) {
	if kv, ok := s.svc.Store.(linkguard.KV); ok {
		if err := kv.PutKV(ctx, "login_last", coolKey, []byte(id), max(s.svc.Policy.DefaultTTL, time.Second)); err != nil {
			s.log.Warn("login: remember the last link", "link_id", id, "err", err)
		}
	}
}

// now is the service's clock (tests set it).
func (s *Server) now() time.Time {
	if s.svc.Now != nil {
		return s.svc.Now()
	}
	return time.Now()
}
