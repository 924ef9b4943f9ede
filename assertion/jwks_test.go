package assertion

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// RFC 8037 Appendix A: the Ed25519 key, its thumbprint, and a signature.
func TestRFC8037Vectors(t *testing.T) {
	d, _ := b64.DecodeString("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A")
	key := ed25519.NewKeyFromSeed(d)
	pub := key.Public().(ed25519.PublicKey)
	if got := b64.EncodeToString(pub); got != "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo" {
		t.Fatalf("x = %s", got)
	}
	if got := Thumbprint(pub); got != "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k" {
		t.Errorf("thumbprint = %s", got)
	}
	in := "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc"
	if got := b64.EncodeToString(ed25519.Sign(key, []byte(in))); got != "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg" {
		t.Errorf("signature = %s", got)
	}
}

func TestJWKSDocument(t *testing.T) {
	s := testSigner()
	var doc map[string][]map[string]string
	if err := json.Unmarshal(s.JWKS(), &doc); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"kty": "OKP", "crv": "Ed25519", "x": b64.EncodeToString(testPub),
		"kid": Thumbprint(testPub), "alg": "EdDSA", "use": "sig"}
	if len(doc["keys"]) != 1 || len(doc) != 1 {
		t.Fatalf("doc %v", doc)
	}
	for k, v := range want {
		if doc["keys"][0][k] != v {
			t.Errorf("%s = %q, want %q", k, doc["keys"][0][k], v)
		}
	}
	if len(doc["keys"][0]) != len(want) {
		t.Errorf("extra members: %v", doc["keys"][0])
	}
	if strings.Contains(string(s.JWKS()), `"d"`) {
		t.Error("private key published")
	}
}

func TestParseJWKS(t *testing.T) {
	x := b64.EncodeToString(testPub)
	ok := func(extra string) string {
		return `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"` + x + `"` + extra + `}]}`
	}
	rsa := `{"kty":"RSA","n":"0vx7","e":"AQAB","kid":"r1"}`
	t.Run("accept/kid kept", func(t *testing.T) {
		s, err := ParseJWKS([]byte(ok(`,"kid":"k1","alg":"EdDSA","use":"sig"`)))
		if err != nil {
			t.Fatal(err)
		}
		if p, found := s.Lookup("k1"); !found || !p.Equal(testPub) {
			t.Error("k1 not found")
		}
	})
	t.Run("accept/no kid gets the thumbprint", func(t *testing.T) {
		s, err := ParseJWKS([]byte(ok(``)))
		if err != nil {
			t.Fatal(err)
		}
		if _, found := s.Lookup(Thumbprint(testPub)); !found {
			t.Error("thumbprint kid not found")
		}
	})
	t.Run("accept/other key types skipped", func(t *testing.T) {
		s, err := ParseJWKS([]byte(`{"keys":[` + rsa + `,{"kty":"OKP","crv":"X25519","x":"` + x + `"},` +
			`{"kty":"OKP","crv":"Ed25519","x":"` + x + `","kid":"k"}]}`))
		if err != nil || len(s.Keys()) != 1 {
			t.Fatal(s, err)
		}
	})
	cases := []struct{ name, doc string }{
		{"reject/not JSON", `{"keys":`},
		{"reject/keys not an array", `{"keys":{}}`},
		{"reject/trailing document", ok(``) + ok(``)},
		{"reject/no keys", `{"keys":[]}`},
		{"reject/only RSA", `{"keys":[` + rsa + `]}`},
		{"reject/private key published", ok(`,"d":"` + b64.EncodeToString(testSeed) + `"`)},
		{"reject/alg other", ok(`,"alg":"ES256"`)},
		{"reject/use enc", ok(`,"use":"enc"`)},
		{"reject/x short", `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"AAAA"}]}`},
		{"reject/x padded", `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"` + x + `="}]}`},
		{"reject/x missing", `{"keys":[{"kty":"OKP","crv":"Ed25519"}]}`},
		{"reject/kid not a string", ok(`,"kid":7`)},
		{"reject/duplicate kid", `{"keys":[` + strings.TrimSuffix(strings.TrimPrefix(ok(`,"kid":"a"`), `{"keys":[`), `]}`) + `,` +
			strings.TrimSuffix(strings.TrimPrefix(ok(`,"kid":"a"`), `{"keys":[`), `]}`) + `]}`},
		{"reject/oversized", `{"keys":[],"pad":"` + strings.Repeat("a", MaxJWKSSize) + `"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := ParseJWKS([]byte(tc.doc))
			if s != nil || !errors.Is(err, ErrJWKS) {
				t.Fatalf("ParseJWKS = %v, %v", s, err)
			}
			t.Log(err)
		})
	}
}

func TestKeySetCopies(t *testing.T) {
	s := NewKeySet(testPub, testPub)
	if len(s.Keys()) != 1 {
		t.Errorf("duplicate key kept")
	}
	k := s.Keys()
	k[0].Public[0] ^= 1
	if p, _ := s.Lookup(Thumbprint(testPub)); !p.Equal(testPub) {
		t.Error("Keys shares key bytes")
	}
}
