package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// TestOIDCAddClient: the printed snippet is a valid config whose hash
// matches the printed secret, and the secret appears only in the comment.
func TestOIDCAddClient(t *testing.T) {
	var out, errb bytes.Buffer
	err := run([]string{"oidc", "add-client", "--id", "grafana", "--redirect-uri", "https://grafana.example.com/login/generic_oauth",
		"--scopes", "email profile", "--alg", "RS256"}, &out, &errb)
	if err != nil {
		t.Fatalf("%v\n%s", err, errb.String())
	}
	m := regexp.MustCompile(`client_secret: (\S+)`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no secret printed:\n%s", out.String())
	}
	secret := m[1]
	dir := t.TempDir()
	file := filepath.Join(dir, "lg.yaml")
	os.WriteFile(file, []byte("data_dir: "+dir+"\n"+out.String()), 0o600)
	cfg, _, err := loadConfig([]string{"--config", file, "--dev"}, env(nil), &bytes.Buffer{})
	if err != nil {
		t.Fatalf("the printed snippet is not a valid config: %v\n%s", err, out.String())
	}
	if len(cfg.OIDC.Clients) != 1 {
		t.Fatalf("clients: %+v", cfg.OIDC.Clients)
	}
	c := cfg.OIDC.Clients[0]
	if c.ID != "grafana" || c.IDTokenAlg != "RS256" || strings.Join(c.Scopes, " ") != "email profile" || c.Public {
		t.Errorf("client %+v", c)
	}
	if bcrypt.CompareHashAndPassword([]byte(c.Secret), []byte(secret)) != nil {
		t.Error("the stored hash does not match the printed secret")
	}
	if strings.Count(out.String(), secret) != 1 {
		t.Error("the secret is printed more than once")
	}

	// A public client gets no secret.
	out.Reset()
	if err := run([]string{"oidc", "add-client", "--id", "spa", "--public", "--redirect-uri", "http://localhost:3000/cb"}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "secret") || !strings.Contains(out.String(), "public: true") {
		t.Errorf("public client:\n%s", out.String())
	}
	// Bad input is refused, naming the problem.
	for _, args := range [][]string{
		{"--id", "x"},
		{"--id", "x", "--redirect-uri", "http://app.example.com/cb"},
		{"--id", "x", "--redirect-uri", "https://app.example.com/cb#frag"},
		{"--id", "x", "--redirect-uri", "https://app.example.com/cb", "--alg", "HS256"},
		{"--id", "x", "--redirect-uri", "https://app.example.com/cb", "--scopes", "admin"},
	} {
		if err := run(append([]string{"oidc", "add-client"}, args...), &out, &errb); err == nil {
			t.Errorf("add-client %v: no error", args)
		}
	}
}

// TestOIDCConfigErrors: clients are checked when the config loads, and
// unknown keys inside a client are errors naming the key.
func TestOIDCConfigErrors(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct{ name, yaml, want string }{
		{"unknown key", "oidc:\n  clients:\n    - id: a\n      public: true\n      redirect_uri: https://a.example/cb\n", "redirect_uri"},
		{"secret in clear", "oidc:\n  clients:\n    - id: a\n      secret: hunter2hunter2\n      redirect_uris: [https://a.example/cb]\n", "bcrypt"},
		{"no redirect", "oidc:\n  clients:\n    - id: a\n      public: true\n", "redirect_uris"},
		{"twice", "oidc:\n  clients:\n    - {id: a, public: true, redirect_uris: [https://a.example/cb]}\n    - {id: a, public: true, redirect_uris: [https://a.example/cb]}\n", "twice"},
		{"code ttl", "oidc:\n  code_ttl: 1h\n  clients:\n    - {id: a, public: true, redirect_uris: [https://a.example/cb]}\n", "oidc.code_ttl"},
	} {
		file := filepath.Join(dir, c.name+".yaml")
		os.WriteFile(file, []byte("data_dir: "+dir+"\n"+c.yaml), 0o600)
		_, _, err := loadConfig([]string{"--config", file, "--dev"}, env(nil), &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error naming %s", c.name, err, c.want)
		}
	}
}
