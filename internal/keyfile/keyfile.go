// Package keyfile keeps a secret in a file that is created once and read
// back ever after: the server key, the dev API key and the other key files
// of a data folder all go through LoadOrCreate.
package keyfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Max bounds what Read and LoadOrCreate read: a key file is small, and a
// path pointed at something big must not fill the memory.
const Max = 64 << 10

// Read returns the content of the file at path, refusing anything that is
// not a regular file or is larger than Max.
func Read(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	b, err := io.ReadAll(io.LimitReader(f, Max+1))
	if err != nil {
		return nil, err
	}
	if len(b) > Max {
		return nil, fmt.Errorf("%s is larger than %d bytes: not a key file", path, Max)
	}
	return b, nil
}

// LoadOrCreate returns the content of the file at path, first making it
// with gen when it does not exist (created reports that). The folder is
// made (0700) if needed and the file is 0600.
//
// NB: the new content is written to a temporary file beside path, synced,
// and hard-linked into place, which fails when the name exists: a reader
// never sees half a key, and of several processes starting at once on one
// folder exactly one wins; every one of them returns the winner's bytes,
// read back from disk.
func LoadOrCreate(path string, gen func() ([]byte, error)) (data []byte, created bool, err error) {
	b, err := Read(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return b, false, err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false, fmt.Errorf("create folder for %s: %w", path, err)
	}
	b, err = gen()
	if err != nil {
		return nil, false, err
	}
	created, err = createOnce(path, b)
	if err != nil {
		return nil, false, fmt.Errorf("create %s: %w", path, err)
	}
	b, err = Read(path)
	return b, created, err
}

// createOnce puts data at path unless a file is already there.
func createOnce(path string, data []byte) (bool, error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return false, err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return false, err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return false, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return false, err
	}
	if err := f.Close(); err != nil {
		return false, err
	}
	if err := os.Link(tmp, path); errors.Is(err, fs.ErrExist) {
		return false, nil
	} else if err != nil {
		// No hard links here (some network or FUSE file systems): an
		// exclusive create is the next best thing.
		return writeExclusive(path, data)
	}
	// The new name must survive a crash too.
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return true, nil
}

// writeExclusive creates path with data unless it exists.
func writeExclusive(path string, data []byte) (bool, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return false, err
	}
	return true, nil
}
