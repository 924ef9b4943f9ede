package fingerprint

import "strings"

// locale (compatibility): the browser's time zone and languages against
// the network's location and the requester.
//
// NB: Firefox with privacy.resistFingerprinting reports UTC and en-US
// (Mozilla's "Firefox's protection against fingerprinting" support
// page), and so does a container without a zone; both are people often
// enough that UTC only lowers compatibility and is never a mark of a
// machine.
func (e *eval) locale() {
	vs := &e.in.Visitor.Network
	if e.r != nil {
		if tz := e.r.Locale.TimeZone; tz != "" {
			switch {
			case tz == "UTC" || tz == "Etc/UTC" || tz == "Etc/GMT" || tz == "GMT":
				e.note(-0.6, "browser time zone UTC, as servers (and resistFingerprinting) have")
			case vs.TimeZone == "":
			case tz == vs.TimeZone:
				e.note(0.5, "browser time zone matches the network's location (").ext(tz).text(")")
			case tzRegion(tz) == tzRegion(vs.TimeZone):
				e.note(0.2, "browser time zone ").ext(tz).text(", network location ").ext(vs.TimeZone).text(": same region")
			default:
				e.note(-0.6, "browser time zone ").ext(tz).text(", network location ").ext(vs.TimeZone)
			}
		}
		nav := e.r.Locale.Language
		if len(e.r.Locale.Languages) > 0 {
			nav = e.r.Locale.Languages[0]
		}
		navL, hdrL := PrimaryLanguage(nav), PrimaryLanguage(e.in.Visitor.AcceptLanguage)
		switch {
		case navL != "" && hdrL == "":
			e.note(-0.3, "no Accept-Language header from a browser")
		case navL != "" && !strings.EqualFold(navL, hdrL):
			e.note(-0.6, "Accept-Language says ").ext(hdrL).text(", navigator.languages ").ext(navL).text(": a rewritten header")
		}
	}
	rqL, vsL := PrimaryLanguage(e.in.Requester.AcceptLanguage), PrimaryLanguage(e.in.Visitor.AcceptLanguage)
	switch {
	case rqL == "" || vsL == "":
	case strings.EqualFold(rqL, vsL):
		e.note(0.3, "same language as the requester (").ext(vsL).text(")")
	default:
		e.note(-0.3, "another language than the requester (").ext(rqL).text(" → ").ext(vsL).text(")")
	}
	if e.findings == 0 {
		e.note(0, "no locale to compare")
	}
}

func tzRegion(tz string) string {
	if i := strings.IndexByte(tz, '/'); i >= 0 {
		return tz[:i]
	}
	return tz
}
