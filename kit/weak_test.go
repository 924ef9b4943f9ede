package kit

import (
	"bytes"
	"crypto/rand"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckWeak(t *testing.T) {
	dir := t.TempDir()
	good := make([]byte, 32)
	rand.Read(good)
	tight, loose := filepath.Join(dir, "tight.key"), filepath.Join(dir, "loose.key")
	os.WriteFile(tight, good, 0o600)
	os.WriteFile(loose, good, 0o644)
	os.Chmod(loose, 0o644) // whatever the umask
	any4, any6 := netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")
	proxy := netip.MustParsePrefix("10.0.0.0/8")
	for _, tc := range []struct {
		name    string
		w       Weak
		refused []string // each in the error
		warned  []string // each in a warning
	}{
		{"ok/production", Weak{KeyPath: tight, Key: good, TrustedProxies: []netip.Prefix{proxy}, Listen: ":8080"}, nil, nil},
		{"ok/dev on loopback", Weak{Key: good, Dev: true, Listen: "127.0.0.1:8080"}, nil, nil},
		{"ok/dev mounted", Weak{Key: good, Dev: true}, nil, nil},
		{"ok/dev on localhost", Weak{Key: good, Dev: true, Listen: "localhost:8080"}, nil, nil},
		{"ok/dev on [::1]", Weak{Key: good, Dev: true, Listen: "[::1]:8080"}, nil, nil},
		{"refuse/world-readable key", Weak{KeyPath: loose, Key: good}, []string{"permissions 0644", "chmod 600"}, nil},
		{"refuse/all-zero key", Weak{Key: make([]byte, 32)}, []string{"one byte repeated (0x00 x 32)"}, nil},
		{"refuse/one-byte key", Weak{Key: bytes.Repeat([]byte{7}, 32)}, []string{"one byte repeated"}, nil},
		{"refuse/trust every v4 address", Weak{Key: good, TrustedProxies: []netip.Prefix{proxy, any4}}, []string{"0.0.0.0/0"}, nil},
		{"refuse/trust every v6 address", Weak{Key: good, TrustedProxies: []netip.Prefix{any6}}, []string{"::/0"}, nil},
		{"refuse/dev on every address", Weak{Key: good, Dev: true, Listen: ":8080"}, []string{"dev mode listens on :8080"}, nil},
		{"refuse/dev on a LAN address", Weak{Key: good, Dev: true, Listen: "192.0.2.2:8080"}, []string{"not on loopback"}, nil},
		{"refuse/every problem named", Weak{KeyPath: loose, Key: make([]byte, 32), TrustedProxies: []netip.Prefix{any4}},
			[]string{"permissions", "one byte repeated", "0.0.0.0/0"}, nil},
		{"warn/dev mode keeps going", Weak{KeyPath: loose, Key: make([]byte, 32), TrustedProxies: []netip.Prefix{any6}, Dev: true, Listen: "127.0.0.1:0"},
			nil, []string{"permissions", "one byte repeated", "::/0"}},
	} {
		warnings, err := CheckWeak(tc.w)
		if (err != nil) != (tc.refused != nil) {
			t.Errorf("%s: err %v, want refused %v", tc.name, err, tc.refused != nil)
			continue
		}
		for _, want := range tc.refused {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: error %q does not say %q", tc.name, err, want)
			}
		}
		all := strings.Join(warnings, "\n")
		if len(warnings) != len(tc.warned) {
			t.Errorf("%s: warnings %q, want %d", tc.name, warnings, len(tc.warned))
		}
		for _, want := range tc.warned {
			if !strings.Contains(all, want) {
				t.Errorf("%s: warnings %q do not say %q", tc.name, warnings, want)
			}
		}
	}
}
