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

// Restore loads a backup that Backup wrote (r) into a new store in dir,
// which must be missing or an empty folder: it never merges into data.
// The store is built in a temporary folder beside dir and renamed into
// place only once the whole file has loaded, so a file that is not a
// backup, or is truncated, leaves no folder behind. It returns the bytes
// read. NB: no server may run on dir meanwhile.
func Restore(ctx context.Context, dir string, r io.Reader, log *slog.Logger) (uint64, error) {
	dir = filepath.Clean(dir)
	exists, err := emptyOrMissing(dir)
	if err != nil {
		return 0, err
	}
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return 0, fmt.Errorf("restore: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".restore-*")
	if err != nil {
		return 0, fmt.Errorf("restore: %w", err)
	}
	fr := &frameReader{r: bufio.NewReaderSize(r, 1<<20), ctx: ctx}
	if err := load(tmp, fr, log); err != nil {
		os.RemoveAll(tmp)
		return fr.off, err
	}
	// An empty folder makes way (os.Rename replaces one on Linux only);
	// os.Remove refuses a folder that gained files meanwhile.
	if exists {
		if err := os.Remove(dir); err != nil {
			os.RemoveAll(tmp)
			return fr.off, fmt.Errorf("restore: %w", err)
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		os.RemoveAll(tmp)
		return fr.off, fmt.Errorf("restore: %w", err)
	}
	_ = syncDir(parent) // the rename itself, durable (best effort: the data is)
	return fr.off, nil
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

// load opens a store in dir, loads fr into it and closes it, durable.
func load(dir string, fr *frameReader, log *slog.Logger) error {
	s, err := Open(Options{Dir: dir, Log: log})
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	err = s.db.Load(fr, 16)
	if err == nil {
		err = s.db.Sync()
	}
	if cerr := s.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	return nil
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
