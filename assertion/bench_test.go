package assertion

import (
	"crypto/ed25519"
	"strings"
	"testing"
)

// The costs a kit pays per consumed link (Sign) and a host per callback
// (Verify). docs/design.md records the figures before and after go-jose;
// compare runs with `go test -run XXX -bench . -count 6 ./assertion`.

func BenchmarkSign(b *testing.B) {
	s := testSigner()
	c := validClaims()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Sign(c); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	tok, err := testSigner().Sign(validClaims())
	if err != nil {
		b.Fatal(err)
	}
	keys := NewKeySet(otherPub, testPub)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Verify(tok, keys, testOpts); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseJWKS(b *testing.B) {
	doc := NewSigner(testKey, testIss, nil, WithPrevious(otherPub)).JWKS()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseJWKS(doc); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEd25519 is the floor under Sign and Verify: the signature
// alone over a token-sized input, to tell JOSE overhead from load noise.
func BenchmarkEd25519(b *testing.B) {
	tok, err := testSigner().Sign(validClaims())
	if err != nil {
		b.Fatal(err)
	}
	in := []byte(tok[:strings.LastIndexByte(tok, '.')])
	sig := ed25519.Sign(testKey, in)
	b.Run("sign", func(b *testing.B) {
		for b.Loop() {
			ed25519.Sign(testKey, in)
		}
	})
	b.Run("verify", func(b *testing.B) {
		for b.Loop() {
			if !ed25519.Verify(testPub, in, sig) {
				b.Fatal("bad signature")
			}
		}
	})
}
