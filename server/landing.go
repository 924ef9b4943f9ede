package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/fingerprint"
	"github.com/linkguard/linkguard/fingerprint/report"
	"github.com/linkguard/linkguard/web"
)

// pageCSP allows the page's own scripts and WebAssembly, its own
// stylesheet and nothing else: no inline script but the pages' own, each
// by its hash (web.ScriptSources), no outside resource but the brand's
// logo, when it lives elsewhere. Forms post to the kit only;
// formTo adds origins a form's answer may redirect to (Chromium applies
// form-action to every redirect that follows a form's post), each an
// allowed redirect origin as linkguard.Origin writes it.
func pageCSP(logoURL string, formTo ...string) string {
	img := "'self' data:"
	if u, err := url.Parse(logoURL); err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" {
		img += " " + linkguard.Origin(u)
	}
	form := "'self'"
	for _, o := range formTo {
		form += " " + o
	}
	return "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'" + web.ScriptSources() + "; worker-src 'self'; style-src 'self'; " +
		"img-src " + img + "; connect-src 'self'; form-action " + form + "; base-uri 'none'; frame-ancestors 'none'"
}

// DeviceCookie is the name of the device-binding cookie: the __Host-
// prefix pins it to this host, Secure and path /; dev mode over plain
// http cannot use the prefix.
func (s *Server) DeviceCookie() string {
	if s.opts.Dev {
		return "lg_device"
	}
	return "__Host-lg_device"
}

// maxHeader bounds what is kept of one request header that is recorded
// with a visit (the service cuts each further; this bounds the copy).
const maxHeader = report.MaxString

// header is a copy of a request header, cut to maxHeader.
func header(c *fiber.Ctx, k string) string {
	v := c.Request().Header.Peek(k)
	if len(v) > maxHeader {
		return report.Clip(string(v[:maxHeader+4]))
	}
	return string(v)
}

// viewClient is what Service.View reads of a request: the address, the
// device cookie and the User-Agent; the other headers are client's, for
// verify and confirm. A value, so that a landing GET copies one header
// and allocates no Client.
func (s *Server) viewClient(c *fiber.Ctx) linkguard.Client {
	return linkguard.Client{
		IP: s.clientIP(c), Binding: utils.CopyString(c.Cookies(s.DeviceCookie())),
		Visitor: fingerprint.Visitor{UserAgent: header(c, fiber.HeaderUserAgent)},
	}
}

func (s *Server) client(c *fiber.Ctx) *linkguard.Client {
	h := func(k string) string { return header(c, k) }
	purpose := h("Sec-Purpose")
	if purpose == "" {
		purpose = h("Purpose")
	}
	return &linkguard.Client{
		IP:      s.clientIP(c),
		Binding: utils.CopyString(c.Cookies(s.DeviceCookie())),
		Visitor: fingerprint.Visitor{
			UserAgent: h(fiber.HeaderUserAgent), AcceptLanguage: h(fiber.HeaderAcceptLanguage),
			SecFetchSite: h("Sec-Fetch-Site"), SecFetchMode: h("Sec-Fetch-Mode"),
			SecFetchDest: h("Sec-Fetch-Dest"), SecFetchUser: h("Sec-Fetch-User"),
			SecCHUA: h("Sec-CH-UA"), SecCHUAMobile: h("Sec-CH-UA-Mobile"),
			SecCHUAPlatform: h("Sec-CH-UA-Platform"), Purpose: purpose,
		},
	}
}

// The page's headers, in canonical form: set without Fiber's per-call key
// normalization (every landing GET sets them). Referrer-Policy comes
// with securityHeaders, on every answer.
var (
	hdrCacheControl = []byte(fiber.HeaderCacheControl)
	hdrRobots       = []byte("X-Robots-Tag")
	hdrCSP          = []byte(fiber.HeaderContentSecurityPolicy)
	valNoStore      = []byte("no-store")
	valNoIndex      = []byte("noindex, nofollow")
	valHTML         = []byte(fiber.MIMETextHTMLCharsetUTF8)
	hdrCOOP         = []byte("Cross-Origin-Opener-Policy")
	hdrCOEP         = []byte("Cross-Origin-Embedder-Policy")
	valSameOrigin   = []byte("same-origin")
	valCredless     = []byte("credentialless")
)

func (s *Server) pageHeaders(c *fiber.Ctx) {
	h := &c.Response().Header
	h.SetCanonical(hdrCacheControl, valNoStore)
	h.SetCanonical(hdrRobots, valNoIndex)
	h.SetCanonical(hdrCSP, utils.UnsafeBytes(s.csp)) // copied by fasthttp
	h.SetContentTypeBytes(valHTML)
}

// page renders a template as the answer. web.Site.Render writes nothing
// when the template fails, so the error handler still has a clean body.
func (s *Server) page(c *fiber.Ctx, status int, name string, data any) error {
	s.pageHeaders(c)
	c.Status(status)
	return s.site.Render(c.Response().BodyWriter(), name, data)
}

// render writes the landing page from its pre-rendered pieces (web's
// RenderLanding): no template runs per request.
//
// A page that runs the collector for a browser without the link's device
// cookie is cross-origin isolated (COOP same-origin, COEP credentialless:
// its resources are all its own but the brand's logo, which then loads
// without cookies). Chromium clamps an isolated page's clock to 5 µs
// instead of 100 µs, and the collector's key clock needs the finer one: a
// key press sent with the debugging protocol then lands on a keyboard's
// whole milliseconds by chance 1 time in 200, not 1 in 10 (measured in
// Chromium 156, docs/collector.md). Nothing on the page needs a window
// that opened it, or that it opens.
//
// NB: no other page is isolated. Isolation makes Chromium give the page a
// renderer process of its own, and that swap cost the browser that asked
// (d.Fast, which signs in with its cookie and needs no key clock) 100 ms
// of its cold path and 250–300 ms of its warm one (docs/performance.md,
// "The page's path"); a page without the collector has no clock to keep.
//
// The fast page's form (web/inline/fast.js) is answered by a 303 to the
// link's redirect (verifyForm), so its CSP is formRedirectCSP(redirect),
// wherever it is served: at the link's address, or as the code form's
// answer.
func (s *Server) render(c *fiber.Ctx, status int, d web.Landing, redirect string) error {
	s.pageHeaders(c)
	h := &c.Response().Header
	switch {
	case isolated(d):
		h.SetCanonical(hdrCOOP, valSameOrigin)
		h.SetCanonical(hdrCOEP, valCredless)
	case d.Fast && d.Scripts:
		h.SetCanonical(hdrCSP, utils.UnsafeBytes(s.formRedirectCSP(redirect))) // copied by fasthttp
	}
	c.Status(status)
	return s.site.RenderLanding(c.Response().BodyWriter(), d)
}

// isolated says whether the landing page d is served cross-origin
// isolated (render): when it runs the collector for a browser that does
// not hold the link's device cookie.
func isolated(d web.Landing) bool { return d.Scripts && !d.Fast }

func (s *Server) landingData(c *fiber.Ctx, token string, p *linkguard.Page) web.Landing {
	d := web.Landing{
		State: p.State, Nonce: p.Nonce, ConfirmURL: s.site.Path("/l/" + token + "/confirm"),
		Scripts: p.State == linkguard.PageChecking, UsedAt: p.UsedAt, ExpiresAt: p.ExpiresAt,
		LoginURL: s.loginURL(p.RedirectURL), Fast: p.Bound && c.Query("lg_fast") != "0", Notice: p.Notice,
		Lang: s.site.Lang(p.Locale, c.Get(fiber.HeaderAcceptLanguage)), Purpose: p.Purpose.OrDefault(),
	}
	if p.Locked {
		d.State, d.Scripts = linkguard.PageLocked, false
	}
	if p.RedirectURL != "" {
		// A link's page offers a new link for the same address and site;
		// without mail, the way back to the site.
		d.NewLink = s.opts.MailConfigured
		if !d.NewLink && d.LoginURL == "" {
			d.Back = s.backURL(p.RedirectURL)
		}
	}
	if d.Notice.Filter != "" && p.Notice.Seconds > 0 {
		d.Notice.After = s.duration(d.Lang, p.Notice.Seconds)
	}
	if p.AskedElsewhere {
		d.Asked = s.askedFrom(d.Lang, &p.Requester)
	}
	return d
}

// landing answers GET and HEAD /l/{token}: the page, for any token, and
// never a change of the link's state. A token that mail systems have
// dressed (see canonicalToken) is sent to its canonical address with a
// 303 and no store read, so a flood of mangled tokens costs no more than
// a flood of good ones.
func (s *Server) landing(c *fiber.Ctx) error {
	raw := c.Params("token")
	token := canonicalToken(raw)
	if token == "" {
		token = raw // nothing to keep: the page of an unknown token
	}
	if token != raw || !strings.HasSuffix(c.Path(), "/l/"+token) {
		return s.toCanonical(c, token)
	}
	token = utils.CopyString(token)
	cl := s.viewClient(c)
	p, err := s.svc.View(c.UserContext(), token, &cl)
	if err != nil {
		return err
	}
	return s.render(c, fiber.StatusOK, s.landingData(c, token, p), p.RedirectURL)
}

// formRedirectCSP is the CSP of a page whose form is answered by a 303 to
// the host's redirect: the fast page's (verifyForm) and the waiting
// page's code form (POST /login/code). Chromium applies a page's
// form-action to every redirect that follows its form's post, the host's
// own included: naming only the redirect's origin stopped a host whose
// callback sends the browser on to another origin, after the link was
// spent (e2e.TestSameBrowserFollowsACrossOriginRedirect,
// TestWaitingPageReachesTheHostsNextOrigin). So such a page's form-action
// allows any https origin (and http when the redirect is http, as in dev
// mode); its forms post to the kit's own routes.
func (s *Server) formRedirectCSP(redirect string) string {
	if hasPrefixFold(redirect, "http:") {
		return s.cspForm[1]
	}
	return s.cspForm[0]
}

// fromAnotherSite says whether a post says it came from another site
// (Sec-Fetch-Site): every form of the kit posts to its own origin.
func fromAnotherSite(c *fiber.Ctx) bool {
	site := c.Get("Sec-Fetch-Site")
	return site == "cross-site" || site == "same-site"
}

// landingRest answers GET and HEAD /l/{token}/...: what follows the
// token is something a mail system or a mail reader added (a trailing
// slash with ";name=value", a rewritten path), so the canonical address
// is where the visitor meant to go.
func (s *Server) landingRest(c *fiber.Ctx) error {
	token := canonicalToken(c.Params("token"))
	if token == "" {
		return fiber.ErrNotFound
	}
	return s.toCanonical(c, token)
}

// toCanonical is a 303 to /l/{token}, the address whose page works: the
// page posts its reports beside its own path.
func (s *Server) toCanonical(c *fiber.Ctx, token string) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set("X-Robots-Tag", "noindex, nofollow")
	c.Set(fiber.HeaderLocation, s.site.Path("/l/"+token))
	return c.SendStatus(fiber.StatusSeeOther)
}

// canonicalToken is the token a mail system's rewrite left in raw: the
// leading run of base64url characters, the only ones a token has. What
// follows is what mail systems and readers add or leave: trailing
// punctuation (".", ",", ")", ">" and their %-escapes), "%20", ";name=value"
// (";jsessionid=…"). Query strings and fragments never reach the path.
func canonicalToken(raw string) string {
	for i := 0; i < len(raw); i++ {
		if b := raw[i]; !(b >= 'A' && b <= 'Z' || b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == '-' || b == '_') {
			return raw[:i]
		}
	}
	return raw
}

type reportRequest struct {
	Nonce   string          `json:"nonce"`
	Signals json.RawMessage `json:"signals"`
	Code    string          `json:"code"`
}

type reportResponse struct {
	Outcome     linkguard.Outcome `json:"outcome"`
	RedirectURL string            `json:"redirect_url,omitempty"`
	UsedAt      string            `json:"used_at,omitempty"`
	ExpiresAt   string            `json:"expires_at,omitempty"`
}

func (s *Server) verify(c *fiber.Ctx) error {
	if isForm(c) {
		return s.verifyForm(c)
	}
	return s.report(c, fingerprint.StageVerify)
}

// isForm says whether the request's body is a form's. It runs on every
// verify and confirm, so it compares without lowering a copy.
func isForm(c *fiber.Ctx) bool {
	ct := c.Get(fiber.HeaderContentType)
	return hasPrefixFold(ct, fiber.MIMEApplicationForm) || hasPrefixFold(ct, fiber.MIMEMultipartForm)
}

// hasPrefixFold is strings.HasPrefix, ASCII case folded.
func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// verifyForm is the report of the page of the browser that asked
// (web/inline/fast.js): a form's post of the nonce and no signals, so that
// the consumed answer is a 303 to the redirect, which the browser follows
// without the page's renderer. A fetch's answer waited for that renderer,
// busy loading the page, 40–110 ms (docs/performance.md, "The page's
// path"). Any other outcome is a 303 back to the page, with lg_fast=0:
// the page with the collector, which shows the state and never posts this
// form again, so no answer can make a loop of posts.
//
// NB: a form may be posted from another site, which the device cookie's
// SameSite=Lax already keeps out; a post that says it came from another
// site (Sec-Fetch-Site) is decided without the cookie all the same, and so
// consumes nothing (nothing without a report or the cookie does).
func (s *Server) verifyForm(c *fiber.Ctx) error {
	token := utils.CopyString(c.Params("token"))
	cl := s.client(c)
	if fromAnotherSite(c) {
		cl.Binding = ""
	}
	rr := &linkguard.ReportRequest{Stage: fingerprint.StageVerify, Token: token,
		Nonce: utils.CopyString(c.FormValue("nonce")), Client: *cl}
	res, err := s.svc.Report(c.UserContext(), rr)
	if err != nil && !errors.As(err, new(*linkguard.Error)) {
		return err // the store failed: the error page, as for JSON
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	switch {
	case err == nil && res.Outcome == linkguard.OutcomeConsumed:
		c.Set(fiber.HeaderLocation, res.RedirectURL)
	case canonicalToken(token) == token:
		c.Set(fiber.HeaderLocation, s.site.Path("/l/"+token)+"?lg_fast=0")
	default:
		// Not a token (none has other characters): nothing of it goes
		// into a header.
		return fiber.ErrNotFound
	}
	return c.SendStatus(fiber.StatusSeeOther)
}

func (s *Server) confirm(c *fiber.Ctx) error {
	if isForm(c) {
		return s.confirmForm(c)
	}
	return s.report(c, fingerprint.StageConfirm)
}

func (s *Server) report(c *fiber.Ctx, stage fingerprint.Stage) error {
	var req reportRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	rr := &linkguard.ReportRequest{
		Stage: stage, Token: utils.CopyString(c.Params("token")), Nonce: req.Nonce,
		Client: *s.client(c), Code: strings.TrimSpace(req.Code),
	}
	if stage == fingerprint.StageVerify && rr.Code != "" {
		return linkguard.Errorf(linkguard.KindInvalid, linkguard.CodeInvalidRequest, "a code is sent to /confirm, not /verify")
	}
	if sig := bytes.TrimSpace(req.Signals); len(sig) > 0 && !bytes.Equal(sig, []byte("null")) && !bytes.Equal(sig, []byte("{}")) {
		var r fingerprint.Report
		if err := decodeStrict(sig, &r); err != nil {
			var le *linkguard.Error
			if errors.As(err, &le) {
				le.Message = "signals: " + le.Message
			}
			return err
		}
		if err := boundReport(&r); err != nil {
			return err
		}
		rr.Report = &r
	}
	res, err := s.svc.Report(c.UserContext(), rr)
	if err != nil {
		return err
	}
	out := reportResponse{Outcome: res.Outcome, RedirectURL: res.RedirectURL}
	if !res.UsedAt.IsZero() {
		out.UsedAt = res.UsedAt.UTC().Format("2006-01-02T15:04:05Z07:00")
	}
	if res.Outcome == linkguard.OutcomeExpired && !res.ExpiresAt.IsZero() {
		out.ExpiresAt = res.ExpiresAt.UTC().Format("2006-01-02T15:04:05Z07:00")
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(out)
}

// confirmForm is the code form of browsers without JavaScript: the same
// decision, answered with a page.
func (s *Server) confirmForm(c *fiber.Ctx) error {
	if isNewLink(c) {
		return s.newLink(c)
	}
	token := utils.CopyString(c.Params("token"))
	cl := s.client(c)
	rr := &linkguard.ReportRequest{
		Stage: fingerprint.StageConfirm, Token: token, Nonce: utils.CopyString(c.FormValue("nonce")),
		Code: strings.TrimSpace(utils.CopyString(c.FormValue("code"))), Client: *cl,
	}
	again := func(id string, le *linkguard.Error) error {
		p, err := s.svc.View(c.UserContext(), token, cl)
		if err != nil {
			return err
		}
		d := s.landingData(c, token, p)
		if p.State == linkguard.PageChecking {
			d.State = linkguard.PageCode
			if le != nil {
				d.CodeError = s.codeMessage(d.Lang, le, rr.Code)
			} else {
				d.CodeError = s.site.T(d.Lang, id)
			}
		}
		return s.render(c, fiber.StatusOK, d, p.RedirectURL)
	}
	if rr.Code == "" {
		return again("code.missing", nil)
	}
	res, err := s.svc.Report(c.UserContext(), rr)
	var le *linkguard.Error
	if errors.As(err, &le) {
		switch le.Code {
		case linkguard.CodeInvalidCode, linkguard.CodeTooManyAttempts:
			return again("", le)
		case linkguard.CodeInvalidNonce:
			return again("code.stale", nil)
		}
	}
	if err != nil {
		return err
	}
	d := web.Landing{Nonce: rr.Nonce, ConfirmURL: s.site.Path("/l/" + token + "/confirm"), LoginURL: s.loginURL(res.RedirectBack),
		Lang: s.site.Lang(res.Locale, c.Get(fiber.HeaderAcceptLanguage)), Purpose: res.Purpose.OrDefault(), NewLink: s.opts.MailConfigured}
	switch res.Outcome {
	case linkguard.OutcomeConsumed:
		d.State, d.RedirectURL = linkguard.PageDone, res.RedirectURL
	case linkguard.OutcomeUsed:
		d.State, d.UsedAt = linkguard.PageUsed, res.UsedAt
	case linkguard.OutcomeExpired:
		d.State, d.ExpiresAt = linkguard.PageExpired, res.ExpiresAt
	default:
		return again("code.missing", nil)
	}
	return s.render(c, fiber.StatusOK, d, res.RedirectBack)
}

// asset serves an embedded asset under its content-hashed name, in the
// best encoding the browser accepts.
func (s *Server) asset(c *fiber.Ctx) error {
	a, ok := s.site.Asset(c.Params("name"))
	if !ok {
		return fiber.ErrNotFound
	}
	c.Set(fiber.HeaderCacheControl, "public, max-age=31536000, immutable")
	c.Set(fiber.HeaderContentType, a.ContentType)
	// The isolated landing page's worker must be isolated too (render).
	c.Set("Cross-Origin-Embedder-Policy", "credentialless")
	c.Set(fiber.HeaderVary, fiber.HeaderAcceptEncoding)
	switch preferredEncoding(c, a) {
	case "br":
		c.Set(fiber.HeaderContentEncoding, "br")
		return c.Send(a.Brotli)
	case "gzip":
		c.Set(fiber.HeaderContentEncoding, "gzip")
		return c.Send(a.Gzip)
	}
	return c.Send(a.Raw)
}

// preferredEncoding is the encoding of a that the browser prefers, by
// Fiber's negotiation (RFC 9110: q=0 refuses, higher q wins, ties keep the
// header's order), or "" for the raw bytes. No Accept-Encoding gets the
// raw bytes (Fiber would pick the first offer).
func preferredEncoding(c *fiber.Ctx, a *web.Asset) string {
	if c.Get(fiber.HeaderAcceptEncoding) == "" {
		return ""
	}
	offers := make([]string, 0, 3)
	if a.Brotli != nil {
		offers = append(offers, "br")
	}
	if a.Gzip != nil {
		offers = append(offers, "gzip")
	}
	if enc := c.AcceptsEncodings(append(offers, "identity")...); enc != "identity" {
		return enc
	}
	return ""
}

type homeData struct{ HandoffCode bool }

// home is the root page; in a fresh dev setup it is also where links
// redirect, so it explains what the lg_code in the address is for.
func (s *Server) home(c *fiber.Ctx) error {
	return s.page(c, fiber.StatusOK, "home.html", homeData{HandoffCode: c.Query("lg_code") != ""})
}

// loginURL is offered on used and expired pages ("get a new link") when
// the hosted sign-in can send mail: a sign-in for the same site.
func (s *Server) loginURL(redirect string) string {
	if !s.opts.MailConfigured {
		return ""
	}
	if redirect == "" {
		if s.defaultRedirect() == "" {
			return ""
		}
		return s.site.Path("/login")
	}
	return s.site.Path("/login") + "?redirect_url=" + url.QueryEscape(redirect)
}
