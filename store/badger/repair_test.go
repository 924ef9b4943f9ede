package badger

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/store/storetest"
)

// TestPowerCutUndoesWhatDidNotReachTheDisk: the image of a folder whose
// memtable log reached the disk with a consumption in it, but whose value
// log did not (vlogsync.go). The next Open undoes that consumption whole
// (the link is pending again, its handoff and record are gone), keeps
// everything acknowledged before it and every later write whose values
// are there, and every key reads back.
func TestPowerCutUndoesWhatDidNotReachTheDisk(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(Options{Dir: dir, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now().UTC().Truncate(time.Millisecond)
	l := storetest.NewLink(t, now, "fam-cut")
	if err := s.CreateLink(ctx, l, nil, nil); err != nil {
		t.Fatal(err)
	}
	other := storetest.NewLink(t, now, "fam-other")
	if err := s.CreateLink(ctx, other, nil, nil); err != nil {
		t.Fatal(err)
	}
	vlog := vlogPath(dir, newestFid(t, dir))
	before := readHead(t, vlog) // the value log as far as it was on disk

	h := &linkguard.Handoff{CodeHash: bytes.Repeat([]byte{9}, 32), LinkID: l.ID, Email: l.Email,
		ConsumedAt: now, ExpiresAt: now.Add(time.Minute), Verdict: consumer{}.Decide(nil)}
	if _, err := s.ConsumeWithCode(ctx, l.ID, l.CodeHash, 5, now, consumer{}.Decide(nil), h, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.PutKV(ctx, "test", "later", []byte("inline"), time.Hour); err != nil {
		t.Fatal(err) // a later write with no value in the value log
	}

	img := crashImage(t, dir)
	// The power cut: the memtable log reached the disk, the value log
	// only as far as it was before the consumption.
	f, err := os.OpenFile(filepath.Join(img, filepath.Base(vlog)), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(before, 0); err != nil {
		t.Fatal(err)
	}
	f.Close()

	var logs bytes.Buffer
	r, err := Open(Options{Dir: img, Log: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got, err := r.LinkByID(ctx, l.ID)
	if err != nil {
		t.Fatalf("the link after the repair: %v", err)
	}
	if got.State != linkguard.Pending || got.CodeAttempts != 0 || got.Verdict != nil {
		t.Errorf("the link after the repair: %s, %d attempts, verdict %v; want it pending as acknowledged", got.State, got.CodeAttempts, got.Verdict)
	}
	if _, err := r.TakeHandoff(ctx, h.CodeHash, now); !errors.Is(err, linkguard.ErrNotFound) {
		t.Errorf("the undone consumption's handoff: %v, want not found", err)
	}
	if vs, err := r.Visits(ctx, l.ID); err != nil || len(vs) != 0 {
		t.Errorf("the undone consumption's record: %d visits, %v", len(vs), err)
	}
	if o, err := r.LinkByID(ctx, other.ID); err != nil || o.State != linkguard.Pending {
		t.Errorf("a link acknowledged before: %v", err)
	}
	if v, err := r.GetKV(ctx, "test", "later"); err != nil || string(v) != "inline" {
		t.Errorf("a later write whose value was on disk: %q, %v", v, err)
	}
	out := logs.String()
	if !strings.Contains(out, "not clean") || !strings.Contains(out, "undone=1") {
		t.Errorf("the repair did not say what it undid:\n%s", out)
	}
	if strings.Contains(out, "Unable to read") {
		t.Errorf("Badger's lines about unreadable values reached the log:\n%s", out)
	}
	// The repaired store works: the link can be spent now.
	if _, err := r.ConsumeWithCode(ctx, l.ID, l.CodeHash, 5, now, consumer{}.Decide(nil), h, nil); err != nil {
		t.Fatalf("consume after the repair: %v", err)
	}
}

// TestCleanCloseSkipsTheCheck: a store that closed cleanly opens without
// the check, and one that did not (a kill: its page cache survives, so
// nothing is lost) is checked, finds nothing to undo and keeps it all.
func TestCleanCloseSkipsTheCheck(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	open := func(d string) (*Store, string) {
		var logs bytes.Buffer
		s, err := Open(Options{Dir: d, Log: slog.New(slog.NewTextHandler(&logs, nil))})
		if err != nil {
			t.Fatal(err)
		}
		return s, logs.String()
	}
	s, out := open(dir)
	if strings.Contains(out, "not clean") {
		t.Fatalf("a new folder was checked:\n%s", out)
	}
	if err := s.PutKV(ctx, "test", "k", bytes.Repeat([]byte{1}, 1000), time.Hour); err != nil {
		t.Fatal(err)
	}
	img := crashImage(t, dir) // as a kill -9 leaves it
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, cleanMarker)); err != nil {
		t.Fatalf("no clean marker after Close: %v", err)
	}
	s, out = open(dir)
	if strings.Contains(out, "not clean") {
		t.Errorf("a cleanly closed folder was checked:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(dir, cleanMarker)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the clean marker outlived the open: %v", err)
	}
	s.Close()

	k, out := open(img)
	defer k.Close()
	if !strings.Contains(out, "not clean") || !strings.Contains(out, "undone=0") {
		t.Errorf("a killed store's folder was not checked, or had something undone:\n%s", out)
	}
	if v, err := k.GetKV(ctx, "test", "k"); err != nil || len(v) != 1000 {
		t.Errorf("after a kill: %d bytes, %v", len(v), err)
	}
}

func newestFid(t *testing.T, dir string) int {
	fid, err := newestVlog(dir)
	if err != nil {
		t.Fatal(err)
	}
	return fid
}

func readHead(t *testing.T, path string) []byte {
	b, err := head(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// crashImage copies dir's files as they are now, what a kill -9 or a
// power cut after a sync leaves on disk, to a new folder; Badger's large
// sparse logs are copied extent by extent.
func crashImage(t *testing.T, dir string) string {
	t.Helper()
	img := t.TempDir()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if !e.Type().IsRegular() || e.Name() == "LOCK" {
			continue
		}
		if err := copySparse(filepath.Join(dir, e.Name()), filepath.Join(img, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	return img
}

func copySparse(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, st.Mode())
	if err != nil {
		return err
	}
	defer out.Close()
	if err := out.Truncate(st.Size()); err != nil {
		return err
	}
	fd := int(in.Fd())
	for off := int64(0); off < st.Size(); {
		data, err := unix.Seek(fd, off, unix.SEEK_DATA)
		if err != nil {
			break // ENXIO: no data after off
		}
		hole, err := unix.Seek(fd, data, unix.SEEK_HOLE)
		if err != nil {
			return err
		}
		if _, err := in.Seek(data, io.SeekStart); err != nil {
			return err
		}
		if _, err := out.Seek(data, io.SeekStart); err != nil {
			return err
		}
		if _, err := io.CopyN(out, in, hole-data); err != nil {
			return err
		}
		off = hole
	}
	return nil
}
