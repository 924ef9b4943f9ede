package server

import (
	"bytes"
	"errors"
	"io"
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/linkguard/linkguard"
)

type demoData struct {
	LoginURL string
	Handoff  *linkguard.Handoff
	Error    string
}

// demo is a stand-in host site (dev mode): it sends people to the hosted
// sign-in and, on the way back, exchanges the lg_code as a host's backend
// would, then shows who signed in and why the kit let them in.
func (s *Server) demo(c *fiber.Ctx) error {
	cb := strings.TrimRight(s.svc.Policy.PublicURL, "/") + "/demo/callback"
	d := demoData{LoginURL: s.site.Path("/login") + "?redirect_url=" + url.QueryEscape(cb)}
	if code := c.Query("lg_code"); code != "" {
		h, err := s.svc.Exchange(c.UserContext(), code)
		var le *linkguard.Error
		switch {
		case errors.As(err, &le):
			d.Error = "This sign-in code was already exchanged or has expired (codes work once, for 60 seconds). Sign in again."
		case err != nil:
			return err
		default:
			d.Handoff = h
		}
	}
	return s.page(c, fiber.StatusOK, "demo.html", d)
}

func (s *Server) outboxPage(c *fiber.Ctx) error {
	return sendBuffered(c, fiber.MIMETextHTMLCharsetUTF8, s.opts.Outbox.WriteHTML)
}

func (s *Server) outboxJSON(c *fiber.Ctx) error {
	return sendBuffered(c, fiber.MIMEApplicationJSON, s.opts.Outbox.WriteJSON)
}

// sendBuffered answers with what write writes, or with write's error and
// nothing of a half-written body.
func sendBuffered(c *fiber.Ctx, contentType string, write func(io.Writer) error) error {
	var buf bytes.Buffer
	if err := write(&buf); err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set(fiber.HeaderContentType, contentType)
	return c.Send(buf.Bytes())
}
