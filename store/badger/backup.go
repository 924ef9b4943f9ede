package badger

// Backups in Badger's own format (Stream.Backup writes it, DB.Load reads
// it: a run of frames, each a little-endian uint64 length and a protobuf
// KVList), plus one frame of linkguard's at the end. Badger's format has
// no end: a file cut between two frames reads as a whole, smaller
// backup. So Backup ends every backup with an end frame (one KV, endKey,
// whose value is the count of bytes before it), and Restore refuses a
// file without it, or whose count is off, as truncated. A stock
// `badger restore` still reads the file: the end frame's KV expired at
// the Unix epoch's second 1, so Badger drops it unseen.
//
// A backup is an instant; the store went on after it. A one-time
// credential spent or revoked since is live again in the backup's copy:
// a pending link consumed meanwhile, a handoff taken, a refresh token
// rotated. So Restore ends every one of them before the folder is in
// place (EndCredentials): pending links are revoked, handoffs and the
// OpenID provider's requests, codes and tokens deleted. No flag brings
// them back: a person asks for a new link, an OpenID client signs in
// again, and nobody can forget to pass it.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/pb"
	"google.golang.org/protobuf/proto"

	"github.com/linkguard/linkguard"
)

var _ linkguard.Backuper = (*Store)(nil)

// endKey is the key of a backup's end frame. It is never stored: Restore
// strips the frame, and Badger drops it as expired.
var endKey = []byte("!linkguard-backup-end")

// maxFrame bounds one frame of a file to restore: Badger sends a batch
// once it passes 100 MiB (maxStreamSize in its stream.go), and no
// linkguard record comes near the rest. A larger length is not a backup,
// and is refused before anything is allocated for it.
const maxFrame = 256 << 20

// Backup writes a consistent snapshot of the whole store to w, while the
// store serves, and returns the bytes written. Only a nil error means w
// holds a whole backup. It stops with an error when ctx ends or the
// store closes.
//
// NB: one stream goroutine (NumGo 1), not DB.Backup's default of many:
// outside managed mode each of Badger's stream goroutines reads through a
// transaction of its own, begun when it starts, so a write landing
// between two of them would be in one key range and not in another. One
// goroutine is one read transaction: one instant, every write committed
// before it and none after. It also leaves the server's cores to serving.
func (s *Store) Backup(ctx context.Context, w io.Writer) (uint64, error) {
	cw := &backupWriter{w: w, ctx: ctx, closing: s.closing}
	st := s.db.NewStream()
	st.NumGo = 1
	st.LogPrefix = "linkguard backup"
	if _, err := st.Backup(cw, 0); err != nil {
		return cw.n, fmt.Errorf("backup: %w", err)
	}
	var count [8]byte
	binary.LittleEndian.PutUint64(count[:], cw.n)
	end, err := proto.Marshal(&pb.KVList{Kv: []*pb.KV{{Key: endKey, Value: count[:], Version: 1, ExpiresAt: 1}}})
	if err != nil {
		return cw.n, fmt.Errorf("backup: end frame: %w", err)
	}
	var hdr [8]byte
	binary.LittleEndian.PutUint64(hdr[:], uint64(len(end)))
	if _, err := cw.Write(append(hdr[:], end...)); err != nil {
		return cw.n, fmt.Errorf("backup: end frame: %w", err)
	}
	return cw.n, nil
}

// backupWriter counts what a backup wrote, and stops it when its context
// ends or the store closes.
type backupWriter struct {
	w       io.Writer
	ctx     context.Context
	closing chan struct{}
	n       uint64
}

func (b *backupWriter) Write(p []byte) (int, error) {
	select {
	case <-b.closing:
		return 0, errors.New("the store is closing")
	default:
	}
	if err := b.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := b.w.Write(p)
	b.n += uint64(n)
	return n, err
}

// Restored is what a restore did: the bytes of the file it read, and
// the credentials of the backup it ended (Store.EndCredentials), each of
// which may have been spent, rotated or revoked after the backup.
type Restored struct {
	Bytes uint64
	linkguard.Ended
}

// Restore loads a backup that Backup wrote (r) into a new store in dir,
// which must be missing or an empty folder: it never merges into data.
// Then it ends every one-time credential of the backup that may have been
// used since (EndCredentials). The store is built in a temporary folder
// beside dir and renamed into place only once the whole file has loaded
// and those are ended, so a file that is not a backup, a truncated one,
// or a restore stopped by ctx leaves no folder behind. NB: no server may
// run on dir meanwhile.
func Restore(ctx context.Context, dir string, r io.Reader, log *slog.Logger) (Restored, error) {
	dir = filepath.Clean(dir)
	exists, err := emptyOrMissing(dir)
	if err != nil {
		return Restored{}, err
	}
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return Restored{}, fmt.Errorf("restore: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".restore-*")
	if err != nil {
		return Restored{}, fmt.Errorf("restore: %w", err)
	}
	fr := &frameReader{r: bufio.NewReaderSize(r, 1<<20), ctx: ctx}
	out, err := load(ctx, tmp, fr, log)
	out.Bytes = fr.off
	if err != nil {
		os.RemoveAll(tmp)
		return out, err
	}
	// An empty folder makes way (os.Rename replaces one on Linux only);
	// os.Remove refuses a folder that gained files meanwhile.
	if exists {
		if err := os.Remove(dir); err != nil {
			os.RemoveAll(tmp)
			return out, fmt.Errorf("restore: %w", err)
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		os.RemoveAll(tmp)
		return out, fmt.Errorf("restore: %w", err)
	}
	_ = syncDir(parent) // the rename itself, durable (best effort: the data is)
	return out, nil
}

// emptyOrMissing refuses a dir that holds anything, naming it, and says
// whether it exists.
func emptyOrMissing(dir string) (bool, error) {
	f, err := os.Open(dir)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("restore: %w", err)
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.IsDir() {
		return false, fmt.Errorf("restore: %s is not a folder", dir)
	}
	names, err := f.Readdirnames(1)
	if err != nil && !errors.Is(err, io.EOF) {
		return false, fmt.Errorf("restore: %w", err)
	}
	if len(names) > 0 {
		return false, fmt.Errorf("restore: %s is not empty (it holds %s): a restore never merges into data; restore into a new folder, then point data_dir at it", dir, names[0])
	}
	return true, nil
}

// load opens a store in dir, loads fr into it, ends the credentials the
// backup holds and closes it, durable.
func load(ctx context.Context, dir string, fr *frameReader, log *slog.Logger) (Restored, error) {
	s, err := Open(Options{Dir: dir, Log: log})
	if err != nil {
		return Restored{}, fmt.Errorf("restore: %w", err)
	}
	var out Restored
	err = s.db.Load(fr, 16)
	if err == nil {
		out.Ended, err = s.EndCredentials(ctx, time.Now())
	}
	if err == nil {
		err = s.db.Sync()
	}
	if cerr := s.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return out, fmt.Errorf("restore: %w", err)
	}
	return out, nil
}

// EndCredentials implements linkguard.Store: each pending link is
// revoked (as RevokeLink does, for RevokeRestore, without its webhook
// event), every handoff and every entry of linkguard.KVCredentials
// deleted, in transactions of at most sweepBatch keys. Restore calls it
// on a store just loaded from a backup; on a store in use, a batch that
// meets a concurrent change is retried as any transaction is (update),
// and each batch's revoked links leave the link cache when it commits.
//
// NB: the links it revokes are written in this version's format, and a
// rollback restores with the new binary (docs/operations.md): every
// version that has Backup reads them (packdict1, 0xC6, link format 0x02,
// whose revoked_at byte carries the reason unseen by older versions:
// codec.go); a new format must keep that.
func (s *Store) EndCredentials(ctx context.Context, at time.Time) (linkguard.Ended, error) {
	var out linkguard.Ended
	var err error
	out.Links, err = s.sweep(ctx, []byte(prefixLink), func(txn *badger.Txn, item *badger.Item) (bool, error) {
		var l linkguard.Link
		if err := item.Value(func(b []byte) error { return decodeLink(b, &l) }); err != nil {
			return false, fmt.Errorf("link %s: %w", item.Key()[len(prefixLink):], err)
		}
		if !revoke(&l, at, linkguard.RevokeRestore) {
			return false, nil
		}
		return true, s.putLink(txn, &l)
	}, func(keys [][]byte) {
		for _, k := range keys {
			s.links.invalidate(string(k[len(prefixLink):]))
		}
	})
	if err != nil {
		return out, fmt.Errorf("revoke pending links: %w", err)
	}
	if out.Handoffs, err = s.sweep(ctx, []byte(prefixHandoff), deleteItem, nil); err != nil {
		return out, fmt.Errorf("delete handoffs: %w", err)
	}
	for _, ns := range linkguard.KVCredentials() {
		n, err := s.sweep(ctx, kvKey(ns, ""), deleteItem, nil)
		out.OIDC += n
		if err != nil {
			return out, fmt.Errorf("delete %s entries: %w", ns, err)
		}
	}
	return out, nil
}

func deleteItem(txn *badger.Txn, item *badger.Item) (bool, error) {
	return true, txn.Delete(item.KeyCopy(nil))
}

// sweepBatch is how many keys one transaction of a sweep reads at most:
// a Badger transaction holds its writes in memory until it commits, and
// a store may hold millions of keys. A variable for the tests.
var sweepBatch = 1000

// sweep calls fn on every live key under prefix, in transactions of at
// most sweepBatch keys, each committed before the next one begins (from
// the key after the last one read), so that memory stays bounded
// whatever the store holds. fn changes the key in txn, or not, and says
// whether it did; sweep returns how many it changed. A transaction that
// Badger finds too big ends before the key that did not fit. It stops
// with ctx between two transactions. committed, when set, gets the keys
// each transaction changed once it has committed.
func (s *Store) sweep(ctx context.Context, prefix []byte, fn func(txn *badger.Txn, item *badger.Item) (bool, error), committed func(keys [][]byte)) (int, error) {
	total := 0
	for from := prefix; from != nil; {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		var changed [][]byte
		var next []byte
		err := s.update(func(txn *badger.Txn) error {
			changed, next = changed[:0], nil
			o := badger.DefaultIteratorOptions
			o.PrefetchValues = false
			o.Prefix = prefix
			it := txn.NewIterator(o)
			defer it.Close()
			read := 0
			for it.Seek(from); it.Valid(); it.Next() {
				item := it.Item()
				if read == sweepBatch {
					next = item.KeyCopy(nil)
					return nil
				}
				did, err := fn(txn, item)
				if errors.Is(err, badger.ErrTxnTooBig) && read > 0 {
					next = item.KeyCopy(nil)
					return nil
				}
				if err != nil {
					return err
				}
				read++
				if did {
					changed = append(changed, item.KeyCopy(nil))
				}
			}
			return nil
		})
		if err != nil {
			return total, err
		}
		total += len(changed)
		if committed != nil {
			committed(changed)
		}
		from = next
	}
	return total, nil
}

// frameReader hands DB.Load a backup one checked frame at a time: the
// length bounded, the body a KVList, the end frame present, counting the
// bytes before it, and last. Load sees its errors as the reader's.
type frameReader struct {
	r      *bufio.Reader
	ctx    context.Context
	buf    []byte // the current frame's bytes not yet read by Load
	off    uint64 // bytes of the file read so far
	frames int
	ended  bool // the end frame was read
}

func (f *frameReader) Read(p []byte) (int, error) {
	for len(f.buf) == 0 {
		if err := f.next(); err != nil {
			return 0, err
		}
	}
	n := copy(p, f.buf)
	f.buf = f.buf[n:]
	return n, nil
}

func (f *frameReader) next() error {
	if err := f.ctx.Err(); err != nil {
		return err
	}
	var hdr [8]byte
	n, err := io.ReadFull(f.r, hdr[:])
	switch {
	case errors.Is(err, io.EOF) && f.ended:
		return io.EOF
	case errors.Is(err, io.EOF):
		return fmt.Errorf("truncated backup: the file ends after %d bytes (%d frames) without linkguard's end frame: a copy cut short, an interrupted download, or not a file that linkguard backup wrote", f.off, f.frames)
	case f.ended:
		return fmt.Errorf("not a linkguard backup: bytes follow its end frame at byte %d", f.off)
	case err != nil && n > 0:
		return fmt.Errorf("truncated backup: the file ends inside the header of frame %d at byte %d", f.frames+1, f.off)
	case err != nil:
		return fmt.Errorf("read backup: %w", err)
	}
	size := binary.LittleEndian.Uint64(hdr[:])
	if size > maxFrame {
		return fmt.Errorf("not a Badger backup: frame %d at byte %d claims %d bytes (a frame has at most %d)", f.frames+1, f.off, size, maxFrame)
	}
	frame := make([]byte, 8+size)
	copy(frame, hdr[:])
	if n, err := io.ReadFull(f.r, frame[8:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("truncated backup: frame %d at byte %d has %d of its %d bytes", f.frames+1, f.off, n, size)
		}
		return fmt.Errorf("read backup: %w", err)
	}
	var list pb.KVList
	if err := proto.Unmarshal(frame[8:], &list); err != nil {
		return fmt.Errorf("not a Badger backup: frame %d at byte %d does not decode: %w", f.frames+1, f.off, err)
	}
	if len(list.Kv) == 1 && bytes.Equal(list.Kv[0].Key, endKey) {
		v := list.Kv[0].Value
		if len(v) != 8 || binary.LittleEndian.Uint64(v) != f.off {
			return fmt.Errorf("corrupt backup: its end frame at byte %d does not count the bytes before it", f.off)
		}
		f.ended = true
		f.off += uint64(len(frame))
		return nil
	}
	f.buf = frame
	f.off += uint64(len(frame))
	f.frames++
	return nil
}
