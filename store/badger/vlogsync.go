package badger

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
)

// The value log, and what keeps it consistent with the tree.
//
// A value of valueThreshold bytes or more (a link, a visit, a mail job, a
// decision's record) goes to Badger's value log (*.vlog) and the tree
// holds a pointer to it, the WiscKey layout: memtable flushes and
// compactions, which rewrite the tree again and again, move a fraction
// of the bytes they moved with the values inline, and those were the
// confirm's tail (docs/performance.md, "The value log").
//
// Badger writes a batch of commits in its one write goroutine: the
// values into the value log, then the entries that point at them into
// the memtable log (*.mem), both by copying into shared mappings. With
// SyncWrites, Badger syncs each in line (the msync that the group commit
// replaced, sync.go). Without it, nothing orders their write-back: the
// kernel may write the memtable log's page first, and a power cut then
// keeps an entry whose value never reached the disk. Such a commit was
// never acknowledged (the group commit syncs both logs before a write
// returns), but its key would read as an error, hiding the version
// before it, which was. Three things make that safe:
//
//   - the next start after an unclean stop finds the entries whose value
//     cannot be read and puts back, for every key of their transactions,
//     the version before (repair.go): the transaction is undone whole;
//   - that version is still there, because the group commit holds a
//     snapshot until the newer one is synced, and compactions keep every
//     version a snapshot may read (sync.go);
//   - the value-log GC, which moves values under their old versions and
//     so could not be undone that way, runs with the barrier below on.
//
// The barrier: between the two writes Badger's write goroutine tells its
// logger "Writing to memtable" (db.go, writeRequests), and there, while
// the barrier is on, the store's logger (gc.go) syncs the value-log files
// Badger wrote since the last barrier, so that no entry of the memtable
// log can point at bytes that are not on disk. It costs an fdatasync in
// line per batch: always on, it took a third off the confirm's rate and
// more than doubled its p99 (docs/performance.md), so it is on only
// while the GC moves values. TestValueLogBarrier holds
// Badger to that order: a Badger that moved or renamed the message fails
// it.
//
// A failed sync at the barrier panics, in Badger's write goroutine,
// before the memtable log is written: after a failed fdatasync Linux
// marks the pages clean, so nothing written since can be trusted to be
// on disk, and the process must not go on to write entries pointing at
// them (PostgreSQL stops the same way).
type vlogBarrier struct {
	dir string
	// on is set while the value-log GC runs (gc.go).
	on atomic.Bool
	// f is the newest value-log file the barrier has seen, fid its number.
	f   *os.File
	fid int
	// writes is Badger's count of value-log writes at the last pass.
	writes int64
	// syncs counts the fdatasyncs of value-log files.
	syncs atomic.Uint64
	// after, when set (tests), runs after each barrier that synced.
	after func()
}

// memtableWriteMsg is what Badger's write goroutine logs between the
// value log and the memtable log.
const memtableWriteMsg = "Writing to memtable"

// valueThreshold is the size from which Badger keeps a value in the
// value log. A link's record (300–600 B packed), a decision's record
// and a mail job go there; a token's or a family's index (a link id),
// a handoff's reference to its link and a limiter's hits stay inline.
const valueThreshold = 128

func newVlogBarrier(dir string) *vlogBarrier {
	return &vlogBarrier{dir: dir, writes: vlogWrites()}
}

// pass syncs, while the barrier is on, every value-log file written
// since the last pass: the one being written then, and each Badger has
// created since (with the folder, so that its name is as durable as its
// blocks). Only Badger's write goroutine calls it.
func (b *vlogBarrier) pass() error {
	if !b.on.Load() {
		return nil
	}
	vw := vlogWrites()
	if vw >= 0 && vw == b.writes {
		return nil // no value went to the value log in this batch
	}
	if b.f == nil {
		fid, err := newestVlog(b.dir)
		if err != nil {
			return err
		}
		if err := b.open(fid); err != nil {
			return err
		}
	}
	for {
		if err := syscall.Fdatasync(int(b.f.Fd())); err != nil {
			return fmt.Errorf("sync value log %s: %w", b.f.Name(), err)
		}
		b.syncs.Add(1)
		next := b.fid + 1
		if _, err := os.Stat(vlogPath(b.dir, next)); errors.Is(err, os.ErrNotExist) {
			break
		} else if err != nil {
			return err
		}
		// Badger moved on to a new file in this batch: the old one's tail
		// is synced above, the new one and its name next.
		b.f.Close()
		b.f = nil
		if err := b.open(next); err != nil {
			return err
		}
		if err := syncDir(b.dir); err != nil {
			return err
		}
	}
	b.writes = vw
	if b.after != nil {
		b.after()
	}
	return nil
}

func (b *vlogBarrier) open(fid int) error {
	f, err := os.Open(vlogPath(b.dir, fid))
	if err != nil {
		return fmt.Errorf("open value log: %w", err)
	}
	b.f, b.fid = f, fid
	return nil
}

func (b *vlogBarrier) close() {
	if b != nil && b.f != nil {
		b.f.Close()
		b.f = nil
	}
}

// vlogPath is Badger's name for value-log file fid (value.go, vlogFilePath).
func vlogPath(dir string, fid int) string {
	return filepath.Join(dir, fmt.Sprintf("%06d.vlog", fid))
}

// newestVlog is the number of the highest value-log file in dir: the
// one Badger writes (it counts up, and GC deletes only older ones).
func newestVlog(dir string) (int, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	fid := -1
	for _, e := range ents {
		if id, ok := logID(e.Name(), ".vlog"); ok && id > fid {
			fid = id
		}
	}
	if fid < 0 {
		return 0, fmt.Errorf("no value log in %s", dir)
	}
	return fid, nil
}
