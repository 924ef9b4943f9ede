package fingerprint

import (
	"bytes"
	"math"
	"strings"
	"time"
)

// Each signal below looks at one aspect of the visit and notes findings,
// each worth -1 (scanner-like) to +1 (person-like); the signal's value is
// their sum, clipped to -1..+1, and its reason their words. A signal that
// vetoes keeps the visit at the code whatever the score.

// binding: the device cookie set when the link was asked for.
func (e *eval) binding() {
	switch {
	case e.in.Binding:
		e.note(1, "the browser holds the device cookie of the browser that asked for the link")
	case !e.in.Requester.HasBinding:
		e.note(0, "the link was issued without a device cookie (no browser asked)")
	default:
		e.note(0, "no device cookie: another browser or device than the one that asked")
	}
}

// geo: where the requester and the visitor are, by GeoIP.
func (e *eval) geo() {
	rq, vs := &e.in.Requester.Network, &e.in.Visitor.Network
	if rq.Country == "" || vs.Country == "" {
		e.note(0, "no GeoIP country for the requester or the visitor")
		return
	}
	same := strings.EqualFold(rq.Country, vs.Country)
	p := &e.c.cfg.Params
	if rq.HasGeo && vs.HasGeo {
		d := distanceKm(rq.Lat, rq.Lon, vs.Lat, vs.Lon)
		switch {
		case d <= p.NearKm:
			e.note(1, "the visitor is ")
		case d >= p.FarKm:
			e.note(-1, "the visitor is ")
		case same:
			e.note(0.5, "the visitor is ")
		default:
			e.note(-0.4, "the visitor is ")
		}
		e.i(int(d)).s(" km from the requester (").s(rq.Country).s(" → ").s(vs.Country).s(")")
		return
	}
	if same {
		if rq.City != "" && rq.City == vs.City {
			e.note(1, "same city as the requester (").s(vs.City).s(")")
			return
		}
		e.note(0.6, "same country as the requester (").s(vs.Country).s(")")
		return
	}
	e.note(-0.8, "another country than the requester (").s(rq.Country).s(" → ").s(vs.Country).s(")")
}

// distanceKm is the great-circle distance between two points.
func distanceKm(lat1, lon1, lat2, lon2 float64) float64 {
	const r = 6371.0
	rad := math.Pi / 180
	dlat := (lat2 - lat1) * rad
	dlon := (lon2 - lon1) * rad
	a := math.Sin(dlat/2)*math.Sin(dlat/2) + math.Cos(lat1*rad)*math.Cos(lat2*rad)*math.Sin(dlon/2)*math.Sin(dlon/2)
	return 2 * r * math.Asin(math.Sqrt(min(1, a)))
}

// sameNetwork compares two networks by prefix hash, else by ASN.
func sameNetwork(a, b *Network) bool {
	if a.Prefix != "" && b.Prefix != "" {
		return a.Prefix == b.Prefix
	}
	return a.ASN != 0 && a.ASN == b.ASN
}

// network: whose network the visitor comes from.
func (e *eval) network() {
	rq, vs := &e.in.Requester.Network, &e.in.Visitor.Network
	if vs.Range != "" {
		e.veto("the address is in a range of the mail-scanner vendor ").s(vs.Range).s("; a person behind its browser isolation can still type the code")
		return
	}
	if name, ok := e.c.scannerASN[vs.ASN]; ok && vs.ASN != 0 {
		e.veto("").as(vs.ASN).s(" belongs to the mail-scanner vendor ").s(name).s("; a person behind its browser isolation can still type the code")
		return
	}
	switch {
	case vs.Prefix != "" && vs.Prefix == rq.Prefix:
		e.note(1, "same address block as the requester")
	case vs.ASN != 0 && vs.ASN == rq.ASN:
		e.note(0.8, "same network as the requester (").as(vs.ASN).s(")")
	case e.c.datacenter[vs.ASN]:
		e.note(-1, "").as(vs.ASN).s(" is a datacenter network: people rarely browse from one")
	case vs.ASN == 0:
		e.note(0, "no ASN for the visitor")
	default:
		e.note(0, "another network than the requester (").as(vs.ASN).s(")")
	}
}

// expectedMajor estimates the current major release of a browser family
// at t from its four-week release train, so that "several versions old"
// needs no table that ages.
func expectedMajor(f Family, t time.Time) int {
	// The trains are nominally four weeks, but holidays stretch them:
	// Chrome averaged about 31 days a release from 100 (2022-03-29) to 145
	// (2026-02), Firefox about 29 from 100 (2022-05-03). Erring long keeps
	// the estimate at or below the real release.
	var base time.Time
	var days float64
	switch f {
	case FamilyChrome, FamilyEdge:
		base, days = time.Date(2022, 3, 29, 0, 0, 0, 0, time.UTC), 31
	case FamilyFirefox:
		base, days = time.Date(2022, 5, 3, 0, 0, 0, 0, time.UTC), 29
	default:
		return 0
	}
	if t.Before(base) {
		return 0
	}
	return 100 + int(t.Sub(base).Hours()/24/days)
}

// ua: the visitor's User-Agent, alone and against the requester's.
func (e *eval) ua() {
	raw := e.in.Visitor.UserAgent
	vu, ru := &e.vis, &e.req
	if vu.Empty {
		e.veto("no User-Agent header: no browser sends that")
		return
	}
	var lb [512]byte
	lower := lowerASCII(lb[:0], raw)
	for _, p := range e.c.uaPats {
		if !bytes.Contains(lower, p.lower) {
			continue
		}
		if p.generic {
			e.veto("the User-Agent is a crawler's or an HTTP library's (").s(p.name).s(")")
		} else {
			e.veto("the User-Agent names a link scanner (").s(p.name).s(")")
		}
		return
	}
	if vu.Headless {
		e.veto("the User-Agent says HeadlessChrome")
		return
	}
	if vu.Family == FamilyIE {
		e.note(-0.8, "Internet Explorer, retired in 2022, as scanners still present")
	} else if want := expectedMajor(vu.Family, e.now); want > 0 && vu.Major > 0 && vu.Major+e.c.cfg.Params.StaleMajors < want {
		e.note(-0.8, "").s(vu.Family.String()).s(" ").i(vu.Major).s(" is ").i(want - vu.Major).s(" releases behind: a pinned scanner browser")
	}
	switch {
	case ru.Empty:
		e.note(0, "the requester's User-Agent is unknown")
	case vu.Family == ru.Family && vu.OS == ru.OS && vu.Mobile == ru.Mobile:
		e.note(1, "same browser and OS as the requester (").s(vu.Family.String()).s(" on ").s(vu.OS.String()).s(")")
	case vu.OS == ru.OS && vu.Mobile == ru.Mobile:
		e.note(0.3, "another browser on the requester's OS (").s(ru.Family.String()).s(" → ").s(vu.Family.String()).s(")")
	case vu.Mobile != ru.Mobile:
		e.note(0.1, "a phone and a computer: the mail is often read on the other device")
	default:
		e.note(-0.5, "another OS than the requester (").s(ru.OS.String()).s(" → ").s(vu.OS.String()).s(")")
	}
}

// timing: when the visit came, after issue and after other visits.
func (e *eval) timing() {
	issued := e.in.Requester.At
	p := &e.c.cfg.Params
	if issued.IsZero() || e.now.IsZero() {
		e.note(0, "the time of issue is unknown")
	} else {
		d := e.now.Sub(issued).Seconds()
		switch {
		case d < p.FastSeconds:
			e.note(-1, "opened ").secs(d).s(" after issue: faster than a person opens a mail")
		case d < p.ScannerWindowSeconds:
			e.note(-0.5, "opened ").secs(d).s(" after issue, when mail scanners arrive")
		case d < 3600:
			e.note(0.3, "opened ").secs(d).s(" after issue")
		default:
			e.note(0, "opened ").secs(d).s(" after issue")
		}
	}
	kind := string(e.in.Stage)
	if kind == "" {
		kind = string(StageVerify)
	}
	burst := time.Duration(p.BurstSeconds * float64(time.Second))
	vs := &e.in.Visitor.Network
	views := 0
	var lastView time.Time
	for i := range e.in.History {
		h := &e.in.History[i]
		if h.Kind == kind && absDur(e.now.Sub(h.At)) < burst {
			e.note(-0.8, "two ").s(kind).s(" requests less than ").secs(p.BurstSeconds).s(" apart")
			return
		}
		if h.Kind == "view" && sameNetwork(&h.Network, vs) {
			if views > 0 && absDur(h.At.Sub(lastView)) < burst {
				e.note(-0.4, "this network loaded the page twice within ").secs(p.BurstSeconds).s(" (HEAD then GET?)")
				return
			}
			views++
			lastView = h.At
		}
	}
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// automation: the marks automated and headless browsers leave.
func (e *eval) automation() {
	if e.r == nil {
		e.note(0, "no report from the page")
		return
	}
	a := &e.r.Automation
	if a.Webdriver {
		e.veto("navigator.webdriver is true: the browser is driven by automation")
		return
	}
	if len(a.UAMarks) > 0 {
		e.veto("the page's user agent carries an automation mark (").s(a.UAMarks[0]).s(")")
		return
	}
	js := ParseUA(e.r.Device.UserAgent)
	if js.Empty {
		js = e.vis
	}
	desktop := !js.Mobile && js.OS != OSAndroid && js.OS != OSIOS
	found := false
	if a.NotificationPermission == "default" && a.NotificationQuery == "denied" {
		e.note(-0.8, "notification permission contradicts its query (a headless Chrome trait)")
		found = true
	}
	if desktop && (js.Family == FamilyChrome || js.Family == FamilyEdge) && !a.ChromeObject {
		e.note(-0.6, "a desktop Chrome without window.chrome")
		found = true
	}
	if desktop && (js.Family == FamilyChrome || js.Family == FamilyEdge || js.Family == FamilyFirefox) && a.Plugins == 0 && a.MimeTypes == 0 {
		e.note(-0.4, "a desktop browser without plugins (a headless trait)")
		found = true
	}
	if !found {
		e.note(0.3, "no automation marks")
	}
}

// interaction: what the page saw of hands on the device.
func (e *eval) interaction() {
	if e.r == nil {
		e.note(0, "no report from the page")
		return
	}
	it := &e.r.Interaction
	u := &it.Untrusted
	if n := u.PointerMove.N + u.PointerDown.N + u.TouchStart.N + u.KeyDown.N + u.Click.N; n > 0 {
		e.veto("").i(n).s(" input events were made by script")
		return
	}
	p := &e.c.cfg.Params
	if e.in.Stage != StageConfirm {
		t := &it.Trusted
		if n := t.PointerMove.N + t.PointerDown.N + t.TouchStart.N + t.KeyDown.N + t.Scroll.N; n > 0 {
			e.note(0.5, "").i(n).s(" trusted input events before the report")
		} else {
			e.note(0, "no input before the report (normal: it is sent on load)")
		}
		return
	}
	c := it.Click
	switch {
	case c == nil:
		e.veto("no click on Continue was reported")
		return
	case !c.Trusted:
		e.veto("the click on Continue was made by script")
		return
	case !c.OnContinue:
		e.veto("the click did not land on Continue")
		return
	}
	if shown := e.r.Timing.VerifyMS; shown > 0 && c.AtMS > 0 && c.AtMS-shown < float64(p.MinClickMillis) {
		// Continue appears only after the verify answer; nobody reads,
		// aims and clicks within a quarter second of that.
		e.veto("Continue clicked ").i(int(c.AtMS - shown)).s(" ms after it could appear: faster than a person reads")
		return
	}
	switch c.PointerType {
	case "touch":
		e.note(1, "a trusted tap on Continue")
	case "mouse", "pen":
		if c.Path.Points >= p.MinPointerPoints {
			e.note(1, "a trusted click on Continue after a pointer path of ").i(c.Path.Points).s(" points")
			if c.Path.Points >= 5 && c.Path.SpeedCV > 0 && c.Path.SpeedCV < 0.05 {
				e.note(-1, "the pointer moved at an even pace, as scripts move it")
			}
		} else {
			e.note(0.2, "a trusted click on Continue with almost no pointer path")
		}
	default:
		if it.Trusted.KeyDown.N > 0 {
			e.note(0.6, "Continue pressed from the keyboard")
		} else {
			e.note(-0.5, "a click without pointer and without a key press")
		}
	}
}

// locale: the browser's time zone and languages against the network and
// the requester.
func (e *eval) locale() {
	vs := &e.in.Visitor.Network
	if e.r != nil {
		if tz := e.r.Locale.TimeZone; tz != "" {
			switch {
			case tz == "UTC" || tz == "Etc/UTC" || tz == "Etc/GMT" || tz == "GMT":
				e.note(-0.6, "browser time zone UTC, as servers have")
			case vs.TimeZone == "":
			case tz == vs.TimeZone:
				e.note(0.5, "browser time zone matches the network's location (").s(tz).s(")")
			case tzRegion(tz) == tzRegion(vs.TimeZone):
				e.note(0.2, "browser time zone ").s(tz).s(", network location ").s(vs.TimeZone).s(": same region")
			default:
				e.note(-0.6, "browser time zone ").s(tz).s(", network location ").s(vs.TimeZone)
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
			e.note(-0.6, "Accept-Language says ").s(hdrL).s(", navigator.languages ").s(navL).s(": a rewritten header")
		}
	}
	rqL, vsL := PrimaryLanguage(e.in.Requester.AcceptLanguage), PrimaryLanguage(e.in.Visitor.AcceptLanguage)
	switch {
	case rqL == "" || vsL == "":
	case strings.EqualFold(rqL, vsL):
		e.note(0.3, "same language as the requester (").s(vsL).s(")")
	default:
		e.note(-0.3, "another language than the requester (").s(rqL).s(" → ").s(vsL).s(")")
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

// history: this link's earlier visits.
func (e *eval) history() {
	h := e.in.History
	if len(h) == 0 {
		e.note(0, "first visit of this link")
		return
	}
	if len(h) > 64 {
		h = h[len(h)-64:]
	}
	vs, rq := &e.in.Visitor.Network, &e.in.Requester.Network
	issued := e.in.Requester.At
	window := time.Duration(e.c.cfg.Params.ScannerWindowSeconds * float64(time.Second))
	fromRequester := sameNetwork(vs, rq)
	others := 0
	for i := range h {
		n := &h[i].Network
		if sameNetwork(n, vs) {
			if !fromRequester && !issued.IsZero() && h[i].At.Sub(issued) < window {
				e.note(-0.8, "this network opened the link ").secs(h[i].At.Sub(issued).Seconds()).s(" after issue, when scanners arrive")
				return
			}
			continue
		}
		if n.Prefix == "" && n.ASN == 0 {
			continue
		}
		// Count each other network once.
		seen := false
		for j := 0; j < i; j++ {
			if sameNetwork(&h[j].Network, n) {
				seen = true
				break
			}
		}
		if !seen {
			others++
		}
	}
	switch {
	case others > 0 && fromRequester:
		e.note(0.3, "earlier visits came from other networks (likely the mail scanner); this one from the requester's")
	case others >= 2:
		e.note(-0.5, "the link was opened before from ").i(others).s(" other networks")
	case others == 1:
		e.note(-0.2, "the link was opened before from another network")
	default:
		e.note(0, "earlier visits came from this network only")
	}
}

// consistency: whether the browser's own account of itself, its headers
// and its window agree. This catches headless Chromium started without
// automation flags and with a spoofed User-Agent.
func (e *eval) consistency() {
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
		e.note(-0.6, "the report was sent from another site (Sec-Fetch-Site: ").s(in.SecFetchSite).s(")")
	}
	h := ParseHints(in.SecCHUA, in.SecCHUAPlatform, in.SecCHUAMobile)
	if h.Headless {
		e.veto("Sec-CH-UA names HeadlessChrome")
		return
	}
	if h.Present && (vu.Family == FamilyFirefox || vu.Family == FamilySafari) {
		e.note(-0.8, "client hints from a browser that says it is ").s(vu.Family.String())
	}
	if h.OS != OSUnknown && !osCompatible(vu.OS, h.OS) {
		e.note(-0.8, "Sec-CH-UA-Platform says ").s(h.OS.String()).s(", the User-Agent ").s(vu.OS.String())
	}
	if h.Mobile == 1 && !vu.Mobile || h.Mobile == 0 && vu.Mobile && (vu.Family == FamilyChrome || vu.Family == FamilyEdge) {
		e.note(-0.6, "Sec-CH-UA-Mobile contradicts the User-Agent")
	}
	if h.Major > 0 && vu.Major > 0 && (vu.Family == FamilyChrome || vu.Family == FamilyEdge) && h.Major != vu.Major {
		e.note(-0.8, "Sec-CH-UA says version ").i(h.Major).s(", the User-Agent ").i(vu.Major)
	}
	if r := e.r; r != nil {
		d := &r.Device
		if d.UserAgent != "" && in.UserAgent != "" && d.UserAgent != in.UserAgent {
			e.veto("the page's navigator.userAgent differs from the User-Agent header (a spoofed header)")
			return
		}
		if os, ok := platformOS(d.Platform); ok && !osCompatible(vu.OS, os) {
			e.note(-0.8, "navigator.platform ").s(d.Platform).s(" contradicts a User-Agent on ").s(vu.OS.String())
		}
		if ud := d.UAData; ud != nil {
			for _, b := range ud.Brands {
				if containsFold(b.Brand, "headless") {
					e.veto("a userAgentData brand names a headless browser")
					return
				}
			}
			if len(ud.Brands) > 0 && (vu.Family == FamilyFirefox || vu.Family == FamilySafari) {
				e.note(-0.8, "userAgentData brands from a browser that says it is ").s(vu.Family.String())
			}
			if h2 := ParseHints("", ud.Platform, ""); h2.OS != OSUnknown && !osCompatible(vu.OS, h2.OS) {
				e.note(-0.8, "userAgentData platform ").s(ud.Platform).s(" contradicts a User-Agent on ").s(vu.OS.String())
			}
			if ud.Mobile != vu.Mobile && (vu.OS == OSAndroid || !vu.Mobile) {
				e.note(-0.6, "userAgentData.mobile contradicts the User-Agent")
			}
		}
		w, s := &d.Window, &d.Screen
		switch {
		case w.InnerWidth > 0 && w.OuterWidth == 0 && w.OuterHeight == 0:
			e.note(-0.8, "outer window size 0, as old headless Chrome reports")
		case w.OuterWidth > 0 && (w.OuterWidth < w.InnerWidth || w.OuterHeight < w.InnerHeight):
			e.note(-0.8, "outer window smaller than the inner one")
		case s.Width > 0 && (w.OuterWidth > s.Width+64 || w.OuterHeight > s.Height+64):
			e.note(-0.5, "window larger than the screen")
		}
		if s.Width == 800 && s.Height == 600 {
			e.note(-0.6, "an 800x600 screen, the headless default")
		}
		if g := d.WebGL; g != nil && softwareGL(g) {
			e.note(-0.5, "software WebGL renderer (").s(g.Renderer).s("): a server or a virtual machine")
		}
		if c := r.Interaction.Click; e.in.Stage == StageConfirm && c != nil && c.Trusted && (c.PointerType == "mouse" || c.PointerType == "pen") {
			if c.Path.Points <= 1 || c.Path.EndDistance > 40 {
				e.veto("the pointer jumped onto Continue without a path (debugging-protocol input)")
				return
			}
		}
	}
	if e.findings == 0 {
		e.note(0.3, "browser, headers and window agree")
	}
}

// softwareGL is Device.SoftwareRenderer without its allocations.
func softwareGL(g *WebGL) bool {
	for _, sub := range [...]string{"swiftshader", "llvmpipe", "softpipe", "software", "mesa offscreen", "basic render driver", "microsoft basic"} {
		if containsFold(g.Renderer, sub) || containsFold(g.Vendor, sub) {
			return true
		}
	}
	return false
}

// lowerASCII appends s, ASCII lower-cased and cut to cap(dst), to dst.
func lowerASCII(dst []byte, s string) []byte {
	if len(s) > cap(dst)-len(dst) {
		s = s[:cap(dst)-len(dst)]
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
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
	switch u.Family {
	case FamilyChrome, FamilyEdge:
		return u.Major >= 80
	case FamilyFirefox:
		return u.Major >= 90
	}
	return false
}
