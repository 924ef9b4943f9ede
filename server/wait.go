package server

import (
	"errors"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"github.com/linkguard/linkguard"
)

// The waiting page ("check your inbox", data-lg-state="sent") is where a
// person who asked with /login may type the email's code, so that the
// device that asked is the one signed in, and where they learn, without a
// reload, that the link was used on another device. Both routes answer
// only the browser that asked: it holds the link's device cookie.

// waitCode answers POST /login/code, the waiting page's code form (no
// JavaScript needed): the right code consumes the link and sends this
// browser to the redirect with its lg_code, a wrong one shows the page
// again with the tries left. It spends the link's one count of attempts,
// as the landing page and /v1/links/{id}/redeem do.
func (s *Server) waitCode(c *fiber.Ctx) error {
	cookie := utils.CopyString(c.Cookies(s.DeviceCookie()))
	d := loginData{
		Lang:        s.acceptLang(c),
		Email:       strings.TrimSpace(utils.CopyString(c.FormValue("email"))),
		RedirectURL: utils.CopyString(c.FormValue("redirect_url")),
		LinkID:      utils.CopyString(c.FormValue("link")),
		Sent:        true, State: linkguard.PageSent,
	}
	if !linkguard.ValidID(d.LinkID) {
		d.LinkID = ""
	}
	if fromAnotherSite(c) || !s.svc.Keys.CheckCSRF(c.FormValue("csrf"), cookie) {
		d.CSRF = s.svc.Keys.CSRF(s.deviceCookie(c))
		d.CodeError = s.site.T(d.Lang, "wait.error.form")
		return s.renderLogin(c, fiber.StatusForbidden, d)
	}
	d.CSRF = s.svc.Keys.CSRF(cookie)
	cl := s.client(c)
	cl.Binding = cookie
	code := strings.TrimSpace(utils.CopyString(c.FormValue("code")))
	res, err := s.svc.RedeemBound(c.UserContext(), d.LinkID, code, cl)
	var le *linkguard.Error
	if errors.As(err, &le) {
		switch le.Code {
		case linkguard.CodeInvalidCode:
			d.CodeError = s.codeMessage(d.Lang, le, code)
			if n, ok := le.Extra["attempts_left"].(int); ok {
				d.AttemptsLeft = n
			}
			return s.renderLogin(c, fiber.StatusOK, d)
		case linkguard.CodeTooManyAttempts:
			d.State = linkguard.PageLocked
		case linkguard.CodeNotPending:
			d.State = linkguard.PageExpired
			if st, _ := le.Extra["state"].(linkguard.State); st == linkguard.Consumed {
				d.State = linkguard.PageElsewhere
			}
		case linkguard.CodeNotFound:
			// No link of this browser's: the sign-in started elsewhere, or
			// long ago. A new link for the same address is a click away.
			d.State, d.LinkID = linkguard.PageExpired, ""
		default:
			return err
		}
		return s.renderLogin(c, fiber.StatusOK, d)
	}
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set(fiber.HeaderLocation, res.RedirectURL)
	return c.SendStatus(fiber.StatusSeeOther)
}

// waitStatus is the answer of GET /login/status/{id}: the link's state
// and the waiting page's state that follows from it; never a session, a
// code or a secret of the link.
type waitStatus struct {
	State     linkguard.State     `json:"state"`
	PageState linkguard.PageState `json:"page_state"`
}

// waitStatusPage is the waiting page's state for a link's state.
func waitStatusPage(w *linkguard.WaitState) linkguard.PageState {
	switch w.State {
	case linkguard.Consumed:
		return linkguard.PageElsewhere
	case linkguard.Expired, linkguard.Revoked:
		return linkguard.PageExpired
	}
	if w.Locked {
		return linkguard.PageLocked
	}
	return linkguard.PageSent
}

// waitPoll answers GET /login/status/{id}, which the waiting page polls.
// Any browser but the one that asked gets 404, as for a link that does
// not exist.
func (s *Server) waitPoll(c *fiber.Ctx) error {
	w, err := s.svc.Wait(c.UserContext(), utils.CopyString(c.Params("id")), utils.CopyString(c.Cookies(s.DeviceCookie())))
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(waitStatus{State: w.State, PageState: waitStatusPage(w)})
}

// waitLimiter bounds code posts per client address: the attempts of
// each link are bounded already; this keeps one address from cycling
// through links of its own faster than a person types. The count lives
// in the store (linkguard.Limiter), shared by instances, as /login's.
func (s *Server) waitLimiter() fiber.Handler {
	return func(c *fiber.Ctx) error {
		ip := s.clientIP(c).String()
		ok, _, err := s.limits.Hit(c.UserContext(), "wait-ip:"+s.svc.Keys.Family(ip, "limit/ip"), time.Minute, waitPerIP, s.now())
		if err != nil {
			return err
		}
		if !ok {
			lang := s.acceptLang(c)
			return s.renderLogin(c, fiber.StatusTooManyRequests, loginData{Lang: lang, Error: s.site.T(lang, "wait.error.rate")})
		}
		return c.Next()
	}
}

// waitPerIP is how many codes one client address may post a minute.
const waitPerIP = 30
