package badger

import (
	"encoding/binary"
	"strconv"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/store/storetest"
)

func TestLimiterConformance(t *testing.T) {
	storetest.RunLimiter(t, func(t *testing.T) linkguard.Limiter {
		return memStore(t)
	})
}

// TestLimiterRecordBounded: a key keeps the newest max times and expires
// a second after the newest leaves the window, so an idle key costs
// nothing.
func TestLimiterRecordBounded(t *testing.T) {
	s := memStore(t)
	t0 := time.Now()
	var want []byte
	for i := range 10 {
		at := t0.Add(time.Duration(i) * 25 * time.Second)
		if ok, _, err := s.Hit(t.Context(), "k", time.Minute, 3, at); err != nil || !ok {
			t.Fatalf("hit %d, 25 s apart: ok %v, %v; want allowed", i, ok, err)
		}
		if i >= 7 {
			want = binary.BigEndian.AppendUint64(want, uint64(at.UnixNano()))
		}
	}
	k := []byte(prefixLimit + "s/" + strconv.FormatInt(int64(time.Minute), 10) + "/k")
	if got := storedValue(t, s, k); string(got) != string(want) {
		t.Fatalf("record %x; want the newest 3 times %x", got, want)
	}
	// Badger's TTL counts from the write by this clock, in whole seconds:
	// the newest time is the last hit's now, so a window and a second (5 s
	// of slack for a slow machine between the write and this read).
	var expires time.Time
	if err := s.db.View(func(txn *badger.Txn) error {
		it, err := txn.Get(k)
		if err == nil {
			expires = time.Unix(int64(it.ExpiresAt()), 0)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if d := time.Until(expires); d > time.Minute+time.Second || d < time.Minute-5*time.Second {
		t.Fatalf("record expires in %v; want a second more than the window, 1m1s", d)
	}
}
