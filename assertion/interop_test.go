package assertion

// Our tokens checked by go-jose, an independent, maintained JOSE library
// (a test-only dependency), and go-jose's tokens checked by us.

import (
	"crypto"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

type extraClaims struct {
	Email         string          `json:"email"`
	EmailVerified bool            `json:"email_verified"`
	LinkID        string          `json:"lnk"`
	Metadata      json.RawMessage `json:"metadata"`
	Verdict       *Verdict        `json:"verdict"`
	AMR           []string        `json:"amr"`
}

func TestGoJoseVerifiesOurTokens(t *testing.T) {
	s := NewSigner(testKey, testIss, func() time.Time { return testNow }, WithPrevious(otherPub))
	tok, err := s.Sign(validClaims())
	if err != nil {
		t.Fatal(err)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(s.JWKS(), &set); err != nil {
		t.Fatalf("go-jose reads our JWKS: %v", err)
	}
	if len(set.Keys) != 2 {
		t.Fatalf("%d keys", len(set.Keys))
	}
	for _, k := range set.Keys {
		if !k.Valid() || !k.IsPublic() || k.Algorithm != "EdDSA" || k.Use != "sig" {
			t.Errorf("key %+v", k)
		}
		tp, err := k.Thumbprint(crypto.SHA256)
		if err != nil || b64.EncodeToString(tp) != k.KeyID {
			t.Errorf("go-jose thumbprint %x != kid %s (%v)", tp, k.KeyID, err)
		}
	}

	parsed, err := jwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil {
		t.Fatal(err)
	}
	h := parsed.Headers[0]
	if h.KeyID != s.KeyID() || h.ExtraHeaders["typ"] != "JWT" {
		t.Errorf("header %+v", h)
	}
	keys := set.Key(h.KeyID)
	if len(keys) != 1 {
		t.Fatalf("kid %s not in go-jose's view of the JWKS", h.KeyID)
	}
	var std jwt.Claims
	var extra extraClaims
	if err := parsed.Claims(keys[0].Key, &std, &extra); err != nil {
		t.Fatalf("go-jose rejects our signature: %v", err)
	}
	if err := std.ValidateWithLeeway(jwt.Expected{Issuer: testIss, Subject: testEmail,
		AnyAudience: jwt.Audience{testAud}, Time: testNow}, 0); err != nil {
		t.Errorf("go-jose rejects our claims: %v", err)
	}
	if err := std.ValidateWithLeeway(jwt.Expected{Issuer: testIss, AnyAudience: jwt.Audience{testAud},
		Time: testNow.Add(DefaultTTL + time.Second)}, 0); err == nil {
		t.Error("go-jose accepts our token after exp")
	}
	if std.ID == "" || extra.Email != testEmail || !extra.EmailVerified || extra.LinkID != testLink ||
		extra.Verdict == nil || extra.Verdict.Decision != "consume" || string(extra.Metadata) != `{"plan":"pro","next":"/a?b=1&c=<2>"}` {
		t.Errorf("claims %+v %+v", std, extra)
	}

	// And a tampered token fails there too. The tamper flips one bit of
	// the decoded signature, so it always changes it (writing "AA" over
	// the end left it as it was when it already ended so).
	dot := strings.LastIndexByte(tok, '.')
	sigBytes, err := base64.RawURLEncoding.DecodeString(tok[dot+1:])
	if err != nil {
		t.Fatal(err)
	}
	sigBytes[len(sigBytes)/2] ^= 0x01
	bad := tok[:dot+1] + base64.RawURLEncoding.EncodeToString(sigBytes)
	if bad == tok {
		t.Fatal("the tamper left the token as it was")
	}
	if p, err := jwt.ParseSigned(bad, []jose.SignatureAlgorithm{jose.EdDSA}); err == nil {
		if err := p.Claims(keys[0].Key, &std); err == nil {
			t.Error("go-jose accepts a tampered token")
		}
	}
}

func TestWeVerifyGoJoseTokens(t *testing.T) {
	kid := Thumbprint(testPub)
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: testKey},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", kid))
	if err != nil {
		t.Fatal(err)
	}
	std := jwt.Claims{Issuer: testIss, Subject: testEmail, Audience: jwt.Audience{"https://other.example", testAud},
		IssuedAt: jwt.NewNumericDate(testNow), NotBefore: jwt.NewNumericDate(testNow),
		Expiry: jwt.NewNumericDate(testNow.Add(time.Minute)), ID: "jti-1"}
	extra := extraClaims{Email: testEmail, EmailVerified: true, LinkID: testLink,
		Metadata: json.RawMessage(`{"a":1}`), Verdict: &Verdict{Decision: "confirm", Score: 0.7}, AMR: []string{"email_link", "code"}}
	tok, err := jwt.Signed(sig).Claims(std).Claims(extra).Serialize()
	if err != nil {
		t.Fatal(err)
	}

	// The key set as go-jose publishes it.
	doc, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: testPub, KeyID: kid, Algorithm: string(jose.EdDSA), Use: "sig"},
		{Key: otherPub, KeyID: "old", Algorithm: string(jose.EdDSA), Use: "sig"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	set, err := ParseJWKS(doc)
	if err != nil {
		t.Fatalf("we read go-jose's JWKS: %v", err)
	}
	for name, keys := range map[string]*KeySet{"jwks": set, "keyset": NewKeySet(testPub)} {
		c, err := Verify(tok, keys, testOpts)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if c.Email != testEmail || c.Subject != testEmail || c.ID != "jti-1" || c.Audience != testAud ||
			c.Verdict.Decision != "confirm" || len(c.AMR) != 2 || string(c.Metadata) != `{"a":1}` {
			t.Errorf("%s: claims %+v", name, c)
		}
	}

	// A go-jose token under a key we do not have is refused.
	other, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: otherKey},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", kid))
	forged, _ := jwt.Signed(other).Claims(std).Claims(extra).Serialize()
	if _, err := Verify(forged, NewKeySet(testPub), testOpts); err == nil {
		t.Error("accepted a token signed by another key under our kid")
	}
}
