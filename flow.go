package linkguard

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"time"

	"github.com/linkguard/linkguard/fingerprint"
	"github.com/linkguard/linkguard/internal/clip"
)

// Page is what the landing page of a token shows when it is rendered.
type Page struct {
	// State is the page's initial state: checking (pending), used or expired.
	State PageState
	Nonce string
	// UsedAt and ExpiresAt explain the used and expired states.
	UsedAt, ExpiresAt time.Time
	// RedirectURL is the link's redirect, so that "get a new link" can
	// start a sign-in for the same site ("" for unknown tokens).
	RedirectURL string
	// Bound is true when this browser holds the link's device cookie: the
	// page may report at once instead of waiting for the collector. It
	// changes nothing else; verify checks the cookie again.
	Bound bool
	// Notice, on a pending link's page, tells the person that a known
	// mail filter opened the link before them.
	Notice Notice
	// Purpose and Locale are the link's ("" for an unknown token).
	Purpose Purpose
	Locale  string
	// AskedElsewhere is true on a pending link's page in another browser
	// than the one that asked with /login (it had a device cookie):
	// Requester says where that was, and the code can be typed there.
	AskedElsewhere bool
	Requester      fingerprint.Requester
	// Locked is true on a pending link with no code attempts left.
	Locked bool
}

// View renders a token's landing page. It never changes the link: it only
// notes the visit, as evidence, without waiting for the disk. Unknown
// tokens get a page too (expired), so a page says nothing about which
// tokens exist.
func (s *Service) View(ctx context.Context, token string, c *Client) (*Page, error) {
	now := s.now()
	th := s.Keys.TokenHash(token)
	p := &Page{State: PageChecking, Nonce: s.Keys.Nonce(th, now)}
	l, err := s.Store.LinkByTokenHash(ctx, th)
	if errors.Is(err, ErrNotFound) {
		p.State = PageExpired
		return p, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load link: %w", err)
	}
	p.RedirectURL, p.Purpose, p.Locale = l.RedirectURL, l.Purpose.OrDefault(), l.Locale
	switch l.StateAt(now) {
	case Consumed:
		p.State, p.UsedAt = PageUsed, l.ConsumedAt
	case Expired, Revoked:
		p.State, p.ExpiresAt = PageExpired, l.ExpiresAt
	case Pending:
		p.Bound = s.bound(l, c.Binding)
		p.Locked = s.Locked(l)
		if l.Requester.HasBinding && !p.Bound {
			p.AskedElsewhere, p.Requester = true, l.Requester
		}
	}
	v := &Visit{LinkID: l.ID, At: now, Kind: VisitView, Outcome: VisitOutcomeNone,
		Network: s.network(c.IP), UserAgent: clip.String(c.Visitor.UserAgent, 512)}
	v.Scanner = s.scanner(&v.Network, v.UserAgent)
	if v.Scanner != "" {
		s.noteScanner(l, v.Scanner, now)
	} else if p.State == PageChecking {
		p.Notice = s.notice(l)
	}
	s.addVisit(ctx, v)
	return p, nil
}

// ReportRequest is a verify or confirm request from a landing page.
type ReportRequest struct {
	Stage  fingerprint.Stage
	Token  string
	Nonce  string
	Report *fingerprint.Report
	// Code is the code the person typed (confirm only).
	Code   string
	Client Client
}

// Result is the answer to a verify or confirm request.
type Result struct {
	Outcome     Outcome
	RedirectURL string // with lg_code, when consumed
	UsedAt      time.Time
	ExpiresAt   time.Time
	// AttemptsLeft is set after a wrong code.
	AttemptsLeft int
	// RedirectBack is the link's redirect on used and expired results, so
	// that a page can offer a new sign-in for the same site.
	RedirectBack string
	// Purpose and Locale are the link's, for the page that shows the
	// result.
	Purpose Purpose
	Locale  string
	// handoff is the lg_code of a consumption, for Redeem.
	handoff string
}

// Report decides what a landing page's report allows and, if the verdict
// is consume, consumes the link: the one place a link is ever spent.
func (s *Service) Report(ctx context.Context, r *ReportRequest) (*Result, error) {
	now := s.now()
	th := s.Keys.TokenHash(r.Token)
	if r.Nonce == "" {
		return nil, Errorf(KindInvalid, CodeInvalidNonce, "nonce is missing: reload the page and try again")
	}
	if err := s.Keys.CheckNonce(r.Nonce, th, now, s.Policy.NonceMaxAge); err != nil {
		return nil, Errorf(KindInvalid, CodeInvalidNonce, "this page is out of date or was not issued for this link (%v): reload the page and try again", err)
	}
	l, hist, err := s.linkAndHistory(ctx, th)
	if errors.Is(err, ErrNotFound) {
		return &Result{Outcome: OutcomeExpired}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load link: %w", err)
	}
	if res := finalResult(l, now); res != nil {
		return res, nil
	}

	in, err := s.input(ctx, l, hist, r, now)
	if err != nil {
		return nil, err
	}
	in.Proof = checkProof(r, now)
	kind := r.Stage.VisitKind()
	if r.Code != "" && !validCode(r.Code) {
		// Not a code at all: refused before an attempt is spent on it.
		return nil, &Error{Kind: KindInvalid, Code: CodeInvalidCode,
			Message: fmt.Sprintf("the code is the %d digits shown in the email; no try was counted", CodeLen),
			Extra:   map[string]any{"attempts_left": max(s.Policy.MaxCodeAttempts-l.CodeAttempts, 0)}}
	}
	v := s.Decider.Decide(in)
	if r.Code != "" {
		return s.tryCode(ctx, l, r, in, v, now)
	}
	vetoReplay(in, &v)
	if v.Decision == fingerprint.Consume && !in.Binding && r.Report == nil {
		// Rule 1 of docs/api.md, whatever the decider says: nothing that ran
		// no script consumes. The report is what the page's script sends;
		// without it (and without the device cookie) only the code will do.
		v.Decision = fingerprint.Code
		v.Signals = append(v.Signals, fingerprint.Contribution{Signal: "policy", Weight: 1,
			Reason: "no report from the page's collector: only the device cookie or the code may consume"})
	}
	if v.Decision != fingerprint.Consume {
		// NB: the link was read before its history. A report that consumed
		// it in between (the other of a double click) left a visit that
		// reads as a burst here; this one is answered as the link now is,
		// used, not with the code.
		if cur, err := s.Store.LinkByTokenHash(ctx, th); err == nil {
			if res := finalResult(cur, now); res != nil {
				return res, nil
			}
		}
	}
	vis := &Visit{LinkID: l.ID, At: now, Kind: kind, Network: in.Visitor.Network,
		UserAgent: in.Visitor.UserAgent, Scanner: s.scanner(&in.Visitor.Network, in.Visitor.UserAgent),
		Input: in, Verdict: &v}
	switch v.Decision {
	case fingerprint.Consume:
		via := ViaClick
		if in.Binding {
			via = ViaCookie
		}
		ev := visitEvent(EventLinkConsumed, l, vis, via)
		res, err := s.consume(ctx, l, v, now, false, ev, vis)
		if err != nil || res.Outcome != OutcomeConsumed {
			vis.Outcome = VisitOutcomeRejected
			s.addVisit(ctx, vis)
		} else {
			s.observer().LinkConsumed(via)
			vis.Outcome = VisitOutcomeConsumed
			s.noteVisit(vis) // stored with the consumption (Outbox.Record)
		}
		if vis.Outcome == VisitOutcomeConsumed {
			s.Emit(ctx, ev)
		}
		return res, err
	case fingerprint.Code:
		vis.Outcome = VisitOutcomeCode
		var ev *Event
		if r.Report != nil && !in.Binding && v.Automation == 0 {
			// The automation gate closed on a page that did report: a
			// machine ran the page (a mail filter's sandbox). The event is
			// written with the visit that shows it.
			ev = visitEvent(EventScannerBlocked, l, vis, "")
			vis.Outbox = s.Outbox(ev, nil)
		}
		s.addVisit(ctx, vis)
		if ev != nil {
			s.Emit(ctx, ev)
		}
		return &Result{Outcome: OutcomeCode}, nil
	default:
		vis.Outcome = VisitOutcomeConfirm
		s.addVisit(ctx, vis)
		return &Result{Outcome: OutcomeConfirm}, nil
	}
}

// finalResult answers for a link that can no longer be consumed.
func finalResult(l *Link, now time.Time) *Result {
	switch l.StateAt(now) {
	case Consumed:
		return &Result{Outcome: OutcomeUsed, UsedAt: l.ConsumedAt, RedirectBack: l.RedirectURL, Purpose: l.Purpose.OrDefault(), Locale: l.Locale}
	case Expired, Revoked:
		return &Result{Outcome: OutcomeExpired, ExpiresAt: l.ExpiresAt, RedirectBack: l.RedirectURL, Purpose: l.Purpose.OrDefault(), Locale: l.Locale}
	}
	return nil
}

// linkAndHistory reads the link of a token hash and, when the Store can
// read both in one step (LinkHistoryReader), its history summary with it;
// else the history is nil, for input to read.
func (s *Service) linkAndHistory(ctx context.Context, th []byte) (*Link, []fingerprint.PastVisit, error) {
	if r, ok := s.Store.(LinkHistoryReader); ok {
		return r.LinkAndHistoryByTokenHash(ctx, th)
	}
	l, err := s.Store.LinkByTokenHash(ctx, th)
	return l, nil, err
}

// input is what the decider reads of a report on l. hist is l's history
// summary when it was read with l, or nil to read it here.
func (s *Service) input(ctx context.Context, l *Link, hist []fingerprint.PastVisit, r *ReportRequest, now time.Time) (*fingerprint.Input, error) {
	in := &fingerprint.Input{
		Stage: r.Stage, Requester: l.Requester, Visitor: clipVisitor(r.Client.Visitor),
		Report: r.Report, Now: now,
	}
	in.Visitor.At = now
	in.Visitor.Network = s.network(r.Client.IP)
	in.Binding = s.bound(l, r.Client.Binding)
	// The decision reads the link's bounded history summary (one read),
	// never its visits: a link opened a thousand times costs the same.
	if hist == nil {
		h, err := s.Store.History(ctx, l.ID)
		if err != nil {
			return nil, fmt.Errorf("load history: %w", err)
		}
		hist = h
	}
	in.History = hist
	return in, nil
}

// clipVisitor cuts every header a visitor sent to a bounded length, so
// that a recorded input's size does not depend on what a client sends.
func clipVisitor(v fingerprint.Visitor) fingerprint.Visitor {
	v.UserAgent, v.AcceptLanguage = clip.String(v.UserAgent, 512), clip.String(v.AcceptLanguage, 256)
	v.SecFetchSite, v.SecFetchMode = clip.String(v.SecFetchSite, 32), clip.String(v.SecFetchMode, 32)
	v.SecFetchDest, v.SecFetchUser = clip.String(v.SecFetchDest, 32), clip.String(v.SecFetchUser, 8)
	v.SecCHUA, v.SecCHUAMobile = clip.String(v.SecCHUA, 256), clip.String(v.SecCHUAMobile, 8)
	v.SecCHUAPlatform, v.Purpose = clip.String(v.SecCHUAPlatform, 64), clip.String(v.Purpose, 32)
	return v
}

func (s *Service) tryCode(ctx context.Context, l *Link, r *ReportRequest, in *fingerprint.Input, v fingerprint.Verdict, now time.Time) (*Result, error) {
	vis := &Visit{LinkID: l.ID, At: now, Kind: VisitCode, Network: in.Visitor.Network,
		UserAgent: in.Visitor.UserAgent, Scanner: s.scanner(&in.Visitor.Network, in.Visitor.UserAgent),
		Input: in, Verdict: &v}
	sp, left, err := s.spendCode(ctx, l, r.Code, v, now, vis)
	vis.Outcome = VisitOutcomeRejected
	switch {
	case errors.Is(err, ErrTooManyAttempts):
		s.addVisit(ctx, vis)
		return nil, Errorf(KindRateLimited, CodeTooManyAttempts, "too many wrong codes were tried for this link: ask for a new link")
	case errors.Is(err, ErrWrongCode):
		s.addVisit(ctx, vis)
		if left <= 0 {
			return nil, Errorf(KindRateLimited, CodeTooManyAttempts, "that code is not right, and no tries are left for this link: ask for a new link")
		}
		return &Result{AttemptsLeft: left}, &Error{Kind: KindInvalid, Code: CodeInvalidCode,
			Message: fmt.Sprintf("that code is not right: check the email and try again (%d tries left)", left),
			Extra:   map[string]any{"attempts_left": left}}
	case errors.Is(err, ErrNotPending):
		s.addVisit(ctx, vis)
		if res := finalResult(sp.Link, now); res != nil {
			return res, nil
		}
		return nil, fmt.Errorf("link %s is pending after a refused code", l.ID)
	case err != nil:
		return nil, err
	}
	vis.Outcome, vis.Verdict = VisitOutcomeConsumed, &sp.Handoff.Verdict
	s.noteVisit(vis) // stored with the consumption (Outbox.Record)
	return s.spent(l, sp.Handoff.Verdict, sp.Code, true), nil
}

// Spent is a link consumed by its code: the stored link, its handoff, and
// the handoff's code (lg_code), returned once.
type Spent struct {
	Link    *Link
	Handoff *Handoff
	// Code is the handoff code. NB: a secret; never log it.
	Code string
}

// SpendCode checks a code typed for l and, when it is right, consumes l:
// the attempt count, the compare and the consumption are one
// compare-and-set in the store (Store.ConsumeWithCode), one synced write.
// v is the verdict of the request that carried the code, kept with the
// consumption under a "code" contribution. It is the one way a code
// spends a link: the landing page's form and JSON confirm use it, and so
// may any route that takes the code (redeem).
//
// Errors, which the caller maps to its answers: ErrWrongCode with left,
// the tries that remain (0: the caller may answer too_many_attempts);
// ErrTooManyAttempts (no try was left, even for the right code);
// ErrNotPending with sp.Link, the stored link (consumed, revoked or
// expired); ErrNotFound; anything else is a store failure.
func (s *Service) SpendCode(ctx context.Context, l *Link, code string, v fingerprint.Verdict, now time.Time) (sp *Spent, left int, err error) {
	return s.spendCode(ctx, l, code, v, now, nil)
}

// spendCode is SpendCode; vis, when set, is the visit that carried the
// code, whose network the events tell.
func (s *Service) spendCode(ctx context.Context, l *Link, code string, v fingerprint.Verdict, now time.Time, vis *Visit) (sp *Spent, left int, err error) {
	cv := fingerprint.Verdict{Decision: fingerprint.Consume, Score: v.Score, Config: v.Config, Rule: v.Rule,
		Signals: append([]fingerprint.Contribution{{Signal: "code", Value: 1, Weight: 1,
			Reason: "the code from the email was typed"}}, v.Signals...)}
	hcode, err := NewToken(s.rand())
	if err != nil {
		return nil, 0, err
	}
	h := &Handoff{CodeHash: s.Keys.HandoffHash(hcode), LinkID: l.ID, Email: l.Email,
		Metadata: l.Metadata, Purpose: l.Purpose.OrDefault(), Locale: l.Locale,
		ConsumedAt: now, ExpiresAt: now.Add(s.Policy.HandoffTTL), Verdict: cv}
	consumed := visitEvent(EventLinkConsumed, l, &Visit{At: now, Verdict: &cv}, ViaCode)
	if vis != nil {
		consumed.Scanner, consumed.Country, consumed.ASN = vis.Scanner, vis.Network.Country, vis.Network.ASN
	}
	locked := &Event{Type: EventLinkLocked, At: now, Email: l.Email, LinkID: l.ID,
		Purpose: l.Purpose, Attempts: s.Policy.MaxCodeAttempts}
	out := withRecord(s.Outbox(consumed, locked), vis)
	stored, err := s.Store.ConsumeWithCode(ctx, l.ID, s.Keys.CodeHash(l.ID, code), s.Policy.MaxCodeAttempts, now, cv, h, out)
	switch {
	case errors.Is(err, ErrWrongCode):
		s.observer().CodeAttempt(CodeResultWrong)
		left := s.Policy.MaxCodeAttempts - stored.CodeAttempts
		if left <= 0 {
			s.dropped(out, locked)
			s.Emit(ctx, locked)
		}
		return &Spent{Link: stored}, left, err
	case errors.Is(err, ErrTooManyAttempts):
		s.observer().CodeAttempt(CodeResultLocked)
		return &Spent{Link: stored}, 0, err
	case errors.Is(err, ErrNotPending):
		return &Spent{Link: stored}, 0, err
	case errors.Is(err, ErrNotFound):
		return nil, 0, err
	case err != nil:
		return nil, 0, fmt.Errorf("spend code: %w", err)
	}
	s.log().Info("link consumed", "link_id", l.ID, "decision", cv.Decision, "by_code", true)
	s.observer().CodeAttempt(CodeResultRight)
	s.observer().LinkConsumed(ViaCode)
	s.dropped(out, consumed)
	s.Emit(ctx, consumed)
	return &Spent{Link: stored, Handoff: h, Code: hcode}, 0, nil
}

// consume spends l with one compare-and-set and creates its handoff
// code in the same transaction; ev, the event of the consumption, is
// queued for webhooks with it, and rec, the decision's visit, recorded
// with it (Outbox.Record).
func (s *Service) consume(ctx context.Context, l *Link, v fingerprint.Verdict, now time.Time, byCode bool, ev *Event, rec *Visit) (*Result, error) {
	code, err := NewToken(s.rand())
	if err != nil {
		return nil, err
	}
	h := &Handoff{CodeHash: s.Keys.HandoffHash(code), LinkID: l.ID, Email: l.Email,
		Metadata: l.Metadata, Purpose: l.Purpose.OrDefault(), Locale: l.Locale, ConsumedAt: now, ExpiresAt: now.Add(s.Policy.HandoffTTL), Verdict: v}
	out := withRecord(s.Outbox(ev, nil), rec)
	_, err = s.Store.ConsumeLink(ctx, l.ID, now, v, h, out)
	if errors.Is(err, ErrNotPending) {
		return s.reload(ctx, l.ID, now)
	}
	if err != nil {
		return nil, fmt.Errorf("consume link: %w", err)
	}
	s.dropped(out, ev)
	s.log().Info("link consumed", "link_id", l.ID, "decision", v.Decision, "score", v.Score)
	return s.spent(l, v, code, byCode), nil
}

// spent is the answer to a consumption: the redirect with the handoff
// code and, when configured, the assertion.
func (s *Service) spent(l *Link, v fingerprint.Verdict, code string, byCode bool) *Result {
	redirect := withParam(withoutLG(l.RedirectURL), "lg_code", code)
	if s.Assert != nil {
		// The link is spent either way: a signing failure only costs the
		// host the assertion, and it still has the lg_code.
		if tok, err := s.Assert(l, v, byCode); err != nil {
			s.log().Error("sign assertion", "link_id", l.ID, "err", err)
		} else {
			redirect = withParam(redirect, "lg_assertion", tok)
		}
	}
	return &Result{Outcome: OutcomeConsumed, RedirectURL: redirect, handoff: code, Purpose: l.Purpose.OrDefault(), Locale: l.Locale}
}

// reload answers from the stored state after a lost race.
func (s *Service) reload(ctx context.Context, id string, now time.Time) (*Result, error) {
	l, err := s.Store.LinkByID(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("reload link: %w", err)
	}
	if res := finalResult(l, now); res != nil {
		return res, nil
	}
	return nil, fmt.Errorf("link %s is pending after a failed consume", id)
}

func (s *Service) addVisit(ctx context.Context, v *Visit) {
	if err := s.Store.AddVisit(ctx, v); err != nil {
		// Evidence only: the request goes on.
		s.log().Warn("record visit", "link_id", v.LinkID, "err", err)
	}
	s.noteVisit(v)
}

// noteVisit counts and logs a visit and tells the Visited hook, for a
// visit the store has (AddVisit, or a consumption's Outbox.Record).
func (s *Service) noteVisit(v *Visit) {
	s.observeVisit(v)
	s.logVisit(v)
	if s.Visited != nil {
		s.Visited(v)
	}
}

// withRecord is out carrying rec (a new Outbox when out is nil).
func withRecord(out *Outbox, rec *Visit) *Outbox {
	if rec == nil {
		return out
	}
	if out == nil {
		out = &Outbox{}
	}
	out.Record = rec
	return out
}

// scannerNamer is the optional part of a Decider that names the scanner
// entry a network or user agent matches (fingerprint.Engine has it).
type scannerNamer interface {
	Scanner(n *fingerprint.Network, ua string) string
}

// scanner attributes a visit to a mail-scanner vendor when the decider
// can say so; "" otherwise.
func (s *Service) scanner(n *fingerprint.Network, ua string) string {
	if sn, ok := s.Decider.(scannerNamer); ok {
		return sn.Scanner(n, ua)
	}
	return ""
}

// bound reports whether cookie is the device-binding cookie of l.
func (s *Service) bound(l *Link, cookie string) bool {
	return cookie != "" && len(l.BindingHash) > 0 &&
		subtle.ConstantTimeCompare(s.Keys.BindingHash(cookie), l.BindingHash) == 1
}
