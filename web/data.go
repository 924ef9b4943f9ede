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
	// Lang is the page's language (an offered one: Site.Lang), Purpose
	// the link's; both choose the page's words.
	Lang    string
	Purpose linkguard.Purpose
	// Asked, on a pending link's page in another browser than the one
	// that asked, is where it was asked from, in Lang ("Chrome on
	// Windows near London"): the code can be typed there too.
	Asked string
	// NewLink offers #lg-new-link: a form that posts to ConfirmURL for a
	// new link to the same address and site.
	NewLink bool
	// Back is the site's address, offered when no new link can be sent.
	Back string
}

// PageLang is the landing page's language.
func (d Landing) PageLang() string { return d.Lang }
