package report

import (
	"math"

	"github.com/linkguard/linkguard/internal/clip"
)

// EventKind names the input events the collector counts.
type EventKind int

// The counted event kinds. Pointer moves go through Recorder.PointerMove
// and clicks through Recorder.Click, which also count them.
const (
	EventPointerMove EventKind = iota
	EventPointerDown
	EventTouchStart
	EventKeyDown
	EventScroll
	EventFocus
	EventClick
)

// Recorder accumulates what the collector sees on one page and turns it
// into Reports. The collector fills the static parts (Automation, Device,
// Locale, Timing, Page) into Base directly and feeds events through the
// methods. The zero value is ready to use; not safe for concurrent use.
//
// It is plain Go so that the accounting is tested on the host; the
// syscall/js bridge in wasm/ only reads browser values and calls it.
type Recorder struct {
	// Base is copied into every report.
	Base Report
	path PathTracker
	// The button's own trusted pointer history since the last click on
	// it: hovered before the press, when the press began, how long it
	// lasted.
	hovered, hoveredAtDown bool
	downAt, pressMS        float64
	downPressure           float64
	// The key clock: the first trusted key event's time and the last
	// keydown's.
	keyFirst, keyDown float64
}

// ButtonOver notes a pointermove on Continue (the collector listens to
// pointermove only: every move onto the button is one). Only trusted
// ones count: a hand reaches the button before it presses it.
func (r *Recorder) ButtonOver(trusted bool) {
	if trusted {
		r.hovered = true
	}
}

// ButtonDown notes a pointerdown on Continue at time at (ms) with the
// event's pressure.
func (r *Recorder) ButtonDown(trusted bool, at, pressure float64) {
	if !trusted || bad(at) {
		return
	}
	if bad(pressure) || pressure > 1 {
		pressure = -1 // not a pressure: kept apart from a real 0
	}
	r.downAt, r.pressMS, r.hoveredAtDown, r.downPressure = at, 0, r.hovered, pressure
}

// ButtonUp notes a pointerup on Continue at time at (ms): the press's
// duration, when a trusted pointerdown on the button came before it.
func (r *Recorder) ButtonUp(trusted bool, at float64) {
	if !trusted || bad(at) || r.downAt <= 0 || at < r.downAt {
		return
	}
	r.pressMS = at - r.downAt
}

func (r *Recorder) count(kind EventKind, trusted bool, at float64) {
	ev := &r.Base.Interaction.Untrusted
	if trusted {
		ev = &r.Base.Interaction.Trusted
	}
	var c *EventCount
	switch kind {
	case EventPointerMove:
		c = &ev.PointerMove
	case EventPointerDown:
		c = &ev.PointerDown
	case EventTouchStart:
		c = &ev.TouchStart
	case EventKeyDown:
		c = &ev.KeyDown
	case EventScroll:
		c = &ev.Scroll
	case EventFocus:
		c = &ev.Focus
	case EventClick:
		c = &ev.Click
	default:
		return
	}
	if bad(at) || at < 0 {
		at = 0
	}
	c.N++
	if c.N == 1 {
		c.FirstMS = at
	}
	if trusted && kind != EventFocus && kind != EventClick && at > 0 {
		if f := &r.Base.Interaction.FirstMS; *f == 0 || at < *f {
			*f = at
		}
	}
}

// Event counts one event of the given kind at time at (ms, the event's
// timeStamp). Only trusted events count as interaction. Pointer moves
// and clicks should go through PointerMove and Click, which do more.
func (r *Recorder) Event(kind EventKind, trusted bool, at float64) {
	r.count(kind, trusted, at)
}

// The key event types Key takes.
const (
	KeyDown = iota
	KeyPress
	KeyUp
)

// Key notes a keydown (also counted as an event), keypress or keyup at
// time at (ms, the event's timeStamp); trusted ones also go on the key
// clock (Interaction.Keys).
func (r *Recorder) Key(typ int, trusted bool, at float64) {
	if typ == KeyDown {
		r.count(EventKeyDown, trusted, at)
	}
	if !trusted || bad(at) || at <= 0 {
		return
	}
	k := &r.Base.Interaction.Keys
	if k.N == 0 {
		r.keyFirst = at
	}
	k.N++
	d := at - r.keyFirst
	if off := math.Abs(d - math.Round(d)); off > k.OffGrid {
		k.OffGrid = off
	}
	switch typ {
	case KeyDown:
		r.keyDown = at
	case KeyPress:
		if g := at - r.keyDown; r.keyDown > 0 && g > k.PressGap {
			k.PressGap = g
		}
	}
}

// PointerMove counts a pointermove event and, when trusted, adds its
// position (client coordinates) to the pointer path.
func (r *Recorder) PointerMove(trusted bool, at, x, y float64) {
	r.count(EventPointerMove, trusted, at)
	if trusted {
		r.path.Move(x, y, at)
	}
}

// ClickInfo is a click event as the collector reads it.
type ClickInfo struct {
	Trusted     bool
	OnContinue  bool // the target is #lg-continue or inside it
	At          float64
	X, Y        float64
	Detail      int
	PointerType string
	// ScreenX and ScreenY are the event's screen point.
	ScreenX, ScreenY float64
	// Left, Top, Width and Height are the button's client rectangle
	// (getBoundingClientRect) when OnContinue.
	Left, Top, Width, Height float64
}

// Click counts a click anywhere; a click on Continue is also kept as the
// report's Click, a trusted one replacing an untrusted one but never the
// other way round.
func (r *Recorder) Click(c ClickInfo) {
	r.count(EventClick, c.Trusted, c.At)
	if !c.OnContinue {
		return
	}
	prev := r.Base.Interaction.Click
	if prev != nil && prev.Trusted && !c.Trusted {
		return
	}
	if prev != nil && prev.Trusted && c.Trusted {
		return // keep the first trusted click
	}
	// Keyboard activation (Enter, Space) gives detail 0 and no point.
	hasPoint := c.Detail > 0 || c.PointerType != ""
	var path PointerPath
	if c.Trusted {
		path = r.path.Before(c.At, c.X, c.Y, hasPoint)
	} else {
		path = PointerPath{EndDistance: -1}
	}
	k := &Click{
		Trusted:     c.Trusted,
		OnContinue:  true,
		AtMS:        c.At,
		X:           c.X,
		Y:           c.Y,
		Detail:      c.Detail,
		PointerType: c.PointerType,
		Path:        path,
		ScreenX:     c.ScreenX,
		ScreenY:     c.ScreenY,
		TargetW:     c.Width,
		TargetH:     c.Height,
	}
	if hasPoint {
		k.OffsetX = c.X - (c.Left + c.Width/2)
		k.OffsetY = c.Y - (c.Top + c.Height/2)
	}
	if c.Trusted && r.downAt > 0 {
		k.PressMS, k.Hovered = r.pressMS, r.hoveredAtDown
		if r.downPressure >= 0 {
			p := r.downPressure
			k.Pressure = &p
		}
	}
	r.Base.Interaction.Click = k
	r.hovered, r.hoveredAtDown, r.downAt, r.pressMS = false, false, 0, 0
}

// AddError notes a probe that threw or was missing, at most MaxErrors.
func (r *Recorder) AddError(name string) {
	for _, e := range r.Base.Errors {
		if e == name {
			return
		}
	}
	if len(r.Base.Errors) < MaxErrors {
		r.Base.Errors = append(r.Base.Errors, Clip(name))
	}
}

// Report returns a report for the stage ("verify" or "confirm") made at
// time now (ms); it notes now as that stage's time.
func (r *Recorder) Report(stage string, now float64) *Report {
	switch stage {
	case "verify":
		r.Base.Timing.VerifyMS = now
	case "confirm":
		r.Base.Timing.ConfirmMS = now
	}
	out := r.Base
	out.V = SchemaVersion
	out.Stage = Clip(stage)
	out.Interaction.Path = r.path.Total()
	if c := r.Base.Interaction.Click; c != nil {
		cc := *c
		out.Interaction.Click = &cc
	}
	return &out
}

// Clip cuts s to at most MaxString bytes, at a UTF-8 boundary.
func Clip(s string) string { return clip.String(s, MaxString) }
