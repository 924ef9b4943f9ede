package server

import (
	"context"
	"net/netip"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/linkguard/linkguard"
)

// ReadyCheck is one check of GET /readyz beside the store's: Check
// returns nil when all is well, or an error saying what is wrong.
type ReadyCheck struct {
	Name  string // "geoip"
	Check func(ctx context.Context) error
}

// readyTimeout bounds a readiness answer: a store that takes longer is
// as good as down for the load balancer asking.
const readyTimeout = 2 * time.Second

// healthz is the liveness check: the process serves HTTP. It never looks
// at the store, so that an orchestrator does not restart a healthy
// process because Redis is away.
func (s *Server) healthz(c *fiber.Ctx) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.SendString("ok")
}

// readyz answers 200 when the store answers and takes writes and every
// Options.ReadyChecks passes; 503 not_ready naming the failing check
// otherwise. A change of state is logged once, with the whole error.
func (s *Server) readyz(c *fiber.Ctx) error {
	ctx, cancel := context.WithTimeout(c.UserContext(), readyTimeout)
	defer cancel()
	c.Set(fiber.HeaderCacheControl, "no-store")
	name, err := "store", s.svc.Ready(ctx)
	for _, rc := range s.inst.Load().ready {
		if err != nil {
			break
		}
		name, err = rc.Name, rc.Check(ctx)
	}
	if err != nil {
		if s.notReady.CompareAndSwap(false, true) {
			s.log.Warn("not ready", "check", name, "err", err)
		}
		return linkguard.Errorf(linkguard.KindUnavailable, linkguard.CodeNotReady, "%s: %v", name, err)
	}
	if s.notReady.CompareAndSwap(true, false) {
		s.log.Info("ready again")
	}
	return c.JSON(fiber.Map{"status": "ready"})
}

// clientInfo answers GET /v1/client: the address the server takes for
// this request's client, after LINKGUARD_TRUSTED_PROXIES, and whether a
// trusted proxy forwarded it. `linkguard selftest` compares it with its
// own address: a proxy the server does not trust hides every client.
func (s *Server) clientInfo(c *fiber.Ctx) error {
	peer, _ := netip.AddrFromSlice(c.Context().RemoteIP())
	peer = peer.Unmap()
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(fiber.Map{"ip": s.clientIP(c).String(), "peer": peer.String(), "forwarded": s.trusted(peer)})
}
