package server

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/limiter"
	"github.com/gofiber/fiber/v2/utils"

	"github.com/linkguard/linkguard"
)

// resendCooldown is how long the "check your inbox" page makes a person
// wait before the same address gets another link from the same site.
const resendCooldown = 30 * time.Second

type loginData struct {
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
	return s.page(c, status, "login.html", d)
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
	d := loginData{CSRF: s.svc.Keys.CSRF(dev), RedirectURL: utils.CopyString(c.Query("redirect_url"))}
	if d.RedirectURL == "" {
		d.RedirectURL = s.defaultRedirect()
	}
	if d.RedirectURL == "" {
		d.Error = "This sign-in page needs a redirect_url: the site that sent you here should add it."
		return s.renderLogin(c, fiber.StatusBadRequest, d)
	}
	if _, err := s.svc.CheckRedirect(d.RedirectURL); err != nil {
		d.Error = "The site that sent you here is not allowed to use this sign-in service."
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
		Email:       strings.TrimSpace(utils.CopyString(c.FormValue("email"))),
		RedirectURL: utils.CopyString(c.FormValue("redirect_url")),
	}
	if site := c.Get("Sec-Fetch-Site"); site == "cross-site" || site == "same-site" ||
		!s.svc.Keys.CheckCSRF(c.FormValue("csrf"), cookie) {
		dev := s.deviceCookie(c)
		d.CSRF = s.svc.Keys.CSRF(dev)
		d.Error = "This form had expired. Please enter your email again."
		return s.renderLogin(c, fiber.StatusForbidden, d)
	}
	d.CSRF = s.svc.Keys.CSRF(cookie)
	if !s.opts.MailConfigured {
		d.Error = "This server cannot send email yet. Please tell the site's support."
		return s.renderLogin(c, fiber.StatusServiceUnavailable, d)
	}
	cl := s.client(c)
	cl.Binding = cookie
	if d.RedirectURL == "" {
		d.RedirectURL = s.defaultRedirect()
	}
	origin, err := s.svc.CheckRedirect(d.RedirectURL)
	if err != nil {
		d.Error = "The site that sent you here is not allowed to use this sign-in service."
		return s.renderLogin(c, fiber.StatusBadRequest, d)
	}
	fam := s.svc.Keys.Family(d.Email, origin)
	if wait, last := s.cooldown.take(fam, time.Now()); wait > 0 {
		d.Sent, d.State, d.Cooldown, d.LinkID = true, linkguard.PageSent, int(wait.Seconds())+1, last
		return s.renderLogin(c, fiber.StatusOK, d)
	}
	is, err := s.svc.Issue(c.UserContext(), &linkguard.IssueRequest{
		Email: d.Email, RedirectURL: d.RedirectURL, SendEmail: true, Requester: *cl,
	})
	var le *linkguard.Error
	if errors.As(err, &le) && le.Kind == linkguard.KindInvalid {
		s.cooldown.forget(fam)
		d.Error = "Please enter a valid email address, like alice@example.com."
		return s.renderLogin(c, fiber.StatusBadRequest, d)
	}
	if err != nil {
		s.cooldown.forget(fam)
		return err
	}
	s.cooldown.remember(fam, is.Link.ID)
	d.Sent, d.State, d.Cooldown, d.LinkID = true, linkguard.PageSent, int(resendCooldown.Seconds()), is.Link.ID
	return s.renderLogin(c, fiber.StatusOK, d)
}

// loginLimiter bounds sign-in requests per client address, so the form
// cannot be used to flood a mailbox or the mail server.
func (s *Server) loginLimiter() fiber.Handler {
	return limiter.New(limiter.Config{
		Max: 10, Expiration: time.Minute,
		KeyGenerator: func(c *fiber.Ctx) string { return s.clientIP(c).String() },
		LimitReached: func(c *fiber.Ctx) error {
			return s.renderLogin(c, fiber.StatusTooManyRequests, loginData{
				Error: "Too many sign-in requests from your network. Please wait a minute and try again.",
			})
		},
	})
}

// cooldowns remembers when each (email, origin) family last got a link
// from the sign-in form, and that link's id, so that a resend refused
// for the cooldown still shows the waiting page of the link on its way.
// NB: per instance; several instances behind a balancer each allow one
// link per cooldown.
type cooldowns struct {
	mu   sync.Mutex
	last map[string]sent
}

type sent struct {
	at time.Time
	id string
}

// take starts a cooldown for key unless one runs: then it returns the
// time left and the id of the link that started it.
func (c *cooldowns) take(key string, now time.Time) (time.Duration, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.last == nil {
		c.last = map[string]sent{}
	}
	if len(c.last) > 10000 { // prune, so the map stays small
		for k, x := range c.last {
			if now.Sub(x.at) > resendCooldown {
				delete(c.last, k)
			}
		}
	}
	if x, ok := c.last[key]; ok && now.Sub(x.at) < resendCooldown {
		return resendCooldown - now.Sub(x.at), x.id
	}
	c.last[key] = sent{at: now}
	return 0, ""
}

// remember notes the id of the link whose cooldown key runs.
func (c *cooldowns) remember(key, id string) {
	c.mu.Lock()
	if x, ok := c.last[key]; ok {
		x.id = id
		c.last[key] = x
	}
	c.mu.Unlock()
}

func (c *cooldowns) forget(key string) {
	c.mu.Lock()
	delete(c.last, key)
	c.mu.Unlock()
}
