package fingerprint

// environment (automation): a window, screen and GPU that no person's
// desktop has. Each is a weak mark: they add up, and none vetoes alone.
//
// Sources: outer sizes of 0 were old headless Chrome's (Vastel,
// "Detecting Chrome headless", 2017); new headless has no browser frame,
// so its outer size equals its inner one, and an 800x600 screen by
// default (Chromium headless docs, --window-size); headless Chrome 144+
// makes no WebGL context without a GPU, having dropped its SwiftShader
// fallback (issue 8, from Chromium's "Remove SwiftShader WebGL fallback"
// announcement); earlier headless and GPU-less machines render with
// SwiftShader or llvmpipe. The Web Worker comparison is worker's below.
//
// NB: a person on a virtual desktop (VDI) renders with "Microsoft Basic
// Render Driver" (WARP) and a person's fullscreen or kiosk window has no
// frame, and the e2e person test (headful Chromium under Xvfb) has no GPU:
// so no renderer or window mark may close the gate alone on a desktop. A
// phone's GPU is its own (emulatedPhone).
func (e *eval) environment() {
	if e.r == nil {
		e.note(0, "no report from the page")
		return
	}
	d := &e.r.Device
	js := e.page
	w, s := &d.Window, &d.Screen
	switch {
	case w.InnerWidth > 0 && w.OuterWidth == 0 && w.OuterHeight == 0:
		e.mark(0.6, "outer window size 0, as old headless Chrome reports")
	case w.OuterWidth > 0 && (w.OuterWidth < w.InnerWidth || w.OuterHeight < w.InnerHeight):
		e.mark(0.6, "outer window smaller than the inner one")
	case desktop(&js) && w.OuterWidth > 0 && w.OuterWidth == w.InnerWidth && w.OuterHeight == w.InnerHeight:
		e.mark(0.4, "outer window size equal to the inner one: no browser frame (headless, or a fullscreen window)")
	case s.Width > 0 && (w.OuterWidth > s.Width+64 || w.OuterHeight > s.Height+64):
		e.mark(0.4, "window larger than the screen")
	}
	if noPointingDevice(e.r, &js) {
		e.mark(0.5, "a desktop browser without any pointing device (no fine pointer, no hover, no touch), as headless Chromium reports")
	}
	if s.Width == 800 && s.Height == 600 {
		e.mark(0.5, "an 800x600 screen, the headless default")
	}
	switch g := d.WebGL; {
	case g == nil:
		e.mark(0.3, "no WebGL context at all (headless Chrome 144+ has none; nor have some machines without a GPU)")
	case !d.SoftwareRenderer():
	case containsFold(g.Renderer, "basic render") || containsFold(g.Renderer, "warp"):
		e.mark(0.3, "software WebGL renderer (").ext(g.Renderer).text("): a virtual desktop, or a server")
	default:
		e.mark(0.3, "software WebGL renderer (").ext(g.Renderer).text("): a server, a virtual machine or a machine without a GPU")
	}
	if why := emulatedPhone(d, &js); why != "" {
		e.veto("a phone ").text(why).text(", as no phone that Chrome runs on does: a desktop emulating a phone (device emulation)")
		return
	}
	if wk := d.Worker; wk != nil {
		e.worker(d, wk)
		if e.cur.veto {
			return
		}
	}
	if e.findings == 0 {
		e.note(0, "window, screen and GPU look like a person's device")
	}
}

// worker compares the page's navigator with a dedicated Web Worker's.
// Stealth tools patch the page's navigator (a spoofed userAgent,
// platform, languages or hardwareConcurrency) and leave the worker's as
// the browser made it (FingerprintJS BotD and CreepJS both compare them;
// puppeteer-extra-plugin-stealth's patches apply to the page only). A
// differing userAgent is a strong mark; the rest are weak, because Brave
// varies hardwareConcurrency per context ("farbling", Brave's
// fingerprinting-protection docs).
func (e *eval) worker(d *Device, wk *Worker) {
	if wk.UserAgent != "" && d.UserAgent != "" && wk.UserAgent != d.UserAgent {
		e.veto("a Web Worker's navigator.userAgent differs from the page's: the page's was patched")
		return
	}
	if wk.Platform != "" && d.Platform != "" && wk.Platform != d.Platform {
		e.mark(0.6, "a Web Worker says platform ").ext(wk.Platform).text(", the page ").ext(d.Platform)
	}
	if len(wk.Languages) > 0 && len(e.r.Locale.Languages) > 0 && wk.Languages[0] != e.r.Locale.Languages[0] {
		e.mark(0.4, "a Web Worker's first language ").ext(wk.Languages[0]).text(" differs from the page's ").ext(e.r.Locale.Languages[0])
	}
	if wk.HardwareConcurrency > 0 && d.HardwareConcurrency > 0 && wk.HardwareConcurrency != d.HardwareConcurrency {
		e.mark(0.3, "a Web Worker counts ").int(wk.HardwareConcurrency).text(" cores, the page ").int(d.HardwareConcurrency)
	}
}

// emulatedPhone says how a Chromium that claims to be a phone renders
// WebGL when no phone could: with no context at all, on a software
// rasterizer (SwiftShader, llvmpipe) or through Direct3D, Windows' own
// API; "" when it renders as a phone may.
//
// Measured in Chromium 156 (e2e/redteam_test.go, the phone scanners):
// device emulation (Emulation.setDeviceMetricsOverride with mobile,
// setTouchEmulationEnabled, an Android User-Agent with its client hints)
// changes the screen, the pointer media queries, maxTouchPoints and the
// User-Agent, but WebGL stays the host's: no context in headful Chromium
// under Xvfb, SwiftShader in headless, and a stealth script's desktop GPU
// (Direct3D) where one is dressed. Phones Chrome runs on (Android 10 and
// later) all have a GPU with OpenGL ES 3 (Adreno, Mali, PowerVR, Xclipse)
// and Chrome gives WebGL on them; iPhones name an "Apple GPU". No phone
// was at hand to measure, so only what emulation gives is counted: a
// desktop GPU's own name (NVIDIA, Intel, Mesa) is not.
//
// NB: Chromium only: Firefox masks the renderer under resistFingerprinting,
// and Tor Browser turns WebGL off.
func emulatedPhone(d *Device, page *UA) string {
	if desktop(page) || !chromium(page) {
		return ""
	}
	switch g := d.WebGL; {
	case g == nil:
		return "without any WebGL context"
	case d.SoftwareRenderer():
		return "rendering WebGL on a software rasterizer"
	case containsFold(g.Renderer, "direct3d") || containsFold(g.Renderer, "d3d1"):
		return "rendering WebGL through Direct3D, Windows' API"
	}
	return ""
}
