package mail

import (
	"encoding/base64"
	"net/url"
	"regexp"
	"strings"
)

// The relay's replies are quoted in errors, which the deliverer logs and
// stores as the link's delivery.last_error. Some relays echo the client's
// AUTH command, or the credentials, in their rejection: scrub removes them
// before an error leaves the Sender.

// authCommand matches an AUTH command with its initial response (base64
// of the credentials): "AUTH PLAIN AGFsaWNl...".
var authCommand = regexp.MustCompile(`(?i)\bAUTH\s+([A-Z0-9_-]+)\s+(?:[A-Za-z0-9+/_-]+={0,2}|=)`)

// b64Run matches what could be base64 (standard or URL alphabet, padded
// or not) long enough to hide a credential.
var b64Run = regexp.MustCompile(`[A-Za-z0-9+/_-]{6,}={0,2}`)

// redacted replaces whatever scrub removes.
const redacted = "[redacted]"

// scrub removes from a relay's reply every AUTH command's response, the password
// (verbatim, percent-encoded and in base64), and any base64 run
// whose decoding holds the password or a SASL PLAIN "\x00user\x00" pair.
// NB: a reply is not the place to look for a credential; whatever looks
// like one there is dropped, even at the cost of some diagnostic text.
func scrub(reply, user, pass string) string {
	s := authCommand.ReplaceAllString(reply, "AUTH $1 "+redacted)
	var secrets []string
	if len(pass) >= 3 { // shorter is too short to find without wiping the reply
		secrets = append(secrets, pass, url.QueryEscape(pass), url.PathEscape(pass),
			trimPad(base64.StdEncoding.EncodeToString([]byte(pass))),
			trimPad(base64.StdEncoding.EncodeToString([]byte("\x00"+user+"\x00"+pass))),
			trimPad(base64.StdEncoding.EncodeToString([]byte(user+"\x00"+user+"\x00"+pass))))
	}
	for _, v := range secrets {
		if v != "" {
			s = strings.ReplaceAll(s, v, redacted)
		}
	}
	return b64Run.ReplaceAllStringFunc(s, func(run string) string {
		if holdsCredential(run, user, pass) {
			return redacted
		}
		return run
	})
}

func trimPad(s string) string { return strings.TrimRight(s, "=") }

// holdsCredential reports whether run decodes (in any base64 flavour) to
// bytes that contain the password, or a PLAIN blob for user.
func holdsCredential(run, user, pass string) bool {
	raw := trimPad(run)
	for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
		// A run cut short (len%4 == 1) still decodes once its tail goes.
		for _, r := range []string{raw, raw[:len(raw)-len(raw)%4]} {
			b, err := enc.DecodeString(r)
			if err != nil {
				continue
			}
			d := string(b)
			if (len(pass) >= 3 && strings.Contains(d, pass)) || (user != "" && strings.Contains(d, "\x00"+user+"\x00")) {
				return true
			}
		}
	}
	return false
}

// scrubError is an error whose text has been scrubbed; it still unwraps
// to the original, so that errors.Is and errors.As keep working.
// NB: whoever unwraps it and prints the cause prints the raw reply.
type scrubError struct {
	msg   string
	cause error
}

func (e *scrubError) Error() string { return e.msg }
func (e *scrubError) Unwrap() error { return e.cause }
