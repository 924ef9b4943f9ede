package server

import (
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"github.com/linkguard/linkguard"
)

type redeemRequest struct {
	Code string `json:"code"`
}

// redeem answers POST /v1/links/{id}/redeem: the code typed on the
// host's own "enter the code" page consumes the link, answered like
// /v1/exchange.
func (s *Server) redeem(c *fiber.Ctx) error {
	var req redeemRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	h, err := s.svc.Redeem(c.UserContext(), utils.CopyString(c.Params("id")), strings.TrimSpace(req.Code), &linkguard.Client{})
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(exchangeBody(h))
}
