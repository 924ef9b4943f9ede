package assertion

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
)

// MaxJWKSSize is the largest JWKS document ParseJWKS reads. Ours holds a
// handful of keys, well under 1 KiB.
const MaxJWKSSize = 64 << 10

var b64 = base64.RawURLEncoding.Strict()

// Key is one Ed25519 public key with its key id.
type Key struct {
	ID     string
	Public ed25519.PublicKey
}

// KeySet is the set of public keys a verifier trusts, looked up by kid.
// It is immutable once built and safe for concurrent use.
type KeySet struct {
	keys []Key
}

// Thumbprint returns the RFC 7638 JWK thumbprint of pub (SHA-256 over the
// canonical {"crv","kty","x"} members of its OKP JWK, RFC 8037 §2),
// base64url without padding. It is the kid that Signer and NewKeySet use,
// and what jose's calculateJwkThumbprint and go-jose's Thumbprint compute.
func Thumbprint(pub ed25519.PublicKey) string {
	// The members are in lexicographic order, without whitespace, and the
	// values contain no characters that JSON would escape.
	canon := `{"crv":"Ed25519","kty":"OKP","x":"` + b64.EncodeToString(pub) + `"}`
	sum := sha256.Sum256([]byte(canon))
	return b64.EncodeToString(sum[:])
}

// NewKeySet returns a KeySet of pubs, each with its Thumbprint as kid.
// NB: it panics if a key is not ed25519.PublicKeySize bytes long, as that
// is a programming error, not outside input.
func NewKeySet(pubs ...ed25519.PublicKey) *KeySet {
	s := &KeySet{}
	for _, p := range pubs {
		if len(p) != ed25519.PublicKeySize {
			panic(fmt.Sprintf("assertion: public key of %d bytes, want %d", len(p), ed25519.PublicKeySize))
		}
		kid := Thumbprint(p)
		if _, ok := s.Lookup(kid); ok {
			continue
		}
		s.keys = append(s.keys, Key{ID: kid, Public: append(ed25519.PublicKey(nil), p...)})
	}
	return s
}

// Lookup returns the key whose kid is kid.
func (s *KeySet) Lookup(kid string) (ed25519.PublicKey, bool) {
	if s == nil {
		return nil, false
	}
	for _, k := range s.keys {
		if k.ID == kid {
			return k.Public, true
		}
	}
	return nil, false
}

// Keys returns a copy of the keys in the set, in publication order.
func (s *KeySet) Keys() []Key {
	if s == nil {
		return nil
	}
	out := make([]Key, len(s.keys))
	for i, k := range s.keys {
		out[i] = Key{ID: k.ID, Public: append(ed25519.PublicKey(nil), k.Public...)}
	}
	return out
}

// JWK is the JSON form of one Ed25519 public key (RFC 8037).
type JWK struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
}

// MarshalJSON returns the set as a JWKS document:
// {"keys":[{"kty":"OKP","crv":"Ed25519","x":...,"kid":...,"alg":"EdDSA","use":"sig"}]}.
func (s *KeySet) MarshalJSON() ([]byte, error) {
	doc := struct {
		Keys []JWK `json:"keys"`
	}{Keys: []JWK{}}
	for _, k := range s.Keys() {
		doc.Keys = append(doc.Keys, JWK{Kty: "OKP", Crv: "Ed25519", X: b64.EncodeToString(k.Public),
			Kid: k.ID, Alg: "EdDSA", Use: "sig"})
	}
	return json.Marshal(doc)
}

// ErrJWKS is wrapped by every error of ParseJWKS.
var ErrJWKS = errors.New("invalid JWKS")

// ParseJWKS reads a JWKS document such as GET /.well-known/jwks.json.
// Keys of other types (RSA, EC, X25519) are skipped, so that a shared
// document still works; a malformed Ed25519 key, a key that carries a
// private part, an "alg" other than EdDSA, a "use" other than "sig", a
// duplicate kid, or a document with no usable key is an error. A key
// without a kid gets its Thumbprint.
func ParseJWKS(data []byte) (*KeySet, error) {
	if len(data) > MaxJWKSSize {
		return nil, fmt.Errorf("%w: document is %d bytes, more than %d", ErrJWKS, len(data), MaxJWKSSize)
	}
	var doc struct {
		Keys []map[string]json.RawMessage `json:"keys"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrJWKS, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: data after the document", ErrJWKS)
	}
	s := &KeySet{}
	for i, m := range doc.Keys {
		str := func(name string) (string, error) {
			raw, ok := m[name]
			if !ok {
				return "", nil
			}
			var v string
			if err := json.Unmarshal(raw, &v); err != nil {
				return "", fmt.Errorf("%w: keys[%d].%s is not a string", ErrJWKS, i, name)
			}
			return v, nil
		}
		kty, err := str("kty")
		if err != nil {
			return nil, err
		}
		crv, err := str("crv")
		if err != nil {
			return nil, err
		}
		if kty != "OKP" || crv != "Ed25519" {
			continue
		}
		if _, ok := m["d"]; ok {
			return nil, fmt.Errorf("%w: keys[%d] contains a private key (\"d\"); never publish it", ErrJWKS, i)
		}
		x, err := str("x")
		if err != nil {
			return nil, err
		}
		pub, err := b64.DecodeString(x)
		if err != nil || len(pub) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("%w: keys[%d].x is not a base64url Ed25519 public key", ErrJWKS, i)
		}
		if alg, err := str("alg"); err != nil {
			return nil, err
		} else if alg != "" && alg != "EdDSA" {
			return nil, fmt.Errorf("%w: keys[%d].alg is %q, want EdDSA", ErrJWKS, i, clip(alg))
		}
		if use, err := str("use"); err != nil {
			return nil, err
		} else if use != "" && use != "sig" {
			return nil, fmt.Errorf("%w: keys[%d].use is %q, want sig", ErrJWKS, i, clip(use))
		}
		kid, err := str("kid")
		if err != nil {
			return nil, err
		}
		if kid == "" {
			kid = Thumbprint(pub)
		}
		if _, dup := s.Lookup(kid); dup {
			return nil, fmt.Errorf("%w: kid %q appears twice", ErrJWKS, clip(kid))
		}
		s.keys = append(s.keys, Key{ID: kid, Public: pub})
	}
	if len(s.keys) == 0 {
		return nil, fmt.Errorf("%w: no Ed25519 signing key", ErrJWKS)
	}
	return s, nil
}

// clip shortens outside input quoted in an error message.
func clip(s string) string {
	const n = 64
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
