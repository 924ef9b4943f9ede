//go:build !linux

package badger

import "testing"

// dirtyPages cannot be told here.
func dirtyPages(t *testing.T, path string) (uint64, bool) { return 0, false }
