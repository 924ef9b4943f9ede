// Package memo remembers the answers of pure functions of a string, for
// work that hot paths would otherwise redo on every request with the same
// few inputs (an Accept-Language header, a link's redirect address).
//
// A Table is direct-mapped: a fixed number of slots, each holding the
// last key that hashed to it, so it never grows whatever the inputs (a
// flood of distinct keys only evicts), and it needs no lock.
package memo

import (
	"hash/maphash"
	"strings"
	"sync/atomic"
)

// Slots is how many answers a Table keeps.
const Slots = 1 << 10

// MaxKey is the longest key a Table keeps: a longer one is computed every
// time, so that a table holds at most Slots × MaxKey bytes of keys.
const MaxKey = 512

var seed = maphash.MakeSeed()

// Table memoizes one function of a string. The zero Table is ready.
type Table[V any] struct {
	slots [Slots]atomic.Pointer[entry[V]]
}

type entry[V any] struct {
	key string
	val V
}

// Get returns f(key), from the table when it was computed before. f must
// be a pure function of key. key may be a view of a buffer that is
// reused after the call (fasthttp's header values): the table keeps a
// copy.
func (t *Table[V]) Get(key string, f func(string) V) V {
	if len(key) > MaxKey {
		return f(key)
	}
	sl := &t.slots[maphash.String(seed, key)%Slots]
	if e := sl.Load(); e != nil && e.key == key {
		return e.val
	}
	key = strings.Clone(key)
	v := f(key)
	sl.Store(&entry[V]{key: key, val: v})
	return v
}
