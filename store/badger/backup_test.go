package badger

import (
	"bytes"
	"context"
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

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/fingerprint"
	"github.com/linkguard/linkguard/store/storetest"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// TestBackupWhileServing takes a backup while links are issued and
// consumed, restores it into a new folder and opens it: every link
// acknowledged before the backup began is there in its state.
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
		w := want{state: linkguard.Pending}
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
	if _, err := Restore(ctx, dir, bytes.NewReader(file.Bytes()), quiet); err != nil {
		t.Fatal(err)
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
		if _, err := r.TakeHandoff(ctx, h, now); err != nil {
			t.Fatalf("handoff: %v", err)
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
		n, err := Restore(context.Background(), dir, bytes.NewReader(good), quiet)
		if err != nil || n != uint64(len(good)) {
			t.Fatalf("restore: %d bytes, %v", n, err)
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
