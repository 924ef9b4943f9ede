package logbuf

import (
	"strings"
	"sync"
	"testing"
)

// TestBuffer: writes from many goroutines, read while they run (go test
// -race fails a Buffer without its lock), all kept whole.
func TestBuffer(t *testing.T) {
	var b Buffer
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				b.Write([]byte("line\n"))
				_ = b.String()
			}
		})
	}
	wg.Wait()
	if n := strings.Count(b.String(), "line\n"); n != 800 {
		t.Fatalf("%d lines, want 800", n)
	}
}
