// Package visitq is the queue that keeps visits off the request path for
// every store: a bounded channel that never blocks (a full queue drops
// and counts), drained by one writer in batches, flushed on Close.
//
// Visits are evidence, not state (docs/design.md): losing some under a
// flood, or in a crash, changes no link.
package visitq

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/linkguard/linkguard"
)

// batchSize is the most visits one write carries.
const batchSize = 256

// ErrClosed is returned by Add after Close.
var ErrClosed = errors.New("store is closed")

// Queue buffers visits for a writer. Make one with New.
type Queue struct {
	ch      chan *linkguard.Visit
	write   func([]*linkguard.Visit) error
	log     *slog.Logger
	mu      sync.RWMutex // guards closed against Add racing Close
	closed  bool
	dropped atomic.Uint64
	done    chan struct{}
	once    sync.Once
}

// New starts a queue of size visits whose batches go to write, one call
// at a time. write's errors are logged: the visits of that batch are lost.
func New(size int, write func([]*linkguard.Visit) error, log *slog.Logger) *Queue {
	q := &Queue{ch: make(chan *linkguard.Visit, size), write: write, log: log, done: make(chan struct{})}
	go q.run()
	return q
}

// Add queues v, giving it a time-ordered ID if it has none. It never
// waits: when the queue is full the visit is dropped and counted.
func (q *Queue) Add(v *linkguard.Visit) error {
	if v.ID == "" {
		v.ID = NewID(v.At)
	}
	q.mu.RLock()
	defer q.mu.RUnlock()
	if q.closed {
		return ErrClosed
	}
	select {
	case q.ch <- v:
	default:
		if n := q.dropped.Add(1); n&(n-1) == 0 { // log at 1, 2, 4, 8, ... drops
			q.log.Warn("visit queue full: visits dropped", "dropped", n)
		}
	}
	return nil
}

// Dropped is how many visits were dropped because the queue was full.
func (q *Queue) Dropped() uint64 { return q.dropped.Load() }

// Close stops taking visits and returns once the queued ones are written.
// It is safe to call more than once.
func (q *Queue) Close() {
	q.once.Do(func() {
		q.mu.Lock()
		q.closed = true
		close(q.ch)
		q.mu.Unlock()
	})
	<-q.done
}

// run drains the queue: one write per batch instead of one per visit.
func (q *Queue) run() {
	defer close(q.done)
	batch := make([]*linkguard.Visit, 0, batchSize)
	for v := range q.ch {
		batch = append(batch[:0], v)
	fill:
		for len(batch) < cap(batch) {
			select {
			case v, ok := <-q.ch:
				if !ok {
					break fill
				}
				batch = append(batch, v)
			default:
				break fill
			}
		}
		if err := q.write(batch); err != nil {
			q.log.Error("write visits", "count", len(batch), "err", err)
		}
	}
}

// seq orders visits of the same instant in the order they were added.
var seq atomic.Uint32

// NewID returns an ID that sorts by time: 8 bytes of Unix nanoseconds,
// then a counter, in hex.
func NewID(at time.Time) string {
	var b [12]byte
	binary.BigEndian.PutUint64(b[:8], uint64(at.UnixNano()))
	binary.BigEndian.PutUint32(b[8:], seq.Add(1))
	return hex.EncodeToString(b[:])
}
