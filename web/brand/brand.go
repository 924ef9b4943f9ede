// Package brand is the look that the pages and the mails share (a product
// name, a logo, an accent color, a support address) and its defaults,
// written here once.
package brand

import "regexp"

// Brand is the look of the pages and mails.
type Brand struct {
	Name    string // product name shown in titles and headings
	LogoURL string // optional logo image URL
	Accent  string // CSS color for buttons and links, e.g. "#2456d6"
	Support string // optional support address shown on error pages
}

// The defaults of a Brand's empty fields.
const (
	DefaultName   = "linkguard"
	DefaultAccent = "#1d4ed8"
)

// WithDefaults is b with DefaultName and DefaultAccent in its empty fields.
func (b Brand) WithDefaults() Brand {
	if b.Name == "" {
		b.Name = DefaultName
	}
	if b.Accent == "" {
		b.Accent = DefaultAccent
	}
	return b
}

// ValidAccent reports whether s may be an Accent: a hex color, a color
// name, or an rgb()/hsl() form, short enough that it cannot smuggle more
// CSS into a style attribute.
func ValidAccent(s string) bool { return accent.MatchString(s) }

var accent = regexp.MustCompile(`^(#[0-9a-fA-F]{3,8}|[a-zA-Z]{3,30}|(rgb|hsl)a?\([0-9a-z., %/+-]{1,60}\))$`)
