package badger

import (
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// dirtyPages is how many of the file's pages wait to be written back
// (cachestat, Linux 6.5 and later); ok is false when the kernel cannot say.
func dirtyPages(t *testing.T, path string) (n uint64, ok bool) {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var st unix.Cachestat_t
	if err := unix.Cachestat(uint(f.Fd()), &unix.CachestatRange{}, &st, 0); err != nil {
		return 0, false
	}
	return st.Dirty, true
}
