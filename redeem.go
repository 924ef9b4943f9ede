package linkguard

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/linkguard/linkguard/fingerprint"
	"github.com/linkguard/linkguard/internal/clip"
)

// CodeLen is the number of digits of a link's code.
const CodeLen = 6

// validCode reports whether s looks like a code at all: input that does
// not is refused before an attempt is spent on it.
func validCode(s string) bool {
	if len(s) != CodeLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Redeem consumes link id with the code typed on the device that asked,
// for hosts that show their own "enter the code" page, and returns what
// /v1/exchange would (the handoff is taken at once).
//
// Errors: not_found; 409 not_pending (Extra["state"]); 429
// too_many_attempts; 400 invalid_code (Extra["attempts_left"]).
func (s *Service) Redeem(ctx context.Context, id, code string, c *Client) (*Handoff, error) {
	if !ValidID(id) {
		return nil, Errorf(KindNotFound, CodeNotFound, "no link has id %q", clip.String(id, 40))
	}
	l, err := s.Store.LinkByID(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, Errorf(KindNotFound, CodeNotFound, "no link has id %s", id)
	}
	if err != nil {
		return nil, fmt.Errorf("load link: %w", err)
	}
	res, err := s.codeFor(ctx, l, code, c)
	if err != nil {
		return nil, err
	}
	h, err := s.Store.TakeHandoff(ctx, s.Keys.HandoffHash(res.handoff), s.now())
	if err != nil {
		return nil, fmt.Errorf("take handoff: %w", err)
	}
	s.log().Info("link redeemed", "link_id", h.LinkID)
	return h, nil
}

// RedeemBound consumes link id with a code typed on the hosted waiting
// page. Only the browser that asked (it holds the link's device cookie)
// may: any other gets not_found, as if the link did not exist. The result
// is consumed, with the redirect that signs this browser in.
func (s *Service) RedeemBound(ctx context.Context, id, code string, c *Client) (*Result, error) {
	l, err := s.boundLink(ctx, id, c.Binding)
	if err != nil {
		return nil, err
	}
	return s.codeFor(ctx, l, code, c)
}

// WaitState is what the waiting page may learn of its link: never a
// session, a code or the link's secrets.
type WaitState struct {
	State State
	// Locked is true when no code attempts are left.
	Locked bool
}

// Wait returns the state of link id for the browser that asked for it;
// any other browser gets not_found.
func (s *Service) Wait(ctx context.Context, id, binding string) (*WaitState, error) {
	l, err := s.boundLink(ctx, id, binding)
	if err != nil {
		return nil, err
	}
	st := l.StateAt(s.now())
	return &WaitState{State: st, Locked: st == Pending && s.Locked(l)}, nil
}

// Locked reports whether l has no code attempts left.
func (s *Service) Locked(l *Link) bool { return l.CodeAttempts >= s.Policy.MaxCodeAttempts }

func (s *Service) boundLink(ctx context.Context, id, binding string) (*Link, error) {
	missing := Errorf(KindNotFound, CodeNotFound, "no link is waiting for this browser")
	if !ValidID(id) || binding == "" {
		return nil, missing
	}
	l, err := s.Store.LinkByID(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, missing
	}
	if err != nil {
		return nil, fmt.Errorf("load link: %w", err)
	}
	if !s.bound(l, binding) {
		return nil, missing
	}
	return l, nil
}

// codeFor spends one code attempt on l through the landing page's code
// path (one count of attempts for every place a code is typed) and
// answers with a consumed result or an *Error.
func (s *Service) codeFor(ctx context.Context, l *Link, code string, c *Client) (*Result, error) {
	now := s.now()
	if err := notPending(l, now); err != nil {
		return nil, err
	}
	if s.Locked(l) {
		s.observer().CodeAttempt(CodeResultLocked)
		return nil, tooMany()
	}
	if !validCode(code) {
		left := s.Policy.MaxCodeAttempts - l.CodeAttempts
		return nil, &Error{Kind: KindInvalid, Code: CodeInvalidCode,
			Message: fmt.Sprintf("the code is the %d digits shown in the email; no try was counted", CodeLen),
			Extra:   map[string]any{"attempts_left": left}}
	}
	rr := &ReportRequest{Stage: fingerprint.StageConfirm, Code: code, Client: *c}
	in, err := s.input(ctx, l, nil, rr, now)
	if err != nil {
		return nil, err
	}
	res, err := s.tryCode(ctx, l, rr, in, s.Decider.Decide(in), now)
	var le *Error
	if errors.As(err, &le) && le.Code == CodeInvalidCode && res != nil {
		le.Extra = map[string]any{"attempts_left": res.AttemptsLeft}
	}
	if err != nil {
		return nil, err
	}
	if res.Outcome != OutcomeConsumed {
		// Lost a race with another consumption, or expired meanwhile.
		cur, err := s.Store.LinkByID(ctx, l.ID)
		if err != nil {
			return nil, fmt.Errorf("reload link: %w", err)
		}
		if err := notPending(cur, now); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("link %s: code outcome %s", l.ID, res.Outcome)
	}
	return res, nil
}

func notPending(l *Link, now time.Time) error {
	st := l.StateAt(now)
	if st == Pending {
		return nil
	}
	return &Error{Kind: KindConflict, Code: CodeNotPending,
		Message: fmt.Sprintf("link %s is %s: ask for a new link", l.ID, st),
		Extra:   map[string]any{"state": st}}
}

func tooMany() error {
	return Errorf(KindRateLimited, CodeTooManyAttempts, "too many wrong codes were tried for this link: ask for a new link")
}

// LinkForPage returns the link of a landing page that asks for a new
// link ("email me a new link"): nonce must be one the page was rendered
// with, so that only a page of the link asks. The caller issues the new
// link, for the same address, site, purpose and locale, under the limits
// of a sign-in. Unknown tokens are not_found.
func (s *Service) LinkForPage(ctx context.Context, token, nonce string) (*Link, error) {
	th := s.Keys.TokenHash(token)
	if err := s.Keys.CheckNonce(nonce, th, s.now(), s.Policy.NonceMaxAge); err != nil {
		return nil, Errorf(KindInvalid, CodeInvalidNonce, "this page is out of date or was not issued for this link (%v): reload the page and try again", err)
	}
	l, err := s.Store.LinkByTokenHash(ctx, th)
	if errors.Is(err, ErrNotFound) {
		return nil, Errorf(KindNotFound, CodeNotFound, "no such link")
	}
	if err != nil {
		return nil, fmt.Errorf("load link: %w", err)
	}
	return l, nil
}
