package server

import (
	"context"
	"net/netip"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
)

// clientIP is the address of the browser: the peer, or, when the peer is
// a trusted proxy, the rightmost X-Forwarded-For entry that is not a
// trusted proxy (the leftmost entries are whatever the client wrote).
//
// NB: every X-Forwarded-For line counts, read in order: a proxy that
// appends its own line (HAProxy's option forwardfor) puts the truth in the
// last one, and the client's own line first; reading only the first line
// would believe the client.
func (s *Server) clientIP(c *fiber.Ctx) netip.Addr {
	peer, _ := netip.AddrFromSlice(c.Context().RemoteIP())
	peer = peer.Unmap()
	if !s.trusted(peer) {
		return peer
	}
	return forwardedClient(peer, c.Request().Header.PeekAll(fiber.HeaderXForwardedFor), s.trusted)
}

// maxForwardHops bounds the walk: no real chain of proxies is this long.
const maxForwardHops = 32

// forwardedClient walks the X-Forwarded-For lines right to left, across
// lines (the last line first), from a trusted peer: the first entry that
// is not trusted is the client. A malformed entry stops the walk at the
// last trusted hop, since nothing before it can be believed.
func forwardedClient(peer netip.Addr, lines [][]byte, trusted func(netip.Addr) bool) netip.Addr {
	hops := 0
	for li := len(lines) - 1; li >= 0; li-- {
		parts := strings.Split(string(lines[li]), ",")
		for i := len(parts) - 1; i >= 0; i-- {
			if hops++; hops > maxForwardHops {
				return peer
			}
			a, ok := parseHop(parts[i])
			if !ok {
				return peer
			}
			if !trusted(a) {
				return a
			}
			peer = a
		}
	}
	return peer
}

// parseHop reads one X-Forwarded-For entry: an address, ip:port, [v6] or
// [v6]:port (some proxies add the client's port), zones dropped.
func parseHop(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	a, err := netip.ParseAddr(s)
	if err != nil {
		if ap, perr := netip.ParseAddrPort(s); perr == nil {
			a, err = ap.Addr(), nil
		} else if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
			a, err = netip.ParseAddr(s[1 : len(s)-1])
			if err == nil && !a.Is6() {
				err = perr // [1.2.3.4] is not a form anyone writes
			}
		}
	}
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap().WithZone(""), true
}

func (s *Server) trusted(a netip.Addr) bool {
	for _, p := range s.opts.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// clientAddrKey is the request value under which the OIDC handler finds
// the client address (ClientAddr).
type clientAddrKey struct{}

// oidcHandler is the OpenID Provider (a net/http handler) with the
// client address this server resolved in its requests' context: the
// provider counts failed client authentications per address, and only
// the server knows its trusted proxies.
func (s *Server) oidcHandler() fiber.Handler {
	h := adaptor.HTTPHandler(s.opts.OIDC)
	return func(c *fiber.Ctx) error {
		// The adaptor's request context is the fasthttp one, whose
		// Value reads the user values.
		c.Context().SetUserValue(clientAddrKey{}, s.clientIP(c))
		return h(c)
	}
}

// ClientAddr is the client address of a request the server handed to
// its OIDC handler (Options.OIDC), trusted proxies applied; ok is false
// for any other context.
func ClientAddr(ctx context.Context) (addr netip.Addr, ok bool) {
	addr, ok = ctx.Value(clientAddrKey{}).(netip.Addr)
	return addr, ok
}
