package badger

import (
	"errors"
	"expvar"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Group commit. Badger's own SyncWrites syncs the memtable's write-ahead
// log once per transaction, one transaction after the other in its write
// goroutine, with an msync of the whole 128 MiB mapping: on the reference
// machine that is ~200–400 µs of CPU each and the one thing every synced
// write waits in line for. The store opens Badger without it and makes
// every write durable itself, before the call returns: the transaction
// commits (into the mapped log, not yet on disk), then waits for a sync
// that started after its commit. One caller at a time runs the sync, for
// every commit that finished before it began; the others wait for it and
// the next one, so 64 writes in flight share a handful of fdatasyncs
// instead of paying 64 msyncs in a row.
//
// What is synced: the memtable log (*.mem) being written at the last
// sync and every newer one, not just the one being written now, because
// Badger does not sync a full memtable's log when it rotates to a new
// one; a commit that landed in a memtable which was rotated since is in
// an older *.mem file, which is synced too, or in a level-0 table that
// Badger has already written and synced (its log is deleted after that).
// A log that was already full when the last sync began was written back
// by that sync and is not written again: it is skipped (each fdatasync is
// a cache flush of the disk). fsync of a file and msync of its shared mapping
// write the same page-cache pages. Values of valueThreshold bytes and
// more go to the value log (*.vlog, vlogsync.go): when Badger counts a
// value-log write since the last sync, the value log being written at
// the last sync and every newer one are synced by the same rule.
//
// The snapshot (pin): a value in the value log can be lost in a power cut
// while the memtable-log entry that points at it is not (vlogsync.go);
// the next start finds such an entry and puts back the version before it
// (repair.go). So that version must outlive the compactions until the
// newer one is on disk: before each sync the syncer opens a read
// transaction, and holds it until the next sync succeeds. Badger keeps
// every version newer than its oldest open read, so no compaction drops
// the last synced version of a key under one that is not synced yet.
//
// A transaction's changes are visible to readers from its commit, a
// sync (a few hundred µs) before its caller is answered. Writers of the
// same link or family hold its stripe (Store.lock) through the sync, so
// a change never builds on one that is not yet durable in this process;
// and a later commit that read an earlier one is synced with or after it
// (one sync covers every commit before it began).
type syncer struct {
	dir  string
	mu   sync.Mutex
	cond sync.Cond
	// seq numbers the waiters; done is the highest seq whose commit a
	// finished sync covers.
	seq, done uint64
	running   bool
	// err is the first failed sync's: after it, nothing is known to be
	// on disk (Linux clears the dirty state of pages whose write-back
	// failed), so every later write fails too.
	err error
	// vlogWrites is Badger's value-log write count at the last sync.
	vlogWrites int64
	// logs are the log files the last sync saw, so that a new one (a
	// memtable's, a value log's) gets its directory entry synced once;
	// active and activeVlog are the memtable log and the value log that
	// were being written then.
	logs       map[string]bool
	active     string
	activeVlog string
	dirSyncs   atomic.Uint64
	// times are the syncs' durations, and their count (synctime.go).
	times durations
	// snapshot opens a read transaction and returns its discard (the
	// pin, above); nil without one (tests of the syncer alone). pinned is
	// the discard of the one held since the last successful sync.
	snapshot func() (discard func())
	pinned   func()
	// advised counts, for each log file seen, the syncs that looked for
	// its mapping to turn readahead off (readahead_linux.go); adviceDone
	// when found. warn, when set, reports the first failure.
	advised map[string]int
	warn    func(msg string, args ...any)
	warned  bool
}

// adviceDone marks a log whose mappings were advised; adviceTries is how
// many syncs look for a log's mapping before giving up (Badger maps a
// log as it creates it, so the first look finds it).
const (
	adviceDone  = -1
	adviceTries = 3
)

// failed is the sync failure that fails every write, or nil.
func (y *syncer) failed() error {
	y.mu.Lock()
	defer y.mu.Unlock()
	return y.err
}

// release discards the pinned snapshot (at close).
func (y *syncer) release() {
	if y == nil {
		return
	}
	y.mu.Lock()
	defer y.mu.Unlock()
	if y.pinned != nil {
		y.pinned()
		y.pinned = nil
	}
}

func newSyncer(dir string) *syncer {
	y := &syncer{dir: dir, vlogWrites: vlogWrites(), logs: map[string]bool{}, advised: map[string]int{}}
	y.cond.L = &y.mu
	return y
}

// wait returns once everything committed before it was called is on
// disk (nil for an in-memory store).
func (y *syncer) wait() error {
	if y == nil {
		return nil
	}
	y.mu.Lock()
	defer y.mu.Unlock()
	y.seq++
	mine := y.seq
	for y.done < mine && y.err == nil {
		if y.running {
			y.cond.Wait()
			continue
		}
		// Lead a sync for every waiter so far: their commits all
		// finished before they took their seq. Yield first, so that
		// writes about to commit join this sync instead of the next:
		// when the CPU is the bottleneck, each sync's own CPU is shared
		// by more writes (nothing else runnable: it returns at once).
		y.running = true
		y.mu.Unlock()
		runtime.Gosched()
		y.mu.Lock()
		upTo := y.seq
		y.mu.Unlock()
		var pin func()
		if y.snapshot != nil {
			// Opened now, it sees every commit this sync covers, and
			// none that it may not.
			pin = y.snapshot()
		}
		began := time.Now()
		err := y.sync()
		y.times.observe(time.Since(began))
		y.mu.Lock()
		y.running = false
		if err != nil && y.err == nil {
			y.err = fmt.Errorf("sync the data folder: %w", err)
		} else if err == nil {
			y.done = upTo
		}
		if err == nil {
			pin, y.pinned = y.pinned, pin // keep the new one, drop the older
		}
		if pin != nil {
			pin()
		}
		y.cond.Broadcast()
	}
	return y.err
}

// sync fdatasyncs the folder's memtable logs, and its value logs when
// Badger wrote to one since the last sync. Only one runs at a time.
func (y *syncer) sync() error {
	vw := vlogWrites()
	vlog := vw < 0 || vw != y.vlogWrites // unknown: sync them
	ents, err := os.ReadDir(y.dir)
	if err != nil {
		return err
	}
	created := false
	seen := make(map[string]bool, len(y.logs)+1)
	active, activeID := "", -1         // the newest memtable log
	activeVlog, activeVlogID := "", -1 // the newest value log
	for _, e := range ents {
		n := e.Name()
		last := y.active // the log of its kind being written at the last sync
		if id, ok := logID(n, ".mem"); ok {
			if id > activeID {
				active, activeID = n, id
			}
		} else if id, ok := logID(n, ".vlog"); ok {
			if id > activeVlogID {
				activeVlog, activeVlogID = n, id
			}
			if !vlog {
				// Not written since the last sync; one it has not seen
				// yet stays new, for its folder sync when it is.
				seen[n] = y.logs[n]
				continue
			}
			last = y.activeVlog
		} else {
			continue
		}
		seen[n] = true
		if y.logs[n] && n != last {
			// A log that was full before the last sync began (a newer
			// one was being written then): that sync wrote all of it
			// back, and Badger never writes it again (its value-log GC
			// writes to the newest file). Syncing it again would cost a
			// cache flush of the disk, which waits for every write queued
			// on it, a compaction's tables included.
			continue
		}
		if err := fdatasync(filepath.Join(y.dir, n)); err != nil {
			return err
		}
		created = created || !y.logs[n]
	}
	if created {
		// A file's fdatasync does not make its name durable: on a file
		// system that does not order them (ext4 does, XFS need not), a
		// power cut could keep a new log's blocks but not its directory
		// entry. Badger creates memtable logs without syncing their
		// folder (only when it rotates; its SyncWrites does not either).
		if err := syncDir(y.dir); err != nil {
			return err
		}
		y.dirSyncs.Add(1)
	}
	y.logs, y.active, y.activeVlog = seen, active, activeVlog
	y.vlogWrites = vw
	y.advise()
	return nil
}

// advise turns readahead off on the mappings of the logs the syncer has
// seen and not advised yet (readahead_linux.go: without it, each sync
// wrote back up to 2 MiB folios). A log is looked for at a few syncs at
// most; the advice is a hint, so a failure costs write-back, not data.
func (y *syncer) advise() {
	for n := range y.advised {
		if _, ok := y.logs[n]; !ok {
			delete(y.advised, n) // deleted by Badger
		}
	}
	var dev uint64
	inos := map[uint64]string{}
	for n := range y.logs {
		if t := y.advised[n]; t == adviceDone || t >= adviceTries {
			continue
		}
		y.advised[n]++
		d, ino, ok := fileID(filepath.Join(y.dir, n))
		if !ok {
			continue
		}
		dev, inos[ino] = d, n
	}
	if len(inos) == 0 {
		return
	}
	want := make(map[uint64]bool, len(inos))
	for ino := range inos {
		want[ino] = true
	}
	found, err := adviseRandom(dev, want)
	for ino := range found {
		y.advised[inos[ino]] = adviceDone
	}
	if err != nil && !y.warned && y.warn != nil {
		y.warned = true
		y.warn("could not turn readahead off on Badger's logs: each sync may write back more than was written (docs/operations.md)", "err", err)
	}
}

// logID is the number of a log file's name with suffix ext (Badger's
// 00001.mem, 000001.vlog, …: they count up, so the highest is the one
// being written), or ok false.
func logID(name, ext string) (id int, ok bool) {
	n, found := strings.CutSuffix(name, ext)
	if !found {
		return 0, false
	}
	id, err := strconv.Atoi(n)
	return id, err == nil
}

// syncDir fsyncs the folder itself: its entries.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// fdatasync syncs the file at path; a file gone since the listing is a
// memtable log that Badger deleted after writing its table (synced).
func fdatasync(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	err = syscall.Fdatasync(int(f.Fd()))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// vlogWrites is Badger's count of value-log writes in this process (its
// expvar, on by default; Open keeps it on), or -1 when it is missing.
// Several stores in one process share it, which only syncs more.
func vlogWrites() int64 {
	if v, ok := expvar.Get("badger_write_num_vlog").(*expvar.Int); ok {
		return v.Value()
	}
	return -1
}
