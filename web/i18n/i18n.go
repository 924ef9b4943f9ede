// Package i18n holds the words of the pages, the page script and the
// mails in every language linkguard ships, and picks the language of a
// page or a mail: the link's locale when it has one, else the browser's
// Accept-Language, else the configured default.
//
// The messages are go-i18n message files (locales/<lang>.yaml, embedded).
// An operator adds a language, or overrides some messages of a shipped
// one, without rebuilding: files named <lang>.yaml (or .json) in the
// directory given to New are loaded over the embedded ones, and any
// message they lack falls back to English.
package i18n

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/nicksnyder/go-i18n/v2/i18n"
	"golang.org/x/text/language"
	"golang.org/x/text/language/display"
	"gopkg.in/yaml.v3"

	"github.com/linkguard/linkguard/internal/memo"
)

//go:embed locales/*.yaml
var embedded embed.FS

// Default is the language every message exists in, and the last resort.
const Default = "en"

// Catalog is the messages of every offered language. It is safe for
// concurrent use.
type Catalog struct {
	bundle  *i18n.Bundle
	tags    []language.Tag // offered, Default first
	matcher language.Matcher
	def     string
	// ids lists, per language, the message ids its files define (tests
	// check that every language has every id of Default).
	ids map[string][]string

	mu  sync.Mutex
	loc map[string]*i18n.Localizer

	// Lang's answers by locale and by Accept-Language header: every
	// landing GET asks, with the same few values.
	byLocale, byAccept memo.Table[string]
}

// New loads the embedded messages and then the message files in dir
// ("" for none), which add languages or override messages. def is the
// language of pages and mails that match no offered one ("" is English);
// it must be offered.
func New(dir, def string) (*Catalog, error) {
	b := i18n.NewBundle(language.English)
	b.RegisterUnmarshalFunc("yaml", yaml.Unmarshal)
	c := &Catalog{bundle: b, ids: map[string][]string{}, loc: map[string]*i18n.Localizer{}}
	load := func(fsys fs.FS, p string) error {
		raw, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		mf, err := b.ParseMessageFileBytes(raw, path.Base(p))
		if err != nil {
			return fmt.Errorf("messages %s: %w", p, err)
		}
		lang := mf.Tag.String()
		for _, m := range mf.Messages {
			c.ids[lang] = append(c.ids[lang], m.ID)
		}
		return nil
	}
	names, _ := fs.Glob(embedded, "locales/*.yaml")
	for _, n := range names {
		if err := load(embedded, n); err != nil {
			return nil, err
		}
	}
	if dir != "" {
		if _, err := os.Stat(dir); err != nil {
			return nil, fmt.Errorf("messages folder %q: %w", dir, err)
		}
		for _, pat := range []string{"*.yaml", "*.yml", "*.json"} {
			ms, _ := filepath.Glob(filepath.Join(dir, pat))
			for _, m := range ms {
				if err := load(os.DirFS(dir), filepath.Base(m)); err != nil {
					return nil, err
				}
			}
		}
	}
	for _, t := range b.LanguageTags() {
		if t == language.English {
			continue
		}
		c.tags = append(c.tags, t)
	}
	sort.Slice(c.tags, func(i, j int) bool { return c.tags[i].String() < c.tags[j].String() })
	c.tags = append([]language.Tag{language.English}, c.tags...)
	c.matcher = language.NewMatcher(c.tags)
	if def == "" {
		def = Default
	}
	dt, err := language.Parse(def)
	if err != nil {
		return nil, fmt.Errorf("default locale %q: %w", def, err)
	}
	if _, _, conf := c.matcher.Match(dt); conf == language.No {
		return nil, fmt.Errorf("default locale %q is not offered (offered: %s)", def, strings.Join(c.Languages(), ", "))
	}
	c.def = c.closest(dt)
	return c, nil
}

// Languages lists the offered languages, English first.
func (c *Catalog) Languages() []string {
	out := make([]string, len(c.tags))
	for i, t := range c.tags {
		out[i] = t.String()
	}
	return out
}

// IDs lists the message ids that lang's files define.
func (c *Catalog) IDs(lang string) []string { return slices.Clone(c.ids[lang]) }

func (c *Catalog) closest(t language.Tag) string {
	_, i, conf := c.matcher.Match(t)
	if conf == language.No {
		return ""
	}
	return c.tags[i].String()
}

// Match is the offered language that best matches an Accept-Language
// header, or "" when none does.
func (c *Catalog) Match(acceptLanguage string) string {
	if len(acceptLanguage) > 256 {
		acceptLanguage = acceptLanguage[:256]
	}
	tags, _, err := language.ParseAcceptLanguage(acceptLanguage)
	if err != nil || len(tags) == 0 {
		return ""
	}
	_, i, conf := c.matcher.Match(tags...)
	if conf == language.No {
		return ""
	}
	return c.tags[i].String()
}

// Lang is the language of a page or mail: the offered language closest
// to locale (a link's BCP 47 locale, "" for none), else the best match of
// acceptLanguage, else the default.
func (c *Catalog) Lang(locale, acceptLanguage string) string {
	if locale != "" {
		if l := c.byLocale.Get(locale, c.closestLocale); l != "" {
			return l
		}
	}
	if l := c.byAccept.Get(acceptLanguage, c.Match); l != "" {
		return l
	}
	return c.def
}

// closestLocale is the offered language closest to a BCP 47 locale, or
// "" when it is not one or none is close.
func (c *Catalog) closestLocale(locale string) string {
	t, err := language.Parse(locale)
	if err != nil {
		return ""
	}
	return c.closest(t)
}

func (c *Catalog) localizer(lang string) *i18n.Localizer {
	c.mu.Lock()
	defer c.mu.Unlock()
	l, ok := c.loc[lang]
	if !ok {
		l = i18n.NewLocalizer(c.bundle, lang)
		c.loc[lang] = l
	}
	return l
}

// T is message id in lang, its template filled from args: pairs of a
// name and a value ("Count", 3, "Browser", "Firefox"). A "Count" also
// picks the plural form. A message missing in lang comes in English; one
// missing everywhere is its id, so a typo shows on the page and in tests.
func (c *Catalog) T(lang, id string, args ...any) string {
	var data map[string]any
	var count any
	if len(args) > 0 {
		data = make(map[string]any, len(args)/2)
		for i := 0; i+1 < len(args); i += 2 {
			k, _ := args[i].(string)
			data[k] = args[i+1]
			if k == "Count" {
				count = args[i+1]
			}
		}
	}
	s, err := c.localizer(lang).Localize(&i18n.LocalizeConfig{MessageID: id, TemplateData: data, PluralCount: count})
	if s == "" && err != nil {
		return id
	}
	return s
}

// Region is the name of an ISO 3166 region ("GB") in lang ("Vereinigtes
// Königreich"), or code itself when unknown.
func (c *Catalog) Region(lang, code string) string {
	r, err := language.ParseRegion(code)
	if err != nil {
		return code
	}
	t, err := language.Parse(lang)
	if err != nil {
		t = language.English
	}
	if n := display.Regions(t).Name(r); n != "" {
		return n
	}
	return code
}

// Has reports whether id is a message of the default language.
func (c *Catalog) Has(id string) bool {
	return slices.Contains(c.ids[Default], id)
}

// Strings writes, as JSON, the messages of lang whose ids start with
// prefix ("js."): what the page script shows, rendered into the page.
func (c *Catalog) Strings(lang, prefix string) map[string]string {
	out := map[string]string{}
	for _, id := range c.ids[Default] {
		if strings.HasPrefix(id, prefix) {
			out[strings.TrimPrefix(id, prefix)] = c.T(lang, id)
		}
	}
	return out
}

// Origin says, in lang, where a request came from: "Chrome on Windows
// near London". browser and os are product names ("" when unknown);
// place is a city, else country is an ISO 3166 code named in lang. It is
// "" when nothing is known.
func (c *Catalog) Origin(lang, browser, os, city, country string) string {
	device := ""
	switch {
	case browser != "" && os != "":
		device = c.T(lang, "origin.device", "Browser", browser, "OS", os)
	case browser != "":
		device = browser
	default:
		device = os
	}
	place := city
	if place == "" && country != "" {
		place = c.Region(lang, country)
	}
	switch {
	case device == "" && place == "":
		return ""
	case place == "":
		return device
	case device == "":
		device = c.T(lang, "origin.unknown")
	}
	return c.T(lang, "origin.near", "Device", device, "Place", place)
}
