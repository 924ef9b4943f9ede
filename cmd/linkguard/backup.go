package main

// The offline halves of docs/operations.md "Backups, upgrades and rolling
// back":
//
//	linkguard backup --data-dir DIR --out FILE
//	linkguard restore --data-dir DIR FILE
//
// Both need the server stopped: Badger lets one process hold a data folder
// (a running server is backed up from its console, GET /admin/backup).
// The file is the same either way: Badger's backup format with linkguard's
// end frame (store/badger/backup.go).

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"

	"github.com/linkguard/linkguard"
	badgerstore "github.com/linkguard/linkguard/store/badger"
)

const backupUsage = `usage: linkguard backup --data-dir DIR --out FILE

Writes a backup of the Badger store in DIR (default $LINKGUARD_DATA_DIR) to
FILE (- for standard output), for linkguard restore. Stop the server first:
Badger lets one process open the folder. A running server is backed up from
its console instead (GET /admin/backup). The backup holds the store, not the
key files beside it (server.key, assertion.key, oidc-rs256.key): keep copies
of those too.
`

const restoreUsage = `usage: linkguard restore --data-dir DIR FILE

Restores a backup (from linkguard backup or the console's /admin/backup) into
DIR, which must be missing or empty: a restore never merges into data. FILE
may be - for standard input. The store is built beside DIR and renamed into
place only when the whole file has loaded. Then copy the key files
(server.key, assertion.key, oidc-rs256.key) into DIR, point data_dir at it,
and start.

A restore ends every one-time credential in the backup, since any may have
been used after it was taken: links pending in it are revoked (people ask
for new ones), handoffs are deleted, and so are the OpenID Provider's
requests, codes and tokens (its clients sign in again). Consumed links stay
consumed.
`

// backupMain is `linkguard backup`.
func backupMain(args []string, stdout, stderr io.Writer) error {
	return backupCmd(args, stdout, stderr, os.Getenv)
}

func backupCmd(args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs := newFlagSet("backup", backupUsage, stderr)
	dir := fs.String("data-dir", getenv("LINKGUARD_DATA_DIR"), "the server's data `folder`")
	out := fs.String("out", "", "write the backup to this `file` (- for standard output)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return flagErr("backup", err)
	}
	switch {
	case len(pos) > 0:
		return fmt.Errorf("backup: unexpected argument %q (name the file with --out FILE)", pos[0])
	case *dir == "":
		fmt.Fprint(stderr, backupUsage)
		return errors.New("backup: no data folder given (--data-dir DIR or LINKGUARD_DATA_DIR)")
	case *out == "":
		fmt.Fprint(stderr, backupUsage)
		return errors.New("backup: no output given (--out FILE, or --out - for standard output)")
	}
	if st, err := os.Stat(*dir); err != nil || !st.IsDir() {
		return fmt.Errorf("backup: data folder %s does not exist or is not a folder", *dir)
	}
	// MANIFEST is the file Badger writes first in a folder it owns:
	// without it, Open would make an empty store and back that up.
	if _, err := os.Stat(filepath.Join(*dir, "MANIFEST")); err != nil {
		return fmt.Errorf("backup: data folder %s holds no linkguard store (no Badger MANIFEST)", *dir)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	st, err := badgerstore.Open(badgerstore.Options{Dir: *dir, Log: log})
	if errors.Is(err, linkguard.ErrLocked) {
		return fmt.Errorf("backup: data folder %s is in use by another process, most likely the running linkguard server (%w): Badger lets one process open it at a time, so back a running server up from its console (GET /admin/backup), or stop it, run this command, and start it again", *dir, linkguard.ErrLocked)
	}
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer st.Close()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	w, commit, err := createOutput(*out, stdout)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer commit(false)
	n, err := st.Backup(ctx, w)
	if err != nil {
		return err // names backup
	}
	if err := commit(true); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if *out != "-" {
		fmt.Fprintf(stderr, "backed up %s to %s (%d bytes)\n", *dir, *out, n)
	}
	return nil
}

// restoreMain is `linkguard restore`.
func restoreMain(args []string, stdout, stderr io.Writer) error {
	return restoreCmd(args, os.Stdin, stdout, stderr, os.Getenv)
}

func restoreCmd(args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) error {
	fs := newFlagSet("restore", restoreUsage, stderr)
	dir := fs.String("data-dir", getenv("LINKGUARD_DATA_DIR"), "the `folder` to restore into: missing or empty")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return flagErr("restore", err)
	}
	switch {
	case len(pos) == 0:
		fmt.Fprint(stderr, restoreUsage)
		return errors.New("restore: no backup file given")
	case len(pos) > 1:
		return fmt.Errorf("restore: one backup file at a time, got %d", len(pos))
	case *dir == "":
		fmt.Fprint(stderr, restoreUsage)
		return errors.New("restore: no data folder given (--data-dir DIR or LINKGUARD_DATA_DIR)")
	}
	r := stdin
	if pos[0] != "-" {
		f, err := os.Open(pos[0])
		if err != nil {
			return fmt.Errorf("restore: %w", err)
		}
		defer f.Close()
		r = f
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	res, err := badgerstore.Restore(ctx, *dir, r, log)
	if err != nil {
		return fmt.Errorf("%s: %w", pos[0], err)
	}
	fmt.Fprintf(stdout, "restored %s into %s (%d bytes)\n", pos[0], *dir, res.Bytes)
	if res.Ended == (linkguard.Ended{}) {
		fmt.Fprintln(stdout, "the backup held no pending link, handoff or OpenID Provider token: nothing to end.")
	} else {
		fmt.Fprintf(stdout, "ended %s from before the backup: they may have been used since.\n", endedText(res.Ended))
	}
	fmt.Fprintf(stdout, "Before starting the server on it, copy the key files (server.key, assertion.key, oidc-rs256.key, with any .prev) into %s, unless secret_key_file names the server key elsewhere: the restored links and sealed mails need the same server key.\n", *dir)
	return nil
}
