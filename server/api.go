package server

import (
	"encoding/json"
	"net/netip"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/fingerprint"
	"github.com/linkguard/linkguard/internal/clip"
)

type createLinkRequest struct {
	Email       string          `json:"email"`
	RedirectURL string          `json:"redirect_url"`
	TTLSeconds  *int            `json:"ttl_seconds"`
	Metadata    json.RawMessage `json:"metadata"`
	SendEmail   *bool           `json:"send_email"`
	Purpose     string          `json:"purpose"`
	Locale      string          `json:"locale"`
	Requester   *struct {
		IP             string `json:"ip"`
		UserAgent      string `json:"user_agent"`
		AcceptLanguage string `json:"accept_language"`
	} `json:"requester"`
}

type createLinkResponse struct {
	ID        string    `json:"id"`
	URL       string    `json:"url"`
	Code      string    `json:"code"`
	ExpiresAt time.Time `json:"expires_at"`
}

func (s *Server) createLink(c *fiber.Ctx) error {
	var req createLinkRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	ir := &linkguard.IssueRequest{
		Email: req.Email, RedirectURL: req.RedirectURL, Metadata: req.Metadata,
		SendEmail: s.opts.MailConfigured, Purpose: linkguard.Purpose(req.Purpose), Locale: req.Locale,
	}
	if req.SendEmail != nil {
		ir.SendEmail = *req.SendEmail
	}
	if req.TTLSeconds != nil {
		if *req.TTLSeconds <= 0 {
			return linkguard.Errorf(linkguard.KindInvalid, linkguard.CodeInvalidRequest, "ttl_seconds must be a positive number of seconds")
		}
		ir.TTL = time.Duration(*req.TTLSeconds) * time.Second
	}
	if r := req.Requester; r != nil {
		if r.IP != "" {
			ip, err := netip.ParseAddr(r.IP)
			if err != nil {
				return linkguard.Errorf(linkguard.KindInvalid, linkguard.CodeInvalidRequest, "requester.ip %q is not an IP address", clip.String(r.IP, 60))
			}
			ir.Requester.IP = ip
		}
		ir.Requester.Visitor = fingerprint.Visitor{UserAgent: r.UserAgent, AcceptLanguage: r.AcceptLanguage}
	}
	out, err := s.svc.Issue(c.UserContext(), ir)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Status(fiber.StatusCreated).JSON(createLinkResponse{
		ID: out.Link.ID, URL: out.URL, Code: out.Code, ExpiresAt: out.Link.ExpiresAt,
	})
}

type linkResponse struct {
	ID          string            `json:"id"`
	Email       string            `json:"email"`
	State       linkguard.State   `json:"state"`
	Purpose     linkguard.Purpose `json:"purpose"`
	Locale      string            `json:"locale,omitempty"`
	RedirectURL string            `json:"redirect_url"`
	CreatedAt   time.Time         `json:"created_at"`
	ExpiresAt   time.Time         `json:"expires_at"`
	ConsumedAt  *time.Time        `json:"consumed_at,omitempty"`
	RevokedAt   *time.Time        `json:"revoked_at,omitempty"`
	// RevokeReason is absent for a link revoked before reasons were kept.
	RevokeReason linkguard.RevokeReason `json:"revoke_reason,omitempty"`
	Metadata     json.RawMessage        `json:"metadata,omitempty"`
	Delivery     *linkguard.Delivery    `json:"delivery,omitempty"`
	Visits       []visitResponse        `json:"visits"`
}

type visitResponse struct {
	At        time.Time                  `json:"at"`
	Kind      linkguard.VisitKind        `json:"kind"`
	Outcome   linkguard.VisitOutcome     `json:"outcome"`
	Score     *float64                   `json:"score,omitempty"`
	Country   string                     `json:"country"`
	ASN       uint32                     `json:"asn"`
	UserAgent string                     `json:"user_agent"`
	Decision  fingerprint.Decision       `json:"decision,omitempty"`
	Signals   []fingerprint.Contribution `json:"signals,omitempty"`
	// Proof is the check of the report's proof: "ok", or "replay: " and
	// why the report was not believed (absent when there was no report).
	Proof string `json:"proof,omitempty"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func (s *Server) getLink(c *fiber.Ctx) error {
	info, err := s.svc.Get(c.UserContext(), utils.CopyString(c.Params("id")))
	if err != nil {
		return err
	}
	l := info.Link
	res := linkResponse{
		ID: l.ID, Email: l.Email, State: info.State, RedirectURL: l.RedirectURL,
		Purpose: l.Purpose.OrDefault(), Locale: l.Locale,
		CreatedAt: l.CreatedAt, ExpiresAt: l.ExpiresAt,
		ConsumedAt: timePtr(l.ConsumedAt), RevokedAt: timePtr(l.RevokedAt), RevokeReason: l.RevokeReason,
		Metadata: l.Metadata, Delivery: l.Delivery, Visits: []visitResponse{},
	}
	for _, v := range info.Visits {
		vr := visitResponse{At: v.At, Kind: v.Kind, Outcome: v.Outcome, Country: v.Network.Country,
			ASN: v.Network.ASN, UserAgent: v.UserAgent}
		if v.Verdict != nil {
			score := v.Verdict.Score
			vr.Score, vr.Decision, vr.Signals = &score, v.Verdict.Decision, v.Verdict.Signals
		}
		if v.Input != nil {
			vr.Proof = v.Input.Proof
		}
		res.Visits = append(res.Visits, vr)
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(res)
}

func (s *Server) deleteLink(c *fiber.Ctx) error {
	if err := s.svc.Revoke(c.UserContext(), utils.CopyString(c.Params("id")), linkguard.RevokeAPI); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

type exchangeRequest struct {
	Code string `json:"code"`
}

type exchangeResponse struct {
	LinkID     string              `json:"link_id"`
	Email      string              `json:"email"`
	Metadata   json.RawMessage     `json:"metadata"`
	Purpose    linkguard.Purpose   `json:"purpose"`
	Locale     string              `json:"locale,omitempty"`
	ConsumedAt time.Time           `json:"consumed_at"`
	Verdict    fingerprint.Verdict `json:"verdict"`
}

func (s *Server) exchange(c *fiber.Ctx) error {
	var req exchangeRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	h, err := s.svc.Exchange(c.UserContext(), strings.TrimSpace(req.Code))
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(exchangeBody(h))
}

// exchangeBody is the answer of /v1/exchange and /v1/links/{id}/redeem.
func exchangeBody(h *linkguard.Handoff) exchangeResponse {
	md := h.Metadata
	if len(md) == 0 {
		md = json.RawMessage("{}")
	}
	return exchangeResponse{LinkID: h.LinkID, Email: h.Email, Metadata: md,
		Purpose: h.Purpose.OrDefault(), Locale: h.Locale, ConsumedAt: h.ConsumedAt, Verdict: h.Verdict}
}
