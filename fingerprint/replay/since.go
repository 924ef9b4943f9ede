package replay

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/internal/clip"
)

// ParseSince reads where an export of events starts: a positive duration
// back from now in Go's syntax ("168h", "90m"), a whole number of days
// ("7d"), or an RFC 3339 time. It is the one reading of `since` for
// GET /v1/events, the console's export and `linkguard events export`.
// NB: it refuses zero and negative durations and fractional days ("1.5d"):
// an export that starts now, or in the future, is a mistake, and "1.5d"
// would read as 1.5 days in one place and as an error in another.
func ParseSince(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if days, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n > 0 && n <= 100*365 {
			return now.Add(-time.Duration(n) * 24 * time.Hour), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d <= 0 {
			return time.Time{}, fmt.Errorf("%q: want a positive duration back from now, like 168h", clip.Ellipsis(s, 40))
		}
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q: want a duration like 168h or 7d, or an RFC 3339 time like 2026-03-02T00:00:00Z", clip.Ellipsis(s, 40))
}

// FromVisit is the event of a recorded visit: the one place a Visit
// becomes an Event. Visits without a decision (page views) have none.
func FromVisit(v *linkguard.Visit) (Event, bool) {
	if v.Input == nil || v.Verdict == nil {
		return Event{}, false
	}
	return Event{ID: v.ID, LinkID: v.LinkID, At: v.At, Kind: v.Kind, Input: *v.Input, Verdict: *v.Verdict}, true
}

// Errors of Run.
var (
	// ErrEmpty: the events hold none.
	ErrEmpty = errors.New("no events")
	// ErrNoLabels: RunOptions.Labelled, and no event carries a label.
	ErrNoLabels = errors.New("no event carries a label")
)

// ConfigError is Run's error when the configuration is refused.
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }
