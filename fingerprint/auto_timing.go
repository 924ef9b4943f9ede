package fingerprint

import "time"

// timing (automation): when this visitor's network first opened the link,
// and how fast its requests follow each other.
//
// Sources: mail scanners open a link within seconds of delivery (the
// issue's traces: about 2 s after the mail was asked for; Defender Safe
// Links about 23 s after send, two hits 134 ms apart); HEAD then GET is
// Barracuda's link protection pattern (public reports).
//
// NB: the requester's own network is exempt from the first-visit marks: a
// person who reads the mail in the next tab opens it within seconds, and
// so does the e2e person test on the requester's loopback network.
func (e *eval) timing() {
	p := &e.c.cfg.Params
	vs, rq := &e.in.Visitor.Network, &e.in.Requester.Network
	issued := e.in.Requester.At
	// When did this network first open the link? Its page view usually
	// came a second before this report.
	first := e.now
	for i := range e.in.History {
		h := &e.in.History[i]
		if sameNetwork(&h.Network, vs) && h.At.Before(first) {
			first = h.At
		}
	}
	switch {
	case issued.IsZero() || first.IsZero():
		e.note(0, "the time of issue is unknown")
	case knownNetwork(vs) && sameNetwork(vs, rq):
		e.note(0, "opened ").secs(first.Sub(issued).Seconds()).text(" after issue from the requester's network")
	default:
		d := first.Sub(issued).Seconds()
		switch {
		case d < p.FastSeconds:
			e.mark(0.8, "this network opened the link ").secs(d).text(" after issue, faster than a person opens a mail, and it is not the requester's")
		case d < p.ScannerWindowSeconds:
			e.mark(0.4, "this network opened the link ").secs(d).text(" after issue, when mail scanners arrive, and it is not the requester's")
		default:
			e.note(0, "opened ").secs(d).text(" after issue")
		}
	}
	kind := e.in.Stage.VisitKind()
	burst := time.Duration(p.BurstSeconds * float64(time.Second))
	views := 0
	var lastView time.Time
	for i := range e.in.History {
		h := &e.in.History[i]
		if h.Kind == kind && sameNetwork(&h.Network, vs) && absDur(e.now.Sub(h.At)) < burst {
			e.mark(0.8, "two ").text(string(kind)).text(" requests less than ").secs(p.BurstSeconds).text(" apart")
			return
		}
		if h.Kind == VisitView && sameNetwork(&h.Network, vs) {
			if views > 0 && absDur(h.At.Sub(lastView)) < burst {
				e.mark(0.4, "this network loaded the page twice within ").secs(p.BurstSeconds).text(" (HEAD then GET?)")
				return
			}
			views++
			lastView = h.At
		}
	}
}
