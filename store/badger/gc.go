package badger

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// gcLoop reclaims value-log space on a ticker until the store closes.
func (s *Store) gcLoop() {
	defer s.done.Done()
	t := time.NewTicker(s.opts.GCInterval)
	defer t.Stop()
	for {
		select {
		case <-s.closing:
			return
		case <-t.C:
			for s.valueLogGC() {
			}
		}
	}
}

// valueLogGC reclaims one value-log file whose values are mostly stale,
// and says whether it did (the loop tries the next).
//
// Badger's GC moves the file's live values to the newest file, keeping
// their versions, through its write path; the barrier is on meanwhile,
// so that their new place is on disk before the memtable log points at
// it (a repair could not undo a move: vlogsync.go). Then it deletes the
// old file at once, before the memtable-log entries of the moves are on
// disk, which a power cut would turn into entries of the tree pointing
// into a deleted file. An iterator open across it makes Badger defer the
// deletion until the iterator closes (value.go, rewrite), and that is
// after a sync of the moves. If that sync fails, the file is kept (the
// iterator is never closed); the store fails every write from then on
// anyway (sync.go).
func (s *Store) valueLogGC() bool {
	txn := s.db.NewTransaction(false)
	it := txn.NewIterator(badger.IteratorOptions{})
	s.barrier.on.Store(true)
	err := s.db.RunValueLogGC(0.5)
	s.barrier.on.Store(false)
	if err != nil {
		if !errors.Is(err, badger.ErrNoRewrite) && !errors.Is(err, badger.ErrRejected) {
			s.log.Warn("value-log gc", "err", err)
		}
	} else {
		if s.gcMoved != nil {
			s.gcMoved()
		}
		if serr := s.durable.wait(); serr != nil {
			s.log.Error("value-log gc: the moved values could not be synced; the old file is kept", "err", serr)
			return false
		}
	}
	it.Close() // deletes the file, if GC emptied one
	txn.Discard()
	return err == nil
}

// badgerLogger sends Badger's warnings and errors to slog and drops its
// chatty info and debug lines; one debug line is the value-log barrier's
// cue (vlogsync.go).
type badgerLogger struct {
	l       *slog.Logger
	barrier *vlogBarrier // nil in memory
}

func (b badgerLogger) Errorf(f string, a ...any)   { b.l.Error("badger", "msg", sprintf(f, a...)) }
func (b badgerLogger) Warningf(f string, a ...any) { b.l.Warn("badger", "msg", sprintf(f, a...)) }
func (b badgerLogger) Infof(string, ...any)        {}

func (b badgerLogger) Debugf(f string, _ ...any) {
	if f != memtableWriteMsg || b.barrier == nil {
		return
	}
	if err := b.barrier.pass(); err != nil {
		b.l.Error("badger: the value log could not be synced; stopping before the memtable log points at it", "err", err)
		panic(fmt.Sprintf("linkguard: %v: stopping before the memtable log points at data that may not be on disk", err))
	}
}

func sprintf(f string, a ...any) string { return strings.TrimSpace(fmt.Sprintf(f, a...)) }
