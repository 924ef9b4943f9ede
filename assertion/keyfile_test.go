package assertion

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

func TestLoadOrCreateKeyCreatesOnce(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data") // does not exist yet
	path := filepath.Join(dir, "assertion.key")
	k1, err := LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" {
		if st.Mode().Perm() != 0o600 {
			t.Errorf("file mode %04o, want 0600", st.Mode().Perm())
		}
		if d, _ := os.Stat(dir); d.Mode().Perm() != 0o700 {
			t.Errorf("dir mode %04o, want 0700", d.Mode().Perm())
		}
	}
	data, _ := os.ReadFile(path)
	if !bytes.HasPrefix(data, []byte("-----BEGIN PRIVATE KEY-----\n")) {
		t.Errorf("file:\n%s", data)
	}
	k2, err := LoadOrCreateKey(path)
	if err != nil || !k1.Equal(k2) {
		t.Fatalf("second load: %v, same key %v", err, k1.Equal(k2))
	}
	left, _ := os.ReadDir(dir)
	if len(left) != 1 {
		t.Errorf("temporary files left: %v", left)
	}
	// The key signs tokens that verify.
	s := NewSigner(k1, testIss, nil)
	tok, _ := s.Sign(validClaims())
	if _, err := Verify(tok, s.KeySet(), VerifyOptions{Issuer: testIss, Audience: testAud}); err != nil {
		t.Error(err)
	}
	// openssl reads the file, when it is installed.
	if openssl, err := exec.LookPath("openssl"); err == nil {
		out, err := exec.Command(openssl, "pkey", "-in", path, "-pubout", "-outform", "DER").Output()
		if err != nil {
			t.Fatalf("openssl: %v", err)
		}
		pub, err := x509.ParsePKIXPublicKey(out)
		if err != nil || !k1.Public().(ed25519.PublicKey).Equal(pub) {
			t.Errorf("openssl public key differs: %v", err)
		}
	}
}

func TestLoadOrCreateKeyConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "assertion.key")
	const n = 16
	keys := make([][]byte, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			k, err := LoadOrCreateKey(path)
			if err != nil {
				t.Error(err)
				return
			}
			keys[i] = k
		})
	}
	wg.Wait()
	for i := range keys {
		if !bytes.Equal(keys[i], keys[0]) {
			t.Fatalf("goroutine %d got a different key", i)
		}
	}
}

func TestLoadOrCreateKeyProblems(t *testing.T) {
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalPKCS8PrivateKey(ecKey)
	edDER, _ := x509.MarshalPKCS8PrivateKey(testKey)
	good := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: edDER})
	cases := []struct {
		name    string
		content []byte
		mode    fs.FileMode
		want    KeyProblem
	}{
		{"malformed/empty", nil, 0o600, KeyMalformed},
		{"malformed/raw seed", testSeed, 0o600, KeyMalformed},
		{"malformed/wrong PEM type", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: edDER}), 0o600, KeyMalformed},
		{"malformed/EC key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ecDER}), 0o600, KeyMalformed},
		{"malformed/truncated DER", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: edDER[:20]}), 0o600, KeyMalformed},
		{"malformed/data after the block", append(append([]byte{}, good...), "junk"...), 0o600, KeyMalformed},
		{"malformed/two blocks", append(append([]byte{}, good...), good...), 0o600, KeyMalformed},
		{"malformed/huge", bytes.Repeat([]byte("a"), maxKeyFile+10), 0o600, KeyMalformed},
		{"permissions/0644", good, 0o644, KeyLoosePermissions},
		{"permissions/0640", good, 0o640, KeyLoosePermissions},
		{"permissions/0602", good, 0o602, KeyLoosePermissions},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.want == KeyLoosePermissions && runtime.GOOS == "windows" {
				t.Skip("no Unix permissions")
			}
			path := filepath.Join(t.TempDir(), "assertion.key")
			if err := os.WriteFile(path, tc.content, tc.mode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tc.mode); err != nil { // past the umask
				t.Fatal(err)
			}
			k, err := LoadOrCreateKey(path)
			var kfe *KeyFileError
			if !errors.As(err, &kfe) || kfe.Problem != tc.want || kfe.Path != path {
				t.Fatalf("err = %v, want a %s KeyFileError", err, tc.want)
			}
			t.Log(err)
			if tc.want == KeyLoosePermissions {
				if !k.Equal(testKey) {
					t.Error("loose permissions: the key is not returned beside the error")
				}
			} else if k != nil {
				t.Error("key returned with a malformed file")
			}
			// The file is left alone: nothing is overwritten.
			if got, _ := os.ReadFile(path); !bytes.Equal(got, tc.content) {
				t.Error("file changed")
			}
		})
	}
	t.Run("not regular/directory", func(t *testing.T) {
		path := t.TempDir()
		_, err := LoadOrCreateKey(path)
		var kfe *KeyFileError
		if !errors.As(err, &kfe) || kfe.Problem != KeyNotRegular {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("io/parent is a file", func(t *testing.T) {
		f := filepath.Join(t.TempDir(), "file")
		os.WriteFile(f, nil, 0o600)
		_, err := LoadOrCreateKey(filepath.Join(f, "assertion.key"))
		var kfe *KeyFileError
		if !errors.As(err, &kfe) || kfe.Problem != KeyIO {
			t.Fatalf("err = %v", err)
		}
		t.Log(err)
	})
}
