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
// SwiftShader or llvmpipe.
//
// NB: a person on a virtual desktop (VDI) renders with "Microsoft Basic
// Render Driver" (WARP) and a person's fullscreen or kiosk window has no
// frame, and the e2e person test (headful Chromium under Xvfb) has no GPU:
// so no renderer or window mark may close the gate alone.
func (e *eval) environment() {
	if e.r == nil {
		e.note(0, "no report from the page")
		return
	}
	d := &e.r.Device
	js := ParseUA(d.UserAgent)
	if js.Empty {
		js = e.vis
	}
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
	if e.findings == 0 {
		e.note(0, "window, screen and GPU look like a person's device")
	}
}
