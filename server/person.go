package server

import (
	"errors"
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/fingerprint"
)

// The person's side of the pages: their language, where a link was asked
// from, and "email me a new link" on a landing page.

// acceptLang is the page language for a request without a link: its
// Accept-Language, else the default.
func (s *Server) acceptLang(c *fiber.Ctx) string {
	return s.site.Lang("", c.Get(fiber.HeaderAcceptLanguage))
}

// PageLang is the waiting and sign-in pages' language.
func (d loginData) PageLang() string { return d.Lang }

// askedFrom says, in lang, where a link was asked from: "Chrome on
// Windows near London"; "" when nothing is known of it.
func (s *Server) askedFrom(lang string, r *fingerprint.Requester) string {
	ua := fingerprint.ParseUA(r.UserAgent)
	var browser, os string
	if ua.Browser != fingerprint.BrowserUnknown {
		browser = ua.Browser.String()
	}
	if ua.OS != fingerprint.OSUnknown {
		os = ua.OS.String()
	}
	return s.site.Catalog().Origin(lang, browser, os, r.Network.City, r.Network.Country)
}

// codeMessage is what a page says, in lang, for a refused code.
func (s *Server) codeMessage(lang string, le *linkguard.Error, code string) string {
	if le.Code == linkguard.CodeTooManyAttempts {
		return s.site.T(lang, "landing.locked.text")
	}
	if !sixDigits(code) {
		return s.site.T(lang, "code.format")
	}
	if n, ok := le.Extra["attempts_left"].(int); ok {
		return s.site.T(lang, "code.wrong", "Count", n)
	}
	return le.Message
}

func sixDigits(s string) bool {
	if len(s) != linkguard.CodeLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// isNewLink reports whether a post to /l/{token}/confirm is the landing
// page's "email me a new link" form.
func isNewLink(c *fiber.Ctx) bool {
	ct := strings.ToLower(c.Get(fiber.HeaderContentType))
	return strings.HasPrefix(ct, fiber.MIMEApplicationForm) && c.FormValue("new") != ""
}

// newLinkGate puts the landing page's "email me a new link" under the
// limits of POST /login; other posts to the route pass.
func (s *Server) newLinkGate() fiber.Handler {
	lim := s.loginLimiter()
	return func(c *fiber.Ctx) error {
		if isNewLink(c) {
			return lim(c)
		}
		return c.Next()
	}
}

// newLink answers the landing page's #lg-new-link: a new link for the
// same address, site, purpose and locale, asked for by this browser (it
// gets the device cookie, so the new link's page and code work here),
// under the sign-in limits (one mail per address and site per cooldown).
// The answer is the waiting page, which never shows the address.
func (s *Server) newLink(c *fiber.Ctx) error {
	token := utils.CopyString(c.Params("token"))
	l, err := s.svc.LinkForPage(c.UserContext(), token, utils.CopyString(c.FormValue("nonce")))
	var le *linkguard.Error
	if errors.As(err, &le) && le.Kind != linkguard.KindInternal {
		// An old page, or a token that is not a link: the sign-in form of
		// the same site, if there is one, is the way on.
		return c.Redirect(s.loginURL(""), fiber.StatusSeeOther)
	}
	if err != nil {
		return err
	}
	lang := s.site.Lang(l.Locale, c.Get(fiber.HeaderAcceptLanguage))
	if !s.opts.MailConfigured {
		return c.Redirect(s.backURL(l.RedirectURL), fiber.StatusSeeOther)
	}
	cookie := s.deviceCookie(c)
	d := loginData{Lang: lang, CSRF: s.svc.Keys.CSRF(cookie), RedirectURL: l.RedirectURL, Sent: true, State: linkguard.PageSent}
	u, _ := url.Parse(l.RedirectURL)
	d.Cooldown = int(resendCooldown.Seconds())
	coolKey, ok, err := s.allowSend(c.UserContext(), l.Email, linkguard.Origin(u), cookie)
	if err != nil {
		return err
	}
	if !ok {
		// As /login: a limited ask answers as a sent one.
		d.LinkID = s.lastLink(c.UserContext(), coolKey)
		return s.renderLogin(c, fiber.StatusOK, d)
	}
	cl := s.client(c)
	cl.Binding = cookie
	is, err := s.svc.Issue(c.UserContext(), &linkguard.IssueRequest{
		Email: l.Email, RedirectURL: l.RedirectURL, Metadata: l.Metadata, SendEmail: true,
		Purpose: l.Purpose, Locale: l.Locale, Requester: *cl, NewestPerDevice: true,
	})
	if err != nil {
		return err
	}
	s.rememberLink(c.UserContext(), coolKey, is.Link.ID)
	d.LinkID = is.Link.ID
	return s.renderLogin(c, fiber.StatusOK, d)
}

// backURL is the site's own address (the redirect's origin), offered
// when no new link can be sent: no page is a dead end.
func (s *Server) backURL(redirect string) string {
	return s.backURLs.Get(redirect, s.originOf)
}

func (s *Server) originOf(redirect string) string {
	u, err := url.Parse(redirect)
	if err != nil || u.Host == "" {
		return s.site.Path("/")
	}
	return linkguard.Origin(u) + "/"
}

// duration says secs as people do, in lang: "3 seconds", "2 minutes".
func (s *Server) duration(lang string, secs int64) string {
	n, unit := secs, "duration.second"
	switch {
	case secs >= 48*3600:
		n, unit = secs/(24*3600), "duration.day"
	case secs >= 2*3600:
		n, unit = secs/3600, "duration.hour"
	case secs >= 120:
		n, unit = secs/60, "duration.minute"
	}
	return s.site.T(lang, unit, "Count", n)
}
