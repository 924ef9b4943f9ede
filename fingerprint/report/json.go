package report

import (
	"math"
	"strconv"
	"unicode/utf8"
)

// AppendJSON appends the report as a JSON object to dst and returns the
// extended buffer. It writes exactly the fields (and names) that
// encoding/json reads into Report, so the server can decode it with
// DisallowUnknownFields.
//
// It exists so that the WebAssembly collector needs neither encoding/json
// nor fmt nor reflect (about 330 KB of brotli between them). Invalid UTF-8
// is written as U+FFFD, byte by byte, as encoding/json would read it; NaN
// and infinities, which JSON cannot carry, are written as 0, and so is -0.
func (r *Report) AppendJSON(dst []byte) []byte {
	e := encoder{b: dst}
	e.open()
	e.key("v")
	e.int(r.V)
	if r.Stage != "" {
		e.key("stage")
		e.str(r.Stage)
	}
	e.key("automation")
	r.Automation.encode(&e)
	e.key("device")
	r.Device.encode(&e)
	e.key("locale")
	r.Locale.encode(&e)
	e.key("interaction")
	r.Interaction.encode(&e)
	e.key("timing")
	r.Timing.encode(&e)
	e.key("page")
	r.Page.encode(&e)
	if len(r.Errors) > 0 {
		e.key("errors")
		e.strs(r.Errors)
	}
	if p := r.Proof; p != nil {
		e.key("proof")
		e.open()
		e.optStr("nonce", p.Nonce)
		e.key("bits")
		e.int(p.Bits)
		e.key("counter")
		e.int(p.Counter)
		e.key("ms")
		e.float(p.MS)
		e.close()
	}
	e.close()
	return e.b
}

func (a *Automation) encode(e *encoder) {
	e.open()
	e.key("webdriver")
	e.bool(a.Webdriver)
	if len(a.UAMarks) > 0 {
		e.key("ua_marks")
		e.strs(a.UAMarks)
	}
	e.key("chrome_object")
	e.bool(a.ChromeObject)
	e.optStr("notification_permission", a.NotificationPermission)
	e.optStr("notification_query", a.NotificationQuery)
	e.key("plugins")
	e.int(a.Plugins)
	e.key("mime_types")
	e.int(a.MimeTypes)
	e.key("pdf_viewer")
	e.bool(a.PDFViewer)
	e.close()
}

func (d *Device) encode(e *encoder) {
	e.open()
	e.optStr("user_agent", d.UserAgent)
	e.optStr("platform", d.Platform)
	if u := d.UAData; u != nil {
		e.key("ua_data")
		e.open()
		if len(u.Brands) > 0 {
			e.key("brands")
			e.openArr()
			for i := range u.Brands {
				e.elem()
				e.open()
				e.key("brand")
				e.str(u.Brands[i].Brand)
				e.key("version")
				e.str(u.Brands[i].Version)
				e.close()
			}
			e.closeArr()
		}
		e.key("mobile")
		e.bool(u.Mobile)
		e.optStr("platform", u.Platform)
		e.close()
	}
	e.key("hardware_concurrency")
	e.int(d.HardwareConcurrency)
	e.key("device_memory")
	e.float(d.DeviceMemory)
	e.key("max_touch_points")
	e.int(d.MaxTouchPoints)
	e.key("pointer_fine")
	e.bool(d.PointerFine)
	e.key("hover")
	e.bool(d.Hover)
	e.key("screen")
	e.open()
	e.key("width")
	e.int(d.Screen.Width)
	e.key("height")
	e.int(d.Screen.Height)
	e.key("avail_width")
	e.int(d.Screen.AvailWidth)
	e.key("avail_height")
	e.int(d.Screen.AvailHeight)
	e.key("color_depth")
	e.int(d.Screen.ColorDepth)
	e.key("pixel_ratio")
	e.float(d.Screen.PixelRatio)
	e.close()
	e.key("window")
	e.open()
	e.key("inner_width")
	e.int(d.Window.InnerWidth)
	e.key("inner_height")
	e.int(d.Window.InnerHeight)
	e.key("outer_width")
	e.int(d.Window.OuterWidth)
	e.key("outer_height")
	e.int(d.Window.OuterHeight)
	e.key("screen_x")
	e.int(d.Window.ScreenX)
	e.key("screen_y")
	e.int(d.Window.ScreenY)
	e.close()
	if g := d.WebGL; g != nil {
		e.key("webgl")
		e.open()
		e.optStr("vendor", g.Vendor)
		e.optStr("renderer", g.Renderer)
		e.key("unmasked")
		e.bool(g.Unmasked)
		e.close()
	}
	if w := d.Worker; w != nil {
		e.key("worker")
		e.open()
		e.optStr("user_agent", w.UserAgent)
		e.optStr("platform", w.Platform)
		if len(w.Languages) > 0 {
			e.key("languages")
			e.strs(w.Languages)
		}
		e.key("hardware_concurrency")
		e.int(w.HardwareConcurrency)
		e.close()
	}
	e.close()
}

func (l *Locale) encode(e *encoder) {
	e.open()
	e.optStr("time_zone", l.TimeZone)
	e.key("offset_minutes")
	e.int(l.OffsetMinutes)
	e.optStr("language", l.Language)
	if len(l.Languages) > 0 {
		e.key("languages")
		e.strs(l.Languages)
	}
	e.close()
}

func (in *Interaction) encode(e *encoder) {
	e.open()
	e.key("trusted")
	in.Trusted.encode(e)
	e.key("untrusted")
	in.Untrusted.encode(e)
	e.key("first_ms")
	e.float(in.FirstMS)
	e.key("path")
	in.Path.encode(e)
	if c := in.Click; c != nil {
		e.key("click")
		e.open()
		e.key("trusted")
		e.bool(c.Trusted)
		e.key("on_continue")
		e.bool(c.OnContinue)
		e.key("at_ms")
		e.float(c.AtMS)
		e.key("x")
		e.float(c.X)
		e.key("y")
		e.float(c.Y)
		e.key("detail")
		e.int(c.Detail)
		e.optStr("pointer_type", c.PointerType)
		e.key("path")
		c.Path.encode(e)
		e.key("press_ms")
		e.float(c.PressMS)
		e.key("screen_x")
		e.float(c.ScreenX)
		e.key("screen_y")
		e.float(c.ScreenY)
		e.key("offset_x")
		e.float(c.OffsetX)
		e.key("offset_y")
		e.float(c.OffsetY)
		e.key("target_w")
		e.float(c.TargetW)
		e.key("target_h")
		e.float(c.TargetH)
		e.key("hovered")
		e.bool(c.Hovered)
		if c.Pressure != nil {
			e.key("pressure")
			e.float(*c.Pressure)
		}
		e.close()
	}
	e.key("keys")
	e.open()
	e.key("n")
	e.int(in.Keys.N)
	e.key("off_grid")
	e.float(in.Keys.OffGrid)
	e.key("press_gap")
	e.float(in.Keys.PressGap)
	e.close()
	e.close()
}

func (ev *Events) encode(e *encoder) {
	e.open()
	ev.PointerMove.encode(e, "pointermove")
	ev.PointerDown.encode(e, "pointerdown")
	ev.TouchStart.encode(e, "touchstart")
	ev.KeyDown.encode(e, "keydown")
	ev.Scroll.encode(e, "scroll")
	ev.Focus.encode(e, "focus")
	ev.Click.encode(e, "click")
	e.close()
}

func (c *EventCount) encode(e *encoder, name string) {
	e.key(name)
	e.open()
	e.key("n")
	e.int(c.N)
	if c.FirstMS != 0 && !math.IsNaN(c.FirstMS) && !math.IsInf(c.FirstMS, 0) {
		e.key("first_ms")
		e.float(c.FirstMS)
	}
	e.close()
}

func (p *PointerPath) encode(e *encoder) {
	e.open()
	e.key("points")
	e.int(p.Points)
	e.key("length")
	e.float(p.Length)
	e.key("straightness")
	e.float(p.Straightness)
	e.key("duration_ms")
	e.float(p.DurationMS)
	e.key("speed_cv")
	e.float(p.SpeedCV)
	e.key("end_distance")
	e.float(p.EndDistance)
	e.close()
}

func (t *Timing) encode(e *encoder) {
	e.open()
	e.optStr("navigation_type", t.NavigationType)
	e.key("dom_content_loaded_ms")
	e.float(t.DOMContentLoadedMS)
	e.key("load_ms")
	e.float(t.LoadMS)
	e.key("start_ms")
	e.float(t.StartMS)
	e.key("verify_ms")
	e.float(t.VerifyMS)
	e.key("confirm_ms")
	e.float(t.ConfirmMS)
	e.close()
}

func (p *Page) encode(e *encoder) {
	e.open()
	e.optStr("visibility", p.Visibility)
	e.key("visible_at_start")
	e.bool(p.VisibleAtStart)
	e.key("visibility_changes")
	e.int(p.VisibilityChanges)
	e.key("has_focus")
	e.bool(p.HasFocus)
	e.key("focused_at_start")
	e.bool(p.FocusedAtStart)
	e.key("prerendered")
	e.bool(p.Prerendered)
	e.close()
}

// encoder writes JSON into b. first is true right after an opening
// bracket, when the next member needs no comma.
type encoder struct {
	b     []byte
	first bool
}

//go:noinline
func (e *encoder) open() { e.b = append(e.b, '{'); e.first = true }

//go:noinline
func (e *encoder) close() { e.b = append(e.b, '}'); e.first = false }

//go:noinline
func (e *encoder) openArr() { e.b = append(e.b, '['); e.first = true }

//go:noinline
func (e *encoder) closeArr() { e.b = append(e.b, ']'); e.first = false }

// elem starts an array element.
//
//go:noinline
func (e *encoder) elem() {
	if !e.first {
		e.b = append(e.b, ',')
	}
	e.first = false
}

// key starts an object member; k must need no escaping.
//
//go:noinline
func (e *encoder) key(k string) {
	e.elem()
	e.b = append(e.b, '"')
	e.b = append(e.b, k...)
	e.b = append(e.b, '"', ':')
}

//go:noinline
func (e *encoder) optStr(k, v string) {
	if v != "" {
		e.key(k)
		e.str(v)
	}
}

//go:noinline
func (e *encoder) bool(v bool) {
	if v {
		e.b = append(e.b, "true"...)
	} else {
		e.b = append(e.b, "false"...)
	}
}

//go:noinline
func (e *encoder) int(v int) { e.b = strconv.AppendInt(e.b, int64(v), 10) }

//go:noinline
func (e *encoder) float(v float64) {
	if math.IsNaN(v) || math.IsInf(v, 0) || v == 0 {
		// -0 too: the page script's JSON.stringify writes it as 0, and
		// the proof's seed must not depend on which side wrote it.
		e.b = append(e.b, '0')
		return
	}
	e.b = strconv.AppendFloat(e.b, v, 'g', -1, 64)
}

//go:noinline
func (e *encoder) strs(vs []string) {
	e.openArr()
	for _, v := range vs {
		e.elem()
		e.str(v)
	}
	e.closeArr()
}

const hexDigits = "0123456789abcdef"

//go:noinline
func (e *encoder) str(s string) {
	b := append(e.b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20 || c == '<' || c == '>' || c == '&':
				// <, > and & are escaped as encoding/json does, so a
				// report pasted into HTML stays inert.
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	e.b = append(b, '"')
}
