package server

import (
	"context"
	"log/slog"
	"net/netip"
	"time"

	"github.com/gofiber/fiber/v2"
)

// RequestRecorder records one HTTP request (metrics.Metrics is one): route
// is the route's pattern ("/l/:token"), never the path with its token.
type RequestRecorder interface {
	Request(route, method string, code int, d time.Duration)
}

// instruments are what observe and readyz use, swapped as one.
type instruments struct {
	rec       RequestRecorder
	accessLog bool
	ready     []ReadyCheck
}

// Instrument sets, on a built server, the request recorder, the access
// log and extra readiness checks (replacing Options'): for an assembly
// that makes its metrics after the server.
func (s *Server) Instrument(rec RequestRecorder, accessLog bool, ready ...ReadyCheck) {
	s.inst.Store(&instruments{rec: rec, accessLog: accessLog, ready: ready})
}

// observe is the first middleware: it times the request, renders a
// handler's error (so that the status is known), records the request in
// Options.Metrics and writes the access log line: route pattern, status,
// duration and the client's network, never the path (it holds tokens), a
// query, a cookie or a header.
func (s *Server) observe(c *fiber.Ctx) error {
	in := s.inst.Load()
	if in.rec == nil && !in.accessLog {
		return c.Next()
	}
	start := time.Now()
	if err := c.Next(); err != nil {
		if herr := s.errorHandler(c, err); herr != nil {
			c.Status(fiber.StatusInternalServerError)
		}
	}
	d := time.Since(start)
	route := routeOf(c)
	method := methodOf(c.Method())
	status := c.Response().StatusCode()
	if in.rec != nil {
		in.rec.Request(route, method, status, d)
	}
	if in.accessLog {
		s.log.LogAttrs(context.Background(), slog.LevelInfo, "request",
			slog.String("method", method), slog.String("route", route), slog.Int("status", status),
			slog.Duration("duration", d), slog.String("client_network", clientNetwork(s.clientIP(c))))
	}
	return nil
}

// routeOf is the pattern of the route that answered. A request no route
// matched ends in the first middleware, whose pattern is "/": it is
// "unmatched", so the home page's series stays the home page's.
func routeOf(c *fiber.Ctx) string {
	r := c.Route()
	if r == nil || (r.Path == "/" && c.Path() != "/") {
		return "unmatched"
	}
	return r.Path
}

// methodOf bounds the method label (a client may send any word) and
// copies it: Fiber's strings live in buffers that the next request reuses.
func methodOf(m string) string {
	for _, k := range [...]string{fiber.MethodGet, fiber.MethodHead, fiber.MethodPost, fiber.MethodPut,
		fiber.MethodDelete, fiber.MethodPatch, fiber.MethodOptions} {
		if m == k {
			return k
		}
	}
	return "other"
}

// clientNetwork is the network an address is in (/24 for IPv4, /48 for
// IPv6): enough to see where traffic comes from, not who.
func clientNetwork(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	bits := 48
	if a.Is4() {
		bits = 24
	}
	p, err := a.Prefix(bits)
	if err != nil {
		return ""
	}
	return p.String()
}
