package mail

import (
	"context"
	"encoding/json"
	htmltemplate "html/template"
	"io"
	"sync"
	"time"
)

// DefaultOutboxSize is how many mails a dev outbox keeps.
const DefaultOutboxSize = 200

// OutboxEntry is one mail in the dev outbox, in the shape of docs/api.md's
// GET /dev/outbox.json.
type OutboxEntry struct {
	To      string    `json:"to"`
	Subject string    `json:"subject"`
	URL     string    `json:"url"`
	Code    string    `json:"code"`
	SentAt  time.Time `json:"sent_at"`
}

// Outbox keeps the most recent mails in memory for dev mode, newest first.
// It is a Transport: Send records the mail, after handing it to the next
// Transport when there is one, so dev mode sees every mail that went out
// whether or not SMTP is configured. It is safe for concurrent use.
//
// NB: the outbox holds live links and codes. Serve it only in dev mode.
type Outbox struct {
	next     Transport
	renderer *Renderer
	limit    int

	mu      sync.Mutex
	entries []OutboxEntry // oldest first; reversed when read

	// Now stamps SentAt.
	Now func() time.Time
}

// NewOutbox returns an outbox that keeps the last limit mails (limit <= 0
// means DefaultOutboxSize), uses r for their subject lines, and passes each
// mail on to next first (nil: record only, for dev mode without SMTP).
func NewOutbox(limit int, r *Renderer, next Transport) *Outbox {
	if limit <= 0 {
		limit = DefaultOutboxSize
	}
	return &Outbox{next: next, renderer: r, limit: limit, Now: time.Now}
}

// Send delivers m through the next Transport, if any, and records it when
// that succeeded. A failed delivery is not recorded, so the queue's retry
// does not show the same mail twice.
func (o *Outbox) Send(ctx context.Context, m Message) error {
	if err := m.Validate(); err != nil {
		return err
	}
	if o.next != nil {
		if err := o.next.Send(ctx, m); err != nil {
			return err
		}
	}
	now := o.Now()
	subject := ""
	if o.renderer != nil {
		out, err := o.renderer.Render(m, now)
		if err != nil {
			if o.next == nil {
				return &Error{Op: "render", Permanent: true, Err: err}
			}
			// Already sent: the outbox is a convenience, not a reason to
			// report a failure that would send the mail again.
		}
		subject = out.Subject
	}
	o.Add(OutboxEntry{To: m.To, Subject: subject, URL: m.LinkURL, Code: m.Code, SentAt: now})
	return nil
}

// Add records e, dropping the oldest entry when the outbox is full.
func (o *Outbox) Add(e OutboxEntry) {
	// RFC 3339 in UTC, as docs/api.md says; milliseconds are enough to order.
	e.SentAt = e.SentAt.UTC().Truncate(time.Millisecond)
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.entries) >= o.limit {
		// Shift rather than reslice so the backing array does not grow
		// without bound.
		n := copy(o.entries, o.entries[len(o.entries)-o.limit+1:])
		o.entries = o.entries[:n]
	}
	o.entries = append(o.entries, e)
}

// List returns a copy of the entries, newest first; never nil, so that it
// encodes as [] rather than null.
func (o *Outbox) List() []OutboxEntry {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make([]OutboxEntry, len(o.entries))
	for i, e := range o.entries {
		out[len(out)-1-i] = e
	}
	return out
}

// WriteJSON writes the entries as /dev/outbox.json's body.
func (o *Outbox) WriteJSON(w io.Writer) error {
	return json.NewEncoder(w).Encode(o.List())
}

// WriteHTML writes /dev/outbox: a page listing the entries, newest first,
// each link clickable.
func (o *Outbox) WriteHTML(w io.Writer) error {
	return outboxPage.Execute(w, o.List())
}

var outboxPage = htmltemplate.Must(htmltemplate.New("outbox").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<meta name="referrer" content="no-referrer">
<title>Dev outbox</title>
</head>
<body style="font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#111827;">
<h1>Dev outbox</h1>
<p>The last mails linkguard sent, newest first. This page exists in dev mode only; <a href="outbox.json">JSON</a>.</p>
{{if .}}<ol reversed style="padding-left:1.5rem;">
{{range .}}<li style="margin-bottom:1.25rem;">
<div><strong>{{.Subject}}</strong></div>
<div>To {{.To}} · <time datetime="{{.SentAt.Format "2006-01-02T15:04:05Z07:00"}}">{{.SentAt.Format "2006-01-02 15:04:05 MST"}}</time></div>
<div><a href="{{.URL}}" rel="noreferrer" style="word-break:break-all;">{{.URL}}</a></div>
<div>Code: <code style="font-size:1.2em;">{{.Code}}</code></div>
</li>
{{end}}</ol>{{else}}<p>No mail yet.</p>{{end}}
</body>
</html>
`))
