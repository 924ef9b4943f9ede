package redis

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"
	"unsafe"

	"github.com/linkguard/linkguard"
)

// linkParts is a Link cut where the scripts need it. The fields before
// State never change after CreateLink, nor do CreatedAt and ExpiresAt, so
// the Link's JSON is
//
//	head ,"state":"<state>" mid [,"consumed_at":…][,"revoked_at":…]
//	[,"revoke_reason":…][,"code_attempts":n][,"verdict":…][,"delivery":…] }
//
// where head is the first hl bytes of the JSON as issued (field json)
// and every other part is a field of its own that Go encoded. A script
// changes a part; a reader assembles the JSON from the parts (linkJSON),
// so every reader gets the very bytes that encoding/json writes (and
// Badger stores) without Lua decoding or writing JSON (cjson would
// reorder keys, escape "/" and turn [] into {}).
//
// NB: this depends on the order of Link's fields; TestLinkLayout checks
// the assembly against json.Marshal for a link with every part set, so
// a change to Link that breaks it fails the tests.
type linkParts struct {
	json       []byte
	hl         int
	mid        string
	state      string
	consumedAt string
	revokedAt  string
	reason     string // RevokeReason's JSON; absent in links stored before it
	attempts   string
	verdict    string
	delivery   string
}

// encodeLink cuts l into parts; json is the assembled JSON, equal to
// json.Marshal(l).
func encodeLink(l *linkguard.Link) (*linkParts, error) {
	// The sentinel is random, so that no metadata can contain it.
	sentinel := rand.Text()
	z := *l
	z.State = linkguard.State(sentinel)
	z.ConsumedAt, z.RevokedAt, z.RevokeReason, z.CodeAttempts, z.Verdict, z.Delivery = time.Time{}, time.Time{}, "", 0, nil, nil
	zb, err := json.Marshal(&z)
	if err != nil {
		return nil, err
	}
	marker := []byte(`,"state":"` + sentinel + `"`)
	i := bytes.Index(zb, marker)
	if i < 0 || zb[len(zb)-1] != '}' {
		return nil, fmt.Errorf("encode link %s: no state field where the Redis store expects it", l.ID)
	}
	p := &linkParts{hl: i, mid: string(zb[i+len(marker) : len(zb)-1]),
		state: string(l.State), attempts: strconv.Itoa(l.CodeAttempts)}
	if p.consumedAt, err = timeFragment(l.ConsumedAt); err != nil {
		return nil, err
	}
	if p.revokedAt, err = timeFragment(l.RevokedAt); err != nil {
		return nil, err
	}
	if p.reason, err = reasonFragment(l.RevokeReason); err != nil {
		return nil, err
	}
	if l.Verdict != nil {
		if p.verdict, err = fragment(l.Verdict); err != nil {
			return nil, err
		}
	}
	if l.Delivery != nil {
		if p.delivery, err = fragment(l.Delivery); err != nil {
			return nil, err
		}
	}
	p.json = p.assemble(string(zb[:i]))
	return p, nil
}

// assemble is the Link's JSON from its head and p's other parts.
func (p *linkParts) assemble(head string) []byte {
	b := make([]byte, 0, len(head)+len(p.state)+len(p.mid)+len(p.consumedAt)+len(p.revokedAt)+
		len(p.reason)+len(p.attempts)+len(p.verdict)+len(p.delivery)+112)
	b = append(b, head...)
	b = append(b, `,"state":"`...)
	b = append(b, p.state...)
	b = append(b, '"')
	b = append(b, p.mid...)
	b = appendPart(b, `,"consumed_at":`, p.consumedAt)
	b = appendPart(b, `,"revoked_at":`, p.revokedAt)
	b = appendPart(b, `,"revoke_reason":`, p.reason)
	if p.attempts != "0" {
		b = appendPart(b, `,"code_attempts":`, p.attempts)
	}
	b = appendPart(b, `,"verdict":`, p.verdict)
	b = appendPart(b, `,"delivery":`, p.delivery)
	return append(b, '}')
}

func appendPart(b []byte, name, v string) []byte {
	if v == "" {
		return b
	}
	return append(append(b, name...), v...)
}

// linkJSON is the JSON of the link whose fields f luaLink read (json,
// hl, mid, state, consumed_at, revoked_at, reason, attempts, verdict,
// delivery, …; or json alone, when it is the whole link), or ok false
// when there is no such link. A field that is missing (nil: reason, in a
// link stored before it) reads as empty.
func linkJSON(f []any) (js string, ok bool, err error) {
	str := func(i int) string {
		if i < len(f) {
			s, _ := f[i].(string)
			return s
		}
		return ""
	}
	if len(f) == 0 || f[0] == nil {
		return "", false, nil
	}
	if len(f) == 1 {
		return str(0), true, nil
	}
	head := str(0)
	hl, err := strconv.Atoi(str(1))
	if err != nil || hl <= 0 || hl > len(head) {
		return "", false, fmt.Errorf("decode link: field hl %q does not cut its json", str(1))
	}
	p := linkParts{mid: str(2), state: str(3), consumedAt: str(4), revokedAt: str(5),
		reason: str(6), attempts: str(7), verdict: str(8), delivery: str(9)}
	if p.attempts == "" {
		p.attempts = "0"
	}
	b := p.assemble(head[:hl])
	return unsafe.String(unsafe.SliceData(b), len(b)), true, nil
}

// fragment is v as encoding/json writes it inside a Link.
func fragment(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

// timeFragment is a time as encoding/json writes it, or "" for the zero
// time (the omitzero fields).
func timeFragment(t time.Time) (string, error) {
	if t.IsZero() {
		return "", nil
	}
	return fragment(t)
}

// reasonFragment is a revoke reason as encoding/json writes it, or "" for
// none (the omitempty field). A reason that is not one of
// linkguard.RevokeReasons is refused, as store/badger's codec refuses it.
func reasonFragment(r linkguard.RevokeReason) (string, error) {
	if r == "" {
		return "", nil
	}
	if !slices.Contains(linkguard.RevokeReasons, r) {
		return "", fmt.Errorf("revoke reason %q is not one of linkguard.RevokeReasons", r)
	}
	return fragment(r)
}

// deliveryAround encodes d with Attempts left for the script to fill in:
// the JSON before the number, and after it.
func deliveryAround(d linkguard.Delivery) (before, after string, err error) {
	d.Attempts = 0
	b, err := json.Marshal(d)
	if err != nil {
		return "", "", err
	}
	const field = `"attempts":0`
	i := bytes.Index(b, []byte(field))
	if i < 0 {
		return "", "", fmt.Errorf("encode delivery: no attempts field")
	}
	n := i + len(field) - 1
	return string(b[:n]), string(b[n+1:]), nil
}

// nanos is t as 20-digit Unix nanoseconds, which the scripts compare as
// strings.
func nanos(t time.Time) string {
	n := t.UnixNano()
	if n < 0 {
		n = 0
	}
	return fmt.Sprintf("%020d", n)
}
