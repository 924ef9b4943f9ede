package main

import (
	"crypto/rand"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestServeRefusesWeakSettings: the start stops, naming the reason, on a
// world-readable server key in the data folder, an all-zero key file,
// trusting every address, and dev mode off loopback.
func TestServeRefusesWeakSettings(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	good := make([]byte, 32)
	rand.Read(good)
	dir := t.TempDir()
	loose := filepath.Join(dir, "server.key")
	os.WriteFile(loose, good, 0o600)
	os.Chmod(loose, 0o644)
	zero := filepath.Join(t.TempDir(), "zero.key")
	os.WriteFile(zero, make([]byte, 32), 0o600)
	all := []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")}
	for _, tc := range []struct {
		name    string
		cfg     Config
		proxies []netip.Prefix
		secret  []byte
		want    string
	}{
		{"ok", Config{Listen: ":8080"}, nil, good, ""},
		{"world-readable server.key", Config{DataDir: dir, Listen: ":8080"}, nil, nil, "permissions 0644"},
		{"all-zero key file", Config{SecretKeyFile: zero, Listen: ":8080"}, nil, make([]byte, 32), "one byte repeated"},
		{"trust everyone", Config{Listen: ":8080"}, all, good, "0.0.0.0/0"},
		{"dev off loopback", Config{Dev: true, Listen: "0.0.0.0:8080"}, nil, good, "dev mode listens on 0.0.0.0:8080"},
	} {
		err := checkWeak(&tc.cfg, tc.proxies, tc.secret, quiet)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}
