package oidc

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func kids(k *Keys) []string {
	var out []string
	for _, p := range k.public() {
		out = append(out, p.ID())
	}
	return out
}

// TestKeyRotation: keys are created once and read back the same; moved
// to .prev they are still published, and new keys sign.
func TestKeyRotation(t *testing.T) {
	dir := t.TempDir()
	k1, err := LoadKeys(dir, quiet)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{EdKeyFile, RSAKeyFile} {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v, mode %v; want 0600", name, err, st.Mode().Perm())
		}
	}
	again, err := LoadKeys(dir, quiet)
	if err != nil || !slices.Equal(kids(again), kids(k1)) {
		t.Fatalf("second load: %v %v, want %v", err, kids(again), kids(k1))
	}
	for _, name := range []string{EdKeyFile, RSAKeyFile} {
		p := filepath.Join(dir, name)
		if err := os.Rename(p, p+".prev"); err != nil {
			t.Fatal(err)
		}
	}
	k2, err := LoadKeys(dir, quiet)
	if err != nil {
		t.Fatal(err)
	}
	got := kids(k2)
	if len(got) != 4 || !slices.Contains(got, k1.edKID) || !slices.Contains(got, k1.rsaKID) {
		t.Fatalf("after rotation the JWKS has %v, want the 2 new and the 2 previous keys %v", got, kids(k1))
	}
	if k2.signingKey(jose.EdDSA).ID() == k1.edKID || k2.signingKey(jose.RS256).ID() == k1.rsaKID {
		t.Error("after rotation the previous keys still sign")
	}
	if k2.signingKey(jose.RS256).SignatureAlgorithm() != jose.RS256 || k2.signingKey("").SignatureAlgorithm() != jose.EdDSA {
		t.Error("algorithms: RS256 when asked, EdDSA otherwise")
	}

	// A malformed key file stops the start with a message naming it.
	os.WriteFile(filepath.Join(dir, RSAKeyFile), []byte("not a key"), 0o600)
	if _, err := LoadKeys(dir, quiet); err == nil || !strings.Contains(err.Error(), RSAKeyFile) || !strings.Contains(err.Error(), "malformed") {
		t.Errorf("malformed RSA key: %v", err)
	}
}

// TestSubject: one sub per address whatever its case, never the address.
func TestSubject(t *testing.T) {
	p := &Provider{subKey: derive(make([]byte, 32), "oidc subject")}
	a, b := p.Subject("Alice@Example.com"), p.Subject(" alice@example.com")
	if a != b || a == p.Subject("bob@example.com") || strings.Contains(a, "alice") || len(a) != 24 {
		t.Errorf("subjects %q %q", a, b)
	}
	q := &Provider{subKey: derive([]byte("another server key, 32 bytes...."), "oidc subject")}
	if q.Subject("alice@example.com") == a {
		t.Error("the subject does not depend on the server key")
	}
}
