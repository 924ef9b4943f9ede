package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"golang.org/x/sys/unix"
)

// What a fresh page costs on this machine (docs/performance.md, "The
// confirm's tail, traced"). Badger's memtable arena is 16 MiB of Go heap that the
// runtime zeroes, page by page, when it reuses memory it had given back;
// its tables are written through a fresh file mapping. A goroutine in
// such a copy takes a page fault per 4 KiB and cannot be preempted in
// the middle of it, so the fault's cost is how long it holds its P (and
// the writes waiting for Badger's write goroutine).

// faultProbeSize is what each probe touches: one memtable's worth.
const faultProbeSize = 16 << 20

// faultCost is the median time of a first write to a 4 KiB page, of an
// anonymous mapping and of a new file's shared mapping in dir, over a few
// rounds (the first ones warm the machine's memory up).
func faultCost(dir string) (anon, file time.Duration, err error) {
	const rounds = 5
	var as, fs []time.Duration
	for range rounds {
		a, err := touchAnon()
		if err != nil {
			return 0, 0, fmt.Errorf("page-fault probe: %w", err)
		}
		f, err := touchFile(filepath.Join(dir, "fault-probe"))
		if err != nil {
			return 0, 0, fmt.Errorf("page-fault probe: %w", err)
		}
		as, fs = append(as, a), append(fs, f)
	}
	return median(as) / (faultProbeSize / 4096), median(fs) / (faultProbeSize / 4096), nil
}

func touchAnon() (time.Duration, error) {
	b, err := unix.Mmap(-1, 0, faultProbeSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		return 0, err
	}
	defer unix.Munmap(b)
	return touch(b), nil
}

func touchFile(path string) (time.Duration, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|os.O_TRUNC, 0o600)
	if err != nil {
		return 0, err
	}
	defer os.Remove(path)
	defer f.Close()
	if err := f.Truncate(faultProbeSize); err != nil {
		return 0, err
	}
	b, err := unix.Mmap(int(f.Fd()), 0, faultProbeSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return 0, err
	}
	defer unix.Munmap(b)
	return touch(b), nil
}

// touch writes one byte of each 4 KiB page of b and returns how long that
// took.
func touch(b []byte) time.Duration {
	t := time.Now()
	for i := 0; i < len(b); i += 4096 {
		b[i] = 1
	}
	return time.Since(t)
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// us is d in microseconds.
func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
