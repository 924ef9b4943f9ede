package assertion

import (
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"
)

// TestTokensFromTheHandWrittenSigner verifies tokens and a JWKS made by the
// signer this package had before go-jose (testdata/README.md): hosts hold
// such tokens and cached JWKS documents across the upgrade.
func TestTokensFromTheHandWrittenSigner(t *testing.T) {
	raw, err := os.ReadFile("testdata/handwritten-signer.json")
	if err != nil {
		t.Fatal(err)
	}
	var fx struct {
		JWKS          string `json:"jwks"`
		Token         string `json:"token"`
		TokenPrevious string `json:"token_previous"`
	}
	if err := json.Unmarshal(raw, &fx); err != nil {
		t.Fatal(err)
	}
	set, err := ParseJWKS([]byte(fx.JWKS))
	if err != nil {
		t.Fatalf("the old JWKS: %v", err)
	}
	if ks := set.Keys(); len(ks) != 2 || ks[0].ID != Thumbprint(testPub) || ks[1].ID != Thumbprint(otherPub) ||
		!ks[0].Public.Equal(testPub) || !ks[1].Public.Equal(otherPub) {
		t.Fatalf("old JWKS keys %+v", ks)
	}
	if got := string(NewSigner(testKey, testIss, nil, WithPrevious(otherPub)).JWKS()); got != fx.JWKS {
		// Member order may differ; the keys may not.
		now, _ := ParseJWKS([]byte(got))
		if !reflect.DeepEqual(now.Keys(), set.Keys()) {
			t.Errorf("the JWKS now publishes other keys:\n%s\nwas\n%s", got, fx.JWKS)
		}
	}
	jti := testLink + ".q6urq6urq6urq6urq6urqw"
	want := func(amr []string, meta string) *Claims {
		c := &Claims{Issuer: testIss, Audience: testAud, Subject: testEmail, Email: testEmail, EmailVerified: true,
			IssuedAt: testNow, NotBefore: testNow, ExpiresAt: testNow.Add(DefaultTTL), ID: jti, LinkID: testLink,
			Verdict: &Verdict{Decision: "consume", Score: 0.93}, AMR: amr}
		if meta != "" {
			c.Metadata = json.RawMessage(meta)
		}
		return c
	}
	cases := []struct {
		name  string
		token string
		keys  *KeySet
		want  *Claims
	}{
		{"accept/current key, old JWKS", fx.Token, set, want([]string{"email_link"}, `{"plan":"pro","next":"/a?b=1&c=<2>"}`)},
		{"accept/current key, key set", fx.Token, NewKeySet(testPub), want([]string{"email_link"}, `{"plan":"pro","next":"/a?b=1&c=<2>"}`)},
		{"accept/previous key, old JWKS", fx.TokenPrevious, set, want([]string{"email_link", "code"}, "")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Verify(tc.token, tc.keys, testOpts)
			if err != nil {
				t.Fatal(err)
			}
			c.IssuedAt, c.NotBefore, c.ExpiresAt = c.IssuedAt.UTC(), c.NotBefore.UTC(), c.ExpiresAt.UTC()
			if !reflect.DeepEqual(c, tc.want) {
				t.Errorf("claims:\n got %+v\nwant %+v", c, tc.want)
			}
		})
	}
	// They expire like any other token.
	late := testOpts
	late.Now = testNow.Add(DefaultTTL)
	if _, err := Verify(fx.Token, set, late); err == nil {
		t.Error("an old token verified after its exp")
	}
	// And the payload the new signer writes is the old one, byte for byte:
	// only the header's member order may differ.
	tok, err := testSigner().Sign(validClaims())
	if err != nil {
		t.Fatal(err)
	}
	if got, old := strings.Split(tok, ".")[1], strings.Split(fx.Token, ".")[1]; got != old {
		t.Errorf("payload changed:\n got %s\n was %s", got, old)
	}
}
