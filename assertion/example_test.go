package assertion_test

import (
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/linkguard/linkguard/assertion"
)

func Example() {
	// At the kit: a key (LoadOrCreateKey in production), a Signer, a token.
	key := ed25519.NewKeyFromSeed(sha256.New().Sum(nil))
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	signer := assertion.NewSigner(key, "https://kit.example.com", func() time.Time { return now })
	token, err := signer.Sign(assertion.Claims{
		Audience: "https://app.example.com", Email: "alice@example.com", LinkID: "lnk_01hq3v6x4m2k8c9b7n5r0t1w2y",
		Verdict: &assertion.Verdict{Decision: "consume", Score: 0.93},
	})
	if err != nil {
		panic(err)
	}

	// At the host: the JWKS (fetched from /.well-known/jwks.json), then Verify.
	keys, err := assertion.ParseJWKS(signer.JWKS())
	if err != nil {
		panic(err)
	}
	claims, err := assertion.Verify(token, keys, assertion.VerifyOptions{
		Issuer: "https://kit.example.com", Audience: "https://app.example.com",
		Now: now.Add(5 * time.Second), Leeway: 30 * time.Second,
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(claims.Email, claims.EmailVerified, claims.LinkID, claims.AMR, claims.ExpiresAt.Sub(claims.IssuedAt))

	// A minute and a half later the same token is refused.
	_, err = assertion.Verify(token, keys, assertion.VerifyOptions{
		Issuer: "https://kit.example.com", Audience: "https://app.example.com", Now: now.Add(91 * time.Second),
		Leeway: 30 * time.Second,
	})
	fmt.Println(err)
	// Output:
	// alice@example.com true lnk_01hq3v6x4m2k8c9b7n5r0t1w2y [email_link] 1m0s
	// token expired: exp 2026-03-01T12:01:00Z is not after now 2026-03-01T12:01:31Z
}
