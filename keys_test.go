package linkguard

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/linkguard/linkguard/fingerprint"
)

func testKeys(t testing.TB) *Keys {
	k, err := NewKeys(bytes.Repeat([]byte{1}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestNewKeysRejectsShortKey(t *testing.T) {
	if _, err := NewKeys(make([]byte, 31)); err == nil {
		t.Fatal("a 31-byte server key was accepted")
	}
}

func TestHashesAreSeparatedByPurpose(t *testing.T) {
	k := testKeys(t)
	tok := "same-input"
	seen := map[string]string{}
	for name, h := range map[string][]byte{
		"token": k.TokenHash(tok), "binding": k.BindingHash(tok), "handoff": k.HandoffHash(tok),
		"code": k.CodeHash("lnk_x", tok),
	} {
		if other, dup := seen[string(h)]; dup {
			t.Fatalf("%s and %s hash the same input alike", name, other)
		}
		seen[string(h)] = name
	}
	if bytes.Equal(k.CodeHash("lnk_a", "123456"), k.CodeHash("lnk_b", "123456")) {
		t.Fatal("a code hash is not bound to its link")
	}
	other, _ := NewKeys(bytes.Repeat([]byte{2}, 32))
	if bytes.Equal(k.TokenHash(tok), other.TokenHash(tok)) {
		t.Fatal("token hashes do not depend on the server key")
	}
}

func TestNonce(t *testing.T) {
	k := testKeys(t)
	th := k.TokenHash("t1")
	now := time.Unix(1_800_000_000, 0)
	n := k.Nonce(th, now)
	cases := []struct {
		name   string
		nonce  string
		th     []byte
		at     time.Time
		wantOK bool
	}{
		{"ok/fresh", n, th, now, true},
		{"ok/just under max age", n, th, now.Add(time.Hour - time.Second), true},
		{"stale/over max age", n, th, now.Add(time.Hour + time.Second), false},
		{"future/rendered 2 min ahead", k.Nonce(th, now.Add(2*time.Minute)), th, now, false},
		{"forged/other token", n, k.TokenHash("t2"), now, false},
		{"malformed/empty", "", th, now, false},
		{"malformed/not base64", "!!!!", th, now, false},
		{"malformed/short", n[:10], th, now, false},
		{"forged/flipped bit", flip(n), th, now, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := k.CheckNonce(c.nonce, c.th, c.at, time.Hour)
			if (err == nil) != c.wantOK {
				t.Fatalf("CheckNonce = %v, want ok=%v", err, c.wantOK)
			}
		})
	}
}

func flip(s string) string {
	b := []byte(s)
	if b[len(b)-1] == 'A' {
		b[len(b)-1] = 'B'
	} else {
		b[len(b)-1] = 'A'
	}
	return string(b)
}

// FuzzCheckNonce: no input panics, and only a nonce made by Nonce for the
// same token passes.
func FuzzCheckNonce(f *testing.F) {
	k := testKeys(f)
	th := k.TokenHash("t")
	now := time.Unix(1_800_000_000, 0)
	f.Add(k.Nonce(th, now)) // a valid nonce
	f.Add("")               // empty
	f.Add("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	f.Add("%%%")
	f.Fuzz(func(t *testing.T, s string) {
		if err := k.CheckNonce(s, th, now, time.Hour); err == nil && s != k.Nonce(th, now) {
			// Only a nonce rendered within the hour may pass; any accepted
			// one must decode to a MAC we made.
			raw := []byte(s)
			_ = raw
			valid := false
			for d := time.Duration(0); d <= time.Hour+time.Minute; d += time.Second {
				if k.Nonce(th, now.Add(-d)) == s || k.Nonce(th, now.Add(d)) == s {
					valid = true
					break
				}
			}
			if !valid {
				t.Fatalf("accepted a nonce the server never made: %q", s)
			}
		}
	})
}

func TestTokensCodesAndIDs(t *testing.T) {
	tok, err := NewToken(rand.Reader)
	if err != nil || !regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`).MatchString(tok) {
		t.Fatalf("token %q, %v", tok, err)
	}
	now := time.Now()
	a, _ := NewID(rand.Reader, now)
	b, _ := NewID(rand.Reader, now.Add(time.Millisecond))
	if !ValidID(a) || !ValidID(b) || a >= b {
		t.Fatalf("ids %q %q: want valid and sorted by time", a, b)
	}
	for _, bad := range []string{"", "lnk_", "lnk_" + "0000000000000000000000000I", "xyz_00000000000000000000000000"} {
		if ValidID(bad) {
			t.Errorf("ValidID(%q) = true", bad)
		}
	}
	// Codes are six digits and spread over the whole range.
	var lo, hi bool
	for i := 0; i < 2000; i++ {
		c, err := NewCode(rand.Reader)
		if err != nil || !regexp.MustCompile(`^[0-9]{6}$`).MatchString(c) {
			t.Fatalf("code %q, %v", c, err)
		}
		lo = lo || c < "100000"
		hi = hi || c >= "900000"
	}
	if !lo || !hi {
		t.Fatal("2000 codes never reached both ends of the range")
	}
}

func TestPrefixHash(t *testing.T) {
	k := testKeys(t)
	same := func(a, b string) bool {
		return k.PrefixHash(netip.MustParseAddr(a)) == k.PrefixHash(netip.MustParseAddr(b))
	}
	if !same("81.2.69.1", "81.2.69.254") || same("81.2.69.1", "81.2.70.1") {
		t.Error("IPv4 prefixes are not /24")
	}
	if !same("2001:db8:1::1", "2001:db8:1:ffff::1") || same("2001:db8:1::1", "2001:db8:2::1") {
		t.Error("IPv6 prefixes are not /48")
	}
	if !same("::ffff:81.2.69.1", "81.2.69.9") {
		t.Error("IPv4-mapped addresses are not unmapped")
	}
	if k.PrefixHash(netip.Addr{}) != "" {
		t.Error("an invalid address has a prefix hash")
	}
	// The pooled hash is fingerprint.PrefixHash's: recorded prefixes and
	// the engine's compare equal.
	for _, a := range []string{"81.2.69.1", "2001:db8:1::1", "::ffff:81.2.69.1", "10.0.0.255"} {
		ip := netip.MustParseAddr(a)
		for range 3 { // again, from the pool
			if got, want := k.PrefixHash(ip), fingerprint.PrefixHash(k.prefix, ip); got != want {
				t.Fatalf("PrefixHash(%s) = %s, fingerprint.PrefixHash says %s", a, got, want)
			}
		}
	}
}

func TestSealer(t *testing.T) {
	s := testKeys(t).Sealer()
	sealed, err := s.Seal([]byte("link and code"), "lnk_a")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("link and code")) {
		t.Fatal("sealed value holds the plaintext")
	}
	if got, err := s.Open(sealed, "lnk_a"); err != nil || string(got) != "link and code" {
		t.Fatalf("open: %q %v", got, err)
	}
	if _, err := s.Open(sealed, "lnk_b"); err == nil {
		t.Fatal("a sealed value opened under another label")
	}
	other, _ := NewKeys(bytes.Repeat([]byte{9}, 32))
	if _, err := other.Sealer().Open(sealed, "lnk_a"); err == nil {
		t.Fatal("a sealed value opened under another server key")
	}
}

func TestCSRF(t *testing.T) {
	k := testKeys(t)
	tok := k.CSRF("cookie-a")
	if !k.CheckCSRF(tok, "cookie-a") || k.CheckCSRF(tok, "cookie-b") || k.CheckCSRF(tok, "") || k.CheckCSRF("", "cookie-a") {
		t.Fatal("CSRF tokens are not bound to their cookie")
	}
}

func TestOrigin(t *testing.T) {
	for in, want := range map[string]string{
		"https://App.Example.com/x?y": "https://app.example.com",
		"https://app.example.com:443": "https://app.example.com",
		"http://app.example.com:80/":  "http://app.example.com",
		"http://127.0.0.1:8080/cb":    "http://127.0.0.1:8080",
		"https://[2001:db8::1]:8443/": "https://[2001:db8::1]:8443",
	} {
		u, _ := url.Parse(in)
		if got := Origin(u); got != want {
			t.Errorf("Origin(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestStateAt(t *testing.T) {
	now := time.Now()
	l := &Link{State: Pending, ExpiresAt: now}
	if l.StateAt(now.Add(-time.Nanosecond)) != Pending || l.StateAt(now) != Expired {
		t.Fatal("a pending link does not expire at ExpiresAt")
	}
	l.State = Consumed
	if l.StateAt(now.Add(time.Hour)) != Consumed {
		t.Fatal("a consumed link turned expired")
	}
}

func TestCheckEmail(t *testing.T) {
	for in, ok := range map[string]bool{
		"alice@example.com": true, " alice@example.com ": true, "a@b": true,
		"": false, "alice": false, "Alice <alice@example.com>": false, "a@b@c": false,
		"alice@example.com\r\nBcc: x@y": false,
	} {
		_, err := checkEmail(in)
		if (err == nil) != ok {
			t.Errorf("checkEmail(%q) err = %v, want ok=%v", in, err, ok)
		}
	}
}

// TestPooledMACsMatchTheDefinition: the pooled hashes of the hot paths
// are the same HMACs as mac(), from any goroutine, and allocate nothing
// but their result.
func TestPooledMACsMatchTheDefinition(t *testing.T) {
	k, err := NewKeys(bytes.Repeat([]byte{9}, 32))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Unix(1_800_000_000, 0)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				tok := strings.Repeat(string(rune('a'+g)), i%64)
				if got, want := k.TokenHash(tok), mac(k.token, []byte(tok)); !bytes.Equal(got, want) {
					t.Errorf("TokenHash(%q) differs from its definition", tok)
					return
				}
				if got, want := k.BindingHash(tok), mac(k.binding, []byte(tok)); !bytes.Equal(got, want) {
					t.Errorf("BindingHash(%q) differs from its definition", tok)
					return
				}
				th := k.TokenHash(tok)
				var ts [8]byte
				binary.BigEndian.PutUint64(ts[:], uint64(at.Unix()))
				m := mac(k.nonce, th, ts[:])
				want := base64.RawURLEncoding.EncodeToString(append(ts[:], m[:nonceMACLen]...))
				if got := k.Nonce(th, at); got != want {
					t.Errorf("Nonce = %q, want %q", got, want)
					return
				}
				if err := k.CheckNonce(want, th, at, time.Minute); err != nil {
					t.Errorf("CheckNonce: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if raceEnabled {
		return
	}
	th := k.TokenHash("x")
	n := k.Nonce(th, at)
	if a := testing.AllocsPerRun(200, func() { k.TokenHash("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ") }); a > 1 {
		t.Errorf("TokenHash allocates %.0f times, want 1 (its result)", a)
	}
	if a := testing.AllocsPerRun(200, func() { k.CheckNonce(n, th, at, time.Minute) }); a > 0 {
		t.Errorf("CheckNonce allocates %.0f times, want 0", a)
	}
	if a := testing.AllocsPerRun(200, func() { k.Nonce(th, at) }); a > 1 {
		t.Errorf("Nonce allocates %.0f times, want 1 (its string)", a)
	}
}
