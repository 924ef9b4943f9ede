package linkguard

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	crand "crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/linkguard/linkguard/fingerprint"
)

// Keys derives every secret the service uses from one server key, so that
// an operator keeps (and rotates) one secret. Each use has its own label:
// a hash made for one purpose is never valid for another.
type Keys struct {
	token, code, nonce, binding, prefix, family, handoff, seal, csrf []byte
	// The keyed hashes of the hot paths (every landing GET and report)
	// reuse their HMAC state: no allocation per hash.
	tokenMAC, nonceMAC, bindingMAC, prefixMAC macer
}

// NewKeys derives the keys from a server key of at least 32 bytes.
func NewKeys(serverKey []byte) (*Keys, error) {
	if len(serverKey) < 32 {
		return nil, fmt.Errorf("server key is %d bytes; it must be at least 32", len(serverKey))
	}
	d := func(label string) []byte { return mac(serverKey, []byte("linkguard/v1/"+label)) }
	k := &Keys{
		token: d("token"), code: d("code"), nonce: d("nonce"), binding: d("binding"),
		prefix: d("prefix"), family: d("family"), handoff: d("handoff"), seal: d("seal"), csrf: d("csrf"),
	}
	k.tokenMAC.key, k.nonceMAC.key, k.bindingMAC.key, k.prefixMAC.key = k.token, k.nonce, k.binding, k.prefix
	return k, nil
}

func mac(key []byte, parts ...[]byte) []byte {
	m := hmac.New(sha256.New, key)
	for _, p := range parts {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(p)))
		m.Write(n[:]) // length-prefixed so that parts cannot run into each other
		m.Write(p)
	}
	return m.Sum(nil)
}

// macer computes mac(key, parts...) with pooled HMAC states: hmac.New
// costs the two padded key blocks and a few allocations, Reset costs none.
type macer struct {
	key  []byte
	pool sync.Pool // *macState
}

type macState struct {
	h   hash.Hash
	buf []byte // the length-prefixed message, written in one call
	sum [sha256.Size]byte
}

func (m *macer) get() *macState {
	if st, ok := m.pool.Get().(*macState); ok {
		st.buf = st.buf[:0]
		return st
	}
	return &macState{h: hmac.New(sha256.New, m.key), buf: make([]byte, 0, 256)}
}

func (st *macState) add(p []byte) {
	st.buf = binary.BigEndian.AppendUint32(st.buf, uint32(len(p)))
	st.buf = append(st.buf, p...)
}

func (st *macState) addString(p string) {
	st.buf = binary.BigEndian.AppendUint32(st.buf, uint32(len(p)))
	st.buf = append(st.buf, p...)
}

// done appends the MAC of what was added to out and puts st back.
func (m *macer) done(st *macState, out []byte) []byte {
	st.h.Reset()
	st.h.Write(st.buf)
	out = append(out, st.h.Sum(st.sum[:0])...)
	if cap(st.buf) <= 4<<10 { // a huge input does not pin its buffer
		m.pool.Put(st)
	}
	return out
}

// TokenHash is the stored form of a link token.
func (k *Keys) TokenHash(token string) []byte {
	st := k.tokenMAC.get()
	st.addString(token)
	return k.tokenMAC.done(st, make([]byte, 0, sha256.Size))
}

// CodeHash is the stored form of a link's code; it is bound to the link id
// so that the same six digits on two links hash differently.
func (k *Keys) CodeHash(linkID, code string) []byte {
	return mac(k.code, []byte(linkID), []byte(code))
}

// BindingHash is the stored form of a device-binding cookie value.
func (k *Keys) BindingHash(cookie string) []byte {
	st := k.bindingMAC.get()
	st.addString(cookie)
	return k.bindingMAC.done(st, make([]byte, 0, sha256.Size))
}

// CSRF is the form token of a browser's device cookie: a form posted
// without the cookie it was rendered for is refused.
func (k *Keys) CSRF(deviceCookie string) string {
	return base64.RawURLEncoding.EncodeToString(mac(k.csrf, []byte(deviceCookie))[:18])
}

// CheckCSRF compares a form token with the one for deviceCookie.
func (k *Keys) CheckCSRF(token, deviceCookie string) bool {
	return deviceCookie != "" && subtle.ConstantTimeCompare([]byte(token), []byte(k.CSRF(deviceCookie))) == 1
}

// HandoffHash is the stored form of a handoff (lg_code) code.
func (k *Keys) HandoffHash(code string) []byte { return mac(k.handoff, []byte(code)) }

// Family names (email, redirect origin) without revealing the address.
func (k *Keys) Family(email, origin string) string {
	return hex.EncodeToString(mac(k.family, []byte(strings.ToLower(email)), []byte(origin))[:16])
}

// PrefixHash reduces an address to a keyed hash of its /24 (IPv4) or /48
// (IPv6) network: enough to tell "same network" without keeping the address.
// It is fingerprint.PrefixHash with the pooled HMAC state: every request
// that records a visit hashes its address.
func (k *Keys) PrefixHash(ip netip.Addr) string {
	p, ok := fingerprint.NetworkPrefix(ip)
	if !ok {
		return ""
	}
	st := k.prefixMAC.get()
	st.buf, _ = p.AppendBinary(st.buf) // unprefixed: fingerprint.PrefixHash's message
	var sum [sha256.Size]byte
	return hex.EncodeToString(k.prefixMAC.done(st, sum[:0])[:8])
}

const nonceMACLen = 16

// Nonce binds a landing page rendering to its token: it carries the render
// time and a MAC over (token hash, render time), so no write is needed to
// render a page and a report cannot be replayed against another link.
func (k *Keys) Nonce(tokenHash []byte, at time.Time) string {
	var raw [8 + sha256.Size]byte
	binary.BigEndian.PutUint64(raw[:8], uint64(at.Unix()))
	k.nonceSum(raw[8:8], tokenHash, raw[:8])
	return base64.RawURLEncoding.EncodeToString(raw[:8+nonceMACLen])
}

// nonceSum appends the MAC of (tokenHash, ts) to out.
func (k *Keys) nonceSum(out, tokenHash, ts []byte) []byte {
	st := k.nonceMAC.get()
	st.add(tokenHash)
	st.add(ts)
	return k.nonceMAC.done(st, out)
}

// Nonce check failures.
var (
	errNonceMalformed = errors.New("nonce is malformed")
	errNonceForged    = errors.New("nonce does not belong to this link")
	errNonceStale     = errors.New("nonce is too old")
)

// CheckNonce verifies a nonce for tokenHash at time now, accepting pages
// rendered at most maxAge ago (and at most a minute in the future, for
// clock steps between instances).
func (k *Keys) CheckNonce(nonce string, tokenHash []byte, now time.Time, maxAge time.Duration) error {
	var raw [8 + nonceMACLen]byte
	if len(nonce) != base64.RawURLEncoding.EncodedLen(len(raw)) {
		return errNonceMalformed
	}
	if n, err := base64.RawURLEncoding.Decode(raw[:], []byte(nonce)); err != nil || n != len(raw) {
		return errNonceMalformed
	}
	var sum [sha256.Size]byte
	m := k.nonceSum(sum[:0], tokenHash, raw[:8])
	if subtle.ConstantTimeCompare(m[:nonceMACLen], raw[8:]) != 1 {
		return errNonceForged
	}
	at := time.Unix(int64(binary.BigEndian.Uint64(raw[:8])), 0)
	if now.Sub(at) > maxAge || at.Sub(now) > time.Minute {
		return errNonceStale
	}
	return nil
}

// NewToken returns 32 random bytes, base64url without padding (43 chars).
func NewToken(r io.Reader) (string, error) {
	var b [32]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return "", fmt.Errorf("read random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// NewCode returns a uniformly random 6-digit code.
func NewCode(r io.Reader) (string, error) {
	var b [4]byte
	for {
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return "", fmt.Errorf("read random: %w", err)
		}
		// Reject the top of the range so that every code is equally likely.
		v := binary.BigEndian.Uint32(b[:])
		if v < 4294000000 {
			return fmt.Sprintf("%06d", v%1000000), nil
		}
	}
}

var idEncoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// NewID returns a link id: "lnk_" and 26 base32 characters (a 48-bit
// millisecond time, so ids sort by creation, then 80 random bits).
func NewID(r io.Reader, now time.Time) (string, error) { return timeID("lnk_", r, now) }

// timeID returns prefix and 26 base32 characters: a 48-bit millisecond
// time, so that ids sort by creation, then 80 random bits from r.
func timeID(prefix string, r io.Reader, now time.Time) (string, error) {
	var b [16]byte
	ms := uint64(now.UnixMilli())
	for i := 5; i >= 0; i-- {
		b[i] = byte(ms)
		ms >>= 8
	}
	if _, err := io.ReadFull(r, b[6:]); err != nil {
		return "", fmt.Errorf("read random: %w", err)
	}
	return prefix + idEncoding.EncodeToString(b[:]), nil
}

// ValidID reports whether s has the shape of a link id.
func ValidID(s string) bool {
	if len(s) != 30 || !strings.HasPrefix(s, "lnk_") {
		return false
	}
	_, err := idEncoding.DecodeString(s[4:])
	return err == nil
}

// Sealer encrypts what must be kept for a while but never in the clear:
// the queued email, which holds a link and its code until it is sent.
type Sealer struct{ aead cipher.AEAD }

// Sealer returns the AES-256-GCM sealer derived from the server key.
func (k *Keys) Sealer() *Sealer {
	block, _ := aes.NewCipher(k.seal) // 32 bytes: cannot fail
	aead, _ := cipher.NewGCM(block)
	return &Sealer{aead: aead}
}

// Seal encrypts plaintext, binding it to label (for example a link id) so
// that a sealed value cannot be moved to another record.
func (s *Sealer) Seal(plaintext []byte, label string) ([]byte, error) {
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := crand.Read(nonce); err != nil {
		return nil, err
	}
	return s.aead.Seal(nonce, nonce, plaintext, []byte(label)), nil
}

// Open decrypts what Seal made with the same label.
func (s *Sealer) Open(sealed []byte, label string) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n {
		return nil, errors.New("sealed value is too short")
	}
	out, err := s.aead.Open(nil, sealed[:n], sealed[n:], []byte(label))
	if err != nil {
		return nil, errors.New("sealed value does not open with this server key")
	}
	return out, nil
}
