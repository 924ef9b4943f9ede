package redis

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/linkguard/linkguard"
)

// linkParts is a Link cut where the scripts need it. The fields before
// State never change after CreateLink, nor do CreatedAt and ExpiresAt, so
// the stored JSON is
//
//	head ,"state":"<state>" mid [,"consumed_at":…][,"revoked_at":…]
//	[,"code_attempts":n][,"verdict":…][,"delivery":…] }
//
// where head is the first hl bytes of the JSON and every optional part is
// a fragment that Go encoded. A script changes a part and rebuilds the
// JSON by concatenation (luaLib's build), so Redis keeps the very bytes
// that encoding/json writes (and Badger stores) without decoding JSON in
// Lua, whose cjson would reorder keys, escape "/" and turn [] into {}.
//
// NB: this depends on the order of Link's fields. encodeLink checks the
// assembly against json.Marshal, so a change to Link that breaks it makes
// CreateLink fail loudly (and the conformance tests with it) instead of
// storing a different JSON.
type linkParts struct {
	json       []byte
	hl         int
	mid        string
	state      string
	consumedAt string
	revokedAt  string
	attempts   string
	verdict    string
	delivery   string
}

// encodeLink cuts l into parts, checked to reassemble into json.Marshal(l).
func encodeLink(l *linkguard.Link) (*linkParts, error) {
	full, err := json.Marshal(l)
	if err != nil {
		return nil, err
	}
	// The sentinel is random, so that no metadata can contain it.
	sentinel := rand.Text()
	z := *l
	z.State = linkguard.State(sentinel)
	z.ConsumedAt, z.RevokedAt, z.CodeAttempts, z.Verdict, z.Delivery = time.Time{}, time.Time{}, 0, nil, nil
	zb, err := json.Marshal(&z)
	if err != nil {
		return nil, err
	}
	marker := []byte(`,"state":"` + sentinel + `"`)
	i := bytes.Index(zb, marker)
	if i < 0 || zb[len(zb)-1] != '}' {
		return nil, fmt.Errorf("encode link %s: no state field where the Redis store expects it", l.ID)
	}
	p := &linkParts{json: full, hl: i, mid: string(zb[i+len(marker) : len(zb)-1]),
		state: string(l.State), attempts: strconv.Itoa(l.CodeAttempts)}
	if p.consumedAt, err = timeFragment(l.ConsumedAt); err != nil {
		return nil, err
	}
	if p.revokedAt, err = timeFragment(l.RevokedAt); err != nil {
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
	if got := p.assemble(zb[:i]); !bytes.Equal(got, full) {
		return nil, fmt.Errorf("encode link %s: the Link's JSON layout changed; update store/redis (encode.go, scripts.go)", l.ID)
	}
	return p, nil
}

// assemble is luaLib's build in Go.
func (p *linkParts) assemble(head []byte) []byte {
	b := append([]byte(nil), head...)
	b = append(b, `,"state":"`+p.state+`"`+p.mid...)
	for _, part := range []struct{ name, v string }{
		{"consumed_at", p.consumedAt}, {"revoked_at", p.revokedAt}, {"code_attempts", p.attempts},
		{"verdict", p.verdict}, {"delivery", p.delivery},
	} {
		if part.v == "" || part.name == "code_attempts" && part.v == "0" {
			continue
		}
		b = append(b, `,"`+part.name+`":`+part.v...)
	}
	return append(b, '}')
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
