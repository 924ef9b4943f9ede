package fingerprint

// headless (automation): the marks that automated and headless browsers
// leave in the page.
//
// Sources: navigator.webdriver is set under automation by the W3C
// WebDriver spec (§ "Interface": "navigator.webdriver ... true when the
// user agent is under remote control") and by Chromium's
// --enable-automation; "HeadlessChrome" is old headless Chromium's UA
// token and userAgentData brand (Chromium's headless docs); the
// notification contradiction, the missing window.chrome and the empty
// plugin list are the headless traits listed by Antoine Vastel, "Detecting
// Chrome headless" (2017) and kept in FingerprintJS BotD's detectors.
func (e *eval) headless() {
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
		e.veto("the page's user agent carries an automation mark (").ext(a.UAMarks[0]).text(")")
		return
	}
	if e.vis.Headless {
		e.veto("the User-Agent says HeadlessChrome")
		return
	}
	if ParseHints(e.in.Visitor.SecCHUA, "", "").Headless {
		e.veto("Sec-CH-UA names HeadlessChrome")
		return
	}
	if ud := e.r.Device.UAData; ud != nil {
		for _, b := range ud.Brands {
			if containsFold(b.Brand, "headless") {
				e.veto("a userAgentData brand names a headless browser (").ext(b.Brand).text(")")
				return
			}
		}
	}
	js := e.page
	if a.NotificationPermission == "default" && a.NotificationQuery == "denied" {
		e.mark(0.5, "notification permission contradicts its query (a headless Chrome trait)")
	}
	if desktop(&js) && (js.Browser == BrowserChrome || js.Browser == BrowserEdge) && !a.ChromeObject {
		e.mark(0.4, "a desktop Chrome without window.chrome")
	}
	if desktop(&js) && (js.Browser == BrowserChrome || js.Browser == BrowserEdge || js.Browser == BrowserFirefox) && a.Plugins == 0 && a.MimeTypes == 0 {
		e.mark(0.3, "a desktop browser without plugins (a headless trait)")
	}
	if e.findings == 0 {
		e.note(0, "no automation marks")
	}
}
