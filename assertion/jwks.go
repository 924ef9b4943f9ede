package assertion

import (
	"crypto"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	jose "github.com/go-jose/go-jose/v4"
	josejson "github.com/go-jose/go-jose/v4/json"
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
// base64url without padding, as go-jose computes it. It is the kid that
// Signer and NewKeySet use.
// NB: it returns "" for a key go-jose refuses: not ed25519.PublicKeySize
// bytes, or a low-order point that no real key is.
func Thumbprint(pub ed25519.PublicKey) string {
	sum, err := (&jose.JSONWebKey{Key: pub}).Thumbprint(crypto.SHA256)
	if err != nil {
		return ""
	}
	return b64.EncodeToString(sum)
}

// NewKeySet returns a KeySet of pubs, each with its Thumbprint as kid.
// NB: it panics if a key is not ed25519.PublicKeySize bytes long or is a
// low-order point, as that is a programming error, not outside input.
func NewKeySet(pubs ...ed25519.PublicKey) *KeySet {
	s := &KeySet{}
	for _, p := range pubs {
		if len(p) != ed25519.PublicKeySize {
			panic(fmt.Sprintf("assertion: public key of %d bytes, want %d", len(p), ed25519.PublicKeySize))
		}
		kid := Thumbprint(p)
		if kid == "" {
			panic("assertion: public key is a low-order point, not a usable Ed25519 key")
		}
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

// MarshalJSON returns the set as a JWKS document, one
// {"kty":"OKP","crv":"Ed25519","x":...,"kid":...,"alg":"EdDSA","use":"sig"}
// key per member of the set, as go-jose writes it.
func (s *KeySet) MarshalJSON() ([]byte, error) {
	doc := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}}
	for _, k := range s.Keys() {
		doc.Keys = append(doc.Keys, jose.JSONWebKey{Key: k.Public, KeyID: k.ID, Algorithm: string(jose.EdDSA), Use: "sig"})
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
	// go-jose's JSON: member names match exactly, a duplicate is an error.
	var doc struct {
		Keys []josejson.RawMessage `json:"keys"`
	}
	if err := josejson.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrJWKS, err)
	}
	s := &KeySet{}
	for i, raw := range doc.Keys {
		// Look at the type first: jose.JSONWebKeySet would refuse the
		// whole document for one key of a type go-jose does not know.
		var kind struct {
			Kty string `json:"kty"`
			Crv string `json:"crv"`
		}
		if err := josejson.Unmarshal(raw, &kind); err != nil {
			return nil, fmt.Errorf("%w: keys[%d]: %v", ErrJWKS, i, err)
		}
		if kind.Kty != "OKP" || kind.Crv != "Ed25519" {
			continue
		}
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(raw); err != nil {
			return nil, fmt.Errorf("%w: keys[%d] is not an Ed25519 public JWK: %v", ErrJWKS, i, err)
		}
		pub, ok := k.Key.(ed25519.PublicKey)
		if !ok {
			return nil, fmt.Errorf("%w: keys[%d] contains a private key (\"d\"); never publish it", ErrJWKS, i)
		}
		if k.Algorithm != "" && k.Algorithm != string(jose.EdDSA) {
			return nil, fmt.Errorf("%w: keys[%d].alg is %q, want EdDSA", ErrJWKS, i, clip(k.Algorithm))
		}
		if k.Use != "" && k.Use != "sig" {
			return nil, fmt.Errorf("%w: keys[%d].use is %q, want sig", ErrJWKS, i, clip(k.Use))
		}
		kid := k.KeyID
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
