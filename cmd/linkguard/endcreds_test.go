package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/internal/redistest"
	badgerstore "github.com/linkguard/linkguard/store/badger"
	redisstore "github.com/linkguard/linkguard/store/redis"
	"github.com/linkguard/linkguard/store/storetest"
)

// TestEndCredentialsCommand: on a stopped Badger folder and on a Redis
// server in use, the command revokes the pending link, deletes the
// refresh token, keeps the rest, and says what it ended; a second run
// ends nothing; a folder in use is refused with the reason.
func TestEndCredentialsCommand(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	fill := func(t *testing.T, st linkguard.Store) (pending string) {
		t.Helper()
		l := storetest.NewLink(t, now, "p")
		if err := st.CreateLink(ctx, l, nil, nil); err != nil {
			t.Fatal(err)
		}
		kv := st.(linkguard.KV)
		for ns, key := range map[string]string{linkguard.KVOIDCRefresh: "rt", "login_last": "keep"} {
			if err := kv.PutKV(ctx, ns, key, []byte("v"), time.Hour); err != nil {
				t.Fatal(err)
			}
		}
		return l.ID
	}
	check := func(t *testing.T, st linkguard.Store, id string) {
		t.Helper()
		if l, err := st.LinkByID(ctx, id); err != nil || l.State != linkguard.Revoked {
			t.Fatalf("the pending link after: %+v, %v", l, err)
		}
		kv := st.(linkguard.KV)
		if _, err := kv.GetKV(ctx, linkguard.KVOIDCRefresh, "rt"); !errors.Is(err, linkguard.ErrNotFound) {
			t.Fatalf("the refresh token after: %v", err)
		}
		if _, err := kv.GetKV(ctx, "login_last", "keep"); err != nil {
			t.Fatalf("login_last after: %v", err)
		}
	}
	run := func(t *testing.T, env map[string]string, args ...string) (string, error) {
		t.Helper()
		var out, errb bytes.Buffer
		err := endCmd(args, &out, &errb, func(k string) string { return env[k] }, func() time.Time { return now.Add(time.Second) })
		return out.String() + errb.String(), err
	}
	const first = "ended 1 pending link, 0 handoffs and 1 OpenID Provider token or request\n"
	const again = "ended 0 pending links, 0 handoffs and 0 OpenID Provider tokens and requests\n"

	t.Run("badger", func(t *testing.T) {
		dir := t.TempDir()
		st, err := badgerstore.Open(badgerstore.Options{Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		id := fill(t, st)
		env := map[string]string{"LINKGUARD_DATA_DIR": dir}
		if said, err := run(t, env); err == nil || !strings.Contains(err.Error(), "in use by another process") {
			t.Fatalf("with the folder open: %v\n%s", err, said)
		}
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
		if said, err := run(t, env); err != nil || said != first {
			t.Fatalf("said %q, %v; want %q", said, err, first)
		}
		if said, err := run(t, nil, "--data-dir", dir); err != nil || said != again { // the flag, as backup takes it
			t.Fatalf("said %q, %v; want %q", said, err, again)
		}
		st, err = badgerstore.Open(badgerstore.Options{Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		check(t, st, id)
	})

	t.Run("redis", func(t *testing.T) {
		srv := redistest.ForTest(t)
		st, err := redisstore.Open(ctx, srv.URL, redisstore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		id := fill(t, st)
		if said, err := run(t, map[string]string{"LINKGUARD_STORE": srv.URL}); err != nil || said != first {
			t.Fatalf("said %q, %v; want %q", said, err, first)
		}
		if said, err := run(t, nil, "--store", srv.URL); err != nil || said != again {
			t.Fatalf("said %q, %v; want %q", said, err, again)
		}
		check(t, st, id) // read by the store that stayed open meanwhile
	})
}
