// Package assertion issues and verifies the signed handoff assertion: a
// compact JWS (a JWT) signed with Ed25519 ("EdDSA", RFC 8037) that the
// redirect to the host site carries as lg_assertion=<jwt>, so that a host
// can verify a signature against the kit's JWKS instead of calling
// POST /v1/exchange.
//
// The JOSE formats (JWS compact serialisation, JWK, JWKS, thumbprints)
// come from go-jose; this package decides what is signed (the claims,
// their names and order), which tokens are accepted (one algorithm, one
// key type, kid lookup, the claim checks) and how each refusal is named.
// It imports only the standard library and go-jose, so a host can use it
// without the kit's server. Tests check it against go-jose's JWT package
// and Node's crypto in both directions.
package assertion

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// DefaultTTL is the lifetime Sign gives a token whose ExpiresAt is zero.
// The browser follows the redirect at once; a minute covers slow networks
// and small clock skew.
const DefaultTTL = 60 * time.Second

// MaxTokenSize is the longest token Verify accepts and Sign produces.
const MaxTokenSize = 8 << 10

// Verdict is the summary of the decision that consumed the link.
type Verdict struct {
	Decision string  `json:"decision"`
	Score    float64 `json:"score"`
}

// Claims is the content of an assertion. Times are whole seconds on the
// wire (NumericDate).
type Claims struct {
	Issuer        string          // iss: the kit's public URL
	Audience      string          // aud: the origin of the link's redirect_url
	Subject       string          // sub: the email address
	Email         string          // email
	EmailVerified bool            // email_verified: always true in tokens Sign makes
	IssuedAt      time.Time       // iat
	NotBefore     time.Time       // nbf
	ExpiresAt     time.Time       // exp
	ID            string          // jti: single-use on the host side
	LinkID        string          // lnk: the link id
	Metadata      json.RawMessage // metadata: the link's metadata, optional
	Verdict       *Verdict        // verdict: {"decision","score"}, optional
	AMR           []string        // amr: e.g. ["email_link"] or ["email_link","code"]
}

// wireClaims is Claims as Sign writes it, in this member order.
type wireClaims struct {
	Iss           string          `json:"iss"`
	Aud           string          `json:"aud"`
	Sub           string          `json:"sub"`
	Email         string          `json:"email"`
	EmailVerified bool            `json:"email_verified"`
	Iat           int64           `json:"iat"`
	Nbf           int64           `json:"nbf"`
	Exp           int64           `json:"exp"`
	Jti           string          `json:"jti"`
	Lnk           string          `json:"lnk"`
	Metadata      json.RawMessage `json:"metadata,omitempty"`
	Verdict       *Verdict        `json:"verdict,omitempty"`
	AMR           []string        `json:"amr,omitempty"`
}

// Signer signs assertions with one current key and publishes it, with any
// previous public keys, as a JWKS. It is safe for concurrent use.
type Signer struct {
	kid    string
	issuer string
	now    func() time.Time
	rand   io.Reader
	jws    jose.Signer // EdDSA with kid and typ "JWT" in the protected header
	keys   *KeySet
	jwks   []byte

	previous []ed25519.PublicKey
}

// Option configures a Signer.
type Option func(*Signer)

// WithPrevious keeps publishing retired public keys in the JWKS so that
// tokens signed just before a key rotation still verify. Keep one at
// least DefaultTTL plus the hosts' leeway after the rotation; longer does
// no harm.
// NB: it panics on a key that is not ed25519.PublicKeySize bytes.
func WithPrevious(pubs ...ed25519.PublicKey) Option {
	return func(s *Signer) { s.previous = append(s.previous, pubs...) }
}

// WithRand sets the source of the random part of generated jti values
// (crypto/rand by default).
func WithRand(r io.Reader) Option { return func(s *Signer) { s.rand = r } }

// NewSigner returns a Signer that signs with key as issuer. now may be nil
// (time.Now).
// NB: it panics if key is not an ed25519.PrivateKeySize key, as that is a
// programming error; LoadOrCreateKey returns only valid keys.
func NewSigner(key ed25519.PrivateKey, issuer string, now func() time.Time, opts ...Option) *Signer {
	if len(key) != ed25519.PrivateKeySize {
		panic(fmt.Sprintf("assertion: private key of %d bytes, want %d", len(key), ed25519.PrivateKeySize))
	}
	if now == nil {
		now = time.Now
	}
	pub := key.Public().(ed25519.PublicKey)
	s := &Signer{issuer: issuer, now: now, rand: rand.Reader, kid: Thumbprint(pub)}
	for _, o := range opts {
		o(s)
	}
	s.keys = NewKeySet(append([]ed25519.PublicKey{pub}, s.previous...)...)
	s.previous = nil
	jws, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: jose.JSONWebKey{Key: key, KeyID: s.kid}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		panic(fmt.Sprintf("assertion: %v", err))
	}
	s.jws = jws
	s.jwks, _ = s.keys.MarshalJSON()
	return s
}

// KeyID returns the kid of the current key.
func (s *Signer) KeyID() string { return s.kid }

// Issuer returns the iss that Sign writes.
func (s *Signer) Issuer() string { return s.issuer }

// KeySet returns the published keys: the current one first, then the
// previous ones.
func (s *Signer) KeySet() *KeySet { return s.keys }

// JWKS returns the JSON document to serve at GET /.well-known/jwks.json
// (Content-Type application/json; a short Cache-Control max-age such as
// 300 s lets hosts cache it while still seeing rotations soon).
func (s *Signer) JWKS() []byte { return append([]byte(nil), s.jwks...) }

// ErrSign is wrapped by every error of Sign.
var ErrSign = errors.New("sign assertion")

// Sign returns c as a compact JWS. It fills in what c leaves zero: Issuer
// (the Signer's; a different non-empty one is an error), Subject (the
// Email), IssuedAt (now, whole seconds), NotBefore (IssuedAt), ExpiresAt
// (IssuedAt + DefaultTTL), ID (LinkID + "." + 128 random bits) and AMR
// (["email_link"]). EmailVerified is always set: the link proved the
// address. Audience, Email and LinkID are required; Metadata, when set,
// must be valid JSON.
func (s *Signer) Sign(c Claims) (string, error) {
	switch {
	case c.Audience == "":
		return "", fmt.Errorf("%w: audience is required", ErrSign)
	case c.Email == "":
		return "", fmt.Errorf("%w: email is required", ErrSign)
	case c.LinkID == "":
		return "", fmt.Errorf("%w: link id is required", ErrSign)
	case c.Issuer != "" && c.Issuer != s.issuer:
		return "", fmt.Errorf("%w: issuer %q differs from the signer's %q", ErrSign, c.Issuer, s.issuer)
	}
	if c.Subject == "" {
		c.Subject = c.Email
	}
	if c.IssuedAt.IsZero() {
		c.IssuedAt = s.now()
	}
	if c.NotBefore.IsZero() {
		c.NotBefore = c.IssuedAt
	}
	if c.ExpiresAt.IsZero() {
		c.ExpiresAt = c.IssuedAt.Add(DefaultTTL)
	}
	if !c.ExpiresAt.After(c.IssuedAt) || c.ExpiresAt.Before(c.NotBefore) {
		return "", fmt.Errorf("%w: expiry %s is not after issue %s and not-before %s", ErrSign,
			c.ExpiresAt.UTC().Format(time.RFC3339), c.IssuedAt.UTC().Format(time.RFC3339), c.NotBefore.UTC().Format(time.RFC3339))
	}
	if c.ID == "" {
		var r [16]byte
		if _, err := io.ReadFull(s.rand, r[:]); err != nil {
			return "", fmt.Errorf("%w: random jti: %v", ErrSign, err)
		}
		c.ID = c.LinkID + "." + b64.EncodeToString(r[:])
	}
	if len(c.AMR) == 0 {
		c.AMR = []string{"email_link"}
	}
	if len(c.Metadata) > 0 {
		var buf bytes.Buffer
		if err := json.Compact(&buf, c.Metadata); err != nil {
			return "", fmt.Errorf("%w: metadata is not valid JSON: %v", ErrSign, err)
		}
		c.Metadata = buf.Bytes()
	}
	if c.Verdict != nil && (math.IsNaN(c.Verdict.Score) || math.IsInf(c.Verdict.Score, 0)) {
		return "", fmt.Errorf("%w: verdict score is not a finite number", ErrSign)
	}
	w := wireClaims{Iss: s.issuer, Aud: c.Audience, Sub: c.Subject, Email: c.Email, EmailVerified: true,
		Iat: c.IssuedAt.Unix(), Nbf: c.NotBefore.Unix(), Exp: c.ExpiresAt.Unix(),
		Jti: c.ID, Lnk: c.LinkID, Metadata: c.Metadata, Verdict: c.Verdict, AMR: c.AMR}
	var payload bytes.Buffer
	enc := json.NewEncoder(&payload)
	enc.SetEscapeHTML(false) // keep metadata with <, > or & from growing sixfold
	if err := enc.Encode(w); err != nil {
		return "", fmt.Errorf("%w: %v", ErrSign, err)
	}
	// NB: the payload bytes are ours (member order, no HTML escaping);
	// go-jose only wraps them, so the wire claims stay as documented.
	obj, err := s.jws.Sign(bytes.TrimSuffix(payload.Bytes(), []byte("\n")))
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrSign, err)
	}
	tok, err := obj.CompactSerialize()
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrSign, err)
	}
	if len(tok) > MaxTokenSize {
		return "", fmt.Errorf("%w: token would be %d bytes, more than %d (metadata too large?)", ErrSign, len(tok), MaxTokenSize)
	}
	return tok, nil
}
