package badger

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/fingerprint"
	"github.com/linkguard/linkguard/store/storetest"
)

func TestConformanceInMemory(t *testing.T) {
	storetest.Run(t, func(t *testing.T) linkguard.Store {
		return memStore(t)
	})
}

func TestConformanceOnDisk(t *testing.T) {
	storetest.Run(t, func(t *testing.T) linkguard.Store {
		s, err := Open(Options{Dir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestSecondOpenIsLocked(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = Open(Options{Dir: dir})
	if !errors.Is(err, linkguard.ErrLocked) {
		t.Fatalf("second open: err = %v, want ErrLocked", err)
	}
}

func TestStateSurvivesReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	now := time.Now().UTC()
	s, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	pending := storetest.NewLink(t, now, "a")
	consumed := storetest.NewLink(t, now, "b")
	for _, l := range []*linkguard.Link{pending, consumed} {
		if err := s.CreateLink(ctx, l, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	h := &linkguard.Handoff{CodeHash: []byte("hand"), LinkID: consumed.ID, ExpiresAt: now.Add(time.Minute)}
	if _, err := s.ConsumeLink(ctx, consumed.ID, now, fingerprint.Verdict{Decision: fingerprint.Consume}, h, nil); err != nil {
		t.Fatal(err)
	}
	s.AddVisit(ctx, &linkguard.Visit{LinkID: pending.ID, At: now, Kind: linkguard.VisitView})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if l, err := s.LinkByTokenHash(ctx, pending.TokenHash); err != nil || l.State != linkguard.Pending {
		t.Fatalf("pending after reopen: %v %v", err, l)
	}
	if l, err := s.LinkByID(ctx, consumed.ID); err != nil || l.State != linkguard.Consumed {
		t.Fatalf("consumed after reopen: %v %v", err, l)
	}
	if _, err := s.ConsumeLink(ctx, consumed.ID, now, fingerprint.Verdict{}, &linkguard.Handoff{CodeHash: []byte("x"), ExpiresAt: now.Add(time.Minute)}, nil); !errors.Is(err, linkguard.ErrNotPending) {
		t.Fatalf("consume after reopen: %v", err)
	}
	if v, _ := s.Visits(ctx, pending.ID); len(v) != 1 {
		t.Fatalf("Close must flush buffered visits: got %d, want 1", len(v))
	}
	if _, err := s.TakeHandoff(ctx, []byte("hand"), now); err != nil {
		t.Fatalf("handoff after reopen: %v", err)
	}
	if _, err := s.TakeHandoff(ctx, []byte("hand"), now); !errors.Is(err, linkguard.ErrNotFound) {
		t.Fatalf("handoff twice across reopen: %v", err)
	}
}

func TestAddVisitAfterClose(t *testing.T) {
	s, _ := Open(Options{})
	s.Close()
	if err := s.AddVisit(context.Background(), &linkguard.Visit{LinkID: "x"}); err == nil {
		t.Fatal("AddVisit after Close succeeded")
	}
}

// memStore opens an in-memory store that the test closes.
func memStore(t testing.TB) *Store {
	t.Helper()
	s, err := Open(Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// diskStore opens a store in a fresh folder that the test closes.
func diskStore(t testing.TB) *Store {
	t.Helper()
	s, err := Open(Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// storedValue is the bytes Badger keeps at key, as the store wrote them.
func storedValue(t testing.TB, s *Store, key []byte) []byte {
	t.Helper()
	var raw []byte
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(key)
		if err != nil {
			return err
		}
		raw, err = item.ValueCopy(nil)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}
