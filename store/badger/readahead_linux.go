package badger

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// Badger writes its memtable logs and value logs through shared mappings
// of the files, and reads values back through the value log's mapping.
// Since Linux 6.16, ext4 caches such files in large folios: a read fault
// reads ahead, and the readahead grows its folios up to 2 MiB over the
// part of the file that Badger is about to write. A folio is dirty as a
// whole, and written back as a whole: each group-commit fdatasync then
// wrote the 2 MiB folio that the last few commits touched, about 1 GB/s
// of disk writes for 20 MB/s of data under load (docs/performance.md,
// "Large folios"), and every sync waited for that.
//
// MADV_RANDOM on a mapping turns off readahead for its faults, so each
// fault brings in one page (order 0) and a sync writes back the pages
// that were written. Badger reads values at random anyway.
//
// adviseRandom gives that advice to every mapping of the files named by
// inos (inode numbers on device dev), from /proc/self/maps: Badger maps
// its files itself and does not hand out the addresses. It returns the
// inodes it found a mapping of. The advice only steers readahead, so a
// mapping that was unmapped and replaced between the read of the maps
// and the madvise is harmless.
func adviseRandom(dev uint64, inos map[uint64]bool) (map[uint64]bool, error) {
	b, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return nil, err
	}
	found := map[uint64]bool{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		m, ok := parseMapsLine(sc.Bytes())
		if !ok || m.major != unix.Major(dev) || m.minor != unix.Minor(dev) || !inos[m.ino] {
			continue
		}
		if _, _, errno := unix.Syscall(unix.SYS_MADVISE, uintptr(m.lo), uintptr(m.hi-m.lo), unix.MADV_RANDOM); errno != 0 && errno != unix.ENOMEM {
			return found, fmt.Errorf("madvise %x-%x: %w", m.lo, m.hi, errno)
		}
		found[m.ino] = true
	}
	return found, sc.Err()
}

// mapping is what adviseRandom reads of a line of /proc/self/maps:
//
//	7f3c8e000000-7f3c90000000 rw-s 00000000 fe:00 9978164   /data/00003.mem
type mapping struct {
	lo, hi       uint64
	major, minor uint32
	ino          uint64
}

func parseMapsLine(line []byte) (m mapping, ok bool) {
	f := bytes.Fields(line)
	if len(f) < 5 {
		return m, false
	}
	lo, hi, found := bytes.Cut(f[0], []byte("-"))
	maj, min, found2 := bytes.Cut(f[3], []byte(":"))
	if !found || !found2 {
		return m, false
	}
	var err [5]error
	m.lo, err[0] = strconv.ParseUint(string(lo), 16, 64)
	m.hi, err[1] = strconv.ParseUint(string(hi), 16, 64)
	ma, e2 := strconv.ParseUint(string(maj), 16, 32)
	mi, e3 := strconv.ParseUint(string(min), 16, 32)
	err[2], err[3] = e2, e3
	m.major, m.minor = uint32(ma), uint32(mi)
	m.ino, err[4] = strconv.ParseUint(string(f[4]), 10, 64)
	for _, e := range err {
		if e != nil {
			return m, false
		}
	}
	return m, m.ino != 0 && m.hi > m.lo
}

// fileID is the device and inode of the file at path, or ok false.
func fileID(path string) (dev, ino uint64, ok bool) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return 0, 0, false
	}
	return st.Dev, st.Ino, true
}
