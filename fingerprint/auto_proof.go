package fingerprint

// proof (automation): the server's check that the page's collector made
// this report for the rendering whose nonce it carries (Input.Proof).
// A report that fails it was assembled or replayed by something that did
// not run the page, as the issue-8 replays from AWS and from the
// requester's ISP did: a strong mark, whatever the report claims.
// Records from before the check carry "" and count for nothing, as does
// a request without a report (nothing to check).
func (e *eval) proof() {
	switch p := e.in.Proof; p {
	case "":
		if e.in.Report == nil {
			// Nothing to check: the other signals say what no report means.
			e.note(0, "no report from the page")
			return
		}
		e.note(0, "the page's proof was not checked (a record from before the check)")
	case "ok":
		e.note(0, "the page's module made this report for this rendering")
	default:
		e.veto("the report failed the page's proof (").ext(p).text("): the page did not make it for this rendering")
	}
}
