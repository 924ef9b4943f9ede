package badger

import (
	"hash/maphash"
	"sync/atomic"
	"time"

	"github.com/linkguard/linkguard"
)

// linkCache keeps decoded links by id, so that a link read again and
// again (a scanner's flood of GETs, a person's reloads, the page's
// verify after its GET) opens no Badger transaction and decodes nothing.
// It is a direct-mapped table of linkSlots entries, and it is exact:
//
//   - every transaction that writes a link's record bumps the version of
//     the link's slot after its commit (invalidate, deferred by the
//     writer: CreateLink, change, finishJob), and
//   - a reader takes the slot's version before it opens its read
//     transaction and files its entry under that version; an entry
//     answers only while its version is the slot's.
//
// So an entry read before a commit is never served after the commit has
// returned; between the commit and its bump, a reader may still see the
// previous state, as it would had it come a moment earlier. A Badger
// folder has one process, so every write of l/ keys goes through here.
// Entries also end at the record's own TTL, as Badger's reads do.
type linkCache struct {
	seed  maphash.Seed
	slots [linkSlots]linkSlot
}

const linkSlots = 1 << 12

type linkSlot struct {
	version atomic.Uint64
	entry   atomic.Pointer[linkEntry]
}

// linkEntry is never changed once filed: readers get a copy of link.
type linkEntry struct {
	version uint64
	expires uint64 // the record's Badger ExpiresAt (Unix seconds), 0 for none
	link    linkguard.Link
}

func newLinkCache() *linkCache { return &linkCache{seed: maphash.MakeSeed()} }

func (c *linkCache) slot(id string) *linkSlot {
	return &c.slots[maphash.String(c.seed, id)%linkSlots]
}

// version is what a reader takes before its read transaction.
func (c *linkCache) version(id string) uint64 { return c.slot(id).version.Load() }

// get returns a copy of the cached link id, if its entry is current.
// The copy shares the link's byte slices and pointers, which no reader
// of a Store's links changes.
func (c *linkCache) get(id string, now time.Time) (*linkguard.Link, bool) {
	sl := c.slot(id)
	e := sl.entry.Load()
	if e == nil || e.link.ID != id || e.version != sl.version.Load() ||
		(e.expires != 0 && uint64(now.Unix()) >= e.expires) {
		return nil, false
	}
	l := e.link
	return &l, true
}

// put files l, read in a transaction opened after version was taken.
func (c *linkCache) put(version, expires uint64, l *linkguard.Link) {
	c.slot(l.ID).entry.Store(&linkEntry{version: version, expires: expires, link: *l})
}

// invalidate ends every entry of id's slot filed so far: called after
// each transaction that wrote (or may have written) the link's record.
func (c *linkCache) invalidate(id string) { c.slot(id).version.Add(1) }
