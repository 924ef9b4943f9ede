package badger

// Key layout. Every key the store writes is listed here, so that a reader
// of a dump (or a migration) knows the whole schema.
//
//	l/<link id>            → Link (JSON). TTL: link expiry + retention.
//	t/<token hash>         → link id. TTL as the link.
//	f/<family>             → id of the family's newest link (revoke-older index).
//	v/<link id>/<visit id> → Visit (JSON), buffered writes. TTL: 8 days (at most 200 a link).
//	h/<handoff code hash>  → Handoff (JSON). TTL: the handoff's expiry.
//	m/<link id>            → queued email (JSON, payload sealed). Deleted once sent or given up.
//	q/<due nanos>/<link id> → empty: the mail queue ordered by next attempt.
//
// Visit ids sort by time (see visitq.NewID), so a prefix scan of v/<id>/
// returns a link's visits oldest first.
const (
	prefixLink    = "l/"
	prefixToken   = "t/"
	prefixFamily  = "f/"
	prefixVisit   = "v/"
	prefixHandoff = "h/"
	prefixMail    = "m/"
	prefixDue     = "q/"
)

func linkKey(id string) []byte     { return []byte(prefixLink + id) }
func tokenKey(h []byte) []byte     { return append([]byte(prefixToken), h...) }
func familyKey(f string) []byte    { return []byte(prefixFamily + f) }
func visitPrefix(id string) []byte { return []byte(prefixVisit + id + "/") }
func handoffKey(h []byte) []byte   { return append([]byte(prefixHandoff), h...) }
