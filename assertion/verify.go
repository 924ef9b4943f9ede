package assertion

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
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

	hdrJSON, err := b64.DecodeString(hSeg)
	if err != nil {
		return nil, fmt.Errorf("%w: header is not base64url without padding", ErrMalformed)
	}
	hdr, err := object(hdrJSON)
	if err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrMalformed, err)
	}
	alg, ok, err := hdr.str("alg")
	if err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrMalformed, err)
	}
	if !ok {
		return nil, fmt.Errorf("%w: header has no alg", ErrAlgorithm)
	}
	if alg != "EdDSA" {
		return nil, fmt.Errorf("%w: alg %q, want \"EdDSA\"", ErrAlgorithm, clip(alg))
	}
	if _, ok := hdr["crit"]; ok {
		return nil, fmt.Errorf("%w: header has \"crit\", which is not supported", ErrMalformed)
	}
	if typ, ok, err := hdr.str("typ"); err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrMalformed, err)
	} else if ok && !strings.EqualFold(typ, "JWT") && !strings.EqualFold(typ, "application/jwt") {
		return nil, fmt.Errorf("%w: typ %q, want \"JWT\"", ErrMalformed, clip(typ))
	}
	kid, ok, err := hdr.str("kid")
	if err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrMalformed, err)
	}
	if !ok || kid == "" {
		return nil, fmt.Errorf("%w: header has no kid", ErrUnknownKey)
	}
	pub, ok := keys.Lookup(kid)
	if !ok {
		return nil, fmt.Errorf("%w: kid %q is not in the key set", ErrUnknownKey, clip(kid))
	}
	sig, err := b64.DecodeString(sSeg)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return nil, fmt.Errorf("%w: signature is not %d bytes of base64url", ErrSignature, ed25519.SignatureSize)
	}
	if !ed25519.Verify(pub, []byte(token[:len(hSeg)+1+len(pSeg)]), sig) {
		return nil, fmt.Errorf("%w: signature does not match kid %q", ErrSignature, clip(kid))
	}

	// From here on the bytes are the signer's; the checks are about the
	// claims, not about forgery.
	payload, err := b64.DecodeString(pSeg)
	if err != nil {
		return nil, fmt.Errorf("%w: payload is not base64url without padding", ErrMalformed)
	}
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

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// jsonObject is one JSON object, member by member, parsed with exact
// (case-sensitive) names and no duplicates, unlike json.Unmarshal into a
// struct, which matches names case-insensitively and keeps the last of
// duplicates.
type jsonObject map[string]json.RawMessage

func object(b []byte) (jsonObject, error) {
	if !utf8.Valid(b) {
		return nil, errors.New("not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, errors.New("not a JSON object")
	}
	o := jsonObject{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, errors.New("not a JSON object")
		}
		name, _ := t.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, errors.New("not a JSON object")
		}
		if _, dup := o[name]; dup {
			return nil, fmt.Errorf("member %q appears twice", clip(name))
		}
		o[name] = v
	}
	if _, err := dec.Token(); err != nil {
		return nil, errors.New("not a JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON object")
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
	if raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
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
	var one string
	if raw[0] == '"' && json.Unmarshal(raw, &one) == nil {
		return []string{one}, nil
	}
	var many []string
	if raw[0] == '[' && json.Unmarshal(raw, &many) == nil {
		return many, nil
	}
	return nil, fmt.Errorf("%w: aud is neither a string nor an array of strings", ErrAudience)
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
		if err := json.Unmarshal(raw, &c.EmailVerified); err != nil {
			return nil, fmt.Errorf("%w: email_verified is not a boolean", ErrClaims)
		}
	}
	if raw, ok := o["metadata"]; ok && string(raw) != "null" {
		c.Metadata = append(json.RawMessage(nil), raw...)
	}
	if raw, ok := o["verdict"]; ok && string(raw) != "null" {
		c.Verdict = &Verdict{}
		if err := json.Unmarshal(raw, c.Verdict); err != nil {
			return nil, fmt.Errorf("%w: verdict is not {\"decision\",\"score\"}", ErrClaims)
		}
	}
	if raw, ok := o["amr"]; ok && string(raw) != "null" {
		if err := json.Unmarshal(raw, &c.AMR); err != nil {
			return nil, fmt.Errorf("%w: amr is not an array of strings", ErrClaims)
		}
	}
	return c, nil
}
