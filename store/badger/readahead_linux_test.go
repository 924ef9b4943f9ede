package badger

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	badgerdb "github.com/dgraph-io/badger/v4"
)

// TestSyncTurnsReadaheadOff: once the store has synced, every mapping
// of its memtable log and value log carries MADV_RANDOM ("rr" in
// smaps' VmFlags), and a new memtable log gets it at the sync after
// Badger creates it.
func TestSyncTurnsReadaheadOff(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(Options{Dir: dir, tune: func(o badgerdb.Options) badgerdb.Options { return o.WithMemTableSize(1 << 20) }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	put := func(i int) {
		t.Helper()
		err := s.update(func(txn *badgerdb.Txn) error {
			return txn.Set([]byte(fmt.Sprintf("o/test/%08d", i)), bytes.Repeat([]byte{'v'}, 4*valueThreshold))
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	put(0)
	checkAdvised(t, dir, 2) // the memtable log and the value log

	// Fill the memtable until Badger rotates to a new log.
	first := logNames(t, dir, ".mem")
	for i := 1; sameNames(first, logNames(t, dir, ".mem")); i++ {
		if i > 100 {
			t.Fatal("no new memtable log after 100,000 writes")
		}
		err := s.db.Update(func(txn *badgerdb.Txn) error {
			for j := range 1000 {
				if err := txn.Set([]byte(fmt.Sprintf("o/test/%04d-%04d", i, j)), []byte("small")); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	put(1) // the sync after the new log appeared
	checkAdvised(t, dir, 2)
}

// TestSyncWritesBackWhatWasWritten measures the point of the advice:
// values written one durable commit each cost about their own size in
// disk writes (this process's write_bytes). Without it, the write
// faults' readahead grew the value log's folios to 2 MiB within some
// tens of megabytes, and from then on each sync wrote a whole folio
// back: 50–100× the data on Linux 6.18.
func TestSyncWritesBackWhatWasWritten(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const n, size = 4000, 16 << 10
	before := writeBytes(t)
	ratio := func(i int) float64 { return float64(writeBytes(t)-before) / float64(i*size) }
	written := 0
	for i := range n {
		written = i + 1
		err := s.update(func(txn *badgerdb.Txn) error {
			return txn.Set([]byte(fmt.Sprintf("o/test/%08d", i)), bytes.Repeat([]byte{byte(i)}, size))
		})
		if err != nil {
			t.Fatal(err)
		}
		if i >= 500 && i%100 == 0 && ratio(written) > 8 {
			break // failing: no need to write gigabytes to show it
		}
	}
	r := ratio(written)
	t.Logf("%d values of %d KiB, one sync each: %.1f× their size written back", written, size>>10, r)
	// Each commit rewrites the partial last page of both logs; Badger's
	// tables and the folder add a little.
	if r > 4 {
		t.Fatalf("each sync wrote back %.0f× what was written: readahead is on for the logs", r)
	}
}

// checkAdvised fails unless want mappings of the folder's logs are there
// and every one carries MADV_RANDOM.
func checkAdvised(t *testing.T, dir string, want int) {
	t.Helper()
	inos := map[uint64]string{}
	for _, ext := range []string{".mem", ".vlog"} {
		for _, n := range logNames(t, dir, ext) {
			if _, ino, ok := fileID(filepath.Join(dir, n)); ok {
				inos[ino] = n
			}
		}
	}
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Skip("no /proc/self/smaps:", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	var cur string // the log whose mapping the lines describe
	seen := map[string]bool{}
	for sc.Scan() {
		line := sc.Bytes()
		if f := bytes.Fields(line); len(f) > 0 && !bytes.HasSuffix(f[0], []byte(":")) {
			m, _ := parseMapsLine(line) // a mapping's first line
			cur = inos[m.ino]
			continue
		}
		if cur == "" || !bytes.HasPrefix(line, []byte("VmFlags:")) {
			continue
		}
		seen[cur] = true
		if !bytes.Contains(line, []byte(" rr")) {
			t.Errorf("%s is mapped with readahead on (%s)", cur, line)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(seen) < want {
		t.Fatalf("found mappings of %d logs (%v), want %d", len(seen), seen, want)
	}
}

func logNames(t *testing.T, dir, ext string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ext) {
			out = append(out, e.Name())
		}
	}
	return out
}

func sameNames(a, b []string) bool { return strings.Join(a, ",") == strings.Join(b, ",") }

// writeBytes is this process's write_bytes: what it sent to the disk.
func writeBytes(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		t.Skip("no /proc/self/io:", err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "write_bytes: "); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Skip("no write_bytes in /proc/self/io")
	return 0
}

func TestParseMapsLine(t *testing.T) {
	m, ok := parseMapsLine([]byte("7f3c8e000000-7f3c90000000 rw-s 00000000 fe:01 9978164                    /data/my folder/00003.mem"))
	if !ok || m.lo != 0x7f3c8e000000 || m.hi != 0x7f3c90000000 || m.major != 0xfe || m.minor != 1 || m.ino != 9978164 {
		t.Fatalf("got %+v, %v", m, ok)
	}
	for _, bad := range []string{
		"7ffd1000-7ffd2000 rw-p 00000000 00:00 0                          [stack]", // no file
		"7ffd1000 rw-p 00000000 00:00 12",                                          // no range
		"Size:                  4 kB",
		"",
	} {
		if m, ok := parseMapsLine([]byte(bad)); ok {
			t.Errorf("%q parsed as %+v", bad, m)
		}
	}
}
