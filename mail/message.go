package mail

import (
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"strings"
	"time"

	"github.com/linkguard/linkguard/internal/clip"
	"github.com/linkguard/linkguard/web/brand"
)

// Purpose says what a link does; it picks the subject line and wording.
type Purpose string

// The purposes the embedded templates know. An empty Purpose means
// PurposeSignIn.
const (
	PurposeSignIn        Purpose = "sign_in"
	PurposeConfirmEmail  Purpose = "confirm_email"
	PurposeResetPassword Purpose = "reset_password"
	PurposeInvite        Purpose = "invite"
	PurposeApprove       Purpose = "approve"
)

// Message is one email to send. It is plain data with JSON tags, so that the
// store can keep it in the mail queue until it has been delivered.
//
// NB: LinkURL and Code are secrets until the link is consumed. The store
// should drop a job's Message once it is sent or given up on, and nothing
// may log them outside dev mode.
type Message struct {
	// To is the recipient's address, e.g. "alice@example.com".
	To string `json:"to"`
	// From is the sender's address; empty means the Sender's default
	// (LINKGUARD_MAIL_FROM).
	From string `json:"from,omitempty"`
	// Purpose selects the wording; empty means PurposeSignIn.
	Purpose Purpose `json:"purpose,omitempty"`
	// Locale is the BCP 47 language of the mail; empty means English.
	Locale string `json:"locale,omitempty"`
	// ProductName names the site in the subject and body, e.g. "Acme".
	ProductName string `json:"product_name,omitempty"`
	// LinkURL is the one-time link (absolute http or https URL).
	LinkURL string `json:"link_url"`
	// Code is the confirmation code shown beside the link.
	Code string `json:"code"`
	// ExpiresAt is when the link stops working. The Deliverer does not send
	// a mail whose link has expired.
	ExpiresAt time.Time `json:"expires_at"`
	// Origin describes where the request came from, as a person would say
	// it: "Chrome on Windows, near London". Empty means unknown.
	Origin string `json:"origin,omitempty"`
	// Browser, OS, City and Country describe the same in parts, so that
	// each language says it its own way ("Chrome", "Windows", "London",
	// "GB"); when all are empty, Origin is used as it is.
	Browser string `json:"browser,omitempty"`
	OS      string `json:"os,omitempty"`
	City    string `json:"city,omitempty"`
	Country string `json:"country,omitempty"`
	// RequestedAt is when the link was asked for.
	RequestedAt time.Time `json:"requested_at,omitzero"`
	// Accent is the brand's colour for the mail's button ("#2456d6");
	// empty is linkguard's blue.
	Accent string `json:"accent,omitempty"`
	// SupportAddress, when set, is offered to people who did not ask for
	// the link.
	SupportAddress string `json:"support_address,omitempty"`
}

// errInvalid marks a Message that can never be delivered, so that the queue
// gives up at once instead of retrying it for the link's lifetime.
var errInvalid = errors.New("invalid message")

// Validate reports what is wrong with m, if anything. Such a message is
// never deliverable, and IsPermanent is true for the error.
func (m Message) Validate() error {
	var problems []string
	if _, err := parseAddress(m.To); err != nil {
		problems = append(problems, "to: "+err.Error())
	}
	if m.From != "" {
		if _, err := parseAddress(m.From); err != nil {
			problems = append(problems, "from: "+err.Error())
		}
	}
	switch m.Purpose {
	case "", PurposeSignIn, PurposeConfirmEmail, PurposeResetPassword, PurposeInvite, PurposeApprove:
	default:
		problems = append(problems, fmt.Sprintf("purpose: unknown %q", clip.Ellipsis(string(m.Purpose), 32)))
	}
	// The URL itself is a secret: say what is wrong, not what it is.
	if u, err := url.Parse(m.LinkURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		problems = append(problems, "link_url: must be an absolute http or https URL")
	}
	if strings.TrimSpace(m.Code) == "" {
		problems = append(problems, "code: missing")
	}
	if m.ExpiresAt.IsZero() {
		problems = append(problems, "expires_at: missing")
	}
	if strings.ContainsAny(m.ProductName+m.Origin+m.Browser+m.OS+m.City+m.Country, "\r\n") {
		problems = append(problems, "product_name and origin must be one line")
	}
	if m.Accent != "" && !brand.ValidAccent(m.Accent) {
		problems = append(problems, "accent: want a CSS colour such as #2456d6")
	}
	if m.SupportAddress != "" {
		if _, err := parseAddress(m.SupportAddress); err != nil {
			problems = append(problems, "support_address: "+err.Error())
		}
	}
	if len(problems) > 0 {
		return &Error{Op: "validate", Permanent: true, Err: fmt.Errorf("%w: %s", errInvalid, strings.Join(problems, "; "))}
	}
	return nil
}

// parseAddress accepts one address, with or without a display name, and
// refuses header injection.
func parseAddress(s string) (*mail.Address, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("missing address")
	}
	if strings.ContainsAny(s, "\r\n") {
		return nil, errors.New("address must be one line")
	}
	a, err := mail.ParseAddress(s)
	if err != nil {
		return nil, fmt.Errorf("not an email address: %q", clip.Ellipsis(s, 64))
	}
	return a, nil
}
