package server

import (
	"bufio"
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/fingerprint/replay"
	"github.com/linkguard/linkguard/internal/clip"
)

// events answers GET /v1/events?since=168h (or an RFC 3339 time): the
// recorded decisions as JSONL, the input of `linkguard replay`, streamed
// from the running server.
func (s *Server) events(c *fiber.Ctx) error {
	since, err := parseSince(c.Query("since", "168h"), time.Now())
	if err != nil {
		return err
	}
	ctx := context.WithoutCancel(c.UserContext())
	c.Set(fiber.HeaderContentType, "application/x-ndjson")
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		err := s.svc.Decisions(ctx, since, func(v *linkguard.Visit) error {
			return enc.Encode(replay.Event{ID: v.ID, LinkID: v.LinkID, At: v.At, Kind: v.Kind,
				Input: *v.Input, Verdict: *v.Verdict})
		})
		if err != nil {
			s.log.Error("stream events", "err", err)
		}
		w.Flush()
	})
	return nil
}

func parseSince(v string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(v); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	if days, ok := strings.CutSuffix(v, "d"); ok {
		if d, err := time.ParseDuration(days + "h"); err == nil && d >= 0 {
			return now.Add(-24 * d), nil
		}
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	return time.Time{}, linkguard.Errorf(linkguard.KindInvalid, linkguard.CodeInvalidRequest, "since %q: want a duration back from now (168h, 7d) or an RFC 3339 time", clip.String(v, 40))
}
