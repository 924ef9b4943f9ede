package redis

import (
	"encoding/hex"
	"strings"
)

// Key layout. Every key the store writes is listed here, so that a reader
// of a dump (or a migration) knows the whole schema. P is Options.KeyPrefix
// ("lg:" by default); hashes of tokens and codes are written in hex.
//
//	P l:<link id>        hash: the link. Field json is the Link as issued,
//	                     as encoding/json writes it; hl, mid, state,
//	                     consumed_at, revoked_at, reason (none in links
//	                     revoked before it), attempts, verdict and
//	                     delivery are its parts, which the scripts change and
//	                     readers assemble the Link's JSON from (linkParts,
//	                     linkJSON: the same bytes Badger keeps at l/<id>);
//	                     exp and code are what the scripts check; stale is
//	                     set once a part changed without json being rebuilt
//	                     (scripts.go, luaLink). PEXPIREAT: expiry + retention.
//	P t:<token hash>     string: link id. PEXPIREAT as the link.
//	P f:<family>         string: id of the family's newest link (revoke-older
//	                     index). PEXPIREAT as that link.
//	P v:<link id>        sorted set: the link's views, Visit JSON
//	                     (linkguard.EncodeVisit) scored by time (Unix ms); the
//	                     newest linkguard.KeptViews are kept. Expires with the
//	                     link (or, for a visit to an unknown link, visit time +
//	                     retention + 1 day).
//	P d:<link id>        sorted set: the link's decision records (verify,
//	                     confirm, code), as v:; the newest KeptDecisions kept.
//	                     The one that consumed the link is written by the
//	                     consumption's script, without its verdict, marked
//	                     verdict_of_link: readers take the link's (visitrec).
//	P s:<link id>        list: the link's history summary, one
//	                     fingerprint.PastVisit JSON an entry, oldest first, the
//	                     newest linkguard.HistoryLen kept: the visits the visit
//	                     writer records (not the consumption's record). Expires
//	                     as v:.
//	P h:<code hash>      hash: the handoff. json = Handoff JSON, exp = its
//	                     expiry (20-digit Unix ns). PEXPIREAT: its expiry.
//	P m:<link id>        hash: a queued email. attempt = failed attempts so far,
//	                     payload = the sealed message. Deleted once sent or
//	                     given up; PEXPIREAT as the link.
//	P q                  sorted set: the mail queue, link ids scored by the
//	                     next attempt (Unix ms). Members whose m: key is gone
//	                     are removed by the next DueMail that meets them.
//	P o:<ns>:<key>       string: a linkguard.KV value (oidc.go). PEXPIRE as given.
//	P w:, P wq, P wl, P c: the webhook queue and the console's per-hour
//	                     counters (webhook.go).
//	P r:s:<window>:<key> string: a linkguard.Limiter record, the times of
//	                     the newest allowed hits (limit.go). PX: a second
//	                     after the newest leaves the window. (The
//	                     fixed-window counts before them were
//	                     P r:<window>:<start>:<key>.)
//
// Times that the scripts compare are passed and stored as zero-padded
// 20-digit Unix nanoseconds, so that Lua compares them exactly as strings
// (Lua numbers are doubles and cannot hold nanoseconds).
//
// Redis Cluster: the scripts build keys from the prefix (the older link
// of a family, the link a token names, the jobs of a queue), and a script
// may only touch keys of one slot. So on a cluster the prefix is a hash
// tag, and every key of a deployment (links, tokens, families, handoffs,
// visits, the mail and webhook queues, limiter records, KV) hashes to the
// one slot of that tag: "lg:" becomes "{lg}:", and keys read
// "{lg}:l:<id>". Every script stays one atomic step on one node, as on a
// single server. NB: a deployment's data is therefore on one primary (and
// its replicas): the cluster brings failover and a cluster endpoint, not
// sharding of one deployment; deployments with distinct prefixes land on
// distinct slots. A prefix that already has a tag ("app:{lg}:") is kept.
const (
	prefixLink    = "l:"
	prefixToken   = "t:"
	prefixFamily  = "f:"
	prefixVisit   = "v:"
	prefixDecided = "d:"
	prefixHistory = "s:"
	prefixHandoff = "h:"
	prefixMail    = "m:"
	keyQueue      = "q"
	prefixKV      = "o:"
	prefixLimit   = "r:"
)

func (s *Store) linkKey(id string) string    { return s.prefix + prefixLink + id }
func (s *Store) tokenKey(h []byte) string    { return s.prefix + prefixToken + hex.EncodeToString(h) }
func (s *Store) familyKey(f string) string   { return s.prefix + prefixFamily + f }
func (s *Store) visitKey(id string) string   { return s.prefix + prefixVisit + id }
func (s *Store) decidedKey(id string) string { return s.prefix + prefixDecided + id }
func (s *Store) historyKey(id string) string { return s.prefix + prefixHistory + id }
func (s *Store) handoffKey(h []byte) string  { return s.prefix + prefixHandoff + hex.EncodeToString(h) }
func (s *Store) mailKey(id string) string    { return s.prefix + prefixMail + id }
func (s *Store) queueKey() string            { return s.prefix + keyQueue }

// globEscape escapes the characters that SCAN MATCH treats as a pattern,
// so that a prefix such as "app[1]:" matches only itself.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// clusterPrefix is prefix as a hash tag: unchanged when it has one,
// else "{lg}:" for "lg:" (the trailing colon stays outside the braces,
// so keys read as on a single server).
func clusterPrefix(prefix string) string {
	if hasHashTag(prefix) {
		return prefix
	}
	base, colon := strings.CutSuffix(prefix, ":")
	if base == "" {
		base = "lg"
	}
	out := "{" + base + "}"
	if colon {
		out += ":"
	}
	return out
}

// hasHashTag reports whether a key starting with prefix is hashed by a
// tag in the prefix: Redis hashes the part between the first "{" and the
// first "}" after it, when that part is not empty.
func hasHashTag(prefix string) bool {
	i := strings.IndexByte(prefix, '{')
	if i < 0 {
		return false
	}
	j := strings.IndexByte(prefix[i+1:], '}')
	return j > 0
}
