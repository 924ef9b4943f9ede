package fingerprint

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
		e.pointerDynamics(c)
	default:
		if it.Trusted.KeyDown.N > 0 {
			e.note(0, "Continue pressed from the keyboard")
		} else {
			e.mark(0.5, "a click without pointer and without a key press")
		}
	}
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
	if e.findings == 0 {
		e.note(0, "a trusted click on Continue after a pointer path of ").int(path.Points).text(" points")
	}
}
