package linkguard

import (
	"strings"

	"golang.org/x/text/language"

	"github.com/linkguard/linkguard/internal/clip"
)

// Purpose says what a link is for; the mail, the landing page's wording
// and its button labels follow it, and /v1/exchange returns it.
type Purpose string

// The purposes a link may have. An empty Purpose (a link stored before
// purposes existed) means PurposeSignIn.
const (
	PurposeSignIn        Purpose = "sign_in"
	PurposeResetPassword Purpose = "reset_password"
	PurposeConfirmEmail  Purpose = "confirm_email"
	PurposeInvite        Purpose = "invite"
	PurposeApprove       Purpose = "approve"
)

// Purposes lists every purpose, in the order the docs name them.
var Purposes = []Purpose{PurposeSignIn, PurposeResetPassword, PurposeConfirmEmail, PurposeInvite, PurposeApprove}

// OrDefault is p, or PurposeSignIn when p is empty.
func (p Purpose) OrDefault() Purpose {
	if p == "" {
		return PurposeSignIn
	}
	return p
}

// ParsePurpose checks a purpose from outside; "" is PurposeSignIn.
func ParsePurpose(s string) (Purpose, error) {
	if s == "" {
		return PurposeSignIn, nil
	}
	for _, p := range Purposes {
		if string(p) == s {
			return p, nil
		}
	}
	names := make([]string, len(Purposes))
	for i, p := range Purposes {
		names[i] = string(p)
	}
	return "", Errorf(KindInvalid, CodeInvalidRequest, "purpose %q is not one of %s", clip.String(s, 40), strings.Join(names, ", "))
}

// ParseLocale checks a BCP 47 language tag from outside ("de", "pt-BR")
// and returns it in canonical form.
func ParseLocale(s string) (string, error) {
	if len(s) > 35 {
		return "", Errorf(KindInvalid, CodeInvalidRequest, "locale %q is too long for a BCP 47 language tag", clip.String(s, 40))
	}
	t, err := language.Parse(s)
	if err != nil || t == language.Und {
		return "", Errorf(KindInvalid, CodeInvalidRequest, "locale %q is not a BCP 47 language tag (expected something like de or pt-BR)", clip.String(s, 40))
	}
	return t.String(), nil
}
