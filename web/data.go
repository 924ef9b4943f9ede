package web

import (
	"time"

	"github.com/linkguard/linkguard"
)

// Landing is what the landing page template shows.
type Landing struct {
	// State is the page's initial data-lg-state.
	State linkguard.PageState
	// Nonce binds the page's reports to this rendering.
	Nonce string
	// ConfirmURL is where the code form posts (also without JavaScript).
	ConfirmURL string
	// Scripts is false on pages that need no script (used, expired, done).
	Scripts bool
	// Email is shown on the Continue step when known to the page.
	Email string
	// UsedAt and ExpiresAt explain the used and expired states.
	UsedAt, ExpiresAt time.Time
	// CodeError is shown under the code field after a wrong code.
	CodeError string
	// RedirectURL is followed in state done (form posts without JavaScript).
	RedirectURL string
	// LoginURL offers a new link on the used and expired pages.
	LoginURL string
	// Fast makes the page report at once, without waiting for the
	// collector: the browser holds the link's device cookie.
	Fast bool
	// Notice, when its Filter is set, is the #lg-notice sentence's parts:
	// which mail filter opened the link first, and how long after issue.
	// The sentence itself is the template's, so that it can be translated.
	Notice linkguard.Notice
}
