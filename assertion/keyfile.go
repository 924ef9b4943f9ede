package assertion

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"

	"github.com/linkguard/linkguard/internal/keyfile"
)

// KeyProblem says what is wrong with a key file.
type KeyProblem string

// The key file problems.
const (
	// KeyLoosePermissions: group or others may read or write the file.
	// The key in it is valid and LoadOrCreateKey returns it alongside the
	// error, so the caller may choose to warn instead of stopping.
	KeyLoosePermissions KeyProblem = "loose_permissions"
	// KeyMalformed: the file is not one PEM "PRIVATE KEY" block holding a
	// PKCS #8 Ed25519 key.
	KeyMalformed KeyProblem = "malformed"
	// KeyNotRegular: the path is a directory, device or the like.
	KeyNotRegular KeyProblem = "not_regular_file"
	// KeyIO: the file could not be read or created.
	KeyIO KeyProblem = "io"
)

// KeyFileError is the error of LoadOrCreateKey.
type KeyFileError struct {
	Path    string
	Problem KeyProblem
	Mode    fs.FileMode // for KeyLoosePermissions
	Err     error       // the cause, if any
}

func (e *KeyFileError) Error() string {
	switch e.Problem {
	case KeyLoosePermissions:
		return fmt.Sprintf("assertion key file %s has permissions %04o: group and others must have none (chmod 600 %s)", e.Path, e.Mode.Perm(), e.Path)
	case KeyMalformed:
		return fmt.Sprintf("assertion key file %s is malformed (%v): restore it from a backup, or delete it to create a new key (hosts then need the new JWKS)", e.Path, e.Err)
	case KeyNotRegular:
		return fmt.Sprintf("assertion key file %s is not a regular file", e.Path)
	}
	return fmt.Sprintf("assertion key file %s: %v", e.Path, e.Err)
}

func (e *KeyFileError) Unwrap() error { return e.Err }

// maxKeyFile bounds what LoadOrCreateKey reads; a PEM Ed25519 key is
// 119 bytes.
const maxKeyFile = 4 << 10

// LoadOrCreateKey returns the Ed25519 key stored at path, creating it with
// a new random key (mode 0600, in a directory created 0700 if missing) if
// the file does not exist. The file is PEM PKCS #8 ("-----BEGIN PRIVATE
// KEY-----", the 32-byte seed inside), which openssl reads:
// `openssl pkey -in assertion.key -pubout`.
// Every error is a *KeyFileError.
// NB: on Unix a file that group or others may access gives the key AND a
// *KeyFileError with Problem KeyLoosePermissions: stop, or warn and go on.
func LoadOrCreateKey(path string) (ed25519.PrivateKey, error) {
	key, err := loadKey(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return key, err
	}
	// keyfile writes a temporary file and links it into place, so path
	// never holds a partial key and an existing file is never replaced.
	if _, _, err := keyfile.LoadOrCreate(path, newKeyPEM); err != nil {
		if key, lerr := loadKey(path); lerr == nil || !errors.Is(lerr, fs.ErrNotExist) {
			return key, lerr // another process won the race, or the file is unusable
		}
		return nil, &KeyFileError{Path: path, Problem: KeyIO, Err: err}
	}
	// Read back what is on disk: another process may have won the race.
	return loadKey(path)
}

func loadKey(path string) (ed25519.PrivateKey, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &KeyFileError{Path: path, Problem: KeyIO, Err: err}
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, &KeyFileError{Path: path, Problem: KeyIO, Err: err}
	}
	if !st.Mode().IsRegular() {
		return nil, &KeyFileError{Path: path, Problem: KeyNotRegular}
	}
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, &KeyFileError{Path: path, Problem: KeyIO, Err: err}
	}
	key, err := parseKey(data)
	if err != nil {
		return nil, &KeyFileError{Path: path, Problem: KeyMalformed, Err: err}
	}
	if runtime.GOOS != "windows" && st.Mode().Perm()&0o077 != 0 {
		return key, &KeyFileError{Path: path, Problem: KeyLoosePermissions, Mode: st.Mode()}
	}
	return key, nil
}

func parseKey(data []byte) (ed25519.PrivateKey, error) {
	if len(data) > maxKeyFile {
		return nil, fmt.Errorf("more than %d bytes", maxKeyFile)
	}
	block, rest := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block")
	}
	if block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("PEM block %q, want \"PRIVATE KEY\"", block.Type)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, errors.New("data after the PEM block")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("PKCS #8: %v", err)
	}
	key, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("a %T, want an Ed25519 key", k)
	}
	return key, nil
}

// newKeyPEM makes a new Ed25519 key as one PEM PKCS #8 block.
func newKeyPEM() ([]byte, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}
