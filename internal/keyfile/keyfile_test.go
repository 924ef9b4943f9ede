package keyfile

import (
	"bytes"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func random() ([]byte, error) {
	b := make([]byte, 32)
	_, err := rand.Read(b)
	return b, err
}

// TestConcurrentStartersAgree: of many creators racing on one path exactly
// one creates the file, and every one returns its bytes.
func TestConcurrentStartersAgree(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "server.key")
	const n = 16
	var wg sync.WaitGroup
	got := make([][]byte, n)
	made := make([]bool, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], made[i], errs[i] = LoadOrCreate(path, random)
		}()
	}
	wg.Wait()
	creators := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if !bytes.Equal(got[i], got[0]) {
			t.Fatalf("starter %d read another key", i)
		}
		if made[i] {
			creators++
		}
	}
	if creators != 1 {
		t.Fatalf("%d starters created the file, want 1", creators)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, %v: want 0600", st.Mode(), err)
	}
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*"))
	if len(left) != 0 {
		t.Fatalf("temporary files left behind: %v", left)
	}
}

func TestLoadKeepsExisting(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k")
	os.WriteFile(path, []byte("existing"), 0o600)
	b, created, err := LoadOrCreate(path, random)
	if err != nil || created || string(b) != "existing" {
		t.Fatalf("%q %v %v", b, created, err)
	}
}

func TestReadRefuses(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big")
	os.WriteFile(big, make([]byte, Max+1), 0o600)
	for _, tc := range []struct{ path, want string }{
		{dir, "not a regular file"},
		{big, "larger than"},
	} {
		if _, _, err := LoadOrCreate(tc.path, random); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.path, err, tc.want)
		}
	}
}
