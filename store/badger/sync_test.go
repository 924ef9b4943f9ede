package badger

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/store/storetest"
)

// TestEveryWriteWaitsForASync: each way the store writes (a link, a
// code attempt, a limit hit, a KV value, the ping, a visit batch)
// returns only after a sync that began after its commit, and writes in
// flight together share syncs.
func TestEveryWriteWaitsForASync(t *testing.T) {
	ctx := context.Background()
	s, err := Open(Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now().UTC().Truncate(time.Millisecond)
	l := storetest.NewLink(t, now, "fam-sync")
	pol := linkguard.DefaultPolicy()
	steps := []struct {
		name string
		do   func() error
	}{
		{"create a link", func() error { return s.CreateLink(ctx, l, nil, nil) }},
		{"a wrong code", func() error {
			_, err := s.ConsumeWithCode(ctx, l.ID, []byte("wrong"), pol.MaxCodeAttempts, now, consumer{}.Decide(nil), &linkguard.Handoff{}, nil)
			if err == linkguard.ErrWrongCode {
				return nil
			}
			return err
		}},
		{"a limit hit", func() error { _, _, err := s.Hit(ctx, "sync-test", time.Minute, 5, now); return err }},
		{"a KV value", func() error { return s.PutKV(ctx, "test", "k", []byte("v"), time.Minute) }},
		{"the ping", func() error { return s.Ping(ctx) }},
		{"a visit batch", func() error {
			return s.writeVisits([]*linkguard.Visit{{LinkID: l.ID, Kind: linkguard.VisitView, At: now}})
		}},
	}
	for _, st := range steps {
		before := s.durable.times.count.Load()
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if s.durable.times.count.Load() == before {
			t.Errorf("%s returned without a sync", st.name)
		}
	}

	const writers = 64
	before := s.durable.times.count.Load()
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			if err := s.PutKV(ctx, "test", fmt.Sprint(i), make([]byte, 512), time.Minute); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	n := s.durable.times.count.Load() - before
	if n == 0 || n > writers {
		t.Fatalf("%d parallel writes took %d syncs", writers, n)
	}
	t.Logf("%d parallel writes shared %d syncs", writers, n)
}

// TestSyncFailureIsSticky: once a sync fails, no later write is said to
// be durable.
func TestSyncFailureIsSticky(t *testing.T) {
	y := newSyncer(filepath.Join(t.TempDir(), "gone"))
	for i := range 2 {
		if err := y.wait(); err == nil {
			t.Fatalf("wait %d: a sync of a missing folder succeeded", i)
		}
	}
}

// TestSyncCoversEveryMemtableLog: a sync writes back every memtable log
// in the folder, the rotated ones too, not only the newest.
func TestSyncCoversEveryMemtableLog(t *testing.T) {
	dir := t.TempDir()
	var paths []string
	for _, n := range []string{"00001.mem", "00002.mem"} {
		p := filepath.Join(dir, n)
		if err := os.WriteFile(p, make([]byte, 64<<10), 0o600); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	for _, p := range paths {
		d, ok := dirtyPages(t, p)
		if !ok {
			t.Skip("this kernel cannot tell a file's dirty pages (cachestat)")
		}
		if d == 0 {
			t.Skipf("%s was written back before the sync: cannot tell", p)
		}
	}
	if err := newSyncer(dir).wait(); err != nil {
		t.Fatal(err)
	}
	for _, p := range paths {
		if d, _ := dirtyPages(t, p); d != 0 {
			t.Errorf("%s has %d dirty pages after the sync", filepath.Base(p), d)
		}
	}
}

// TestNewLogGetsItsFolderSynced: the first sync that meets a log file
// (the memtable's, at the first write) also syncs the folder, so that
// the file's name is as durable as its blocks; later syncs of the same
// files do not.
func TestNewLogGetsItsFolderSynced(t *testing.T) {
	ctx := context.Background()
	s, err := Open(Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i, want := range []uint64{1, 1, 1} {
		if err := s.PutKV(ctx, "test", fmt.Sprint(i), []byte("v"), time.Minute); err != nil {
			t.Fatal(err)
		}
		if got := s.durable.dirSyncs.Load(); got != want {
			t.Fatalf("after write %d: %d folder syncs, want %d", i+1, got, want)
		}
	}
}

// TestSyncSkipsFullMemtableLogs: a sync writes back the memtable log
// being written at the last sync and every log new since, but not one
// that was already full then (the last sync wrote it back, and Badger
// never writes it again): each fdatasync is a cache flush of the disk.
func TestSyncSkipsFullMemtableLogs(t *testing.T) {
	dir := t.TempDir()
	write := func(n string) string { return dirtyLog(t, dir, n) }
	clean := func(p string) bool { d, _ := dirtyPages(t, p); return d == 0 }
	y := newSyncer(dir)
	first, second := write("00009.mem"), write("00010.mem") // 10 after 9, not before
	if err := y.wait(); err != nil {
		t.Fatal(err)
	}
	if !clean(first) || !clean(second) {
		t.Fatal("the first sync left a log dirty")
	}
	// Badger rotates from 00010 to 00011; 00009 is dirtied here only to
	// see whether the sync touches it.
	write("00009.mem")
	write("00010.mem")
	third := write("00011.mem")
	if err := y.wait(); err != nil {
		t.Fatal(err)
	}
	if !clean(second) || !clean(third) {
		t.Error("the log that was being written at the last sync, or a new one, is still dirty")
	}
	if clean(first) {
		t.Error("a log that was full before the last sync was synced again")
	}
}

// TestSyncSkipsFullValueLogs: when Badger wrote to the value log, a
// sync writes back the value log being written at the last sync and
// every newer one, not the older ones GC has not yet collected (each
// fdatasync is a cache flush of the disk); and none when it did not.
func TestSyncSkipsFullValueLogs(t *testing.T) {
	dir := t.TempDir()
	write := func(n string) string { return dirtyLog(t, dir, n) }
	clean := func(p string) bool { d, _ := dirtyPages(t, p); return d == 0 }
	y := newSyncer(dir)
	old, cur := write("000001.vlog"), write("000002.vlog")
	y.vlogWrites = -5 // as if Badger wrote to the value log
	if err := y.wait(); err != nil {
		t.Fatal(err)
	}
	if !clean(old) || !clean(cur) {
		t.Fatal("the first sync left a value log dirty")
	}
	// No value-log write since: the value logs are left alone.
	write("000002.vlog")
	if err := y.wait(); err != nil {
		t.Fatal(err)
	}
	if clean(cur) {
		t.Error("a sync with no value-log write since the last one synced the value log")
	}
	// Badger moves on from 000002 to 000003; 000001 is dirtied here
	// only to see whether the sync touches it.
	write("000001.vlog")
	next := write("000003.vlog")
	y.vlogWrites = -5
	if err := y.wait(); err != nil {
		t.Fatal(err)
	}
	if !clean(cur) || !clean(next) {
		t.Error("the value log being written at the last sync, or a new one, is still dirty")
	}
	if clean(old) {
		t.Error("a value log that was full before the last sync was synced again")
	}
}

// dirtyLog writes 64 KiB to the log file n in dir, and returns its path
// while those pages wait to be written back (the test is skipped when
// the kernel cannot tell, or wrote them back at once).
func dirtyLog(t *testing.T, dir, n string) string {
	t.Helper()
	p := filepath.Join(dir, n)
	f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(make([]byte, 64<<10)); err != nil {
		t.Fatal(err)
	}
	if d, ok := dirtyPages(t, p); !ok {
		t.Skip("this kernel cannot tell a file's dirty pages (cachestat)")
	} else if d == 0 {
		t.Skipf("%s was written back at once: cannot tell", n)
	}
	return p
}

// TestSyncHoldsASnapshotUntilTheNextSync: each sync opens a snapshot
// before it starts and keeps it until the next sync succeeds, so the
// versions a power cut may need to put back outlive the compactions.
func TestSyncHoldsASnapshotUntilTheNextSync(t *testing.T) {
	y := newSyncer(t.TempDir())
	var opened, open int
	y.snapshot = func() func() {
		opened++
		open++
		return func() { open-- }
	}
	for i := range 3 {
		if err := y.wait(); err != nil {
			t.Fatal(err)
		}
		if open != 1 {
			t.Fatalf("after sync %d: %d snapshots held, want 1", i+1, open)
		}
	}
	if opened != 3 {
		t.Errorf("3 syncs opened %d snapshots", opened)
	}
	y.release()
	if open != 0 {
		t.Errorf("%d snapshots held after release", open)
	}
}
