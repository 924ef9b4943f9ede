//go:build !linux

package badger

// adviseRandom is Linux's fix for large folios (readahead_linux.go);
// elsewhere there is nothing to advise.
func adviseRandom(dev uint64, inos map[uint64]bool) (map[uint64]bool, error) { return inos, nil }

func fileID(path string) (dev, ino uint64, ok bool) { return 0, 0, false }
