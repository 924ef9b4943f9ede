package linkguard

import (
	"errors"
	"fmt"
)

// Kind classifies an error for callers; server/ maps kinds to HTTP
// statuses in one place.
type Kind string

// The error kinds.
const (
	KindInvalid      Kind = "invalid"
	KindNotFound     Kind = "not_found"
	KindConflict     Kind = "conflict"
	KindUnauthorized Kind = "unauthorized"
	KindRateLimited  Kind = "rate_limited"
	KindTooLarge     Kind = "too_large"
	KindInternal     Kind = "internal"
	// KindUnavailable: a dependency is down for now (503, /readyz).
	KindUnavailable Kind = "unavailable"
)

// Error is an error a caller can act on: a kind, a stable snake_case code
// for programs, and a message for people.
type Error struct {
	Kind    Kind
	Code    ErrorCode
	Message string
	// Extra holds more members of the API's error object, beside code and
	// message (attempts_left, state). Never a secret.
	Extra map[string]any
}

func (e *Error) Error() string { return string(e.Code) + ": " + e.Message }

// Errorf returns an *Error of the given kind and code.
func Errorf(kind Kind, code ErrorCode, format string, args ...any) *Error {
	return &Error{Kind: kind, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Sentinel errors of the Store. Stores return them (possibly wrapped);
// the service turns them into outcomes or *Error values.
var (
	// ErrNotFound means no such link or handoff code.
	ErrNotFound = errors.New("not found")
	// ErrNotPending means the link was already consumed, revoked or expired.
	ErrNotPending = errors.New("link is not pending")
	// ErrTooManyAttempts means the link's code attempts are used up.
	ErrTooManyAttempts = errors.New("too many code attempts")
	// ErrWrongCode means a typed code did not match; the attempt counted.
	ErrWrongCode = errors.New("wrong code")
	// ErrLocked means another process holds the store.
	ErrLocked = errors.New("store is in use by another process")
)

// ErrorKind returns the kind of err: that of an *Error in its chain, or
// KindInternal.
func ErrorKind(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}
