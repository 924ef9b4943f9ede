package badger

import (
	_ "embed"
	"fmt"
	"sync"

	"github.com/klauspost/compress/s2"
)

// Records of a few hundred bytes and more (a link with its verdict, a
// decision visit with its input) are stored compressed: every byte a
// transaction writes is copied into the memtable and its mapped log
// (page faults on fresh pages), later into a level-0 table and again at
// every compaction, which on the reference machine cost more CPU per
// confirm than the request's own work, and the compactions' writes are
// what a synced commit waits behind (docs/performance.md).
//
//	0xC6, then the s2 block of the record against dictionary 1 (below)
//	0xC5, then the plain s2 block of the record (written until Dec 2026)
//
// No stored record starts with 0xC5 or 0xC6 (JSON starts with '{', the
// binary formats with their version byte), so unpacked records of
// earlier versions read as before.
const (
	packedFormat      = 0xC5
	packedDict1Format = 0xC6
	// packFrom is the size from which a record is worth packing: with
	// the dictionary, a history summary of 125 bytes packs to 47.
	packFrom = 64
	// maxUnpacked bounds what a packed record may claim to expand to.
	maxUnpacked = 4 << 20
)

// dict1Bytes is dictionary 1 (16.7 KB): the string literals of package
// fingerprint as of December 2026 (the reasons and rules that every
// verdict carries, in a consumed link and in the records of decisions
// that did not consume), common browsers' User-Agent and Accept-Language strings (a
// link's requester, a view), then the JSON of a visit and of a history
// summary with every field set (their field names). s2 takes what a
// record repeats of it as short copies (TestPackDictShrinksVerdicts):
//
//	record                  plain s2   with dictionary 1
//	pending link (332 B)       310        208
//	consumed link (1,475 B)    964        509
//	decision visit (2,118 B)   993        475
//	view (271 B)               276        111
//	history summary (125 B)    128         47
//
// NB: frozen. Records on disk were packed against these exact bytes;
// any change would make them unreadable (TestPackDictIsFrozen). Texts
// that change later only compress less. A better dictionary is a new
// file and a new format byte, this one kept for reading.
//
//go:embed packdict1.txt
var dict1Bytes []byte

var dict1 = sync.OnceValue(func() *s2.Dict {
	// The start of a visit record is where a block's first copy most
	// likely comes from (s2's "repeat" offset).
	return s2.MakeDict(dict1Bytes, []byte(`{"id":"`))
})

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
	enc := dict1().Encode((*bp)[:m], rec)
	if 1+len(enc) >= len(rec) {
		return rec
	}
	out := make([]byte, 1+len(enc))
	out[0] = packedDict1Format
	copy(out[1:], enc)
	return out
}

// unpack returns the record that pack was given (rec itself when it
// was stored unpacked).
func unpack(rec []byte) ([]byte, error) {
	if len(rec) == 0 || (rec[0] != packedFormat && rec[0] != packedDict1Format) {
		return rec, nil
	}
	n, err := s2.DecodedLen(rec[1:])
	if err != nil {
		return nil, fmt.Errorf("packed record: %w", err)
	}
	if n > maxUnpacked {
		return nil, fmt.Errorf("packed record claims %d bytes", n)
	}
	var out []byte
	if rec[0] == packedDict1Format {
		out, err = dict1().Decode(make([]byte, n), rec[1:])
	} else {
		out, err = s2.Decode(make([]byte, n), rec[1:])
	}
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
