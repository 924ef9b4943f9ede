package fingerprint

// ua (compatibility): the visitor's browser and OS against the
// requester's. What the User-Agent says of a machine (blank, a library,
// a named scanner, a pinned old version) is scanner_ua's, on the
// automation axis.
func (e *eval) ua() {
	vu, ru := &e.vis, &e.req
	switch {
	case vu.Empty:
		e.note(0, "no User-Agent to compare")
	case ru.Empty:
		e.note(0, "the requester's User-Agent is unknown")
	case vu.Browser == ru.Browser && vu.OS == ru.OS && vu.Mobile == ru.Mobile:
		e.note(1, "same browser and OS as the requester (").text(vu.Browser.String()).text(" on ").text(vu.OS.String()).text(")")
	case vu.OS == ru.OS && vu.Mobile == ru.Mobile:
		e.note(0.3, "another browser on the requester's OS (").text(ru.Browser.String()).text(" → ").text(vu.Browser.String()).text(")")
	case vu.Mobile != ru.Mobile:
		e.note(0.1, "a phone and a computer: the mail is often read on the other device")
	default:
		e.note(-0.5, "another OS than the requester (").text(ru.OS.String()).text(" → ").text(vu.OS.String()).text(")")
	}
}
