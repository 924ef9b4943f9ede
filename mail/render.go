package mail

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	texttemplate "text/template"
	"time"
)

// The template files a Renderer uses. An override directory may hold any of
// them; the others come from the embedded defaults.
const (
	SubjectTemplate = "subject.txt"
	TextTemplate    = "body.txt"
	HTMLTemplate    = "body.html"
)

//go:embed templates/*.txt templates/*.html
var embedded embed.FS

// Rendered is a Message turned into what goes on the wire.
type Rendered struct {
	Subject string // one line, whitespace collapsed
	Text    string // the text/plain part
	HTML    string // the text/html part
}

// Renderer fills the mail templates. It is safe for concurrent use.
type Renderer struct {
	subject *texttemplate.Template
	text    *texttemplate.Template
	html    *htmltemplate.Template
}

// NewRenderer parses the embedded templates, replacing each one by the file
// of the same name in overrideDir when there is one. An empty overrideDir
// uses the embedded templates only. Templates are parsed here, once, so a
// broken override stops the server at start instead of failing every mail.
//
// Templates see a TemplateData.
func NewRenderer(overrideDir string) (*Renderer, error) {
	read := func(name string) (string, error) {
		if overrideDir != "" {
			b, err := os.ReadFile(filepath.Join(overrideDir, name))
			if err == nil {
				return string(b), nil
			}
			if !errors.Is(err, fs.ErrNotExist) {
				return "", fmt.Errorf("read mail template: %w", err)
			}
		}
		b, err := embedded.ReadFile("templates/" + name)
		return string(b), err
	}
	var r Renderer
	src, err := read(SubjectTemplate)
	if err != nil {
		return nil, err
	}
	if r.subject, err = texttemplate.New(SubjectTemplate).Option("missingkey=error").Parse(src); err != nil {
		return nil, fmt.Errorf("parse mail template: %w", err)
	}
	if src, err = read(TextTemplate); err != nil {
		return nil, err
	}
	if r.text, err = texttemplate.New(TextTemplate).Option("missingkey=error").Parse(src); err != nil {
		return nil, fmt.Errorf("parse mail template: %w", err)
	}
	if src, err = read(HTMLTemplate); err != nil {
		return nil, err
	}
	if r.html, err = htmltemplate.New(HTMLTemplate).Option("missingkey=error").Parse(src); err != nil {
		return nil, fmt.Errorf("parse mail template: %w", err)
	}
	return &r, nil
}

// TemplateData is what the templates see. Times are preformatted in UTC,
// since the recipient's time zone is unknown and "in 15 minutes" carries
// the meaning.
type TemplateData struct {
	Message
	// Product is ProductName, or "your account" wording when it is empty.
	Product string
	// Action is the verb phrase: "sign in", "confirm your email address",
	// "reset your password".
	Action string
	// Subject is the rendered subject line (empty inside subject.txt).
	Subject string
	// ExpiresIn is the link's remaining lifetime, e.g. "15 minutes".
	ExpiresIn string
	// ExpiresAtText is ExpiresAt as "14:05 UTC on 2 January 2026".
	ExpiresAtText string
	// RequestedAtText is RequestedAt formatted the same way, or empty.
	RequestedAtText string
	// OriginText is Origin, or "an unknown device" when empty.
	OriginText string
}

// Render fills the templates for m; now is the send time, from which
// ExpiresIn is counted.
func (r *Renderer) Render(m Message, now time.Time) (Rendered, error) {
	d := TemplateData{
		Message:       m,
		Product:       strings.TrimSpace(m.ProductName),
		ExpiresIn:     humanDuration(m.ExpiresAt.Sub(now)),
		ExpiresAtText: formatTime(m.ExpiresAt),
		OriginText:    strings.TrimSpace(m.Origin),
	}
	if !m.RequestedAt.IsZero() {
		d.RequestedAtText = formatTime(m.RequestedAt)
	}
	if d.OriginText == "" {
		d.OriginText = "an unknown device"
	}
	switch m.Purpose {
	case PurposeConfirmEmail:
		d.Action = "confirm your email address"
	case PurposeResetPassword:
		d.Action = "reset your password"
	case PurposeInvite:
		d.Action = "accept your invitation"
	case PurposeApprove:
		d.Action = "approve the request"
	default:
		d.Action = "sign in"
	}
	var out Rendered
	var b bytes.Buffer
	if err := r.subject.Execute(&b, d); err != nil {
		return out, fmt.Errorf("render subject: %w", err)
	}
	// A subject is one header line; collapse whatever the template made.
	out.Subject = strings.Join(strings.Fields(b.String()), " ")
	d.Subject = out.Subject
	b.Reset()
	if err := r.text.Execute(&b, d); err != nil {
		return out, fmt.Errorf("render text body: %w", err)
	}
	out.Text = b.String()
	b.Reset()
	if err := r.html.Execute(&b, d); err != nil {
		return out, fmt.Errorf("render html body: %w", err)
	}
	out.HTML = b.String()
	return out, nil
}

// formatTime writes t for people, unambiguous across locales.
func formatTime(t time.Time) string {
	return t.UTC().Format("15:04 MST on 2 January 2006")
}

// humanDuration rounds d to what a person needs: "15 minutes", "2 hours".
func humanDuration(d time.Duration) string {
	plural := func(n int64, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return fmt.Sprintf("%d %ss", n, unit)
	}
	switch {
	case d < time.Minute:
		return "less than a minute"
	case d < 90*time.Minute:
		return plural(int64((d+30*time.Second)/time.Minute), "minute")
	case d < 36*time.Hour:
		return plural(int64((d+30*time.Minute)/time.Hour), "hour")
	default:
		return plural(int64((d+12*time.Hour)/(24*time.Hour)), "day")
	}
}
