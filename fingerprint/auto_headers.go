package fingerprint

// headers (automation): whether the request's headers, the browser's own
// account of itself (navigator, userAgentData) and the claimed browser
// agree. This catches headless Chromium started without automation flags
// and with a spoofed User-Agent, and clients that replay a page's request.
//
// Sources: Fetch Metadata (W3C), sent by Chrome and Edge since 80 and
// Firefox since 90; User-Agent Client Hints (WICG), sent by Chromium
// browsers on secure contexts (localhost included) since 89 and never by
// Firefox or Safari; navigator.userAgentData likewise (MDN compatibility
// tables).
func (e *eval) headers() {
	in := &e.in.Visitor
	vu := &e.vis
	if containsFold(in.Purpose, "prefetch") || containsFold(in.Purpose, "prerender") {
		e.veto("a prefetch, not a visit")
		return
	}
	if in.SecFetchSite == "" && e.in.Report != nil && sendsFetchMetadata(vu) {
		// The page's fetch always carries Sec-Fetch-Site in these
		// browsers: a report without it was made by something else that
		// read the page (a script replaying it), whatever it claims.
		e.veto("the report came without Sec-Fetch-Site, which this browser sends with every request: the page did not send it")
		return
	}
	if in.SecFetchSite != "" && in.SecFetchSite != "same-origin" {
		e.mark(0.5, "the report was sent from another site (Sec-Fetch-Site: ").ext(in.SecFetchSite).text(")")
	}
	h := ParseHints(in.SecCHUA, in.SecCHUAPlatform, in.SecCHUAMobile)
	switch {
	case h.Present && (vu.Browser == BrowserFirefox || vu.Browser == BrowserSafari):
		e.mark(0.6, "client hints from a browser that says it is ").text(vu.Browser.String())
	case !h.Present && in.SecFetchSite != "" && e.in.Report != nil && sendsClientHints(vu):
		e.mark(0.5, "no Sec-CH-UA from a ").text(vu.Browser.String()).text(" that sends it with every request")
	}
	if h.OS != OSUnknown && !osCompatible(vu.OS, h.OS) {
		e.mark(0.6, "Sec-CH-UA-Platform says ").text(h.OS.String()).text(", the User-Agent ").text(vu.OS.String())
	}
	if h.Mobile == 1 && !vu.Mobile || h.Mobile == 0 && vu.Mobile && (vu.Browser == BrowserChrome || vu.Browser == BrowserEdge) {
		e.mark(0.5, "Sec-CH-UA-Mobile contradicts the User-Agent")
	}
	if h.Major > 0 && vu.Major > 0 && (vu.Browser == BrowserChrome || vu.Browser == BrowserEdge) && h.Major != vu.Major {
		e.mark(0.6, "Sec-CH-UA says version ").int(h.Major).text(", the User-Agent ").int(vu.Major)
	}
	if r := e.r; r != nil {
		d := &r.Device
		if d.UserAgent != "" && in.UserAgent != "" && d.UserAgent != in.UserAgent {
			e.veto("the page's navigator.userAgent differs from the User-Agent header (a spoofed header)")
			return
		}
		if os, ok := platformOS(d.Platform); ok && !osCompatible(vu.OS, os) {
			e.mark(0.6, "navigator.platform ").ext(d.Platform).text(" contradicts a User-Agent on ").text(vu.OS.String())
		}
		if ud := d.UAData; ud != nil {
			if len(ud.Brands) > 0 && (vu.Browser == BrowserFirefox || vu.Browser == BrowserSafari) {
				e.mark(0.6, "userAgentData brands from a browser that says it is ").text(vu.Browser.String())
			}
			if h2 := ParseHints("", ud.Platform, ""); h2.OS != OSUnknown && !osCompatible(vu.OS, h2.OS) {
				e.mark(0.6, "userAgentData platform ").ext(ud.Platform).text(" contradicts a User-Agent on ").text(vu.OS.String())
			}
			if ud.Mobile != vu.Mobile && (vu.OS == OSAndroid || !vu.Mobile) {
				e.mark(0.5, "userAgentData.mobile contradicts the User-Agent")
			}
		}
	}
	if e.findings == 0 {
		e.note(0, "headers, navigator and User-Agent agree")
	}
}

// sendsFetchMetadata reports whether a browser sends the Sec-Fetch-*
// headers with every request: Chrome and Edge since 80 (2020), Firefox
// since 90 (2021). Safari (and every iOS browser, which is WebKit) is left
// out: it sends them only since 16.4, and its version is not always in
// the User-Agent.
func sendsFetchMetadata(u *UA) bool {
	if u.OS == OSIOS {
		return false
	}
	switch u.Browser {
	case BrowserChrome, BrowserEdge:
		return u.Major >= 80
	case BrowserFirefox:
		return u.Major >= 90
	}
	return false
}

// sendsClientHints reports whether a browser sends Sec-CH-UA with every
// request to a secure origin: Chrome and Edge since 90 on desktop and
// Android (not on iOS, where they are WebKit).
func sendsClientHints(u *UA) bool {
	if u.OS == OSIOS {
		return false
	}
	return (u.Browser == BrowserChrome || u.Browser == BrowserEdge) && u.Major >= 90
}
