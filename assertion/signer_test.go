package assertion

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestRoundTrip(t *testing.T) {
	s := testSigner()
	tok, err := s.Sign(validClaims())
	if err != nil {
		t.Fatal(err)
	}
	c, err := Verify(tok, testKeys, testOpts)
	if err != nil {
		t.Fatal(err)
	}
	want := &Claims{Issuer: testIss, Audience: testAud, Subject: testEmail, Email: testEmail, EmailVerified: true,
		IssuedAt: testNow, NotBefore: testNow, ExpiresAt: testNow.Add(DefaultTTL),
		ID:     testLink + "." + b64.EncodeToString(bytes.Repeat([]byte{0xab}, 16)),
		LinkID: testLink, Metadata: json.RawMessage(`{"plan":"pro","next":"/a?b=1&c=<2>"}`),
		Verdict: &Verdict{Decision: "consume", Score: 0.93}, AMR: []string{"email_link"}}
	c.IssuedAt, c.NotBefore, c.ExpiresAt = c.IssuedAt.UTC(), c.NotBefore.UTC(), c.ExpiresAt.UTC()
	if !reflect.DeepEqual(c, want) {
		t.Errorf("claims:\n got %+v\nwant %+v", c, want)
	}
}

func TestSignWireFormat(t *testing.T) {
	tok, err := testSigner().Sign(validClaims())
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(tok, ".")
	h, _ := b64.DecodeString(parts[0])
	// go-jose writes the header's members in sorted order; the signer
	// before it wrote hdr()'s {"alg","typ","kid"}, which still verifies
	// (compat_test.go). Verifiers do not depend on member order.
	if got, want := string(h), `{"alg":"EdDSA","kid":"`+Thumbprint(testPub)+`","typ":"JWT"}`; got != want {
		t.Errorf("header %s, want %s", got, want)
	}
	p, _ := b64.DecodeString(parts[1])
	want := `{"iss":"https://kit.example.com","aud":"https://app.example.com","sub":"alice@example.com",` +
		`"email":"alice@example.com","email_verified":true,"iat":1772366400,"nbf":1772366400,"exp":1772366460,` +
		`"jti":"lnk_01hzzzzzzzzzzzzzzzzzzzzzzz.q6urq6urq6urq6urq6urqw","lnk":"lnk_01hzzzzzzzzzzzzzzzzzzzzzzz",` +
		`"metadata":{"plan":"pro","next":"/a?b=1&c=<2>"},"verdict":{"decision":"consume","score":0.93},"amr":["email_link"]}`
	if string(p) != want {
		t.Errorf("payload\n got %s\nwant %s", p, want)
	}
}

func TestSignDefaultsAndCallerValues(t *testing.T) {
	s := testSigner()
	c := Claims{Audience: testAud, Email: testEmail, LinkID: testLink, Subject: "user-42",
		IssuedAt: testNow.Add(-time.Second), ExpiresAt: testNow.Add(30 * time.Second), ID: "fixed",
		AMR: []string{"email_link", "code"}}
	tok, err := s.Sign(c)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Verify(tok, s.KeySet(), testOpts)
	if err != nil {
		t.Fatal(err)
	}
	if got.Subject != "user-42" || got.ID != "fixed" || !got.ExpiresAt.Equal(testNow.Add(30*time.Second)) ||
		!got.NotBefore.Equal(testNow.Add(-time.Second)) || !reflect.DeepEqual(got.AMR, []string{"email_link", "code"}) ||
		got.Metadata != nil || got.Verdict != nil {
		t.Errorf("claims %+v", got)
	}
	// jti values differ between tokens with crypto/rand.
	r := NewSigner(testKey, testIss, nil)
	a, _ := r.Sign(validClaims())
	b, _ := r.Sign(validClaims())
	ca, _ := Verify(a, testKeys, VerifyOptions{Issuer: testIss, Audience: testAud})
	cb, _ := Verify(b, testKeys, VerifyOptions{Issuer: testIss, Audience: testAud})
	if ca == nil || cb == nil || ca.ID == cb.ID || !strings.HasPrefix(ca.ID, testLink+".") {
		t.Errorf("jti %v %v", ca, cb)
	}
}

func TestSignRejects(t *testing.T) {
	big := json.RawMessage(`{"x":"` + strings.Repeat("a", 6000) + `"}`)
	cases := []struct {
		name string
		edit func(*Claims)
	}{
		{"reject/no audience", func(c *Claims) { c.Audience = "" }},
		{"reject/no email", func(c *Claims) { c.Email = "" }},
		{"reject/no link id", func(c *Claims) { c.LinkID = "" }},
		{"reject/other issuer", func(c *Claims) { c.Issuer = "https://evil.example" }},
		{"reject/metadata not JSON", func(c *Claims) { c.Metadata = json.RawMessage(`{"a":`) }},
		{"reject/exp before iat", func(c *Claims) { c.IssuedAt = testNow; c.ExpiresAt = testNow.Add(-time.Second) }},
		{"reject/exp before nbf", func(c *Claims) { c.NotBefore = testNow.Add(2 * time.Minute) }},
		{"reject/score NaN", func(c *Claims) { c.Verdict = &Verdict{Score: math.NaN()} }},
		{"reject/token over 8 KiB", func(c *Claims) { c.Metadata = big }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := validClaims()
			tc.edit(&c)
			tok, err := testSigner().Sign(c)
			if !errors.Is(err, ErrSign) || tok != "" {
				t.Fatalf("Sign = %q, %v; want ErrSign", tok, err)
			}
			t.Log(err)
		})
	}
	// 4 KiB of metadata (the API's limit), even of characters JSON could
	// escape, fits.
	c := validClaims()
	c.Metadata = json.RawMessage(`{"x":"` + strings.Repeat("<&>", 1360) + `"}`)
	if _, err := testSigner().Sign(c); err != nil {
		t.Errorf("4 KiB metadata: %v", err)
	}
}

func TestNewSignerPanicsOnBadKey(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic")
		}
	}()
	NewSigner(ed25519.PrivateKey(make([]byte, 10)), testIss, nil)
}

func TestRotation(t *testing.T) {
	old := NewSigner(otherKey, testIss, func() time.Time { return testNow })
	tok, err := old.Sign(validClaims())
	if err != nil {
		t.Fatal(err)
	}
	cur := NewSigner(testKey, testIss, func() time.Time { return testNow }, WithPrevious(otherPub, otherPub))
	set, err := ParseJWKS(cur.JWKS())
	if err != nil {
		t.Fatal(err)
	}
	keys := set.Keys()
	if len(keys) != 2 || keys[0].ID != cur.KeyID() || keys[1].ID != old.KeyID() {
		t.Fatalf("keys %+v", keys)
	}
	if _, err := Verify(tok, set, testOpts); err != nil {
		t.Errorf("old token with rotated JWKS: %v", err)
	}
	if _, err := Verify(tok, NewKeySet(testPub), testOpts); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("old token without the previous key: %v", err)
	}
	// JWKS returns a copy.
	j := cur.JWKS()
	j[0] = 'X'
	if cur.JWKS()[0] != '{' {
		t.Error("JWKS shares its buffer")
	}
}

// TestSignConcurrently backs "safe for concurrent use" now that Sign goes
// through one shared go-jose signer (run it with -race).
func TestSignConcurrently(t *testing.T) {
	s := testSigner()
	want, err := s.Sign(validClaims())
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 20 {
				if got, err := s.Sign(validClaims()); err != nil || got != want {
					t.Errorf("Sign = %q, %v", got, err)
					return
				}
			}
		})
	}
	wg.Wait()
}
