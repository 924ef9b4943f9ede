package fingerprint

// binding (compatibility): the device cookie set when the link was asked
// for. Holding it is proof of the browser that asked, and consumes on its
// own (docs/api.md rule 3); the decision checks Input.Binding first, this
// signal shows it in the explanation.
func (e *eval) binding() {
	switch {
	case e.in.Binding:
		e.note(1, "the browser holds the device cookie of the browser that asked for the link")
	case !e.in.Requester.HasBinding:
		e.note(0, "the link was issued without a device cookie (no browser asked)")
	default:
		e.note(0, "no device cookie: another browser or device than the one that asked")
	}
}
