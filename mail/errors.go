package mail

import (
	"context"
	"errors"
	"net/textproto"

	gomail "github.com/wneessen/go-mail"
)

// Error is a failed delivery, classified so that a queue knows whether to
// retry. Sender.Send and Message.Validate return it.
type Error struct {
	// Op is the step that failed: "validate", "render", "dial" (connect,
	// TLS and AUTH) or "send" (the mail transaction).
	Op string
	// Code is the SMTP reply code (e.g. 535, 550, 451), or 0 when the
	// failure was not a reply (refused connection, timeout, bad input).
	Code int
	// Permanent is true when retrying the same message cannot succeed:
	// a 5xx reply or a message that is itself invalid.
	Permanent bool
	// Err is the underlying error.
	Err error
}

// Error describes the failure without the message's link or code.
func (e *Error) Error() string {
	kind := "temporary"
	if e.Permanent {
		kind = "permanent"
	}
	return "mail " + e.Op + " (" + kind + "): " + e.Err.Error()
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// IsPermanent reports whether err says that retrying the same message
// cannot succeed (an SMTP 5xx reply such as a wrong password or an unknown
// recipient, or an invalid message). Everything else, including nil, 4xx
// replies, refused connections, resets and timeouts, is worth retrying.
func IsPermanent(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Permanent
}

// classify wraps an error from go-mail. The SMTP reply code decides when
// there is one (RFC 5321 §4.2.1: 5yz is permanent, 4yz transient); without
// one, the failure is taken to be transient, because a dead relay, a reset
// connection or a timeout may all be gone on the next try, and the queue
// gives up anyway once the link expires.
func classify(op string, err error) *Error {
	e := &Error{Op: op, Err: err}
	e.Code = replyCode(err)
	switch {
	case e.Code >= 500 && e.Code < 600:
		e.Permanent = true
	case e.Code >= 400 && e.Code < 500:
		e.Permanent = false
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		e.Permanent = false
	default:
		// go-mail refuses a message it cannot address before talking to
		// the relay; that will not get better.
		var se *gomail.SendError
		if errors.As(err, &se) && (se.Reason == gomail.ErrGetSender || se.Reason == gomail.ErrGetRcpts || se.Reason == gomail.ErrNoUnencoded) {
			e.Permanent = true
		}
	}
	return e
}

// replyCode digs the SMTP reply code out of err, or returns 0.
func replyCode(err error) int {
	// errors.As walks errors.Join trees too, which go-mail uses when
	// several messages fail; we send one at a time.
	var se *gomail.SendError
	if errors.As(err, &se) {
		if c := se.ErrorCode(); c != 0 {
			return c
		}
	}
	var te *textproto.Error
	if errors.As(err, &te) {
		return te.Code
	}
	return 0
}
