package fingerprint

import "time"

// scanner_ua (automation): what the User-Agent says of a machine: none at
// all, an HTTP library or crawler, a named link scanner (scanners.go), a
// retired browser, or a major version pinned far behind the release of
// the day or behind the requester's own.
//
// Sources: Defender for Office 365 Safe Links detonations were seen with
// Chrome 64, 72 and 125 user agents or none (issue 8, from public
// reports); the library UAs are those libraries' documented defaults.
func (e *eval) scannerUA() {
	vu := &e.vis
	if vu.Empty {
		e.veto("no User-Agent header: no browser sends that")
		return
	}
	if e.visPat >= 0 {
		p := &e.c.uaPats[e.visPat]
		if p.generic {
			e.veto("the User-Agent is a crawler's or an HTTP library's (").ext(p.name).text(")")
		} else {
			e.veto("the User-Agent names a link scanner (").ext(p.name).text(")")
		}
		return
	}
	stale := e.c.cfg.Params.StaleMajors
	switch want := expectedMajor(vu.Browser, e.now); {
	case vu.Browser == BrowserIE:
		e.mark(0.6, "Internet Explorer, retired in 2022, as scanners still present")
	case want > 0 && vu.Major > 0 && vu.Major+stale <= want:
		e.mark(0.6, "").text(vu.Browser.String()).text(" ").int(vu.Major).text(" is ").int(want - vu.Major).text(" releases behind the current one: a pinned scanner browser")
	case e.req.Browser == vu.Browser && vu.Major > 0 && vu.Major+stale <= e.req.Major:
		e.mark(0.6, "").text(vu.Browser.String()).text(" ").int(vu.Major).text(" is ").int(e.req.Major - vu.Major).text(" releases behind the requester's: a pinned scanner browser")
	}
	if e.findings == 0 {
		e.note(0, "a browser's User-Agent (").text(vu.Browser.String()).text(" ").int(vu.Major).text(")")
	}
}

// expectedMajor estimates the current major release of a browser family
// at t from its four-week release train, so that "several versions old"
// needs no table that ages.
func expectedMajor(b Browser, t time.Time) int {
	// The trains are nominally four weeks, but holidays stretch them:
	// Chrome averaged about 31 days a release from 100 (2022-03-29) to 145
	// (2026-02), Firefox about 29 from 100 (2022-05-03). Erring long keeps
	// the estimate at or below the real release.
	var base time.Time
	var days float64
	switch b {
	case BrowserChrome, BrowserEdge:
		base, days = time.Date(2022, 3, 29, 0, 0, 0, 0, time.UTC), 31
	case BrowserFirefox:
		base, days = time.Date(2022, 5, 3, 0, 0, 0, 0, time.UTC), 29
	default:
		return 0
	}
	if t.Before(base) {
		return 0
	}
	return 100 + int(t.Sub(base).Hours()/24/days)
}
