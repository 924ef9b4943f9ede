package report

import (
	"errors"
	"math/bits"
)

// The proof's difficulty, in leading zero bits of the work hash.
//
// ProofBits is what the collector works to: 2^12 hashes on average, a few
// milliseconds of WebAssembly on a phone. MinProofBits is the least the
// server accepts and MaxProofBits the most it reads (a larger claim is
// refused before any hashing, so the check's cost stays two hashes).
const (
	ProofBits    = 12
	MinProofBits = 12
	MaxProofBits = 24
	// maxProofTries bounds the collector's search: the odds of not
	// finding a counter in 2^26 tries at 12 bits are e^-16384.
	maxProofTries = 1 << 26
)

// proofLabel separates this use of BLAKE2s from any other.
const proofLabel = "linkguard/proof/v1"

// ProofSeed is what the proof's work is done over: BLAKE2s-256 of a label,
// the rendering's nonce, the difficulty and the report itself as
// AppendJSON writes it without its Proof. A proof therefore holds for one
// nonce and one report: another rendering's nonce, or any edit of the
// report (its clock, its click, its device), changes the seed.
//
// NB: the server re-encodes the decoded report to get the same bytes, so
// this relies on AppendJSON being a function of the decoded values only
// (TestProofSurvivesDecode checks it for reports the collector can make).
func ProofSeed(nonce string, bits int, r *Report) [32]byte {
	c := *r
	c.Proof = nil
	buf := make([]byte, 0, 2560)
	buf = append(buf, proofLabel...)
	buf = appendUint32(buf, uint32(len(nonce)))
	buf = append(buf, nonce...)
	buf = appendUint32(buf, uint32(bits))
	buf = c.AppendJSON(buf)
	return blake2sSum256(buf)
}

// appendUint32 appends v big-endian, as binary.BigEndian.AppendUint32
// does: encoding/binary imports reflect, whose package init (and
// unicode's, which reflect imports) the collector would carry.
func appendUint32(b []byte, v uint32) []byte {
	return append(b, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

// proofZeros returns the number of leading zero bits of the work hash
// for counter n.
func proofZeros(seed *[32]byte, n int) int {
	var in [40]byte
	copy(in[:], seed[:])
	for i := range 8 { // big-endian, as binary.BigEndian.PutUint64
		in[32+i] = byte(uint64(n) >> (56 - 8*i))
	}
	h := blake2sSum256(in[:])
	z := 0
	for _, b := range h {
		if b != 0 {
			return z + bits.LeadingZeros8(b)
		}
		z += 8
	}
	return z
}

// Prove does the collector's work: it finds the first counter whose work
// hash over ProofSeed(nonce, ProofBits, r) has ProofBits leading zero bits
// and returns the proof (MS is the caller's to fill). ok is false only if
// no counter was found within the search's bound.
func Prove(nonce string, r *Report) (p Proof, ok bool) {
	seed := ProofSeed(nonce, ProofBits, r)
	for n := 0; n < maxProofTries; n++ {
		if proofZeros(&seed, n) >= ProofBits {
			return Proof{Nonce: nonce, Bits: ProofBits, Counter: n}, true
		}
	}
	return Proof{}, false
}

// Reasons a proof does not check out; each reads after "replay: ".
var (
	ErrNoProof       = errors.New("the report carries no proof of the page's module (no collector ran, or one older than version 3)")
	ErrProofNonce    = errors.New("the proof was made on another rendering of the page")
	ErrProofTooEasy  = errors.New("the proof's work is below the minimum")
	ErrProofTooHard  = errors.New("the proof claims more work than any collector does")
	ErrProofMismatch = errors.New("the proof does not match the report (edited, or assembled without the page's module)")
)

// CheckProof checks the work of r's proof for the request's nonce: two
// hashes and one encoding, whatever the report claims. It does not look
// at time; the server checks the report's clock against the nonce's.
func CheckProof(nonce string, r *Report) error {
	p := r.Proof
	switch {
	case p == nil:
		return ErrNoProof
	case p.Nonce != nonce:
		return ErrProofNonce
	case p.Bits < MinProofBits:
		return ErrProofTooEasy
	case p.Bits > MaxProofBits:
		return ErrProofTooHard
	case p.Counter < 0:
		return ErrProofMismatch
	}
	seed := ProofSeed(nonce, p.Bits, r)
	if proofZeros(&seed, p.Counter) < p.Bits {
		return ErrProofMismatch
	}
	return nil
}
