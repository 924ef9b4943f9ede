package badger

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	badgerdb "github.com/dgraph-io/badger/v4"
)

// TestValueLogBarrier holds Badger to the order the value-log GC's
// safety rests on (vlogsync.go): while the barrier is on, a value in the
// value log is on disk before the memtable log holds the entry that
// points at it. At each barrier the
// value just written must be in the value log, with no dirty page left,
// and its key must not be in the memtable log yet; after the commit it
// is. A Badger that stopped logging "Writing to memtable" between the
// two writes, or logged it elsewhere, fails here.
func TestValueLogBarrier(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.barrier.on.Store(true)
	var (
		key, value []byte
		passes     int
		problems   []string
	)
	s.barrier.after = func() {
		passes++
		vlog := vlogPath(dir, s.barrier.fid)
		b, err := head(vlog)
		if err != nil {
			problems = append(problems, err.Error())
			return
		}
		if !bytes.Contains(b, value) {
			problems = append(problems, "the value is not in the value log at the barrier")
		}
		if d, ok := dirtyPages(t, vlog); ok && d != 0 {
			problems = append(problems, fmt.Sprintf("the value log has %d dirty pages after the barrier", d))
		}
		if inMemtableLog(t, dir, key) {
			problems = append(problems, "the memtable log holds the entry before its value is synced")
		}
	}
	for i := range 3 {
		key = []byte(fmt.Sprintf("o/test/barrier-%d", i))
		value = bytes.Repeat([]byte{byte('a' + i)}, 2*valueThreshold)
		before := passes
		err := s.db.Update(func(txn *badgerdb.Txn) error { return txn.Set(key, value) })
		if err != nil {
			t.Fatal(err)
		}
		if passes == before {
			t.Fatalf("write %d: no barrier between the value log and the memtable log (did Badger change its write path?)", i)
		}
		if !inMemtableLog(t, dir, key) {
			t.Fatalf("write %d: the key is not in the memtable log after the commit: the test cannot tell", i)
		}
	}
	if len(problems) > 0 {
		t.Fatal(strings.Join(problems, "\n"))
	}

	// A small value stays inline: its batch costs no value-log sync.
	syncs := s.barrier.syncs.Load()
	if err := s.PutKV(context.Background(), "test", "small", []byte("v"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if got := s.barrier.syncs.Load(); got != syncs {
		t.Errorf("a write with no value in the value log synced it %d times", got-syncs)
	}
	// Off (outside the GC), a value costs no sync in line either.
	s.barrier.on.Store(false)
	if err := s.PutKV(context.Background(), "test", "big", bytes.Repeat([]byte{1}, 2*valueThreshold), time.Minute); err != nil {
		t.Fatal(err)
	}
	if got := s.barrier.syncs.Load(); got != syncs {
		t.Errorf("with the barrier off, a write synced the value log %d times in line", got-syncs)
	}
}

// inMemtableLog says whether key is in one of dir's memtable logs.
func inMemtableLog(t *testing.T, dir string, key []byte) bool {
	mems, err := filepath.Glob(filepath.Join(dir, "*.mem"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mems {
		b, err := head(m)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, key) {
			return true
		}
	}
	return false
}

// head is the first MiB of a log file: Badger makes them large and
// sparse, and writes them from the start.
func head(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b := make([]byte, 1<<20)
	n, err := io.ReadFull(f, b)
	if err == io.ErrUnexpectedEOF || err == io.EOF {
		err = nil
	}
	return b[:n], err
}

// TestValueLogBarrierFollowsNewFiles: when Badger moves on to a new
// value-log file, the barrier syncs the old file's tail, the new file
// and the folder (the new name), and keeps following.
func TestValueLogBarrierFollowsNewFiles(t *testing.T) {
	dir := t.TempDir()
	for _, fid := range []int{1, 2} {
		if err := os.WriteFile(vlogPath(dir, fid), make([]byte, 4096), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	b := &vlogBarrier{dir: dir, writes: -2}
	b.on.Store(true)
	defer b.close()
	if err := b.pass(); err != nil {
		t.Fatal(err)
	}
	if b.fid != 2 || b.syncs.Load() != 1 {
		t.Fatalf("first pass: on file %d after %d syncs, want file 2 after 1", b.fid, b.syncs.Load())
	}
	for _, fid := range []int{3, 4} {
		if err := os.WriteFile(vlogPath(dir, fid), make([]byte, 4096), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	b.writes = -2 // as if Badger wrote to the value log again
	if err := b.pass(); err != nil {
		t.Fatal(err)
	}
	if b.fid != 4 || b.syncs.Load() != 4 {
		t.Fatalf("second pass: on file %d after %d syncs, want file 4 after 4 (2, 3 and 4)", b.fid, b.syncs.Load())
	}
}

// TestValueLogBarrierFailureStops: a value log that cannot be synced
// stops the write before the memtable log, and says why.
func TestValueLogBarrierFailureStops(t *testing.T) {
	b := &vlogBarrier{dir: filepath.Join(t.TempDir(), "gone"), writes: -2}
	b.on.Store(true)
	if err := b.pass(); err == nil || !strings.Contains(err.Error(), "gone") {
		t.Fatalf("a missing folder: %v", err)
	}
	defer func() {
		r := recover()
		if r == nil || !strings.Contains(fmt.Sprint(r), "may not be on disk") {
			t.Fatalf("the logger did not stop the write: %v", r)
		}
	}()
	badgerLogger{l: quiet, barrier: b}.Debugf(memtableWriteMsg)
	t.Fatal("not reached")
}

// TestValueLogGCDeletesAfterTheSync: Badger's value-log GC moves a
// file's live values and would delete the file before the moves are on
// disk; the store's GC keeps the file until a sync has covered them, and
// every live value reads back after a restart.
func TestValueLogGCDeletesAfterTheSync(t *testing.T) {
	dir := t.TempDir()
	// Small value-log files, and level 0 compacted at each close: the
	// compaction that drops stale versions counts their values stale.
	opts := Options{Dir: dir, Log: quiet, tune: func(o badgerdb.Options) badgerdb.Options {
		return o.WithValueLogFileSize(1 << 20).WithCompactL0OnClose(true)
	}}
	s, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	val := func(i, round int) []byte { return bytes.Repeat([]byte{byte(i), byte(round)}, 300) }
	const n = 4000 // about 2.4 MB of values: three files of 1 MiB
	// Every key, then three in four again: the first files keep a live
	// quarter, which GC must move.
	for round := range 2 {
		for i := range n {
			if round == 1 && i%4 == 0 {
				continue
			}
			if err := s.PutKV(ctx, "gc", fmt.Sprint(i), val(i, round), time.Hour); err != nil {
				t.Fatal(err)
			}
		}
	}
	// A close flushes the memtables and compacts level 0, which counts
	// the stale values: what Badger's GC picks a file by.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err = Open(opts); err != nil {
		t.Fatal(err)
	}
	vlogs := func() map[string]bool {
		names, _ := filepath.Glob(filepath.Join(dir, "*.vlog"))
		m := map[string]bool{}
		for _, n := range names {
			m[n] = true
		}
		return m
	}
	var moved, deletedEarly int
	var present map[string]bool
	s.gcMoved = func() {
		moved++
		now := vlogs()
		for n := range present {
			if !now[n] {
				deletedEarly++ // gone before the moves were synced
			}
		}
	}
	before, _ := filepath.Glob(filepath.Join(dir, "*.vlog"))
	barriers := s.barrier.syncs.Load()
	for {
		present = vlogs()
		if !s.valueLogGC() {
			break
		}
	}
	after, _ := filepath.Glob(filepath.Join(dir, "*.vlog"))
	if moved == 0 || len(after) >= len(before) {
		t.Fatalf("GC moved %d files, %d value logs before and %d after: the test cannot tell", moved, len(before), len(after))
	}
	if s.barrier.syncs.Load() == barriers {
		t.Error("GC moved values with the barrier off")
	}
	if s.barrier.on.Load() {
		t.Error("the barrier is still on after the GC")
	}
	if deletedEarly > 0 {
		t.Errorf("%d value-log files were deleted before the values GC moved out of them were synced", deletedEarly)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err = Open(opts); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range n {
		got, err := s.GetKV(ctx, "gc", fmt.Sprint(i))
		if err != nil {
			t.Fatalf("key %d after GC and a restart: %v", i, err)
		}
		want := val(i, 1)
		if i%4 == 0 {
			want = val(i, 0)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("key %d after GC and a restart: not its last value", i)
		}
	}
}
