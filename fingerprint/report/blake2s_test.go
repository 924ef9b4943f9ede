package report

import (
	"encoding/hex"
	"math/rand/v2"
	"testing"

	"golang.org/x/crypto/blake2s"
)

// TestBlake2sMatchesXCrypto holds the copy in blake2s.go to the package
// it was taken from, for every length across the block boundaries a
// report or a proof's input can have, and to RFC 7693's "abc" vector.
func TestBlake2sMatchesXCrypto(t *testing.T) {
	const abc = "508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982" // RFC 7693, appendix B
	if got := blake2sSum256([]byte("abc")); hex.EncodeToString(got[:]) != abc {
		t.Fatalf("BLAKE2s-256(abc) = %x, want %s", got, abc)
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	for n := 0; n <= 4200; n++ {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rnd.Uint32())
		}
		if got, want := blake2sSum256(b), blake2s.Sum256(b); got != want {
			t.Fatalf("length %d: %x, want %x", n, got, want)
		}
	}
}
