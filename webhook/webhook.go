// Package webhook tells a host's backend what happens to its links as it
// happens, following the Standard Webhooks spec (standardwebhooks.com):
// a POST of {"type", "timestamp", "data"} with the headers webhook-id,
// webhook-timestamp and webhook-signature ("v1," and the base64
// HMAC-SHA256 of "id.timestamp.body" under the endpoint's whsec_ secret).
//
// Delivery is durable and at least once: an event's jobs (Dispatcher.Jobs)
// are written by the Store in the same transaction as the change the
// event reports (linkguard.Outbox), so a change that commits has its
// event queued even if the process dies the next instant; a Dispatcher
// claims due jobs, posts them and retries failures with backoff under
// the same webhook-id, across restarts. A receiver deduplicates by
// webhook-id.
package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/linkguard/linkguard"
)

// The Standard Webhooks headers.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// SecretPrefix starts every secret as written in the configuration.
const SecretPrefix = "whsec_"

// Endpoint is one receiver of webhooks.
type Endpoint struct {
	URL string `yaml:"url"`
	// Secret is "whsec_" and the base64 of 24 to 64 random bytes.
	Secret string `yaml:"secret"`
	// Events are the types sent to this endpoint; empty: all of the
	// documented types but link.issued and link.revoked.
	Events []string `yaml:"events"`
}

// DefaultEvents are the types an endpoint gets when it names none.
var DefaultEvents = []linkguard.EventType{linkguard.EventLinkConsumed, linkguard.EventLinkExpired,
	linkguard.EventLinkLocked, linkguard.EventScannerBlocked, linkguard.EventMailFailed}

// endpoint is a checked Endpoint.
type endpoint struct {
	name   string // stable: from the URL, so that queued jobs survive a reordering
	url    string
	secret []byte
	events map[linkguard.EventType]bool
}

// ParseSecret decodes a "whsec_<base64>" secret.
func ParseSecret(s string) ([]byte, error) {
	b64, ok := strings.CutPrefix(s, SecretPrefix)
	if !ok {
		return nil, errors.New(`the secret must start with "whsec_" followed by base64 (make one with: echo whsec_$(head -c 32 /dev/urandom | base64))`)
	}
	b, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, fmt.Errorf("the secret after whsec_ is not base64: %v", err)
	}
	if len(b) < 24 || len(b) > 64 {
		return nil, fmt.Errorf("the secret holds %d bytes; use 24 to 64 random bytes", len(b))
	}
	return b, nil
}

// check validates e; i is its place in the list, for messages.
func (e Endpoint) check(i int) (*endpoint, error) {
	u, err := url.Parse(e.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("webhooks[%d].url %q: want an absolute http or https URL", i, e.URL)
	}
	if u.User != nil {
		return nil, fmt.Errorf("webhooks[%d].url: credentials in the URL are not allowed; the signature authenticates the sender", i)
	}
	sec, err := ParseSecret(e.Secret)
	if err != nil {
		return nil, fmt.Errorf("webhooks[%d].secret: %v", i, err)
	}
	ep := &endpoint{url: e.URL, secret: sec, events: map[linkguard.EventType]bool{}}
	sum := sha256.Sum256([]byte(e.URL))
	ep.name = hex.EncodeToString(sum[:6])
	if len(e.Events) == 0 {
		for _, t := range DefaultEvents {
			ep.events[t] = true
		}
	}
	for _, n := range e.Events {
		t, err := linkguard.ParseEventType(n)
		if err != nil {
			return nil, fmt.Errorf("webhooks[%d].events: %v", i, err)
		}
		ep.events[t] = true
	}
	return ep, nil
}

// CheckEndpoints validates a configuration's endpoints as New does, for
// messages at start that name the entry (webhooks[1].secret: ...).
func CheckEndpoints(eps []Endpoint) error {
	seen := map[string]bool{}
	for i, e := range eps {
		ep, err := e.check(i)
		if err != nil {
			return err
		}
		if seen[ep.name] {
			return fmt.Errorf("webhooks[%d].url %s is listed twice", i, e.URL)
		}
		seen[ep.name] = true
	}
	return nil
}

// Sign is the webhook-signature header value of a message: "v1," and the
// base64 HMAC-SHA256 of "id.timestamp.body".
func Sign(secret []byte, id string, ts time.Time, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write([]byte(strconv.FormatInt(ts.Unix(), 10)))
	m.Write([]byte{'.'})
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// Verify checks a received webhook, for hosts written in Go: the
// signature (any of the space-separated v1 signatures) and a timestamp
// within tolerance of now (replays of old messages fail). secret is the
// whsec_ string.
func Verify(secret string, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	key, err := ParseSecret(secret)
	if err != nil {
		return err
	}
	id, tsv, sigs := h.Get(HeaderID), h.Get(HeaderTimestamp), h.Get(HeaderSignature)
	if id == "" || tsv == "" || sigs == "" {
		return errors.New("missing webhook-id, webhook-timestamp or webhook-signature")
	}
	sec, err := strconv.ParseInt(tsv, 10, 64)
	if err != nil {
		return fmt.Errorf("webhook-timestamp %q is not Unix seconds", tsv)
	}
	ts := time.Unix(sec, 0)
	if d := now.Sub(ts); d > tolerance || d < -tolerance {
		return fmt.Errorf("webhook-timestamp is %s away from now; over the tolerance of %s", d.Round(time.Second), tolerance)
	}
	want := Sign(key, id, ts, body)
	for _, s := range strings.Fields(sigs) {
		if subtle.ConstantTimeCompare([]byte(s), []byte(want)) == 1 {
			return nil
		}
	}
	return errors.New("no signature matches")
}
