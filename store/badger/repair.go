package badger

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Repair after an unclean stop (vlogsync.go says why it is needed).
//
// A Close that finished leaves cleanMarker in the folder, and Open takes
// it away (durably) before it opens Badger. An Open that finds a Badger
// folder without it (the process was killed, the machine lost power, a
// Close failed) first opens the folder with compactions off and Badger's
// value checksums on, and reads the value of every version of every key:
//
//   - a value-log entry that cannot be read (its bytes are past the end
//     of the value log, or fail their checksum, or its file is gone) is
//     a transaction that was never acknowledged: the group commit syncs
//     both logs before a write returns, so only a commit that was still
//     waiting for its sync can have lost its value and kept its entry;
//   - every key whose newest version belongs to such a transaction gets
//     back its newest version from any other transaction (or is deleted,
//     when it had none): the transaction is undone whole, the link that
//     was being spent is pending again, its handoff and jobs are gone;
//   - the versions put back are still there: the group commit held a
//     snapshot over them until the newer ones were synced (sync.go), and
//     compactions stay off until the repair is done.
//
// Then the undo is synced, and Badger reopened as usual. The check reads
// the folder once: 1.0 s for 100,000 pending links with their mail jobs
// (100 MB) on the reference machine. A folder that needs no undo is not
// written. After a kill -9 (the page cache survives) nothing is lost,
// and the check finds nothing to undo.
const cleanMarker = "linkguard-clean"

// takeCleanMarker removes dir's clean marker, durably, and says whether
// it was there: whether the last store on dir closed cleanly.
func takeCleanMarker(dir string) (bool, error) {
	err := os.Remove(filepath.Join(dir, cleanMarker))
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	// NB: durable before Badger writes anything: a crash from here on
	// must find the marker gone.
	return true, syncDir(dir)
}

// putCleanMarker says, durably, that the store on dir closed cleanly.
func putCleanMarker(dir string) error {
	p := filepath.Join(dir, cleanMarker)
	f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return syncDir(dir)
}

// isBadgerFolder says whether dir holds a Badger store already.
func isBadgerFolder(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, badger.ManifestFilename))
	return err == nil
}

// repairResult is what a repair found and did.
type repairResult struct {
	Versions int           // versions read
	Undone   int           // transactions undone
	Keys     int           // keys put back or deleted
	Took     time.Duration // the whole repair
}

// undo is one key's newest version to put back, or its delete.
type undo struct {
	key, value []byte
	expires    uint64
	meta       byte
	del        bool
}

// repair checks the Badger folder that bo opens and undoes the
// transactions whose values did not reach the disk (above).
func repair(bo badger.Options, log *slog.Logger) (repairResult, error) {
	began := time.Now()
	var res repairResult
	// NB: with compactions off, level 0 only grows; Badger's stall of
	// writes at 15 level-0 tables would then never lift, and the undo
	// would wait for good. It writes little: no stall.
	db, err := badger.Open(bo.WithNumCompactors(0).WithNumLevelZeroTablesStall(1 << 20).
		WithVerifyValueChecksum(true).WithLogger(repairLogger{badgerLogger{l: log}}))
	if err != nil {
		return res, err
	}
	bad := map[uint64]bool{}
	err = db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{AllVersions: true})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			res.Versions++
			if item.IsDeletedOrExpired() || bad[item.Version()] {
				continue
			}
			readable, err := valueReadable(item)
			if err != nil {
				return err
			}
			if !readable {
				bad[item.Version()] = true
			}
		}
		return nil
	})
	var undos []undo
	if err == nil && len(bad) > 0 {
		undos, err = undosFor(db, bad)
	}
	if err == nil && len(undos) > 0 {
		err = applyUndos(db, undos)
		if err == nil {
			err = db.Sync()
		}
	}
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	res.Undone, res.Keys, res.Took = len(bad), len(undos), time.Since(began)
	return res, err
}

// valueReadable reads item's value. Badger answers a value-log entry it
// cannot read with an empty value, not an error (it logs one: iterator.go,
// yieldItemValue); no value of the value log is empty, since only values
// of valueThreshold bytes and more go there.
func valueReadable(item *badger.Item) (bool, error) {
	var n int
	if err := item.Value(func(b []byte) error { n = len(b); return nil }); err != nil {
		return false, err
	}
	return n > 0 || item.ValueSize() == 0, nil
}

// undosFor lists, for every key whose newest version belongs to a
// transaction in bad, the newest version of it from outside bad.
func undosFor(db *badger.DB, bad map[uint64]bool) ([]undo, error) {
	var out []undo
	err := db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{AllVersions: true})
		defer it.Close()
		var key []byte // the key whose versions are being walked
		var u *undo    // its undo, while looking for the version to put back
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			if !bytes.Equal(item.Key(), key) {
				if u != nil {
					out = append(out, *u) // no older version: delete it
				}
				key, u = item.KeyCopy(nil), nil
				if bad[item.Version()] {
					u = &undo{key: key, del: true}
				}
				continue
			}
			if u == nil || bad[item.Version()] {
				continue
			}
			if !item.IsDeletedOrExpired() {
				v, err := item.ValueCopy(nil)
				if err != nil {
					return err
				}
				u.value, u.expires, u.meta, u.del = v, item.ExpiresAt(), item.UserMeta(), false
			}
			out = append(out, *u)
			u = nil
		}
		if u != nil {
			out = append(out, *u)
		}
		return nil
	})
	return out, err
}

// applyUndos writes undos, a transaction at a time of at most 1,000.
func applyUndos(db *badger.DB, undos []undo) error {
	for len(undos) > 0 {
		n := min(len(undos), 1000)
		err := db.Update(func(txn *badger.Txn) error {
			for _, u := range undos[:n] {
				if u.del {
					if err := txn.Delete(u.key); err != nil {
						return err
					}
					continue
				}
				e := badger.NewEntry(u.key, u.value).WithMeta(u.meta)
				e.ExpiresAt = u.expires
				if err := txn.SetEntry(e); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("undo: %w", err)
		}
		undos = undos[n:]
	}
	return nil
}

// repairLogger keeps Badger's lines about the values it cannot read out
// of the log (the repair counts them, and they name keys).
type repairLogger struct{ badgerLogger }

func (r repairLogger) Errorf(f string, a ...any) {
	if strings.HasPrefix(f, "Unable to read") || strings.HasPrefix(f, "Key: ") {
		return
	}
	r.badgerLogger.Errorf(f, a...)
}
