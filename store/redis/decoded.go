package redis

import (
	"encoding/json"
	"fmt"
	"hash/maphash"
	"sync/atomic"

	"github.com/linkguard/linkguard"
)

// decoded keeps, in a direct-mapped table, links as they were last
// decoded together with the exact bytes they were decoded from. A link's
// bytes come from Redis on every read (one round trip, as before), and
// when they are the bytes of an entry the entry's link is returned
// instead of decoding them again: a landing page reloaded, the page's
// verify after its GET, a scanner's flood of GETs of one link.
//
// NB: it is exact, not a cache of Redis: equal bytes decode to an equal
// link, and every answer is made from the bytes of its own round trip, so
// no instance ever serves a state that another instance has changed. A
// link changed anywhere has new bytes and is decoded again.
type decoded struct {
	seed  maphash.Seed
	slots [decodedSlots]atomic.Pointer[decodedEntry]
}

const decodedSlots = 1 << 12

// decodedEntry is never changed once filed: readers get a copy of link.
type decodedEntry struct {
	raw  string
	link linkguard.Link
}

func newDecoded() *decoded { return &decoded{seed: maphash.MakeSeed()} }

// link returns the link that raw (a link's stored JSON) encodes. The
// result is the caller's; it shares the entry's byte slices and
// pointers, which no reader of a Store's links changes.
func (d *decoded) link(raw string) (*linkguard.Link, error) {
	slot := &d.slots[maphash.String(d.seed, raw)%decodedSlots]
	if e := slot.Load(); e != nil && e.raw == raw {
		l := e.link
		return &l, nil
	}
	e := &decodedEntry{raw: raw}
	if err := json.Unmarshal([]byte(raw), &e.link); err != nil {
		return nil, fmt.Errorf("decode link: %w", err)
	}
	slot.Store(e)
	l := e.link
	return &l, nil
}
