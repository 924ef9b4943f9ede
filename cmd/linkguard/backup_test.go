package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/fingerprint"
	badgerstore "github.com/linkguard/linkguard/store/badger"
	"github.com/linkguard/linkguard/store/storetest"
)

func noEnv(string) string { return "" }

// storeWithLink makes a data folder holding one link, closed.
func storeWithLink(t *testing.T) (dir, id string) {
	t.Helper()
	dir = t.TempDir()
	st, err := badgerstore.Open(badgerstore.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	l := storetest.NewLink(t, time.Now(), "f")
	if err := st.CreateLink(context.Background(), l, nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, l.ID
}

func TestBackupAndRestoreCommands(t *testing.T) {
	dir, id := storeWithLink(t)
	file := filepath.Join(t.TempDir(), "lg.backup")
	var out, errb bytes.Buffer
	if err := backupCmd([]string{"--data-dir", dir, "--out", file}, &out, &errb, noEnv); err != nil {
		t.Fatalf("backup: %v\n%s", err, errb.String())
	}
	if !strings.Contains(errb.String(), "backed up "+dir+" to "+file) {
		t.Fatalf("backup said: %s", errb.String())
	}

	target := filepath.Join(t.TempDir(), "restored")
	out.Reset()
	if err := restoreCmd([]string{"--data-dir", target, file}, nil, &out, &errb, noEnv); err != nil {
		t.Fatalf("restore: %v", err)
	}
	if !strings.Contains(out.String(), "copy the key files") {
		t.Fatalf("restore said: %s", out.String())
	}
	st, err := badgerstore.Open(badgerstore.Options{Dir: target})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.LinkByID(context.Background(), id); err != nil {
		t.Fatalf("the link after backup and restore: %v", err)
	}

	// Never into data: the source folder itself is refused, untouched.
	err = restoreCmd([]string{"--data-dir", dir, file}, nil, &out, &errb, noEnv)
	if err == nil || !strings.Contains(err.Error(), dir+" is not empty") {
		t.Fatalf("restore into a folder with data: %v", err)
	}
	// Not a backup: refused, nothing left where it would have gone.
	junk := filepath.Join(t.TempDir(), "junk")
	os.WriteFile(junk, []byte("PK\x03\x04 not a backup at all, a zip maybe"), 0o600)
	parent := t.TempDir()
	err = restoreCmd([]string{"--data-dir", filepath.Join(parent, "data"), junk}, nil, &out, &errb, noEnv)
	if err == nil || !strings.Contains(err.Error(), "not a Badger backup") {
		t.Fatalf("restore of a junk file: %v", err)
	}
	if left, _ := os.ReadDir(parent); len(left) != 0 {
		t.Fatalf("a failed restore left %s", left[0].Name())
	}
}

func TestBackupCommandRefusesALockedFolder(t *testing.T) {
	dir, _ := storeWithLink(t)
	running, err := badgerstore.Open(badgerstore.Options{Dir: dir}) // the server
	if err != nil {
		t.Fatal(err)
	}
	defer running.Close()
	outDir := t.TempDir()
	var out, errb bytes.Buffer
	err = backupCmd([]string{"--data-dir", dir, "--out", filepath.Join(outDir, "lg.backup")}, &out, &errb, noEnv)
	if !errors.Is(err, linkguard.ErrLocked) || !strings.Contains(err.Error(), "/admin/backup") {
		t.Fatalf("backup of a locked folder: %v", err)
	}
	if left, _ := os.ReadDir(outDir); len(left) != 0 {
		t.Fatalf("a refused backup left %s", left[0].Name())
	}
}

func TestBackupCommandRefusesAFolderWithoutAStore(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	err := backupCmd([]string{"--data-dir", dir, "--out", filepath.Join(t.TempDir(), "x")}, &out, &errb, noEnv)
	if err == nil || !strings.Contains(err.Error(), "no Badger MANIFEST") {
		t.Fatalf("backup of an empty folder: %v", err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Fatal("the backup made a store in an empty folder")
	}
}

// TestRestoreCommandEndsCredentials: the command says how many pending
// links, handoffs and OpenID Provider entries from before the backup the
// restore ended, and they are ended in the folder it made.
func TestRestoreCommandEndsCredentials(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	dir := t.TempDir()
	st, err := badgerstore.Open(badgerstore.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	var pending []string
	for _, f := range []string{"a", "b", "c"} {
		l := storetest.NewLink(t, now, f)
		if err := st.CreateLink(ctx, l, nil, nil); err != nil {
			t.Fatal(err)
		}
		pending = append(pending, l.ID)
	}
	consumed := storetest.NewLink(t, now, "d")
	if err := st.CreateLink(ctx, consumed, nil, nil); err != nil {
		t.Fatal(err)
	}
	h := &linkguard.Handoff{CodeHash: []byte("handoff"), LinkID: consumed.ID, ExpiresAt: now.Add(time.Hour)}
	if _, err := st.ConsumeLink(ctx, consumed.ID, now, fingerprint.Verdict{}, h, nil); err != nil {
		t.Fatal(err)
	}
	for i, ns := range []string{linkguard.KVOIDCRefresh, linkguard.KVOIDCRefresh, linkguard.KVOIDCAccess, "login_last"} {
		if err := st.PutKV(ctx, ns, fmt.Sprint(i), []byte("v"), time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	file, target, said := backupAndRestore(t, dir)
	for _, want := range []string{
		"restored " + file + " into " + target,
		"\nended 3 pending links, 1 handoff and 3 OpenID Provider tokens and requests from before the backup: they may have been used since.\n",
		"copy the key files",
	} {
		if !strings.Contains(said, want) {
			t.Fatalf("restore said:\n%s\nwant %q in it", said, want)
		}
	}

	r, err := badgerstore.Open(badgerstore.Options{Dir: target})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, id := range pending {
		if l, err := r.LinkByID(ctx, id); err != nil || l.State != linkguard.Revoked {
			t.Fatalf("a link pending in the backup, restored: %+v, %v", l, err)
		}
	}
	if l, err := r.LinkByID(ctx, consumed.ID); err != nil || l.State != linkguard.Consumed {
		t.Fatalf("a consumed link, restored: %+v, %v", l, err)
	}
	if _, err := r.TakeHandoff(ctx, h.CodeHash, now); !errors.Is(err, linkguard.ErrNotFound) {
		t.Fatalf("the backup's handoff, restored: %v", err)
	}
	if _, err := r.GetKV(ctx, linkguard.KVOIDCRefresh, "0"); !errors.Is(err, linkguard.ErrNotFound) {
		t.Fatalf("a refresh token, restored: %v", err)
	}
	if _, err := r.GetKV(ctx, "login_last", "3"); err != nil {
		t.Fatalf("login_last, restored: %v", err)
	}
}

func TestPlural(t *testing.T) {
	for n, want := range map[int]string{0: "0 handoffs", 1: "1 handoff", 2: "2 handoffs"} {
		if got := plural(n, "handoff", "handoffs"); got != want {
			t.Errorf("plural(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestRestoreCommandNothingToEnd: a backup without credentials says so,
// rather than "ended 0 …: they may have been used since".
func TestRestoreCommandNothingToEnd(t *testing.T) {
	dir := t.TempDir()
	st, err := badgerstore.Open(badgerstore.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, said := backupAndRestore(t, dir); !strings.Contains(said, "\nthe backup held no pending link, handoff or OpenID Provider token: nothing to end.\n") || strings.Contains(said, "ended ") {
		t.Fatalf("restore said:\n%s", said)
	}
}

// backupAndRestore runs the backup command on the closed folder dir and
// the restore command on its file, into a new folder, and returns the
// file, that folder and what restore printed.
func backupAndRestore(t *testing.T, dir string) (file, target, said string) {
	t.Helper()
	file = filepath.Join(t.TempDir(), "lg.backup")
	var out, errb bytes.Buffer
	if err := backupCmd([]string{"--data-dir", dir, "--out", file}, &out, &errb, noEnv); err != nil {
		t.Fatalf("backup: %v\n%s", err, errb.String())
	}
	target = filepath.Join(t.TempDir(), "restored")
	out.Reset()
	if err := restoreCmd([]string{"--data-dir", target, file}, nil, &out, &errb, noEnv); err != nil {
		t.Fatalf("restore: %v", err)
	}
	return file, target, out.String()
}
