// Package logbuf is a log sink for tests: the servers under test log
// from many goroutines while the test reads what they wrote.
package logbuf

import (
	"bytes"
	"sync"
)

// Buffer is a bytes.Buffer whose writes and reads take one lock. Its
// zero value is ready to use.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String is everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
