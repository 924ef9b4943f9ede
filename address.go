package linkguard

import "strings"

// LimitAddress is the form of an email address that limits count by:
// lower case, without a +tag, and for Gmail without the dots of the
// local part, so that carol+1@, Carol@ and c.a.r.o.l@gmail.com are one
// mailbox to a limit, as they are to the mail server. It is never where
// mail goes: a link is sent to the address as typed.
func LimitAddress(email string) string {
	e := strings.ToLower(strings.TrimSpace(email))
	at := strings.LastIndexByte(e, '@')
	if at < 0 {
		return e
	}
	local, domain := e[:at], strings.TrimSuffix(e[at+1:], ".")
	if i := strings.IndexByte(local, '+'); i > 0 {
		local = local[:i]
	}
	if domain == "gmail.com" || domain == "googlemail.com" {
		local, domain = strings.ReplaceAll(local, ".", ""), "gmail.com"
	}
	return local + "@" + domain
}

// CheckEmail returns the address as Issue accepts it (trimmed), or an
// invalid error naming what is wrong: for a form that checks the address
// before it counts it against a limit.
func CheckEmail(raw string) (string, error) { return checkEmail(raw) }
