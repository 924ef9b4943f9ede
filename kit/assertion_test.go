package kit

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/linkguard/linkguard/assertion"
)

func TestRedirectCarriesAVerifiableAssertion(t *testing.T) {
	k, err := New(Options{
		PublicURL: "https://kit.example.com", DataDir: t.TempDir(), APIKeys: []string{"api-key-0123456789"},
		RedirectOrigins: []string{"https://app.example.com"}, HandoffAssertion: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	do := func(method, path, body, ct string) (int, string) {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		req.Header.Set("Authorization", "Bearer api-key-0123456789")
		res, err := k.App().Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	_, body := do("POST", "/v1/links", `{"email":"alice@example.com","redirect_url":"https://app.example.com/cb","send_email":false,"metadata":{"plan":"pro"}}`, "application/json")
	var issued struct{ URL, Code string }
	json.Unmarshal([]byte(body), &issued)
	path := strings.TrimPrefix(issued.URL, "https://kit.example.com")
	_, page := do("GET", path, "", "")
	nonce := regexp.MustCompile(`name="lg-nonce" content="([^"]+)"`).FindStringSubmatch(page)[1]
	_, out := do("POST", path+"/confirm", `{"nonce":"`+nonce+`","code":"`+issued.Code+`"}`, "application/json")
	var res struct {
		Outcome     string `json:"outcome"`
		RedirectURL string `json:"redirect_url"`
	}
	json.Unmarshal([]byte(out), &res)
	u, _ := url.Parse(res.RedirectURL)
	tok := u.Query().Get("lg_assertion")
	if res.Outcome != "consumed" || tok == "" || u.Query().Get("lg_code") == "" {
		t.Fatalf("confirm: %s", out)
	}

	status, jwks := do("GET", "/.well-known/jwks.json", "", "")
	if status != 200 {
		t.Fatalf("jwks: %d", status)
	}
	keys, err := assertion.ParseJWKS([]byte(jwks))
	if err != nil {
		t.Fatal(err)
	}
	c, err := assertion.Verify(tok, keys, assertion.VerifyOptions{Issuer: "https://kit.example.com", Audience: "https://app.example.com", Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if c.Email != "alice@example.com" || string(c.Metadata) != `{"plan":"pro"}` || c.Verdict.Decision != "consume" || strings.Join(c.AMR, ",") != "email_link,code" {
		t.Fatalf("claims: %+v", c)
	}
	if _, err := assertion.Verify(tok, keys, assertion.VerifyOptions{Issuer: "https://kit.example.com", Audience: "https://evil.example.net", Now: time.Now()}); err == nil {
		t.Fatal("the assertion verified for another audience")
	}
}

// TestBadPreviousAssertionKeyStopsTheStart: a previous key that cannot be
// read stops New with an error naming the file and the problem (it used
// to panic); one that is only readable by others starts, with a warning.
func TestBadPreviousAssertionKeyStopsTheStart(t *testing.T) {
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecDER, _ := x509.MarshalPKCS8PrivateKey(ecKey)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	edDER, _ := x509.MarshalPKCS8PrivateKey(edKey)
	pemOf := func(der []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}) }
	for _, tc := range []struct {
		name string
		make func(path string) error
		want string // in the error; "" means New succeeds
	}{
		{"garbage", func(p string) error { return os.WriteFile(p, []byte("not a key\x00\xff"), 0o600) }, "malformed"},
		{"empty", func(p string) error { return os.WriteFile(p, nil, 0o600) }, "malformed"},
		{"directory", func(p string) error { return os.Mkdir(p, 0o700) }, "not a regular file"},
		{"wrong curve", func(p string) error { return os.WriteFile(p, pemOf(ecDER), 0o600) }, "want an Ed25519 key"},
		{"loose permissions", func(p string) error {
			if err := os.WriteFile(p, pemOf(edDER), 0o600); err != nil {
				return err
			}
			return os.Chmod(p, 0o644)
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := tc.make(filepath.Join(dir, "assertion.key.prev")); err != nil {
				t.Fatal(err)
			}
			var logs strings.Builder
			k, err := New(Options{
				PublicURL: "https://kit.example.com", DataDir: dir, APIKeys: []string{"api-key-0123456789"},
				HandoffAssertion: true, Log: slog.New(slog.NewTextHandler(&logs, nil)),
			})
			if tc.want == "" {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				defer k.Close()
				if !strings.Contains(logs.String(), "previous assertion key file is readable by others") {
					t.Errorf("no warning about the loose previous key:\n%s", logs.String())
				}
				res, _ := k.App().Test(httptest.NewRequest("GET", "/.well-known/jwks.json", nil), -1)
				body, _ := io.ReadAll(res.Body)
				if keys, err := assertion.ParseJWKS(body); err != nil || len(keys.Keys()) != 2 {
					t.Errorf("JWKS %s: want the current and the previous key", body)
				}
				return
			}
			if err == nil {
				k.Close()
				t.Fatal("New started with a bad previous assertion key")
			}
			if msg := err.Error(); !strings.Contains(msg, "assertion.key.prev") || !strings.Contains(msg, tc.want) {
				t.Errorf("error %q: want it to name assertion.key.prev and say %q", msg, tc.want)
			}
		})
	}
}
