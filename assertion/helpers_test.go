package assertion

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"testing"
	"time"
)

// Fixed material so that tokens, seeds and failures are reproducible.
var (
	testSeed  = bytes.Repeat([]byte{7}, ed25519.SeedSize)
	testKey   = ed25519.NewKeyFromSeed(testSeed)
	testPub   = testKey.Public().(ed25519.PublicKey)
	otherKey  = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, ed25519.SeedSize))
	otherPub  = otherKey.Public().(ed25519.PublicKey)
	testNow   = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	testIss   = "https://kit.example.com"
	testAud   = "https://app.example.com"
	testOpts  = VerifyOptions{Issuer: testIss, Audience: testAud, Now: testNow}
	testKeys  = NewKeySet(testPub)
	testLink  = "lnk_01hzzzzzzzzzzzzzzzzzzzzzzz"
	testEmail = "alice@example.com"
)

// zeroRand is a deterministic Rand for jti values.
type zeroRand struct{}

func (zeroRand) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 0xab
	}
	return len(p), nil
}

func testSigner() *Signer {
	return NewSigner(testKey, testIss, func() time.Time { return testNow }, WithRand(zeroRand{}))
}

func validClaims() Claims {
	return Claims{Audience: testAud, Email: testEmail, LinkID: testLink,
		Metadata: json.RawMessage(`{"plan": "pro", "next": "/a?b=1&c=<2>"}`),
		Verdict:  &Verdict{Decision: "consume", Score: 0.93}, AMR: []string{"email_link"}}
}

// sign makes a compact JWS over exactly these header and payload bytes.
func sign(key ed25519.PrivateKey, header, payload string) string {
	in := b64.EncodeToString([]byte(header)) + "." + b64.EncodeToString([]byte(payload))
	return in + "." + b64.EncodeToString(ed25519.Sign(key, []byte(in)))
}

func hdr(kid string) string { return `{"alg":"EdDSA","typ":"JWT","kid":"` + kid + `"}` }

// payload returns valid claims as JSON with edits applied: a nil value
// deletes the member.
func payload(t testing.TB, edits map[string]any) string {
	t.Helper()
	m := map[string]any{
		"iss": testIss, "aud": testAud, "sub": testEmail, "email": testEmail, "email_verified": true,
		"iat": testNow.Unix(), "nbf": testNow.Unix(), "exp": testNow.Unix() + 60,
		"jti": testLink + ".x", "lnk": testLink,
	}
	for k, v := range edits {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func signBytes(key ed25519.PrivateKey, in string) []byte { return ed25519.Sign(key, []byte(in)) }
