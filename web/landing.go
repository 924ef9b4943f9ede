package web

import (
	"bytes"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The landing page is the one page every scanner and every person loads,
// so it is not executed per request: each variant of it (everything the
// template data holds but the per-request values: state, locale,
// purpose, flags, with the brand fixed per Site) is rendered once, on
// first use, with marker values in the slots that change per request,
// and cut at the markers. A request writes the pieces and its own values
// between them.
//
// The slots are the nonce, the confirm URL, the login URL and the two
// times. A variant is used only after a check: rendered with probe
// values, the template must give exactly what the pieces give. A value
// that the template would escape or rewrite (anything but inertChars) is
// never slotted: that request is executed like any other page.

const landingPage = "landing.html"

// maxVariants bounds the cache; past it, new variants are executed each
// time (correct, only slower). States × locales × purposes × flags stay
// far below it; only the rare pages that carry a free string (a code
// error, an email, a redirect) add variants of their own.
const maxVariants = 512

// slot names one per-request value of the landing page.
type slot uint8

const (
	slotNonce slot = iota
	slotConfirmURL
	slotLoginURL
	slotUsedAt
	slotExpiresAt
	numSlots
)

// markers are what the slots hold while a variant is rendered: they
// cannot occur in a page otherwise, and are inert in every HTML context.
var markers = [numSlots]string{"zQ0lgNonce0Qz", "/zQ1lgConfirm1Qz", "/zQ2lgLogin2Qz"}

// markerTimes stand in for UsedAt and ExpiresAt; the marker is their
// rendering by the template's own "when".
var markerTimes = [2]time.Time{time.Date(2987, 3, 5, 7, 11, 0, 0, time.UTC), time.Date(2989, 9, 13, 17, 19, 0, 0, time.UTC)}

// variant is one landing page cut at its slots: parts[i], then the value
// of slots[i], ..., then the last part. ok is false when the check failed:
// the variant is executed each time.
type variant struct {
	parts [][]byte
	slots []slot
	ok    bool
}

// landingCache maps a variant's key to its pieces. The map is never
// changed once published: a new variant publishes a copy (a few hundred
// at most, once each), so a lookup takes no lock and boxes nothing.
type landingCache struct {
	mu       sync.Mutex // held to build and publish a variant
	variants atomic.Pointer[map[Landing]*variant]
	limit    int // maxVariants; tests lower it
}

// RenderLanding writes the landing page for d: from its variant's
// pre-rendered pieces when it has one, else by executing the template.
func (s *Site) RenderLanding(w io.Writer, d Landing) error {
	key, vals, ok := s.landingKey(&d)
	if !ok {
		return s.execute(w, landingPage, d)
	}
	v := s.variant(key)
	if v == nil || !v.ok {
		return s.execute(w, landingPage, d)
	}
	bp := pagePool.Get().(*[]byte)
	out := (*bp)[:0]
	for i, p := range v.parts {
		out = append(out, p...)
		if i < len(v.slots) {
			out = append(out, vals[v.slots[i]]...)
		}
	}
	_, err := w.Write(out)
	*bp = out
	pagePool.Put(bp)
	return err
}

// pagePool holds the buffers pages are assembled in: one write to the
// response, and no allocation per request.
var pagePool = sync.Pool{New: func() any { b := make([]byte, 0, 8<<10); return &b }}

// landingKey splits d into its variant (the per-request values replaced by
// their markers' presence) and the values of its slots. ok is false when
// a value may not be slotted.
func (s *Site) landingKey(d *Landing) (key Landing, vals [numSlots]string, ok bool) {
	key = *d
	if d.Nonce != "" {
		if !inert(d.Nonce, false) {
			return key, vals, false
		}
		vals[slotNonce], key.Nonce = d.Nonce, markers[slotNonce]
	}
	if d.ConfirmURL != "" {
		if !inert(d.ConfirmURL, true) {
			return key, vals, false
		}
		vals[slotConfirmURL], key.ConfirmURL = d.ConfirmURL, markers[slotConfirmURL]
	}
	if d.LoginURL != "" {
		if !inert(d.LoginURL, true) {
			return key, vals, false
		}
		vals[slotLoginURL], key.LoginURL = d.LoginURL, markers[slotLoginURL]
	}
	if !d.UsedAt.IsZero() {
		vals[slotUsedAt], key.UsedAt = s.when(d.UsedAt), markerTimes[0]
	}
	if !d.ExpiresAt.IsZero() {
		vals[slotExpiresAt], key.ExpiresAt = s.when(d.ExpiresAt), markerTimes[1]
	}
	return key, vals, true
}

// variant returns key's variant, building it on first use; nil once the
// cache is full.
func (s *Site) variant(key Landing) *variant {
	if m := s.landing.variants.Load(); m != nil {
		if v, ok := (*m)[key]; ok {
			return v
		}
	}
	s.landing.mu.Lock()
	defer s.landing.mu.Unlock()
	old := map[Landing]*variant{}
	if m := s.landing.variants.Load(); m != nil {
		old = *m
	}
	if v, ok := old[key]; ok {
		return v
	}
	if len(old) >= s.landing.limit {
		return nil
	}
	v := s.buildVariant(key)
	m := make(map[Landing]*variant, len(old)+1)
	for k, x := range old {
		m[k] = x
	}
	m[key] = v
	s.landing.variants.Store(&m)
	return v
}

// buildVariant renders key (its slots hold their markers), cuts it at the
// markers, and checks the pieces against the template with probe values.
func (s *Site) buildVariant(key Landing) *variant {
	var b bytes.Buffer
	tmpl := s.templates(key.Lang)
	if err := tmpl.ExecuteTemplate(&b, landingPage, key); err != nil {
		return &variant{} // executed each time, and each time its error shows
	}
	var found [numSlots]string
	for i, m := range []string{key.Nonce, key.ConfirmURL, key.LoginURL} {
		if m != "" {
			found[i] = markers[i]
		}
	}
	if !key.UsedAt.IsZero() {
		found[slotUsedAt] = s.when(markerTimes[0])
	}
	if !key.ExpiresAt.IsZero() {
		found[slotExpiresAt] = s.when(markerTimes[1])
	}
	v := &variant{}
	page := b.Bytes()
	for {
		at, which := -1, slot(0)
		for i, m := range found {
			if m == "" {
				continue
			}
			if j := bytes.Index(page, []byte(m)); j >= 0 && (at < 0 || j < at) {
				at, which = j, slot(i)
			}
		}
		if at < 0 {
			break
		}
		v.parts = append(v.parts, page[:at:at])
		v.slots = append(v.slots, which)
		page = page[at+len(found[which]):]
	}
	v.parts = append(v.parts, page)

	// The check: probe values through the pieces and through the template.
	probe := key
	var vals [numSlots]string
	if key.Nonce != "" {
		probe.Nonce, vals[slotNonce] = nonceChars, nonceChars
	}
	if key.ConfirmURL != "" {
		probe.ConfirmURL, vals[slotConfirmURL] = pathProbe, pathProbe
	}
	if key.LoginURL != "" {
		probe.LoginURL, vals[slotLoginURL] = pathProbe, pathProbe
	}
	if !key.UsedAt.IsZero() {
		probe.UsedAt = time.Date(2031, 12, 24, 23, 59, 0, 0, time.UTC)
		vals[slotUsedAt] = s.when(probe.UsedAt)
	}
	if !key.ExpiresAt.IsZero() {
		probe.ExpiresAt = time.Date(2032, 1, 2, 3, 4, 0, 0, time.UTC)
		vals[slotExpiresAt] = s.when(probe.ExpiresAt)
	}
	var want, got bytes.Buffer
	if tmpl.ExecuteTemplate(&want, landingPage, probe) != nil {
		return &variant{}
	}
	for i, p := range v.parts {
		got.Write(p)
		if i < len(v.slots) {
			got.WriteString(vals[v.slots[i]])
		}
	}
	v.ok = bytes.Equal(want.Bytes(), got.Bytes())
	return v
}

// nonceChars (base64url) and pathChars are what a slotted value may hold:
// characters that html/template writes as they are, in attribute values
// and in URLs that start with "/" (the kit's own paths), and "%" only as
// a %XX escape ("+" would be written "&#43;", a bare "%" as "%25").
// Each variant's check covers every one of them (pathProbe).
const (
	nonceChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	pathChars  = nonceChars + "./?=~"
	pathProbe  = "/" + pathChars + "%2F%3a"
)

// inert reports whether v may be slotted: made of nonceChars, or of
// pathChars and %XX escapes and starting with "/" (never "scheme:" or
// "//host").
func inert(v string, path bool) bool {
	set := nonceChars
	if path {
		if len(v) < 2 || v[0] != '/' || v[1] == '/' {
			return false
		}
		set = pathChars
	}
	for i := 0; i < len(v); i++ {
		if path && v[i] == '%' && i+2 < len(v) && isHex(v[i+1]) && isHex(v[i+2]) {
			i += 2
			continue
		}
		if strings.IndexByte(set, v[i]) < 0 {
			return false
		}
	}
	return true
}

func isHex(b byte) bool { return b >= '0' && b <= '9' || b >= 'a' && b <= 'f' || b >= 'A' && b <= 'F' }

// Landing must stay comparable: it is the cache's key. NB: a field that
// is a slice, map or func would not compile here; give it a comparable
// form (a string, an array) or a slot.
var _ = map[Landing]struct{}{}
