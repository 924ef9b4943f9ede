package server

import (
	"github.com/gofiber/fiber/v2"

	"github.com/linkguard/linkguard"
)

// What packages that add their own pages to the app (admin/) share with
// the server, so that they see requests and answer exactly as it does.

// Client is what the service knows of a request: its address (through the
// trusted proxies), its headers and its device cookie.
func (s *Server) Client(c *fiber.Ctx) *linkguard.Client { return s.client(c) }

// CSP is the Content-Security-Policy of the server's pages.
func (s *Server) CSP() string { return s.csp }
