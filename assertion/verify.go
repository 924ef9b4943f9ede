package assertion

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	jose "github.com/go-jose/go-jose/v4"
	josejson "github.com/go-jose/go-jose/v4/json"
	"github.com/go-jose/go-jose/v4/jwt"
)

// The errors Verify wraps; test them with errors.Is. The message of the
// returned error adds the detail (which claim, which value).
var (
	ErrTooLarge    = errors.New("token too large")
	ErrMalformed   = errors.New("malformed token")
	ErrAlgorithm   = errors.New("unsupported algorithm")
	ErrUnknownKey  = errors.New("unknown signing key")
	ErrSignature   = errors.New("bad signature")
	ErrExpired     = errors.New("token expired")
	ErrNotYetValid = errors.New("token not yet valid")
	ErrIssuer      = errors.New("wrong issuer")
	ErrAudience    = errors.New("wrong audience")
	ErrClaims      = errors.New("invalid claims")
	ErrOptions     = errors.New("invalid verify options")
)

// VerifyOptions says what a valid token must carry.
type VerifyOptions struct {
	// Issuer is the kit's public URL, exactly as configured there
	// (LINKGUARD_PUBLIC_URL). Required.
	Issuer string
	// Audience is the host's own origin, scheme://host[:port], lower-case,
	// without a default port or trailing slash. Required.
	Audience string
	// Now is the time to check against; zero means time.Now().
	Now time.Time
	// Leeway tolerates clock skew on exp, nbf and iat; 0 to 5 minutes.
	Leeway time.Duration
}

// Verify checks token against keys and want, and returns its claims.
// It accepts only a compact JWS with alg "EdDSA" whose kid is in keys and
// whose Ed25519 signature is valid, then requires iss == want.Issuer,
// want.Audience in aud (a string or an array), exp after now, nbf (when
// present) and iat not after now (both with want.Leeway), and non-empty
// email and jti. Headers with "crit" are refused. Every error wraps one of
// the Err values above.
// NB: Verify cannot know whether the jti was seen before: the caller must
// record it until exp and refuse a second use.
func Verify(token string, keys *KeySet, want VerifyOptions) (*Claims, error) {
	switch {
	case want.Issuer == "":
		return nil, fmt.Errorf("%w: Issuer is required", ErrOptions)
	case want.Audience == "":
		return nil, fmt.Errorf("%w: Audience is required", ErrOptions)
	case want.Leeway < 0 || want.Leeway > 5*time.Minute:
		return nil, fmt.Errorf("%w: Leeway %s is outside 0..5m", ErrOptions, want.Leeway)
	case keys == nil || len(keys.keys) == 0:
		return nil, fmt.Errorf("%w: no keys to verify with", ErrOptions)
	}
	if len(token) > MaxTokenSize {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrTooLarge, len(token), MaxTokenSize)
	}
	if n := strings.Count(token, "."); n != 2 {
		return nil, fmt.Errorf("%w: %d dots, want 2 (header.payload.signature)", ErrMalformed, n)
	}
	hSeg, rest, _ := strings.Cut(token, ".")
	pSeg, sSeg, _ := strings.Cut(rest, ".")

	jws, err := jose.ParseSignedCompact(token, algorithms)
	if err != nil {
		var alg *jose.ErrUnexpectedSignatureAlgorithm
		switch {
		case errors.As(err, &alg):
			return nil, fmt.Errorf("%w: alg %q, want \"EdDSA\"", ErrAlgorithm, clip(string(alg.Got)))
		case !canonical(sSeg):
			return nil, fmt.Errorf("%w: signature is not %d bytes of base64url", ErrSignature, ed25519.SignatureSize)
		}
		return nil, fmt.Errorf("%w: %s", ErrMalformed, clip(err.Error()))
	}
	sig := jws.Signatures[0]
	h := sig.Protected
	switch {
	case h.Algorithm == "":
		return nil, fmt.Errorf("%w: header has no alg", ErrAlgorithm)
	case h.Algorithm != string(jose.EdDSA):
		return nil, fmt.Errorf("%w: alg %q, want \"EdDSA\"", ErrAlgorithm, clip(h.Algorithm))
	}
	if _, ok := h.ExtraHeaders["crit"]; ok {
		return nil, fmt.Errorf("%w: header has \"crit\", which is not supported", ErrMalformed)
	}
	if v, ok := h.ExtraHeaders[jose.HeaderType]; ok {
		typ, isString := v.(string)
		if !isString {
			return nil, fmt.Errorf("%w: header: \"typ\" is not a string", ErrMalformed)
		}
		if !strings.EqualFold(typ, "JWT") && !strings.EqualFold(typ, "application/jwt") {
			return nil, fmt.Errorf("%w: typ %q, want \"JWT\"", ErrMalformed, clip(typ))
		}
	}
	if h.KeyID == "" {
		return nil, fmt.Errorf("%w: header has no kid", ErrUnknownKey)
	}
	pub, ok := keys.Lookup(h.KeyID)
	if !ok {
		return nil, fmt.Errorf("%w: kid %q is not in the key set", ErrUnknownKey, clip(h.KeyID))
	}
	// go-jose decodes the segments leniently (spare bits, CR and LF) and
	// checks the signature over their re-encoding, so one signed token
	// would have many accepted spellings. Only the canonical one passes:
	// a valid token is then exactly what the key signed (FuzzVerify).
	if !canonical(hSeg) || !canonical(pSeg) {
		return nil, fmt.Errorf("%w: header or payload is not canonical base64url without padding", ErrMalformed)
	}
	if !canonical(sSeg) || len(sig.Signature) != ed25519.SignatureSize {
		return nil, fmt.Errorf("%w: signature is not %d bytes of base64url", ErrSignature, ed25519.SignatureSize)
	}
	payload, err := jws.Verify(pub)
	if err != nil {
		return nil, fmt.Errorf("%w: signature does not match kid %q", ErrSignature, clip(h.KeyID))
	}

	// From here on the bytes are the signer's; the checks are about the
	// claims, not about forgery.
	obj, err := object(payload)
	if err != nil {
		return nil, fmt.Errorf("%w: payload: %v", ErrMalformed, err)
	}
	c, err := obj.claims()
	if err != nil {
		return nil, err
	}
	now := want.Now
	if now.IsZero() {
		now = time.Now()
	}
	if c.Issuer != want.Issuer {
		return nil, fmt.Errorf("%w: iss %q, want %q", ErrIssuer, clip(c.Issuer), want.Issuer)
	}
	auds, err := obj.audience()
	if err != nil {
		return nil, err
	}
	found := false
	for _, a := range auds {
		found = found || a == want.Audience
	}
	if !found {
		return nil, fmt.Errorf("%w: aud %q, want %q", ErrAudience, clip(strings.Join(auds, " ")), want.Audience)
	}
	c.Audience = want.Audience
	if !now.Before(c.ExpiresAt.Add(want.Leeway)) {
		return nil, fmt.Errorf("%w: exp %s is not after now %s", ErrExpired, stamp(c.ExpiresAt), stamp(now))
	}
	if !c.NotBefore.IsZero() && now.Add(want.Leeway).Before(c.NotBefore) {
		return nil, fmt.Errorf("%w: nbf %s is after now %s", ErrNotYetValid, stamp(c.NotBefore), stamp(now))
	}
	if now.Add(want.Leeway).Before(c.IssuedAt) {
		return nil, fmt.Errorf("%w: iat %s is after now %s", ErrNotYetValid, stamp(c.IssuedAt), stamp(now))
	}
	return c, nil
}

// algorithms is what ParseSignedCompact lets through: EdDSA, and no alg
// at all, so that a header without one is refused below as ErrAlgorithm
// while an alg that is not a string fails parsing as ErrMalformed.
// NB: Verify then requires alg to be exactly EdDSA before it looks up a
// key, and go-jose's Ed25519 verifier checks it again.
var algorithms = []jose.SignatureAlgorithm{jose.EdDSA, ""}

// canonical reports whether seg is base64url without padding exactly as
// an encoder writes it.
func canonical(seg string) bool {
	b, err := b64.DecodeString(seg)
	return err == nil && b64.EncodeToString(b) == seg
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// jsonObject is one JSON object, member by member, parsed with go-jose's
// JSON: exact (case-sensitive) names and no duplicates, unlike
// encoding/json, which matches names case-insensitively and keeps the last
// of duplicates.
type jsonObject map[string]josejson.RawMessage

func object(b []byte) (jsonObject, error) {
	if !utf8.Valid(b) {
		return nil, errors.New("not valid UTF-8")
	}
	var o jsonObject
	if err := josejson.Unmarshal(b, &o); err != nil {
		return nil, errors.New(clip(err.Error()))
	}
	if o == nil {
		return nil, errors.New("not a JSON object")
	}
	return o, nil
}

// str returns member name as a string; present but not a string is an
// error.
func (o jsonObject) str(name string) (string, bool, error) {
	raw, ok := o[name]
	if !ok {
		return "", false, nil
	}
	var s string
	if raw[0] != '"' || josejson.Unmarshal(raw, &s) != nil {
		return "", true, fmt.Errorf("%q is not a string", name)
	}
	return s, true, nil
}

// date reads a NumericDate: seconds since the epoch, possibly fractional.
func (o jsonObject) date(name string) (time.Time, bool, error) {
	raw, ok := o[name]
	if !ok {
		return time.Time{}, false, nil
	}
	bad := fmt.Errorf("%w: %s is not a NumericDate", ErrClaims, name)
	if c := raw[0]; c != '-' && (c < '0' || c > '9') {
		return time.Time{}, true, bad
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	// 0 .. year 5138: beyond that time.Unix arithmetic stops being sane
	// and no honest token goes there.
	if err != nil || f < 0 || f > 1e11 {
		return time.Time{}, true, bad
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), true, nil
}

func (o jsonObject) audience() ([]string, error) {
	raw, ok := o["aud"]
	if !ok {
		return nil, fmt.Errorf("%w: aud is missing", ErrAudience)
	}
	var aud jwt.Audience
	if err := josejson.Unmarshal(raw, &aud); err != nil {
		return nil, fmt.Errorf("%w: aud is neither a string nor an array of strings", ErrAudience)
	}
	return aud, nil
}

func (o jsonObject) claims() (*Claims, error) {
	c := &Claims{}
	var err error
	strs := []struct {
		name     string
		dst      *string
		required bool
	}{
		{"iss", &c.Issuer, true}, {"sub", &c.Subject, false}, {"email", &c.Email, true},
		{"jti", &c.ID, true}, {"lnk", &c.LinkID, false},
	}
	for _, s := range strs {
		var ok bool
		*s.dst, ok, err = o.str(s.name)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrClaims, err)
		}
		if s.required && (!ok || *s.dst == "") {
			return nil, fmt.Errorf("%w: %s is missing or empty", ErrClaims, s.name)
		}
	}
	var ok bool
	if c.ExpiresAt, ok, err = o.date("exp"); err != nil {
		return nil, err
	} else if !ok {
		return nil, fmt.Errorf("%w: exp is missing", ErrClaims)
	}
	if c.IssuedAt, ok, err = o.date("iat"); err != nil {
		return nil, err
	} else if !ok {
		return nil, fmt.Errorf("%w: iat is missing", ErrClaims)
	}
	if c.NotBefore, _, err = o.date("nbf"); err != nil {
		return nil, err
	}
	if raw, ok := o["email_verified"]; ok {
		if err := josejson.Unmarshal(raw, &c.EmailVerified); err != nil {
			return nil, fmt.Errorf("%w: email_verified is not a boolean", ErrClaims)
		}
	}
	if raw, ok := o["metadata"]; ok && string(raw) != "null" {
		c.Metadata = append(json.RawMessage(nil), raw...)
	}
	if raw, ok := o["verdict"]; ok && string(raw) != "null" {
		c.Verdict = &Verdict{}
		if err := josejson.Unmarshal(raw, c.Verdict); err != nil {
			return nil, fmt.Errorf("%w: verdict is not {\"decision\",\"score\"}", ErrClaims)
		}
	}
	if raw, ok := o["amr"]; ok && string(raw) != "null" {
		if err := josejson.Unmarshal(raw, &c.AMR); err != nil {
			return nil, fmt.Errorf("%w: amr is not an array of strings", ErrClaims)
		}
	}
	return c, nil
}
