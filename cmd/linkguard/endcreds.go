package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/linkguard/linkguard"
)

const endUsage = `usage: linkguard end-credentials [--config FILE] [--store URL | --data-dir DIR]

Ends every one-time credential in the configured store (store, data_dir:
the config file, then the environment, as serve reads them, then these
flags): links still pending are revoked (people ask for new ones; no
webhook event is sent), handoffs are deleted, and so are the OpenID
Provider's requests, codes and tokens (its clients sign in again).
Consumed links stay consumed; visits, queues, limits and counters stay.

Run it after restoring a Redis store from a snapshot (RDB, AOF, a managed
service's backup): any credential in the snapshot may have been used since
it was taken, and Redis brings them all back. linkguard restore does the
same for a Badger backup by itself. Redis: safe while servers run. Badger:
stop the server first (Badger lets one process open the folder).
`

// endMain is `linkguard end-credentials`.
func endMain(args []string, stdout, stderr io.Writer) error {
	return endCmd(args, stdout, stderr, os.Getenv, time.Now)
}

func endCmd(args []string, stdout, stderr io.Writer, getenv func(string) string, now func() time.Time) error {
	fs := newFlagSet("end-credentials", endUsage, stderr)
	file := fs.String("config", getenv("LINKGUARD_CONFIG"), "YAML config `file`")
	store := fs.String("store", "", "the store: `badger` or a redis:// or redis+cluster:// URL (overrides LINKGUARD_STORE)")
	dir := fs.String("data-dir", "", "the Badger data `folder` (overrides LINKGUARD_DATA_DIR)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return flagErr("end-credentials", err)
	}
	if len(pos) > 0 {
		return fmt.Errorf("end-credentials: unexpected argument %q", pos[0])
	}
	cfg, err := operatorConfig(*file, getenv)
	if err != nil {
		return err
	}
	if *store != "" {
		cfg.Store = *store
	}
	if *dir != "" {
		cfg.DataDir = *dir
	}
	st, err := openStoreForTools(cfg, stderr)
	if err != nil {
		return err
	}
	defer st.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ended, err := st.EndCredentials(ctx, now())
	fmt.Fprintf(stdout, "ended %s\n", endedText(ended))
	if err != nil {
		return fmt.Errorf("end-credentials: %w (what is counted above was ended; run it again to end the rest)", err)
	}
	return nil
}

// endedText says what EndCredentials ended, for restore and
// end-credentials alike.
func endedText(e linkguard.Ended) string {
	return fmt.Sprintf("%s, %s and %s", plural(e.Links, "pending link", "pending links"), plural(e.Handoffs, "handoff", "handoffs"),
		plural(e.OIDC, "OpenID Provider token or request", "OpenID Provider tokens and requests"))
}

// plural is n with the noun that agrees with it.
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
