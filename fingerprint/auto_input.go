package fingerprint

import (
	"math"
	"strings"
)

// input (automation): the provenance and dynamics of the input the page
// saw. Events made by script, a confirm without a trusted click on
// Continue, and a click faster than a person reads are strong marks; the
// dynamics of debugging-protocol input (a pointer that jumps onto the
// button, a straight or evenly paced path) are weak ones.
//
// Sources: isTrusted (DOM Standard, "Event.isTrusted"); CDP's
// Input.dispatchMouseEvent moves the pointer only where it is told, so a
// scripted click without moves arrives without a path (Chrome DevTools
// Protocol docs); the issue-8 stealth headless clicked after a five-step
// straight, evenly paced path.
func (e *eval) input() {
	if e.r == nil {
		e.note(0, "no report from the page")
		return
	}
	it := &e.r.Interaction
	u := &it.Untrusted
	if n := u.PointerMove.N + u.PointerDown.N + u.TouchStart.N + u.KeyDown.N + u.Click.N; n > 0 {
		e.veto("").int(n).text(" input events were made by script")
		return
	}
	p := &e.c.cfg.Params
	if e.in.Stage != StageConfirm {
		t := &it.Trusted
		if n := t.PointerMove.N + t.PointerDown.N + t.TouchStart.N + t.KeyDown.N + t.Scroll.N; n > 0 {
			e.note(0, "").int(n).text(" trusted input events before the report")
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
		e.veto("Continue clicked ").ms(c.AtMS - shown).text(" after it could appear: faster than a person reads")
		return
	}
	switch c.PointerType {
	case "touch":
		e.note(0, "a trusted tap on Continue")
	case "mouse", "pen":
		if noPointingDevice(e.r, &e.page) {
			e.veto("a mouse click from a browser that has no pointing device ((pointer: fine) and (hover: hover) false, no touch points): the input was injected, not made by a hand")
			return
		}
		if c.PointerType == "mouse" && c.Pressure != nil && *c.Pressure == 0 && chromium(&e.page) {
			e.veto("the mouse button was pressed with pressure 0, where Chromium gives every pressed mouse button 0.5: the debugging protocol pressed it")
			return
		}
		e.pointerDynamics(c)
	default:
		if it.Trusted.KeyDown.N == 0 {
			e.mark(0.5, "a click without pointer and without a key press")
			return
		}
		if k := &it.Keys; e.r.V >= 4 && linuxPC(e.r, &e.page) {
			if k.PressGap > keyClockMS {
				e.veto("Continue's keypress came ").ms1(k.PressGap).text(" after its keydown, where one press of a Linux keyboard stamps both alike: the debugging protocol sent them apart")
				return
			}
			if k.OffGrid > keyClockMS {
				e.veto("the key events are ").ms1(k.OffGrid).text(" off the whole milliseconds on which a Linux keyboard's events are stamped: the debugging protocol stamped them")
				return
			}
		}
		e.note(0, "Continue pressed from the keyboard")
	}
}

// The key clock (report.KeyClock). Measured in Chromium 156, headful
// under Xvfb (e2e/redteam_test.go, TestInputTellsCDPAndX): every key event
// from the X server had a timeStamp a whole number of milliseconds after
// the first (the X server's clock counts in ms and Chromium passes it on;
// the page's clock is clamped, to 5 µs on the cross-origin isolated
// landing page and 0.1 ms elsewhere, its origin on that grid), 54 events
// on 6 pages 0.0000 ms off; a keydown and the keypress of one press
// shared their stamp. Keys sent with CDP's Input.dispatchKeyEvent are
// stamped when the browser handles each command: 20 careful presses
// (keyDown with its text, keyUp 85 to 115 ms later) were 0.010 to 0.495
// ms off, and chromedp's kb.Enter (keyDown, then char) put 2.2 to 5.5 ms
// between keydown and keypress (once, in an earlier run, 0: its keyup was
// still off the grid). So on a Chromium that says it runs on desktop
// Linux, a keyboard press off that grid, or a keypress stamped apart from
// its keydown, was not made by a keyboard. keyClockMS is below the 5 µs
// step: the X stamps are exact.
//
// NB: a single careful press, with no other key event on the page, gives
// one pair of stamps, whose distance lands on the grid by chance 1 time
// in 200 (1 in 10 on a page that is not isolated, as reports made before
// the isolation). Other systems were not measured: Windows and macOS
// stamp events with their own fine clocks, and so might Chromium on
// Wayland; ChromeOS and Android are not Linux here. A scanner on a host
// of another system (a Windows PC) escapes this rule; one on a Linux
// host that claims another is judged by it (linuxPC).
const keyClockMS = 0.002

// linuxPC reports whether a Chromium page runs on desktop Linux on a PC,
// where the key clock applies: by its User-Agent (not Android, not
// ChromeOS), or, whatever that claims, by a navigator.platform or a Web
// Worker's of "Linux x86_64" or "Linux i686" under a desktop User-Agent.
// A scanner on a Linux host dressed as Windows keeps the host's platform
// in the page (a User-Agent override alone) or in the Worker (an override
// with a platform: measured in Chromium 156, e2e/redteam_test.go); the X
// server stamps its keys all the same. An ARM platform under a Linux
// User-Agent is Chrome on Android asking for the desktop site: not
// measured, left alone.
func linuxPC(r *Report, page *UA) bool {
	if !chromium(page) || !desktop(page) || page.OS == OSChromeOS {
		return false
	}
	d := &r.Device
	if strings.Contains(d.Platform, "arm") || strings.Contains(d.Platform, "aarch") {
		return false
	}
	pc := func(p string) bool { return strings.HasPrefix(p, "Linux x86") || strings.HasPrefix(p, "Linux i686") }
	return page.OS == OSLinux || pc(d.Platform) || d.Worker != nil && pc(d.Worker.Platform)
}

// pointerDynamics looks at how a mouse or pen reached Continue and
// pressed it.
func (e *eval) pointerDynamics(c *Click) {
	p := &e.c.cfg.Params
	path := &c.Path
	if path.Points < p.MinPointerPoints || path.EndDistance > 40 {
		e.mark(0.6, "the pointer jumped onto Continue without a path (debugging-protocol input)")
	} else if path.Points >= 5 {
		if path.SpeedCV > 0 && path.SpeedCV < 0.05 {
			e.mark(0.5, "the pointer moved at an even pace, as scripts move it")
		}
		if path.Straightness > 0.99 {
			e.mark(0.4, "the pointer moved in a straight line, as scripts move it")
		}
	}
	if e.r.V >= 3 {
		e.pressDynamics(c)
	}
	if e.findings == 0 {
		e.note(0, "a trusted click on Continue after a pointer path of ").int(path.Points).text(" points")
	}
}

// pressDynamics reads the schema-3 fields of a mouse click: how long the
// button was held, where on Continue it landed, whether the pointer was
// over Continue before the press, and whether the event's screen point
// agrees with the window's place on the screen.
//
// Sources: a person holds a mouse button for tens of milliseconds (about
// 100 ms on average in click-timing studies); Puppeteer's and chromedp's
// click press and release with no delay by default and aim at the
// element's centre (their docs: ElementHandle.click, "clicks in the
// center of the element"; chromedp.MouseClickNode); a CDP press can arrive
// without a prior move. The screen-offset check is issue 8's measurement:
// under headless Chromium with an emulated screen, screenY − clientY
// disagreed with window.screenY + outerHeight − innerHeight by several
// pixels, while real X input (headful, 100% and 125% scaling) matched
// within 1 px.
//
// NB: xdotool's click holds the button about 12 ms (its default delay),
// so min_press_ms stays well below that; page zoom also breaks the
// screen-offset identity, which is why it is a weak mark only.
func (e *eval) pressDynamics(c *Click) {
	p := &e.c.cfg.Params
	if c.PressMS > 0 && c.PressMS < p.MinPressMillis {
		e.mark(0.6, "the button was held ").ms(c.PressMS).text(": a program pressed and released it")
	}
	if c.TargetW > 0 && math.Abs(c.OffsetX) <= 1 && math.Abs(c.OffsetY) <= 1 {
		e.mark(0.4, "the click landed within a pixel of Continue's exact centre, where scripts aim")
	}
	if !c.Hovered {
		e.mark(0.5, "the button was pressed without the pointer first moving over it")
	}
	w := &e.r.Device.Window
	js := e.page
	if desktop(&js) && w.OuterHeight > 0 && w.InnerHeight > 0 && (c.ScreenX != 0 || c.ScreenY != 0) {
		want := float64(w.ScreenY + w.OuterHeight - w.InnerHeight)
		if d := (c.ScreenY - c.Y) - want; math.Abs(d) > 3 {
			e.mark(0.4, "the click's screenY − clientY is ").int(int(math.Round(d))).text(" px off the window's place on the screen (emulated screen?)")
		}
	}
}

// The pressure veto: Pointer Events (W3C, "pressure": "for hardware and
// platforms that do not support pressure, the value MUST be 0.5 when in
// the active buttons state and 0 otherwise") and Chromium follow it for
// every real mouse; CDP's Input.dispatchMouseEvent takes the pressure
// from its "force" parameter, 0 unless the caller sets it, which
// chromedp and Puppeteer do not. Measured in Chromium 156, headful under
// Xvfb: a real X press gave 0.5, a CDP press 0 (e2e/redteam_test.go,
// TestInputTellsCDPAndX; e2e/xvfb_test.go checks both against the
// landing page). Other browsers were not measured, so only a Chromium
// page is judged.

// noPointingDevice reports whether a desktop browser says it has no
// pointing device at all: no fine pointer, no hover, no touch points.
// That is what headless Chromium reports, with or without a disguise
// (measured in Chromium 156: headless, including --headless=new with
// emulated metrics, says false to both media queries and 0 touch
// points), while a headful Chromium on an X server with a pointer, even
// a virtual one (Xvfb), says (pointer: fine) and (hover: hover); see
// e2e/xvfb_test.go and e2e/stealth_test.go. A mouse click reported by
// such a browser did not come from a mouse: the debugging protocol
// injected it. Phones and tablets (touch points), an iPad that claims a
// Mac (5 touch points) and reports before schema 3 are left out.
//
// Sources: Media Queries Level 4, "pointer" and "hover" (the primary
// input's capabilities); Chromium computes them from the input devices
// the platform reports (ui::GetAvailablePointerAndHoverTypes).
func noPointingDevice(r *Report, page *UA) bool {
	d := &r.Device
	return r.V >= 3 && desktop(page) && !d.PointerFine && !d.Hover && d.MaxTouchPoints == 0
}
