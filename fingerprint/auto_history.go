package fingerprint

import "time"

// history (automation): this link's earlier visits from other networks.
// A visit less than a second from another network's visit of the same
// link is a scanner fanning out (Defender Safe Links: two hits 134 ms
// apart, issue 8 from public reports); earlier visits from elsewhere are
// shown but are no mark of this visitor (the scanner came first; the
// person comes after it).
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
	burst := time.Duration(e.c.cfg.Params.BurstSeconds * float64(time.Second))
	others := 0
	for i := range h {
		n := &h[i].Network
		if sameNetwork(n, vs) || !knownNetwork(n) {
			continue
		}
		if !sameNetwork(vs, rq) && e.nearOwnVisit(h, h[i].At, burst) {
			e.mark(0.6, "this network and another visited the link less than ").secs(e.c.cfg.Params.BurstSeconds).text(" apart: scanners fan out like that")
			return
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
	case others > 0 && sameNetwork(vs, rq):
		e.note(0, "earlier visits came from other networks (likely the mail scanner); this one from the requester's")
	case others > 0:
		e.note(0, "the link was opened before from ").int(others).text(" other networks")
	default:
		e.note(0, "earlier visits came from this network only")
	}
}

// nearOwnVisit reports whether the visitor's network (this request, or
// one of its earlier visits in h) was at the link within d of t.
func (e *eval) nearOwnVisit(h []PastVisit, t time.Time, d time.Duration) bool {
	if absDur(e.now.Sub(t)) < d {
		return true
	}
	vs := &e.in.Visitor.Network
	for i := range h {
		if sameNetwork(&h[i].Network, vs) && absDur(h[i].At.Sub(t)) < d {
			return true
		}
	}
	return false
}
