package linkguard

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/mail"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/linkguard/linkguard/fingerprint"
	"github.com/linkguard/linkguard/internal/clip"
)

// Policy holds the lifecycle's limits. DefaultPolicy fills every field.
type Policy struct {
	DefaultTTL, MinTTL, MaxTTL time.Duration
	// NonceMaxAge is how long a rendered landing page may report.
	NonceMaxAge time.Duration
	// HandoffTTL is how long an lg_code may wait for its exchange.
	HandoffTTL time.Duration
	// MaxCodeAttempts is how many codes may be tried on one link.
	MaxCodeAttempts int
	// MaxMetadata is the largest metadata object, in bytes.
	MaxMetadata int
	// RedirectOrigins are the allowed redirect origins ("https://app.example.com").
	RedirectOrigins []string
	// RedirectPaths, when not empty, narrows each origin that it names to
	// the path prefixes listed ("https://app.example.com/auth/"); an
	// allowed origin it does not name keeps any path.
	RedirectPaths []string
	// DefaultRedirect is used when a request names no redirect_url.
	DefaultRedirect string
	// PublicURL is the base URL of links ("https://kit.example.com").
	PublicURL string
	// DefaultLocale is the language of links whose request names none and
	// whose requester's Accept-Language matches no language offered.
	DefaultLocale string
}

// DefaultPolicy returns the limits that docs/api.md documents. It names
// no public URL and no redirect origin: those are the deployment's.
func DefaultPolicy() Policy {
	return Policy{
		DefaultTTL: 15 * time.Minute, MinTTL: time.Minute, MaxTTL: 24 * time.Hour,
		NonceMaxAge: 2 * time.Hour, HandoffTTL: 60 * time.Second,
		MaxCodeAttempts: 5, MaxMetadata: 4096,
		DefaultLocale: "en",
	}
}

// DefaultRetention is how long a finished link and its visits are kept
// after expiry, so that the API can still say "expired" or "consumed".
const DefaultRetention = 7 * 24 * time.Hour

// VisitTTL is how long a store keeps a visit (and a link's visit summary)
// for a link retention: a day longer than the link itself, so that a
// visit recorded just before the link's expiry outlives no link and every
// link keeps its visits to the end (every store uses this one rule).
func VisitTTL(retention time.Duration) time.Duration { return retention + 24*time.Hour }

// Service runs the lifecycle of links over a Store. Its fields are set
// once, before use; it is then safe for concurrent use.
type Service struct {
	Store   Store
	Keys    *Keys
	Decider fingerprint.Decider
	// Locator fills in what is known of an address's network (country,
	// city, ASN). A nil Locator leaves those fields empty: the geo signals
	// are off.
	Locator fingerprint.Locator
	Policy  Policy
	Log     *slog.Logger
	// Now and Rand are injectable so that tests are exact.
	Now  func() time.Time
	Rand io.Reader
	// Mail, when set, makes the sealed email of a new link, to be queued
	// with it in the same transaction. NB: it sees the token and the code;
	// it must not log them.
	Mail func(l *Link, req *IssueRequest, url, code string) ([]byte, error)
	// MailQueued, when set, is called after a link with an email is
	// stored (to wake the deliverer).
	MailQueued func()
	// MatchLocale, when set, returns the offered language that best
	// matches an Accept-Language header, or "" when none does: the locale
	// of a link whose request names none.
	MatchLocale func(acceptLanguage string) string
	// Assert, when set, signs an assertion of a consumption that the
	// redirect carries as lg_assertion, beside lg_code.
	Assert func(l *Link, v fingerprint.Verdict, byCode bool) (string, error)
	// Observer, when set, is told what happens, for metrics (observe.go).
	Observer Observer
	// Webhooks, when set, makes the webhook jobs of each event, which the
	// Store writes in the transaction of the change the event reports
	// (Outbox): webhook.Dispatcher.
	Webhooks Webhooks
	// Notify, when set, is told of every Event (events.go) after the state
	// change it reports is stored: the console's counts, and a wake-up for
	// the webhook deliveries. NB: it runs on the request path; it must be
	// quick and must not fail the request (it logs its own errors).
	Notify func(ctx context.Context, e *Event)
	// Visited, when set, is told of every visit recorded (the console's
	// counts). NB: it runs on the landing GET's path: keep it cheap.
	Visited func(v *Visit)

	sightings sightings // notice.go
}

// now is the service's clock, in UTC and whole milliseconds: API times
// stay readable, and visits still sort.
func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC().Truncate(time.Millisecond)
	}
	return time.Now().UTC().Truncate(time.Millisecond)
}

func (s *Service) rand() io.Reader {
	if s.Rand != nil {
		return s.Rand
	}
	return rand.Reader
}

func (s *Service) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

// Client is what the service knows of a browser request: its address and
// headers. Network is filled in by the service.
type Client struct {
	IP      netip.Addr
	Visitor fingerprint.Visitor
	// Binding is the device-binding cookie's value, if the browser sent one.
	// NB: a secret; never log it.
	Binding string
}

// IssueRequest asks for a new link.
type IssueRequest struct {
	Email       string
	RedirectURL string
	TTL         time.Duration // zero: the policy's default
	Metadata    json.RawMessage
	SendEmail   bool
	// Purpose is what the link is for ("" is sign_in).
	Purpose Purpose
	// Locale is a BCP 47 tag; "" derives it from the requester's
	// Accept-Language, then the policy's default.
	Locale    string
	Requester Client
	// NewestPerDevice narrows newest-only (a new link revokes the older
	// pending one) to links asked by the same device, Requester.Binding.
	// The hosted sign-in sets it: anyone may ask there for any address,
	// and must not revoke the link another browser asked for. The API
	// leaves it off: newest-only per email and redirect origin.
	NewestPerDevice bool
}

// Issued is a new link with its secrets, returned once.
type Issued struct {
	Link  *Link
	Token string
	Code  string
	URL   string
}

// Issue validates req, stores a new pending link (revoking the older
// pending link of the same email and redirect origin, or of the same
// device: NewestPerDevice) and returns it.
func (s *Service) Issue(ctx context.Context, req *IssueRequest) (*Issued, error) {
	email, err := checkEmail(req.Email)
	if err != nil {
		return nil, err
	}
	redirect := req.RedirectURL
	if redirect == "" {
		redirect = s.Policy.DefaultRedirect
	}
	if redirect == "" {
		return nil, Errorf(KindInvalid, CodeInvalidRequest, "redirect_url is required: no default redirect is configured")
	}
	origin, err := s.CheckRedirect(redirect)
	if err != nil {
		return nil, err
	}
	ttl := req.TTL
	if ttl == 0 {
		ttl = s.Policy.DefaultTTL
	}
	if ttl < s.Policy.MinTTL || ttl > s.Policy.MaxTTL {
		return nil, Errorf(KindInvalid, CodeInvalidRequest, "ttl_seconds must be between %d and %d",
			int(s.Policy.MinTTL.Seconds()), int(s.Policy.MaxTTL.Seconds()))
	}
	if len(req.Metadata) > s.Policy.MaxMetadata {
		return nil, Errorf(KindInvalid, CodeInvalidRequest, "metadata is %d bytes; at most %d are allowed", len(req.Metadata), s.Policy.MaxMetadata)
	}
	if len(req.Metadata) > 0 && !json.Valid(req.Metadata) {
		return nil, Errorf(KindInvalid, CodeInvalidRequest, "metadata is not valid JSON")
	}

	purpose, err := ParsePurpose(string(req.Purpose))
	if err != nil {
		return nil, err
	}
	locale, err := s.locale(req)
	if err != nil {
		return nil, err
	}

	now := s.now().Truncate(time.Second) // API times are whole seconds
	id, err := NewID(s.rand(), now)
	if err != nil {
		return nil, err
	}
	token, err := NewToken(s.rand())
	if err != nil {
		return nil, err
	}
	code, err := NewCode(s.rand())
	if err != nil {
		return nil, err
	}
	l := &Link{
		ID: id, Email: email, RedirectURL: redirect, Family: s.Keys.Family(email, origin),
		Purpose: purpose, Locale: locale,
		TokenHash: s.Keys.TokenHash(token), CodeHash: s.Keys.CodeHash(id, code),
		State: Pending, CreatedAt: now, ExpiresAt: now.Add(ttl),
		Requester: fingerprint.Requester{
			Network:        s.network(req.Requester.IP),
			UserAgent:      clip.String(req.Requester.Visitor.UserAgent, 512),
			AcceptLanguage: clip.String(req.Requester.Visitor.AcceptLanguage, 256),
			At:             now,
		},
	}
	if len(req.Metadata) > 0 && string(req.Metadata) != "null" {
		l.Metadata = append(json.RawMessage(nil), req.Metadata...)
	}
	if req.Requester.Binding != "" {
		l.BindingHash = s.Keys.BindingHash(req.Requester.Binding)
		l.Requester.HasBinding = true
	}
	if req.NewestPerDevice {
		l.Family = s.Keys.Family(email, origin+" device "+hex.EncodeToString(l.BindingHash))
	}
	var sealed []byte
	if req.SendEmail {
		if s.Mail == nil {
			return nil, Errorf(KindInvalid, CodeMailNotConfigured, "send_email is true but this server has no mail delivery configured (LINKGUARD_SMTP_URL); send the mail yourself with the returned url and code, or set send_email to false")
		}
		l.Delivery = &Delivery{State: DeliveryQueued}
		if sealed, err = s.Mail(l, req, s.LinkURL(token), code); err != nil {
			return nil, fmt.Errorf("prepare email: %w", err)
		}
	}
	ev := &Event{Type: EventLinkIssued, At: now, Email: l.Email, LinkID: l.ID, Purpose: l.Purpose, ExpiresAt: l.ExpiresAt}
	out := s.Outbox(ev, nil)
	if err := s.Store.CreateLink(ctx, l, sealed, out); err != nil {
		return nil, fmt.Errorf("store link: %w", err)
	}
	s.dropped(out, ev)
	if sealed != nil && s.MailQueued != nil {
		s.MailQueued()
	}
	s.log().Info("link issued", "link_id", l.ID, "expires_at", l.ExpiresAt, "binding", l.Requester.HasBinding)
	s.observer().LinkIssued(l.Purpose.OrDefault())
	s.Emit(ctx, ev)
	return &Issued{Link: l, Token: token, Code: code, URL: s.LinkURL(token)}, nil
}

// locale is the language of a new link: the request's, else the best
// offered match of the requester's Accept-Language, else the default.
func (s *Service) locale(req *IssueRequest) (string, error) {
	if req.Locale != "" {
		return ParseLocale(req.Locale)
	}
	if al := req.Requester.Visitor.AcceptLanguage; al != "" && s.MatchLocale != nil {
		if l := s.MatchLocale(clip.String(al, 256)); l != "" {
			return l, nil
		}
	}
	if s.Policy.DefaultLocale != "" {
		return s.Policy.DefaultLocale, nil
	}
	return "en", nil
}

// LinkURL is the landing page address of a token.
func (s *Service) LinkURL(token string) string {
	return strings.TrimRight(s.Policy.PublicURL, "/") + "/l/" + token
}

func checkEmail(raw string) (string, error) {
	e := strings.TrimSpace(raw)
	if e == "" {
		return "", Errorf(KindInvalid, CodeInvalidRequest, "email is required")
	}
	a, err := mail.ParseAddress(e)
	if err != nil || a.Address != e || len(e) > 254 || !strings.Contains(e, "@") {
		return "", Errorf(KindInvalid, CodeInvalidEmail, "email %q is not a valid address (expected something like alice@example.com)", clip.String(raw, 80))
	}
	return e, nil
}

// CheckRedirect returns the origin of u if u is an absolute http(s) URL
// whose origin is allowed, and an *Error saying what is wrong otherwise.
func (s *Service) CheckRedirect(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return "", Errorf(KindInvalid, CodeRedirectNotAllowed, "redirect_url %q must be an absolute http or https URL without credentials", clip.String(raw, 200))
	}
	origin := Origin(u)
	for _, o := range s.Policy.RedirectOrigins {
		if o == origin {
			if !pathAllowed(u, origin, s.redirectPaths(origin)) {
				return "", Errorf(KindInvalid, CodeRedirectNotAllowed, "redirect_url path %q is not under an allowed path of %s", clip.String(u.EscapedPath(), 200), origin)
			}
			return origin, nil
		}
	}
	return "", Errorf(KindInvalid, CodeRedirectNotAllowed, "redirect_url origin %s is not in the allowed redirect origins", origin)
}

// Origin is scheme://host[:port] of u, lower-cased, default ports dropped.
func Origin(u *url.URL) string {
	host := strings.ToLower(u.Hostname())
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	port := u.Port()
	scheme := strings.ToLower(u.Scheme)
	if (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
		port = ""
	}
	if port != "" {
		host += ":" + port
	}
	return scheme + "://" + host
}

func (s *Service) network(ip netip.Addr) fingerprint.Network {
	var n fingerprint.Network
	if !ip.IsValid() {
		return n
	}
	n.Prefix = s.Keys.PrefixHash(ip)
	if s.Locator != nil {
		s.Locator.Locate(ip.Unmap(), &n)
	}
	return n
}

// LinkInfo is a link with its visits, for the API.
type LinkInfo struct {
	Link   *Link
	State  State
	Visits []Visit
}

// Get returns a link and its visits.
func (s *Service) Get(ctx context.Context, id string) (*LinkInfo, error) {
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
	visits, err := s.Store.Visits(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("load visits: %w", err)
	}
	return &LinkInfo{Link: l, State: l.StateAt(s.now()), Visits: visits}, nil
}

// Revoke revokes a pending link on behalf of by (RevokeAPI or
// RevokeConsole), which the link and its link.revoked event record.
// Revoking a link that is already revoked succeeds again (so retries are
// safe) and keeps the first reason; a consumed or expired link cannot be
// revoked (conflict).
func (s *Service) Revoke(ctx context.Context, id string, by RevokeReason) error {
	if !ValidID(id) {
		return Errorf(KindNotFound, CodeNotFound, "no link has id %q", clip.String(id, 40))
	}
	now := s.now()
	// The event's address and purpose are the link's: read it first (a
	// revocation is rare), so that the event is queued with the change.
	cur, err := s.Store.LinkByID(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return Errorf(KindNotFound, CodeNotFound, "no link has id %s", id)
	} else if err != nil {
		return fmt.Errorf("revoke link: %w", err)
	}
	ev := &Event{Type: EventLinkRevoked, At: now, Email: cur.Email, LinkID: id, Purpose: cur.Purpose, Reason: by}
	out := s.Outbox(ev, nil)
	l, err := s.Store.RevokeLink(ctx, id, now, by, out)
	switch {
	case errors.Is(err, ErrNotFound):
		return Errorf(KindNotFound, CodeNotFound, "no link has id %s", id)
	case errors.Is(err, ErrNotPending):
		st := l.StateAt(s.now())
		if st == Revoked {
			return nil
		}
		return Errorf(KindConflict, CodeNotPending, "link %s is %s and can no longer be revoked", id, st)
	case err != nil:
		return fmt.Errorf("revoke link: %w", err)
	}
	s.log().Info("link revoked", "link_id", id, "reason", by)
	s.dropped(out, ev)
	s.Emit(ctx, ev)
	return nil
}

// Exchange turns a handoff code into the identity it stands for, once.
func (s *Service) Exchange(ctx context.Context, code string) (*Handoff, error) {
	bad := Errorf(KindInvalid, CodeInvalidCode, "the code is unknown, expired or already exchanged")
	if len(code) != 43 {
		return nil, bad
	}
	h, err := s.Store.TakeHandoff(ctx, s.Keys.HandoffHash(code), s.now())
	if errors.Is(err, ErrNotFound) {
		return nil, bad
	}
	if err != nil {
		return nil, fmt.Errorf("take handoff: %w", err)
	}
	s.log().Info("handoff exchanged", "link_id", h.LinkID)
	return h, nil
}

// Decisions calls fn for every recorded decision (a verify, confirm or code
// visit with its input and verdict) at or after since: the events that
// replay and explain read.
func (s *Service) Decisions(ctx context.Context, since time.Time, fn func(*Visit) error) error {
	return s.Store.ScanVisits(ctx, since, func(v *Visit) error {
		if v.Input == nil || v.Verdict == nil {
			return nil
		}
		return fn(v)
	})
}
