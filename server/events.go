package server

import (
	"bufio"
	"context"
	"encoding/json"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/fingerprint/replay"
)

// events answers GET /v1/events?since=168h (or an RFC 3339 time): the
// recorded decisions as JSONL, the input of `linkguard replay`, streamed
// from the running server.
func (s *Server) events(c *fiber.Ctx) error {
	since, err := replay.ParseSince(c.Query("since", "168h"), time.Now())
	if err != nil {
		return linkguard.Errorf(linkguard.KindInvalid, linkguard.CodeInvalidRequest, "since %v", err)
	}
	ctx := context.WithoutCancel(c.UserContext())
	c.Set(fiber.HeaderContentType, "application/x-ndjson")
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		err := s.svc.Decisions(ctx, since, func(v *linkguard.Visit) error {
			ev, _ := replay.FromVisit(v) // Decisions gives only visits with one
			return enc.Encode(ev)
		})
		if err != nil {
			s.log.Error("stream events", "err", err)
		}
		w.Flush()
	})
	return nil
}
