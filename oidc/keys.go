package oidc

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/linkguard/linkguard/assertion"
	"github.com/linkguard/linkguard/internal/keyfile"
)

// Key files in the data folder. The Ed25519 key is the one signed
// assertions use (assertion/): one key, one JWKS entry, one rotation.
// Rotation: move the key file to <name>.prev and restart; a new key is
// made, and tokens the old one signed still verify until .prev is
// removed.
const (
	EdKeyFile  = "assertion.key"
	RSAKeyFile = "oidc-rs256.key"
	rsaBits    = 2048
	maxKeyFile = 16 << 10
)

// Keys are the ID token signing keys: Ed25519 (EdDSA, the default) and
// RSA (RS256, for relying parties that need it), each with the public
// halves of previous keys, still published.
type Keys struct {
	ed     ed25519.PrivateKey
	rsa    *rsa.PrivateKey
	edKID  string
	rsaKID string
	keys   []op.Key
}

// NewKeys builds Keys from keys in memory.
func NewKeys(ed ed25519.PrivateKey, rs *rsa.PrivateKey, prevEd []ed25519.PublicKey, prevRSA []*rsa.PublicKey) (*Keys, error) {
	if len(ed) != ed25519.PrivateKeySize || rs == nil {
		return nil, errors.New("oidc: an Ed25519 and an RSA key are required")
	}
	if rs.N.BitLen() < 2048 {
		return nil, fmt.Errorf("oidc: the RSA key has %d bits; want at least 2048", rs.N.BitLen())
	}
	k := &Keys{ed: ed, rsa: rs}
	k.edKID = assertion.Thumbprint(ed.Public().(ed25519.PublicKey))
	var err error
	if k.rsaKID, err = rsaKID(&rs.PublicKey); err != nil {
		return nil, err
	}
	k.keys = append(k.keys, pubKey{k.edKID, jose.EdDSA, ed.Public()}, pubKey{k.rsaKID, jose.RS256, &rs.PublicKey})
	for _, p := range prevEd {
		if kid := assertion.Thumbprint(p); kid != k.edKID {
			k.keys = append(k.keys, pubKey{kid, jose.EdDSA, p})
		}
	}
	for _, p := range prevRSA {
		kid, err := rsaKID(p)
		if err != nil {
			return nil, err
		}
		if kid != k.rsaKID {
			k.keys = append(k.keys, pubKey{kid, jose.RS256, p})
		}
	}
	return k, nil
}

func rsaKID(p *rsa.PublicKey) (string, error) {
	t, err := (&jose.JSONWebKey{Key: p}).Thumbprint(crypto.SHA256)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(t), nil
}

// LoadKeys reads (creating at first start) the key files in dir, and
// their .prev files when present.
func LoadKeys(dir string, log *slog.Logger) (*Keys, error) {
	edPath := filepath.Join(dir, EdKeyFile)
	ed, err := assertion.LoadOrCreateKey(edPath)
	var kfe *assertion.KeyFileError
	if errors.As(err, &kfe) && kfe.Problem == assertion.KeyLoosePermissions {
		log.Warn("key file is readable by others: chmod 600 it", "path", edPath)
	} else if err != nil {
		return nil, err
	}
	var prevEd []ed25519.PublicKey
	if _, err := os.Stat(edPath + ".prev"); err == nil {
		p, err := assertion.LoadOrCreateKey(edPath + ".prev")
		if errors.As(err, &kfe) && kfe.Problem == assertion.KeyLoosePermissions {
			log.Warn("key file is readable by others: chmod 600 it", "path", edPath+".prev")
		} else if err != nil {
			return nil, err
		}
		prevEd = append(prevEd, p.Public().(ed25519.PublicKey))
	}
	rsaPath := filepath.Join(dir, RSAKeyFile)
	rs, err := loadOrCreateRSA(rsaPath, log)
	if err != nil {
		return nil, err
	}
	var prevRSA []*rsa.PublicKey
	if _, err := os.Stat(rsaPath + ".prev"); err == nil {
		p, err := loadRSA(rsaPath+".prev", log)
		if err != nil {
			return nil, err
		}
		prevRSA = append(prevRSA, &p.PublicKey)
	}
	return NewKeys(ed, rs, prevEd, prevRSA)
}

func loadOrCreateRSA(path string, log *slog.Logger) (*rsa.PrivateKey, error) {
	k, err := loadRSA(path, log)
	if !errors.Is(err, fs.ErrNotExist) {
		return k, err
	}
	// keyfile links a complete file into place: never half a key, never
	// another process's key replaced, and every starter reads the winner's.
	_, created, err := keyfile.LoadOrCreate(path, func() ([]byte, error) {
		nk, err := rsa.GenerateKey(rand.Reader, rsaBits)
		if err != nil {
			return nil, err
		}
		der, err := x509.MarshalPKCS8PrivateKey(nk)
		if err != nil {
			return nil, err
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
	})
	if err != nil {
		return nil, fmt.Errorf("RS256 key file %s: %w", path, err)
	}
	if created {
		log.Info("created a new RS256 key for ID tokens", "path", path)
	}
	return loadRSA(path, log)
}

func loadRSA(path string, log *slog.Logger) (*rsa.PrivateKey, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("RS256 key file %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return nil, fmt.Errorf("RS256 key file %s is not a regular file", path)
	}
	if runtime.GOOS != "windows" && st.Mode().Perm()&0o077 != 0 {
		log.Warn("key file is readable by others: chmod 600 it", "path", path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, fmt.Errorf("RS256 key file %s: %w", path, err)
	}
	k, err := parseRSA(data)
	if err != nil {
		return nil, fmt.Errorf("RS256 key file %s is malformed (%v): restore it from a backup, or delete it to create a new key", path, err)
	}
	return k, nil
}

func parseRSA(data []byte) (*rsa.PrivateKey, error) {
	if len(data) > maxKeyFile {
		return nil, fmt.Errorf("more than %d bytes", maxKeyFile)
	}
	block, rest := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, errors.New(`want one PEM "PRIVATE KEY" block (PKCS #8)`)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, errors.New("data after the PEM block")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("PKCS #8: %v", err)
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("a %T, want an RSA key", k)
	}
	if rk.N.BitLen() < 2048 {
		return nil, fmt.Errorf("%d bits, want at least 2048", rk.N.BitLen())
	}
	return rk, nil
}

// signingKey is the current key of alg.
func (k *Keys) signingKey(alg jose.SignatureAlgorithm) op.SigningKey {
	if alg == jose.RS256 {
		return privKey{k.rsaKID, jose.RS256, k.rsa}
	}
	return privKey{k.edKID, jose.EdDSA, k.ed}
}

func (k *Keys) public() []op.Key { return k.keys }

type privKey struct {
	id  string
	alg jose.SignatureAlgorithm
	key any
}

func (p privKey) SignatureAlgorithm() jose.SignatureAlgorithm { return p.alg }
func (p privKey) Key() any                                    { return p.key }
func (p privKey) ID() string                                  { return p.id }

type pubKey struct {
	id  string
	alg jose.SignatureAlgorithm
	key any
}

func (p pubKey) ID() string                         { return p.id }
func (p pubKey) Algorithm() jose.SignatureAlgorithm { return p.alg }
func (p pubKey) Use() string                        { return "sig" }
func (p pubKey) Key() any                           { return p.key }
