package assertion

import (
	"strings"
	"testing"
)

// FuzzVerify feeds Verify arbitrary tokens. It must never panic, and it
// must never accept a token that is not exactly what testKey would sign:
// Ed25519 is deterministic and every segment must be canonical base64url,
// so an accepted token has to equal header.payload.Sign(header.payload).
// That rules out forgery and any malleability (alternate encodings of the
// same signature, padding, whitespace).
func FuzzVerify(f *testing.F) {
	kid := Thumbprint(testPub)
	good := sign(testKey, hdr(kid), payload(f, nil))
	parts := strings.Split(good, ".")
	// A valid token: the fuzzer mutates it towards near misses.
	f.Add(good)
	// A valid token whose aud is an array.
	f.Add(sign(testKey, hdr(kid), payload(f, map[string]any{"aud": []string{testAud, "x"}})))
	// alg "none" with an empty signature.
	f.Add(b64.EncodeToString([]byte(`{"alg":"none","kid":"`+kid+`"}`)) + "." + parts[1] + ".")
	// Signed by another key under our kid.
	f.Add(sign(otherKey, hdr(kid), payload(f, nil)))
	// Duplicate members in the header.
	f.Add(sign(testKey, `{"alg":"EdDSA","alg":"none","kid":"`+kid+`"}`, payload(f, nil)))
	// Expired, and a fractional NumericDate.
	f.Add(sign(testKey, hdr(kid), payload(f, map[string]any{"exp": 1.5})))
	// Valid, then padded signature.
	f.Add(good + "==")
	// Extra segment, empty segments, dots only.
	f.Add(good + "." + parts[2])
	f.Add("..")
	f.Add("")
	// Payload that is not an object, header that is JSON null.
	f.Add(sign(testKey, "null", "[]"))
	// Deeply nested metadata.
	f.Add(sign(testKey, hdr(kid), payload(f, map[string]any{"metadata": strings.Repeat("[", 500)})))

	keys := NewKeySet(testPub, otherPub)
	f.Fuzz(func(t *testing.T, token string) {
		c, err := Verify(token, keys, testOpts)
		if err != nil {
			if c != nil {
				t.Fatalf("claims with an error: %v", err)
			}
			return
		}
		i := strings.LastIndexByte(token, '.')
		in := token[:i]
		hs, _, _ := strings.Cut(in, ".")
		h, _ := b64.DecodeString(hs)
		key := testKey
		if strings.Contains(string(h), Thumbprint(otherPub)) {
			key = otherKey
		}
		if want := in + "." + b64.EncodeToString(signBytes(key, in)); token != want {
			t.Fatalf("accepted a token that is not the canonical signature:\n%q\n%q", token, want)
		}
		if c.Email == "" || c.ID == "" || c.Issuer != testIss || c.Audience != testAud {
			t.Fatalf("accepted claims %+v", c)
		}
	})
}
