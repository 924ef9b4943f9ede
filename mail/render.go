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

	"github.com/linkguard/linkguard/web/brand"
	"github.com/linkguard/linkguard/web/i18n"
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
	catalog *i18n.Catalog
	// langs holds the templates once per offered language: each set's
	// "t" speaks its language.
	langs map[string]*templates
}

type templates struct {
	subject *texttemplate.Template
	text    *texttemplate.Template
	html    *htmltemplate.Template
}

// NewRenderer parses the embedded templates, replacing each one by the file
// of the same name in overrideDir when there is one. An empty overrideDir
// uses the embedded templates only. Templates are parsed here, once, so a
// broken override stops the server at start instead of failing every mail.
//
// Templates see a TemplateData, and the function t: {{t "mail.open"}} is
// that message in the mail's language (web/i18n), {{t "mail.support"
// "Support" .SupportAddress}} fills a value in. The shipped languages and
// English as the default are used; NewLocalizedRenderer takes others.
func NewRenderer(overrideDir string) (*Renderer, error) {
	return NewLocalizedRenderer(overrideDir, nil)
}

// NewLocalizedRenderer is NewRenderer with the messages of cat (nil: the
// shipped ones).
func NewLocalizedRenderer(overrideDir string, cat *i18n.Catalog) (*Renderer, error) {
	if cat == nil {
		c, err := i18n.New("", "")
		if err != nil {
			return nil, err
		}
		cat = c
	}
	base := texttemplate.FuncMap{"t": func(id string, args ...any) string { return id }}
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
	var r templates
	src, err := read(SubjectTemplate)
	if err != nil {
		return nil, err
	}
	if r.subject, err = texttemplate.New(SubjectTemplate).Option("missingkey=error").Funcs(base).Parse(src); err != nil {
		return nil, fmt.Errorf("parse mail template: %w", err)
	}
	if src, err = read(TextTemplate); err != nil {
		return nil, err
	}
	if r.text, err = texttemplate.New(TextTemplate).Option("missingkey=error").Funcs(base).Parse(src); err != nil {
		return nil, fmt.Errorf("parse mail template: %w", err)
	}
	if src, err = read(HTMLTemplate); err != nil {
		return nil, err
	}
	if r.html, err = htmltemplate.New(HTMLTemplate).Option("missingkey=error").Funcs(htmltemplate.FuncMap(base)).Parse(src); err != nil {
		return nil, fmt.Errorf("parse mail template: %w", err)
	}
	out := &Renderer{catalog: cat, langs: map[string]*templates{}}
	for _, lang := range cat.Languages() {
		fm := texttemplate.FuncMap{"t": func(id string, args ...any) string { return cat.T(lang, id, args...) }}
		var l templates
		if l.subject, err = r.subject.Clone(); err != nil {
			return nil, err
		}
		if l.text, err = r.text.Clone(); err != nil {
			return nil, err
		}
		if l.html, err = r.html.Clone(); err != nil {
			return nil, err
		}
		l.subject.Funcs(fm)
		l.text.Funcs(fm)
		l.html.Funcs(htmltemplate.FuncMap(fm))
		out.langs[lang] = &l
	}
	return out, nil
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
	// OriginText is where the request came from, in Lang ("Chrome on
	// Windows near London"), or "an unknown device".
	OriginText string
	// Lang is the mail's language: the offered one closest to Locale.
	Lang string
	// Title is the purpose's call to action ("Reset your password"),
	// the button's label.
	Title string
	// AccentColor is the button's colour: the brand's accent, when it is
	// a plain colour, else linkguard's blue.
	AccentColor string
}

// Render fills the templates for m; now is the send time, from which
// ExpiresIn is counted.
func (r *Renderer) Render(m Message, now time.Time) (Rendered, error) {
	lang := r.catalog.Lang(m.Locale, "")
	c := r.catalog
	purpose := m.Purpose
	if purpose == "" {
		purpose = PurposeSignIn
	}
	d := TemplateData{
		Message:       m,
		Lang:          lang,
		Product:       strings.TrimSpace(m.ProductName),
		ExpiresIn:     r.duration(lang, m.ExpiresAt.Sub(now)),
		ExpiresAtText: formatTime(m.ExpiresAt),
		OriginText:    c.Origin(lang, m.Browser, m.OS, m.City, m.Country),
		Action:        c.T(lang, "purpose."+string(purpose)+".action"),
		Title:         c.T(lang, "purpose."+string(purpose)+".title"),
	}
	if d.Product == "" {
		d.Product = brand.DefaultName
	}
	d.AccentColor = brand.DefaultAccent
	if brand.ValidAccent(m.Accent) {
		d.AccentColor = m.Accent
	}
	if !m.RequestedAt.IsZero() {
		d.RequestedAtText = formatTime(m.RequestedAt)
	}
	if d.OriginText == "" {
		d.OriginText = strings.TrimSpace(m.Origin)
	}
	if d.OriginText == "" {
		d.OriginText = c.T(lang, "origin.unknown")
	}
	d.Subject = c.T(lang, "purpose."+string(purpose)+".subject", "Product", d.Product)
	tm := r.langs[lang]
	var out Rendered
	var b bytes.Buffer
	if err := tm.subject.Execute(&b, d); err != nil {
		return out, fmt.Errorf("render subject: %w", err)
	}
	// A subject is one header line; collapse whatever the template made.
	out.Subject = strings.Join(strings.Fields(b.String()), " ")
	d.Subject = out.Subject
	b.Reset()
	if err := tm.text.Execute(&b, d); err != nil {
		return out, fmt.Errorf("render text body: %w", err)
	}
	out.Text = b.String()
	b.Reset()
	if err := tm.html.Execute(&b, d); err != nil {
		return out, fmt.Errorf("render html body: %w", err)
	}
	out.HTML = b.String()
	return out, nil
}

// formatTime writes t for people, the same in every language and
// unambiguous across locales.
func formatTime(t time.Time) string {
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// duration rounds d to what a person needs, in lang: "15 minutes",
// "2 hours".
func (r *Renderer) duration(lang string, d time.Duration) string {
	switch {
	case d < time.Minute:
		return r.catalog.T(lang, "duration.under_minute")
	case d < 90*time.Minute:
		return r.catalog.T(lang, "duration.minute", "Count", int64((d+30*time.Second)/time.Minute))
	case d < 36*time.Hour:
		return r.catalog.T(lang, "duration.hour", "Count", int64((d+30*time.Minute)/time.Hour))
	default:
		return r.catalog.T(lang, "duration.day", "Count", int64((d+12*time.Hour)/(24*time.Hour)))
	}
}
