package badger

// Key layout. Every key the store writes is listed here, so that a reader
// of a dump (or a migration) knows the whole schema.
//
//	l/<link id>            → Link (codec.go; JSON before it), packed (pack.go) when
//	                         that is smaller. TTL: link expiry + retention; once
//	                         consumed, at least a visit's TTL and an hour (consumedTTL).
//	t/<token hash>         → link id. TTL as the link.
//	f/<family>             → id of the family's newest link (revoke-older index).
//	v/<link id>/<slot>     → Visit (JSON, linkguard.EncodeVisit, packed when that is
//	                         smaller), buffered writes. TTL: linkguard.VisitTTL(retention), 8 days by default.
//	                         slot is v00..v31 for views, d00..d63 for decisions: a
//	                         ring per link, so the newest KeptViews views and
//	                         KeptDecisions decisions are kept and nothing else;
//	                         and c, the decision that consumed the link, written by
//	                         the consumption's own transaction (Outbox.Record). A
//	                         consumption's record goes without its verdict, marked
//	                         "verdict_of_link": readers take it from l/ (visits.go).
//	s/<link id>            → summary (JSON): the ring counters and the history
//	                         (linkguard.HistoryLen entries). Written with the visits.
//	h/<handoff code hash>  → Handoff (codec.go; JSON before it), packed when that is
//	                         smaller, or without what it shares with its link
//	                         (handoffRefFormat). TTL: the handoff's expiry.
//	m/<link id>            → queued email (JSON, payload sealed). Deleted once sent or given up.
//	q/<due nanos>/<link id> → empty: the mail queue ordered by next attempt.
//	o/<ns>/<key>           → a linkguard.KV value (oidc.go), TTL as given.
//	w/, wq/, c/            → the webhook queue and the console's per-hour counters (webhook.go).
//	r/s/<window>/<key>     → a linkguard.Limiter key: its newest allowed hits (limit.go).
//	!linkguard-backup-end  → never stored: the end frame of a backup file (backup.go).
//
// Slots do not sort by time: readers sort a link's visits by (At, ID).
const (
	prefixLink    = "l/"
	prefixToken   = "t/"
	prefixFamily  = "f/"
	prefixVisit   = "v/"
	prefixSummary = "s/"
	prefixHandoff = "h/"
	prefixMail    = "m/"
	prefixDue     = "q/"
	prefixKV      = "o/"
	prefixLimit   = "r/"
)

func linkKey(id string) []byte     { return []byte(prefixLink + id) }
func tokenKey(h []byte) []byte     { return append([]byte(prefixToken), h...) }
func familyKey(f string) []byte    { return []byte(prefixFamily + f) }
func visitPrefix(id string) []byte { return []byte(prefixVisit + id + "/") }

// consumedVisitKey is the visit record of the decision that consumed the
// link, written with the consumption (outside the rings: one per link).
func consumedVisitKey(id string) []byte { return []byte(prefixVisit + id + "/c") }
func handoffKey(h []byte) []byte        { return append([]byte(prefixHandoff), h...) }
func summaryKey(id string) []byte       { return []byte(prefixSummary + id) }
