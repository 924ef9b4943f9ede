package badger

import (
	"fmt"
	"sync"

	"github.com/klauspost/compress/s2"
)

// Records of a few hundred bytes and more (a link with its verdict, a
// decision visit with its input) are stored compressed: every byte a
// transaction writes is copied into the memtable and its mapped log
// (page faults on fresh pages) and later into a level-0 table, which on
// the reference machine cost more CPU per confirm than the request's own
// work (docs/performance.md). s2 halves them for ~2 µs each way.
//
//	0xC5, then the s2 block of the record as it would be stored unpacked
//
// No stored record starts with 0xC5 (JSON starts with '{', the binary
// formats with their version byte), so unpacked records of earlier
// versions read as before.
const (
	packedFormat = 0xC5
	// packFrom is the size from which a record is worth packing.
	packFrom = 256
	// maxUnpacked bounds what a packed record may claim to expand to.
	maxUnpacked = 4 << 20
)

// pack returns rec, compressed when that makes it smaller.
func pack(rec []byte) []byte {
	m := s2.MaxEncodedLen(len(rec))
	if len(rec) < packFrom || len(rec) > maxUnpacked || m < 0 {
		return rec
	}
	bp := encBufs.Get().(*[]byte)
	defer putEncBuf(bp)
	if cap(*bp) < m {
		*bp = make([]byte, 0, m)
	}
	enc := s2.Encode((*bp)[:m], rec)
	if 1+len(enc) >= len(rec) {
		return rec
	}
	out := make([]byte, 1+len(enc))
	out[0] = packedFormat
	copy(out[1:], enc)
	return out
}

// unpack returns the record that pack was given (rec itself when it
// was stored unpacked).
func unpack(rec []byte) ([]byte, error) {
	if len(rec) == 0 || rec[0] != packedFormat {
		return rec, nil
	}
	n, err := s2.DecodedLen(rec[1:])
	if err != nil {
		return nil, fmt.Errorf("packed record: %w", err)
	}
	if n > maxUnpacked {
		return nil, fmt.Errorf("packed record claims %d bytes", n)
	}
	out, err := s2.Decode(make([]byte, n), rec[1:])
	if err != nil {
		return nil, fmt.Errorf("packed record: %w", err)
	}
	return out, nil
}

// encBufs holds the buffers records are encoded into before pack copies
// them out: a link with its verdict is 1–2 KB, and growing a new buffer
// to that for every write was a tenth of the codec's time.
var encBufs = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// packEncoded encodes a record with enc into a pooled buffer and returns
// the stored form, packed when that is smaller, in memory of its own.
func packEncoded(enc func(b []byte) ([]byte, error)) ([]byte, error) {
	bp := encBufs.Get().(*[]byte)
	b, err := enc((*bp)[:0])
	if err != nil {
		putEncBuf(bp)
		return nil, err
	}
	out := pack(b)
	if len(out) > 0 && &out[0] == &b[0] {
		out = append([]byte(nil), b...)
	}
	*bp = b
	putEncBuf(bp)
	return out, nil
}

// putEncBuf gives a buffer back to encBufs, unless it grew past 64 KiB.
func putEncBuf(bp *[]byte) {
	if cap(*bp) <= 64<<10 {
		encBufs.Put(bp)
	}
}
