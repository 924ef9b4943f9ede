package badger

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/fingerprint"
	"github.com/linkguard/linkguard/store/storetest"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// TestBackupWhileServing takes a backup while links are issued and
// consumed, restores it into a new folder and opens it: every link
// acknowledged before the backup began is there in its state, but for
// the pending ones, which the restore revoked, and the handoffs, which it
// deleted.
func TestBackupWhileServing(t *testing.T) {
	ctx := context.Background()
	now := time.Now().UTC()
	s, err := Open(Options{Dir: t.TempDir(), Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	// Before the backup: pending links, consumed ones, and ones with
	// wrong codes counted (one of them locked).
	type want struct {
		state    linkguard.State
		attempts int
	}
	acked := map[string]want{}
	var handoffs [][]byte
	for i := range 60 {
		l := storetest.NewLink(t, now, fmt.Sprintf("before-%d", i))
		if err := s.CreateLink(ctx, l, nil, nil); err != nil {
			t.Fatal(err)
		}
		w := want{state: linkguard.Revoked} // pending in the backup
		switch i % 3 {
		case 1:
			h := &linkguard.Handoff{CodeHash: []byte(fmt.Sprintf("handoff-%d", i)), LinkID: l.ID, ExpiresAt: now.Add(time.Hour)}
			if _, err := s.ConsumeLink(ctx, l.ID, now, fingerprint.Verdict{Decision: fingerprint.Consume}, h, nil); err != nil {
				t.Fatal(err)
			}
			handoffs = append(handoffs, h.CodeHash)
			w.state = linkguard.Consumed
		case 2:
			w.attempts = 1 + i%5
			for range w.attempts {
				_, err := s.ConsumeWithCode(ctx, l.ID, []byte("wrong"), 5, now, fingerprint.Verdict{}, &linkguard.Handoff{}, nil)
				if !errors.Is(err, linkguard.ErrWrongCode) {
					t.Fatalf("wrong code: %v", err)
				}
			}
		}
		acked[l.ID] = w
	}

	// During the backup: a writer keeps issuing and consuming new links.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	var during int
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			l := storetest.NewLink(t, now, fmt.Sprintf("during-%d", i))
			if err := s.CreateLink(ctx, l, nil, nil); err != nil {
				t.Error(err)
				return
			}
			if _, err := s.ConsumeLink(ctx, l.ID, now, fingerprint.Verdict{}, &linkguard.Handoff{CodeHash: []byte(l.ID), ExpiresAt: now.Add(time.Hour)}, nil); err != nil {
				t.Error(err)
				return
			}
			during++
		}
	}()
	var file bytes.Buffer
	n, err := s.Backup(ctx, &file)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if n != uint64(file.Len()) {
		t.Fatalf("Backup says %d bytes, wrote %d", n, file.Len())
	}
	t.Logf("backup of %d bytes; %d links issued and consumed meanwhile", n, during)

	dir := filepath.Join(t.TempDir(), "restored")
	res, err := Restore(ctx, dir, bytes.NewReader(file.Bytes()), quiet)
	if err != nil {
		t.Fatal(err)
	}
	// Links issued during the backup may be in it pending, and their
	// handoffs in it too: at least those from before.
	if res.Bytes != n || res.Links < 40 || res.Handoffs < len(handoffs) || res.OIDC != 0 {
		t.Fatalf("restore: %+v, want %d bytes, at least 40 links and %d handoffs ended", res, n, len(handoffs))
	}
	r, err := Open(Options{Dir: dir, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for id, w := range acked {
		l, err := r.LinkByID(ctx, id)
		if err != nil {
			t.Fatalf("link %s acknowledged before the backup: %v", id, err)
		}
		if l.State != w.state || l.CodeAttempts != w.attempts {
			t.Fatalf("link %s restored as %s with %d attempts, want %s with %d", id, l.State, l.CodeAttempts, w.state, w.attempts)
		}
		if _, err := r.LinkByTokenHash(ctx, l.TokenHash); err != nil {
			t.Fatalf("link %s by its token: %v", id, err)
		}
	}
	for _, h := range handoffs {
		if _, err := r.TakeHandoff(ctx, h, now); !errors.Is(err, linkguard.ErrNotFound) {
			t.Fatalf("a handoff of the backup after the restore: %v", err)
		}
	}
	// A consumed link stays consumed: it cannot be spent again.
	for id, w := range acked {
		if w.state == linkguard.Consumed {
			if _, err := r.ConsumeLink(ctx, id, now, fingerprint.Verdict{}, &linkguard.Handoff{CodeHash: []byte("again"), ExpiresAt: now.Add(time.Hour)}, nil); !errors.Is(err, linkguard.ErrNotPending) {
				t.Fatalf("consume a restored consumed link: %v", err)
			}
			break
		}
	}
}

// backupOf is a whole backup of a store holding a few links.
func backupOf(t *testing.T) []byte {
	t.Helper()
	s := memStore(t)
	now := time.Now().UTC()
	for i := range 20 {
		if err := s.CreateLink(context.Background(), storetest.NewLink(t, now, fmt.Sprint(i)), nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	var b bytes.Buffer
	if _, err := s.Backup(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestRestoreRefuses(t *testing.T) {
	good := backupOf(t)
	// Badger's own format alone: no end frame, as if the file were cut
	// exactly between two frames.
	var plain bytes.Buffer
	s := memStore(t)
	s.CreateLink(context.Background(), storetest.NewLink(t, time.Now(), "x"), nil, nil)
	if _, err := s.db.Backup(&plain, 0); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		file []byte
		want string
	}{
		{"garbage", []byte("this is not a backup, only some text\n"), "not a Badger backup"},
		{"empty", nil, "truncated backup"},
		{"zeros", make([]byte, 64), "truncated backup"},
		{"cut inside a frame", good[:len(good)/2], "truncated backup"},
		{"cut inside a header", good[:5], "truncated backup"},
		{"cut before the end frame", plain.Bytes(), "truncated backup"},
		{"cut inside the end frame", good[:len(good)-3], "truncated backup"},
		{"bytes after the end", append(bytes.Clone(good), 0), "bytes follow its end frame"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parent := t.TempDir()
			dir := filepath.Join(parent, "data")
			_, err := Restore(context.Background(), dir, bytes.NewReader(tc.file), quiet)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if left, _ := os.ReadDir(parent); len(left) != 0 {
				t.Fatalf("a failed restore left %s behind", left[0].Name())
			}
		})
	}

	t.Run("a folder that holds data", func(t *testing.T) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "MANIFEST"), []byte("live"), 0o600)
		_, err := Restore(context.Background(), dir, bytes.NewReader(good), quiet)
		if err == nil || !strings.Contains(err.Error(), dir+" is not empty (it holds MANIFEST)") {
			t.Fatalf("err = %v", err)
		}
		if b, _ := os.ReadFile(filepath.Join(dir, "MANIFEST")); string(b) != "live" {
			t.Fatal("the folder's data was touched")
		}
		if left, _ := os.ReadDir(filepath.Dir(dir)); len(left) != 1 {
			t.Fatalf("the refused restore left %d entries beside the folder", len(left)-1)
		}
	})

	t.Run("an empty folder is fine", func(t *testing.T) {
		dir := t.TempDir()
		res, err := Restore(context.Background(), dir, bytes.NewReader(good), quiet)
		if err != nil || res.Bytes != uint64(len(good)) {
			t.Fatalf("restore: %d bytes, %v", res.Bytes, err)
		}
		if _, err := os.Stat(filepath.Join(dir, "MANIFEST")); err != nil {
			t.Fatal(err)
		}
	})
}

// TestBackupStopsWithItsContext: a backup whose context ends fails
// rather than reporting a whole file.
func TestBackupStopsWithItsContext(t *testing.T) {
	s := memStore(t)
	now := time.Now()
	for i := range 5 {
		s.CreateLink(context.Background(), storetest.NewLink(t, now, fmt.Sprint(i)), nil, nil)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Backup(ctx, io.Discard); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

// backupOfStore is a whole backup of s.
func backupOfStore(t *testing.T, s *Store) []byte {
	t.Helper()
	var b bytes.Buffer
	if _, err := s.Backup(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// restored restores file into a new folder and opens it.
func restored(t *testing.T, file []byte) (*Store, Restored) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "restored")
	res, err := Restore(context.Background(), dir, bytes.NewReader(file), quiet)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Open(Options{Dir: dir, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r, res
}

// TestRestoreEndsCredentials: whatever one-time credential a backup
// holds may have been spent or revoked after it was taken, so a restore
// ends it: a pending link is revoked (by click and by code it is spent
// no more), a handoff and the OpenID provider's entries are gone. What
// is settled stays: a consumed link is consumed, a revoked one keeps its
// time, an expired one is expired, the mail queue and other KV entries
// are kept, and no webhook event is queued.
func TestRestoreEndsCredentials(t *testing.T) {
	ctx := context.Background()
	now := time.Now().UTC()
	s := memStore(t)
	create := func(l *linkguard.Link, mail []byte) *linkguard.Link {
		t.Helper()
		if err := s.CreateLink(ctx, l, mail, nil); err != nil {
			t.Fatal(err)
		}
		return l
	}
	pending := create(storetest.NewLink(t, now, "pending"), []byte("sealed mail"))
	code := []byte("the code's hash")
	withCode := storetest.NewLink(t, now, "code")
	withCode.CodeHash = code
	create(withCode, nil)
	consumed := create(storetest.NewLink(t, now, "consumed"), nil)
	handoff := &linkguard.Handoff{CodeHash: []byte("handoff code hash"), LinkID: consumed.ID, Email: consumed.Email, ExpiresAt: now.Add(time.Hour)}
	if _, err := s.ConsumeLink(ctx, consumed.ID, now, fingerprint.Verdict{Decision: fingerprint.Consume}, handoff, nil); err != nil {
		t.Fatal(err)
	}
	revoked := create(storetest.NewLink(t, now, "revoked"), nil)
	revokedAt := now.Add(-time.Minute)
	if _, err := s.RevokeLink(ctx, revoked.ID, revokedAt, linkguard.RevokeAPI, nil); err != nil {
		t.Fatal(err)
	}
	expired := create(storetest.NewLink(t, now.Add(-time.Hour), "expired"), nil) // stored pending, past its expiry
	kv := map[string]string{
		linkguard.KVOIDCRefresh: "refresh",
		linkguard.KVOIDCAccess:  "access",
		linkguard.KVOIDCCode:    "code",
		linkguard.KVOIDCRequest: "request",
		"login_last":            "cool-down",
	}
	for ns, key := range kv {
		if err := s.PutKV(ctx, ns, key, []byte("value"), time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PutKV(ctx, linkguard.KVOIDCRefresh, "another", []byte("value"), time.Hour); err != nil {
		t.Fatal(err)
	}

	before := time.Now()
	r, res := restored(t, backupOfStore(t, s))
	after := time.Now()
	if want := (Restored{Bytes: res.Bytes, Ended: linkguard.Ended{Links: 2, Handoffs: 1, OIDC: 5}}); res != want {
		t.Fatalf("restore: %+v, want %+v", res, want)
	}

	for _, l := range []*linkguard.Link{pending, withCode} {
		got, err := r.LinkByID(ctx, l.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.State != linkguard.Revoked || got.RevokedAt.Before(before) || got.RevokedAt.After(after) || got.RevokeReason != linkguard.RevokeRestore {
			t.Fatalf("link pending in the backup: %s, revoked at %v for %q, want revoked during the restore, for it", got.State, got.RevokedAt, got.RevokeReason)
		}
		if byToken, err := r.LinkByTokenHash(ctx, l.TokenHash); err != nil || byToken.State != linkguard.Revoked {
			t.Fatalf("link pending in the backup, by its token: %v", err)
		}
	}
	h := &linkguard.Handoff{CodeHash: []byte("new handoff"), ExpiresAt: now.Add(time.Hour)}
	if _, err := r.ConsumeLink(ctx, pending.ID, now, fingerprint.Verdict{}, h, nil); !errors.Is(err, linkguard.ErrNotPending) {
		t.Fatalf("a click on a link pending in the backup: %v, want %v", err, linkguard.ErrNotPending)
	}
	if _, err := r.ConsumeWithCode(ctx, withCode.ID, code, 5, now, fingerprint.Verdict{}, h, nil); !errors.Is(err, linkguard.ErrNotPending) {
		t.Fatalf("the right code of a link pending in the backup: %v, want %v", err, linkguard.ErrNotPending)
	}
	if _, err := r.TakeHandoff(ctx, h.CodeHash, now); !errors.Is(err, linkguard.ErrNotFound) {
		t.Fatalf("a refused consumption stored a handoff: %v", err)
	}

	if got, err := r.LinkByID(ctx, consumed.ID); err != nil || got.State != linkguard.Consumed || got.Verdict == nil {
		t.Fatalf("consumed link after the restore: %+v, %v", got, err)
	}
	if _, err := r.TakeHandoff(ctx, handoff.CodeHash, now); !errors.Is(err, linkguard.ErrNotFound) {
		t.Fatalf("the backup's handoff after the restore: %v, want %v", err, linkguard.ErrNotFound)
	}
	if got, err := r.LinkByID(ctx, revoked.ID); err != nil || got.State != linkguard.Revoked || !got.RevokedAt.Equal(revokedAt) ||
		got.RevokeReason != linkguard.RevokeAPI {
		t.Fatalf("revoked link after the restore: %+v, %v", got, err)
	}
	if got, err := r.LinkByID(ctx, expired.ID); err != nil || got.State != linkguard.Pending || got.StateAt(now) != linkguard.Expired {
		t.Fatalf("expired link after the restore: %+v, %v", got, err)
	}

	for ns, key := range kv {
		_, err := r.GetKV(ctx, ns, key)
		if ns == "login_last" && err != nil {
			t.Fatalf("%s after the restore: %v, want it kept", ns, err)
		}
		if ns != "login_last" && !errors.Is(err, linkguard.ErrNotFound) {
			t.Fatalf("%s after the restore: %v, want it gone", ns, err)
		}
	}
	if _, err := r.GetKV(ctx, linkguard.KVOIDCRefresh, "another"); !errors.Is(err, linkguard.ErrNotFound) {
		t.Fatalf("the second refresh token after the restore: %v", err)
	}
	if mail, err := r.DueMail(ctx, now.Add(time.Second), time.Minute, 10); err != nil || len(mail) != 1 || mail[0].LinkID != pending.ID {
		t.Fatalf("the mail queue after the restore: %+v, %v", mail, err)
	}
	if jobs, err := r.RecentWebhooks(ctx, 10); err != nil || len(jobs) != 0 {
		t.Fatalf("the restore queued webhook jobs: %+v, %v", jobs, err)
	}
}

// TestRestoreInBatches restores a store of a few thousand links through
// transactions of a few keys each: every pending link is revoked, every
// handoff and OpenID provider entry deleted, whatever batch it fell in.
func TestRestoreInBatches(t *testing.T) {
	defer func(n int) { sweepBatch = n }(sweepBatch)
	sweepBatch = 7
	ctx := context.Background()
	now := time.Now().UTC()
	s := memStore(t)
	var ids []string
	states := map[string]linkguard.State{}
	for i := range 3000 {
		l := storetest.NewLink(t, now, fmt.Sprint(i))
		if err := s.CreateLink(ctx, l, nil, nil); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, l.ID)
		states[l.ID] = linkguard.Revoked
		if i%3 == 0 {
			h := &linkguard.Handoff{CodeHash: []byte(l.ID), LinkID: l.ID, ExpiresAt: now.Add(time.Hour)}
			if _, err := s.ConsumeLink(ctx, l.ID, now, fingerprint.Verdict{}, h, nil); err != nil {
				t.Fatal(err)
			}
			states[l.ID] = linkguard.Consumed
		}
	}
	for i := range 100 {
		if err := s.PutKV(ctx, linkguard.KVOIDCRefresh, fmt.Sprint(i), []byte("rt"), time.Hour); err != nil {
			t.Fatal(err)
		}
	}

	r, res := restored(t, backupOfStore(t, s))
	if res.Links != 2000 || res.Handoffs != 1000 || res.OIDC != 100 {
		t.Fatalf("restore: %+v, want 2000 links, 1000 handoffs, 100 entries", res)
	}
	for i, id := range ids {
		l, err := r.LinkByID(ctx, id)
		if err != nil || l.State != states[id] {
			t.Fatalf("link %d: %+v, %v, want %s", i, l, err, states[id])
		}
		if states[id] == linkguard.Consumed {
			if _, err := r.TakeHandoff(ctx, []byte(id), now); !errors.Is(err, linkguard.ErrNotFound) {
				t.Fatalf("handoff of link %d: %v", i, err)
			}
		}
	}
}

// TestSweepCommitsInBatches: one transaction per sweepBatch keys, so a
// restore's memory does not grow with the store; and a transaction that
// Badger finds too big ends early instead of failing the restore.
func TestSweepCommitsInBatches(t *testing.T) {
	defer func(n int) { sweepBatch = n }(sweepBatch)
	ctx := context.Background()
	now := time.Now().UTC()

	t.Run("batches of sweepBatch keys", func(t *testing.T) {
		sweepBatch = 7
		s := memStore(t)
		for i := range 20 {
			if err := s.CreateLink(ctx, storetest.NewLink(t, now, fmt.Sprint(i)), nil, nil); err != nil {
				t.Fatal(err)
			}
		}
		c := s.commits.Load()
		var batches []int
		n, err := s.sweep(ctx, []byte(prefixLink), func(txn *badger.Txn, item *badger.Item) (bool, error) {
			return true, nil
		}, func(keys [][]byte) { batches = append(batches, len(keys)) })
		if err != nil || n != 20 {
			t.Fatalf("sweep: %d, %v", n, err)
		}
		if fmt.Sprint(batches) != "[7 7 6]" {
			t.Fatalf("committed batches %v, want [7 7 6]", batches)
		}
		if got := s.commits.Load() - c; got != 3 { // 7, 7, 6
			t.Fatalf("20 keys in %d transactions, want 3", got)
		}
	})

	t.Run("a transaction too big", func(t *testing.T) {
		sweepBatch = 1 << 30
		s := memStore(t)
		// 120 links of ~48 KB that does not compress: ~6 MB, more than a
		// transaction holds at a 16 MiB memtable (15%: 2.4 MB).
		big := make([]byte, 36<<10)
		for i := range 120 {
			rand.Read(big)
			l := storetest.NewLink(t, now, fmt.Sprint(i))
			l.Metadata = []byte(`"` + base64.StdEncoding.EncodeToString(big) + `"`)
			if err := s.CreateLink(ctx, l, nil, nil); err != nil {
				t.Fatal(err)
			}
		}
		c := s.commits.Load()
		res, err := s.EndCredentials(ctx, now)
		if err != nil || res.Links != 120 {
			t.Fatalf("end credentials: %+v, %v", res, err)
		}
		got := s.commits.Load() - c
		t.Logf("120 big links revoked in %d transactions", got-1-4)
		if got < 1+1+4+2 { // links in 2 or more, handoffs, 4 namespaces
			t.Fatalf("120 big links revoked in %d transactions: none too big?", got)
		}
	})
}

// TestRestoreSweepStopsWithItsContext: ending the credentials stops
// with its context (Ctrl-C), and Restore then leaves nothing behind.
func TestRestoreSweepStopsWithItsContext(t *testing.T) {
	s := memStore(t)
	l := storetest.NewLink(t, time.Now(), "f")
	if err := s.CreateLink(context.Background(), l, nil, nil); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.EndCredentials(ctx, time.Now()); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if got, _ := s.LinkByID(context.Background(), l.ID); got.State != linkguard.Pending {
		t.Fatalf("a stopped sweep changed the link: %s", got.State)
	}
}
