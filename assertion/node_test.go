package assertion

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestNodeVerifiesOurTokens runs examples/verify-node/verify.mjs, which uses
// only Node's built-in crypto (OpenSSL's Ed25519), on tokens that Signer
// made and on tampered ones. Without node it skips, unless CI is set.
func TestNodeVerifiesOurTokens(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("node is not on the PATH; CI must have it")
		}
		t.Skip("node is not on the PATH")
	}
	script, err := filepath.Abs("../examples/verify-node/verify.mjs")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	s := NewSigner(testKey, testIss, func() time.Time { return testNow }, WithPrevious(otherPub))
	jwks := filepath.Join(dir, "jwks.json")
	if err := os.WriteFile(jwks, s.JWKS(), 0o600); err != nil {
		t.Fatal(err)
	}
	tok, err := s.Sign(validClaims())
	if err != nil {
		t.Fatal(err)
	}
	oldTok, _ := NewSigner(otherKey, testIss, func() time.Time { return testNow }).Sign(validClaims())
	parts := strings.Split(tok, ".")
	now := strconv.FormatInt(testNow.Unix()+1, 10)

	run := func(token, aud, at string) (string, string, error) {
		cmd := exec.Command(node, script, jwks, testIss, aud, at)
		cmd.Stdin = strings.NewReader(token + "\n")
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		return out.String(), errb.String(), err
	}

	for name, token := range map[string]string{"accept/current key": tok, "accept/previous key": oldTok} {
		t.Run(name, func(t *testing.T) {
			out, stderr, err := run(token, testAud, now)
			if err != nil {
				t.Fatalf("node: %v\n%s", err, stderr)
			}
			var c map[string]any
			if err := json.Unmarshal([]byte(out), &c); err != nil {
				t.Fatalf("output %q: %v", out, err)
			}
			if c["email"] != testEmail || c["lnk"] != testLink || c["email_verified"] != true {
				t.Errorf("claims %v", c)
			}
		})
	}

	flipped := []byte(parts[2])
	if flipped[5] == 'A' {
		flipped[5] = 'B'
	} else {
		flipped[5] = 'A'
	}
	enc := func(s string) string { return b64.EncodeToString([]byte(s)) }
	rejects := []struct{ name, token, aud, at string }{
		{"reject/bad signature", parts[0] + "." + parts[1] + "." + string(flipped), testAud, now},
		{"reject/payload swapped", parts[0] + "." + enc(payload(t, map[string]any{"email": "mallory@example.com"})) + "." + parts[2], testAud, now},
		{"reject/alg none", enc(`{"alg":"none","kid":"`+s.KeyID()+`"}`) + "." + parts[1] + ".", testAud, now},
		{"reject/other key", sign(otherKey, hdr(s.KeyID()), payload(t, nil)), testAud, now},
		{"reject/wrong aud", tok, "https://evil.example", now},
		{"reject/expired", tok, testAud, strconv.FormatInt(testNow.Unix()+120, 10)},
		{"reject/extra dot", tok + ".", testAud, now},
	}
	for _, tc := range rejects {
		t.Run(tc.name, func(t *testing.T) {
			out, stderr, err := run(tc.token, tc.aud, tc.at)
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
				t.Fatalf("node accepted or crashed: %v\nstdout %s\nstderr %s", err, out, stderr)
			}
			t.Log(strings.TrimSpace(stderr))
		})
	}
}
