//go:build js && wasm

package main

import (
	"strconv"
	"syscall/js"

	"github.com/linkguard/linkguard/fingerprint/report"
)

// readyTimeoutMS bounds how long the asynchronous probes (the
// permissions query) may hold up the first report.
const readyTimeoutMS = 300

var (
	global = js.Global()
	rec    report.Recorder
	// nonce is this rendering's nonce (meta lg-nonce), which the proof
	// is made over.
	nonce string
)

// schemaMark puts report.SchemaMark into the binary, where e2e's
// TestCollectorSchema reads it to tell a stale collector.wasm from one
// built from this tree. NB: main reads it so that the linker keeps it.
var schemaMark = report.SchemaMark

func main() {
	if schemaMark == "" {
		return // never: the read only keeps the mark in the binary
	}
	rec.Base.Timing.StartMS = now()
	probe("automation", probeAutomation)
	probe("device", probeDevice)
	probe("screen", probeScreen)
	probe("webgl", probeWebGL)
	probe("locale", probeLocale)
	probe("page", probePageStart)
	probe("proof", func() {
		nonce = str(global.Get("document").Call("querySelector", `meta[name="lg-nonce"]`).Get("content"))
	})
	listen()

	var resolve js.Value
	ready := global.Get("Promise").New(js.FuncOf(func(_ js.Value, args []js.Value) any {
		resolve = args[0]
		return nil
	}))
	// ready settles once both asynchronous probes (permissions, worker)
	// have answered, or at the timeout, whichever comes first.
	pending := 2
	settle := js.FuncOf(func(_ js.Value, args []js.Value) any {
		if len(args) > 0 && args[0].Type() == js.TypeString && args[0].String() == "timeout" {
			pending = 1
		}
		if pending--; pending == 0 {
			resolve.Invoke()
		}
		return nil
	})
	api := global.Get("Object").New()
	api.Set("version", report.SchemaVersion)
	api.Set("ready", ready)
	api.Set("report", js.FuncOf(func(_ js.Value, args []js.Value) any {
		stage := "verify"
		if len(args) > 0 && args[0].Type() == js.TypeString {
			stage = args[0].String()
		}
		return makeReport(stage)
	}))
	global.Set("lgCollector", api)

	global.Call("setTimeout", settle, readyTimeoutMS, "timeout")
	probeNotificationQuery(settle)
	probeWorker(settle)
	select {}
}

// makeReport refreshes the values that change over the page's life and
// returns the report as JSON.
func makeReport(stage string) (out string) {
	defer func() {
		if recover() != nil {
			out = `{"v":` + string(strconv.AppendInt(nil, report.SchemaVersion, 10)) + `,"errors":["report"]}`
		}
	}()
	probe("timing", probeTiming)
	probe("page", probePageNow)
	probe("screen", probeScreen)
	r := rec.Report(stage, now())
	if r.Device.Worker == nil {
		r.Errors = withError(r.Errors, "worker")
	}
	if nonce == "" {
		r.Errors = withError(r.Errors, "proof")
	} else {
		start := now()
		if p, ok := report.Prove(nonce, r); ok {
			p.MS = now() - start
			r.Proof = &p
		}
	}
	return string(r.AppendJSON(make([]byte, 0, 2048)))
}

// withError returns errs with name added (a copy: errs belongs to the
// recorder), unless it is there already or the list is full.
func withError(errs []string, name string) []string {
	for _, e := range errs {
		if e == name {
			return errs
		}
	}
	if len(errs) >= report.MaxErrors {
		return errs
	}
	return append(append(make([]string, 0, len(errs)+1), errs...), name)
}

// probeWorker starts a dedicated Web Worker from the page's own worker
// script (data-lg-worker: a script of this origin, as the CSP requires)
// and records navigator as the worker sees it, then calls settle. A page
// script that patches the page's navigator rarely patches the worker's.
func probeWorker(settle js.Func) {
	fail := func() {
		rec.AddError("worker")
		settle.Invoke()
	}
	defer func() {
		if recover() != nil {
			fail()
		}
	}()
	url := str(global.Get("document").Get("body").Call("getAttribute", "data-lg-worker"))
	if url == "" || global.Get("Worker").Type() != js.TypeFunction {
		fail()
		return
	}
	w := global.Get("Worker").New(url)
	answered := false
	w.Set("onmessage", js.FuncOf(func(_ js.Value, args []js.Value) any {
		if answered {
			return nil
		}
		answered = true
		probe("worker", func() {
			d := args[0].Get("data")
			wk := &report.Worker{UserAgent: str(d.Get("ua")), Platform: str(d.Get("platform")), HardwareConcurrency: num(d.Get("hc"))}
			langs := d.Get("languages")
			for i, n := 0, length(langs); i < n && i < report.MaxLanguages; i++ {
				wk.Languages = append(wk.Languages, str(langs.Index(i)))
			}
			rec.Base.Device.Worker = wk
		})
		w.Call("terminate")
		settle.Invoke()
		return nil
	}))
	w.Set("onerror", js.FuncOf(func(js.Value, []js.Value) any {
		if !answered {
			answered = true
			fail()
		}
		return nil
	}))
}

// probe runs f, noting name in the report's errors when it panics (a
// missing API makes syscall/js panic on Get of undefined).
func probe(name string, f func()) {
	defer func() {
		if recover() != nil {
			rec.AddError(name)
		}
	}()
	f()
}

func now() float64 { return global.Get("performance").Call("now").Float() }

func probeAutomation() {
	nav := global.Get("navigator")
	a := &rec.Base.Automation
	a.Webdriver = nav.Get("webdriver").Truthy()
	a.ChromeObject = global.Get("chrome").Type() == js.TypeObject
	if n := global.Get("Notification"); n.Type() == js.TypeFunction {
		a.NotificationPermission = str(n.Get("permission"))
	}
	a.Plugins = length(nav.Get("plugins"))
	a.MimeTypes = length(nav.Get("mimeTypes"))
	a.PDFViewer = nav.Get("pdfViewerEnabled").Truthy()
}

// probeNotificationQuery asks permissions.query for the notifications
// state and calls settle when it answers (or fails).
func probeNotificationQuery(settle js.Func) {
	defer func() {
		if recover() != nil {
			rec.AddError("permissions")
			settle.Invoke()
		}
	}()
	perms := global.Get("navigator").Get("permissions")
	if perms.Type() != js.TypeObject {
		rec.AddError("permissions")
		settle.Invoke()
		return
	}
	q := global.Get("Object").New()
	q.Set("name", "notifications")
	perms.Call("query", q).Call("then",
		js.FuncOf(func(_ js.Value, args []js.Value) any {
			probe("permissions", func() { rec.Base.Automation.NotificationQuery = str(args[0].Get("state")) })
			settle.Invoke()
			return nil
		}),
		js.FuncOf(func(js.Value, []js.Value) any {
			rec.AddError("permissions")
			settle.Invoke()
			return nil
		}))
}

func probeDevice() {
	nav := global.Get("navigator")
	d := &rec.Base.Device
	d.UserAgent = str(nav.Get("userAgent"))
	d.Platform = str(nav.Get("platform"))
	rec.Base.Automation.UAMarks = report.UAMarks(d.UserAgent)
	d.HardwareConcurrency = num(nav.Get("hardwareConcurrency"))
	d.DeviceMemory = float(nav.Get("deviceMemory"))
	d.MaxTouchPoints = num(nav.Get("maxTouchPoints"))
	d.PointerFine = media("(pointer: fine)")
	d.Hover = media("(hover: hover)")
	if u := nav.Get("userAgentData"); u.Type() == js.TypeObject {
		ud := &report.UAData{Mobile: u.Get("mobile").Truthy(), Platform: str(u.Get("platform"))}
		brands := u.Get("brands")
		for i, n := 0, length(brands); i < n && i < report.MaxBrands; i++ {
			b := brands.Index(i)
			ud.Brands = append(ud.Brands, report.Brand{Brand: str(b.Get("brand")), Version: str(b.Get("version"))})
			for _, m := range report.UAMarks(ud.Brands[i].Brand) {
				addMark(m)
			}
		}
		d.UAData = ud
	}
}

func addMark(m string) {
	a := &rec.Base.Automation
	for _, x := range a.UAMarks {
		if x == m {
			return
		}
	}
	if len(a.UAMarks) < report.MaxUAMarks {
		a.UAMarks = append(a.UAMarks, m)
	}
}

func media(q string) bool {
	mm := global.Get("matchMedia")
	if mm.Type() != js.TypeFunction {
		return false
	}
	return global.Call("matchMedia", q).Get("matches").Truthy()
}

func probeScreen() {
	d := &rec.Base.Device
	s := global.Get("screen")
	d.Screen = report.Screen{
		Width: num(s.Get("width")), Height: num(s.Get("height")),
		AvailWidth: num(s.Get("availWidth")), AvailHeight: num(s.Get("availHeight")),
		ColorDepth: num(s.Get("colorDepth")), PixelRatio: float(global.Get("devicePixelRatio")),
	}
	d.Window = report.Window{
		InnerWidth: num(global.Get("innerWidth")), InnerHeight: num(global.Get("innerHeight")),
		OuterWidth: num(global.Get("outerWidth")), OuterHeight: num(global.Get("outerHeight")),
		ScreenX: num(global.Get("screenX")), ScreenY: num(global.Get("screenY")),
	}
}

// WebGL constants (WEBGL_debug_renderer_info and the core parameters).
const (
	glVendor           = 0x1F00
	glRenderer         = 0x1F01
	glUnmaskedVendor   = 0x9245
	glUnmaskedRenderer = 0x9246
)

func probeWebGL() {
	canvas := global.Get("document").Call("createElement", "canvas")
	// No "experimental-webgl" fallback: every browser that runs this
	// WebAssembly module knows "webgl".
	gl := canvas.Call("getContext", "webgl")
	if !gl.Truthy() {
		rec.AddError("webgl")
		return
	}
	w := &report.WebGL{}
	if ext := gl.Call("getExtension", "WEBGL_debug_renderer_info"); ext.Truthy() {
		w.Vendor = str(gl.Call("getParameter", glUnmaskedVendor))
		w.Renderer = str(gl.Call("getParameter", glUnmaskedRenderer))
		w.Unmasked = w.Renderer != ""
	}
	if !w.Unmasked {
		w.Vendor = str(gl.Call("getParameter", glVendor))
		w.Renderer = str(gl.Call("getParameter", glRenderer))
	}
	rec.Base.Device.WebGL = w
	// Give the context back at once: browsers cap live contexts.
	if lose := gl.Call("getExtension", "WEBGL_lose_context"); lose.Truthy() {
		lose.Call("loseContext")
	}
}

func probeLocale() {
	l := &rec.Base.Locale
	nav := global.Get("navigator")
	l.Language = str(nav.Get("language"))
	langs := nav.Get("languages")
	for i, n := 0, length(langs); i < n && i < report.MaxLanguages; i++ {
		l.Languages = append(l.Languages, str(langs.Index(i)))
	}
	l.OffsetMinutes = -num(global.Get("Date").New().Call("getTimezoneOffset"))
	probe("intl", func() {
		l.TimeZone = str(global.Get("Intl").Call("DateTimeFormat").Call("resolvedOptions").Get("timeZone"))
	})
}

func probePageStart() {
	doc := global.Get("document")
	p := &rec.Base.Page
	p.VisibleAtStart = str(doc.Get("visibilityState")) == "visible"
	p.FocusedAtStart = doc.Call("hasFocus").Truthy()
	p.Prerendered = doc.Get("prerendering").Truthy()
}

func probePageNow() {
	doc := global.Get("document")
	p := &rec.Base.Page
	p.Visibility = str(doc.Get("visibilityState"))
	p.HasFocus = doc.Call("hasFocus").Truthy()
	if doc.Get("prerendering").Truthy() {
		p.Prerendered = true
	}
}

func probeTiming() {
	entries := global.Get("performance").Call("getEntriesByType", "navigation")
	if length(entries) == 0 {
		return
	}
	e := entries.Index(0)
	t := &rec.Base.Timing
	t.NavigationType = str(e.Get("type"))
	t.DOMContentLoadedMS = float(e.Get("domContentLoadedEventEnd"))
	t.LoadMS = float(e.Get("loadEventEnd"))
	if float(e.Get("activationStart")) > 0 {
		rec.Base.Page.Prerendered = true
	}
}

// listen adds the event listeners. They are passive and never call
// preventDefault: the collector only watches.
func listen() {
	opts := global.Get("Object").New()
	opts.Set("capture", true)
	opts.Set("passive", true)
	on := func(target js.Value, typ string, f func(ev js.Value)) {
		target.Call("addEventListener", typ, js.FuncOf(func(_ js.Value, args []js.Value) any {
			if len(args) > 0 {
				probe("event", func() { f(args[0]) })
			}
			return nil
		}), opts)
	}
	count := func(kind report.EventKind) func(js.Value) {
		return func(ev js.Value) { rec.Event(kind, ev.Get("isTrusted").Bool(), float(ev.Get("timeStamp"))) }
	}
	on(global, "pointermove", func(ev js.Value) {
		trusted := ev.Get("isTrusted").Bool()
		rec.PointerMove(trusted, float(ev.Get("timeStamp")), float(ev.Get("clientX")), float(ev.Get("clientY")))
		// Every move that reaches Continue is also a pointermove whose
		// target is Continue (it comes right after the pointerover), so
		// this alone sees the hover.
		if trusted && onContinue(ev).Truthy() {
			rec.ButtonOver(true)
		}
	})
	on(global, "pointerdown", func(ev js.Value) {
		count(report.EventPointerDown)(ev)
		if onContinue(ev).Truthy() {
			rec.ButtonDown(ev.Get("isTrusted").Bool(), float(ev.Get("timeStamp")), float(ev.Get("pressure")))
		}
	})
	on(global, "pointerup", func(ev js.Value) {
		if onContinue(ev).Truthy() {
			rec.ButtonUp(ev.Get("isTrusted").Bool(), float(ev.Get("timeStamp")))
		}
	})
	on(global, "touchstart", count(report.EventTouchStart))
	for typ, name := range [...]string{report.KeyDown: "keydown", report.KeyPress: "keypress", report.KeyUp: "keyup"} {
		on(global, name, func(ev js.Value) { rec.Key(typ, ev.Get("isTrusted").Bool(), float(ev.Get("timeStamp"))) })
	}
	on(global, "scroll", count(report.EventScroll))
	on(global, "focus", count(report.EventFocus))
	on(global, "click", func(ev js.Value) {
		c := report.ClickInfo{
			Trusted:     ev.Get("isTrusted").Bool(),
			At:          float(ev.Get("timeStamp")),
			X:           float(ev.Get("clientX")),
			Y:           float(ev.Get("clientY")),
			Detail:      num(ev.Get("detail")),
			PointerType: str(ev.Get("pointerType")),
			ScreenX:     float(ev.Get("screenX")),
			ScreenY:     float(ev.Get("screenY")),
		}
		if b := onContinue(ev); b.Truthy() {
			c.OnContinue = true
			rect := b.Call("getBoundingClientRect")
			c.Left, c.Top = float(rect.Get("left")), float(rect.Get("top"))
			c.Width, c.Height = float(rect.Get("width")), float(rect.Get("height"))
		}
		rec.Click(c)
	})
	on(global.Get("document"), "visibilitychange", func(js.Value) { rec.Base.Page.VisibilityChanges++ })
}

// onContinue returns the #lg-continue element the event's target is in,
// or null.
func onContinue(ev js.Value) js.Value {
	if t := ev.Get("target"); t.Type() == js.TypeObject && t.Get("closest").Type() == js.TypeFunction {
		return t.Call("closest", "#lg-continue")
	}
	return js.Null()
}

// str, num, float and length read a JavaScript value leniently: a value
// of the wrong type reads as the zero value.
func str(v js.Value) string {
	if v.Type() != js.TypeString {
		return ""
	}
	return report.Clip(v.String())
}

func float(v js.Value) float64 {
	if v.Type() != js.TypeNumber {
		return 0
	}
	return v.Float()
}

func num(v js.Value) int {
	if v.Type() != js.TypeNumber {
		return 0
	}
	return v.Int()
}

func length(v js.Value) int {
	if v.Type() != js.TypeObject {
		return 0
	}
	return num(v.Get("length"))
}
