package memo

import (
	"strconv"
	"strings"
	"testing"
	"unsafe"
)

func TestTableAnswersAsTheFunction(t *testing.T) {
	var tb Table[string]
	calls := 0
	f := func(k string) string { calls++; return strings.ToUpper(k) }
	for range 3 {
		for i := range 3 * Slots { // more keys than slots: evictions
			k := "k" + strconv.Itoa(i)
			if got := tb.Get(k, f); got != strings.ToUpper(k) {
				t.Fatalf("Get(%q) = %q", k, got)
			}
		}
	}
	calls = 0
	tb.Get("k1", f)
	tb.Get("k1", f)
	if calls > 1 {
		t.Fatalf("a repeated key was computed %d times", calls)
	}
	long := strings.Repeat("x", MaxKey+1)
	calls = 0
	tb.Get(long, f)
	tb.Get(long, f)
	if calls != 2 {
		t.Fatalf("a key over MaxKey was kept (%d calls)", calls)
	}
}

// TestTableCopiesTheKey: a key that is a view of a reused buffer is not
// kept as that view.
func TestTableCopiesTheKey(t *testing.T) {
	var tb Table[int]
	buf := []byte("en-GB")
	k := unsafe.String(&buf[0], len(buf)) // as fasthttp's header values
	tb.Get(k, func(string) int { return 1 })
	buf[0] = 'x'
	if got := tb.Get("en-GB", func(string) int { return 2 }); got != 1 {
		t.Fatalf("got %d", got)
	}
}
