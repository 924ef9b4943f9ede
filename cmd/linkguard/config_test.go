package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestConfigLayers(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "lg.yaml")
	os.WriteFile(file, []byte("listen: 127.0.0.1:9000\ndata_dir: "+dir+"\nbrand: {name: Acme}\nlinks: {max_code_attempts: 3}\n"), 0o600)
	cfg, r, err := loadConfig([]string{"--config", file, "--dev"}, env(map[string]string{
		"LINKGUARD_LISTEN":           "127.0.0.1:9100",
		"LINKGUARD_REDIRECT_ORIGINS": "https://app.example.com, https://b.example.com:8443/",
		"LINKGUARD_TRUSTED_PROXIES":  "10.0.0.0/8,192.0.2.7",
	}), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "127.0.0.1:9100" || cfg.Brand.Name != "Acme" || cfg.Links.MaxCodeAttempts != 3 || !cfg.Dev {
		t.Fatalf("layers not applied: %+v", cfg)
	}
	if r.PublicURL != "http://127.0.0.1:9100" || strings.Join(r.RedirectOrigins, " ") != "https://app.example.com https://b.example.com:8443" {
		t.Fatalf("resolved: %+v", r)
	}
	if len(r.TrustedProxies) != 2 || r.TrustedProxies[1].String() != "192.0.2.7/32" {
		t.Fatalf("proxies: %v", r.TrustedProxies)
	}
}

func TestConfigErrorsNameTheProblem(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name, yaml string
		env        map[string]string
		want       string
	}{
		{"unknown key", "colour: red\n", nil, "colour"},
		{"unknown nested key", "links: {ttl: 5m}\n", nil, "ttl"},
		{"bad listen", "", map[string]string{"LINKGUARD_LISTEN": "localhost"}, "listen"},
		{"bad port", "", map[string]string{"LINKGUARD_LISTEN": "127.0.0.1:99999"}, "port"},
		{"bad origin", "", map[string]string{"LINKGUARD_REDIRECT_ORIGINS": "app.example.com"}, "redirect origin \"app.example.com\""},
		{"origin with path", "", map[string]string{"LINKGUARD_REDIRECT_ORIGINS": "https://app.example.com/cb"}, "is not an origin"},
		{"bad proxy", "", map[string]string{"LINKGUARD_TRUSTED_PROXIES": "10.0.0.0/33"}, "trusted proxy"},
		{"redirect path of another origin", "", map[string]string{"LINKGUARD_REDIRECT_ORIGINS": "https://app.example.com", "LINKGUARD_REDIRECT_PATHS": "https://evil.example.com/auth/"}, "redirect path"},
		{"redis without a shared key", "", map[string]string{"LINKGUARD_STORE": "redis://:hunter2@localhost:6379"}, "secret_key_file"},
		{"redis cluster without a shared key", "", map[string]string{"LINKGUARD_STORE": "redis+cluster://:hunter2@h1:7000,h2:7001"}, "secret_key_file"},
		{"unknown store", "", map[string]string{"LINKGUARD_STORE": "postgres"}, "want badger"},
		{"no api key outside dev", "", map[string]string{"LINKGUARD_DEV": "0", "LINKGUARD_PUBLIC_URL": "https://kit.example.com"}, "api_keys"},
		{"http outside dev", "", map[string]string{"LINKGUARD_DEV": "0", "LINKGUARD_API_KEYS": "0123456789abcdef"}, "https"},
		{"short api key", "", map[string]string{"LINKGUARD_API_KEYS": "short"}, "at least 16"},
		{"bad dev flag", "", map[string]string{"LINKGUARD_DEV": "yes please"}, "LINKGUARD_DEV"},
		{"unwritable data dir", "", map[string]string{"LINKGUARD_DATA_DIR": "/proc/linkguard"}, "data_dir"},
		{"bad heuristics", "heuristics: {thresholds: {consume: 7}}\n", nil, "heuristics"},
		{"bad admin email", "", map[string]string{"LINKGUARD_ADMIN_EMAILS": "ops@example.com, ops"}, `admin.emails[1] "ops"`},
		{"bad webhook secret", "webhooks: [{url: https://app.example.com/hooks, secret: abc}]\n", nil, "webhooks[0].secret"},
		{"webhook timeout too short", "webhook_timeout: 100ms\n", nil, "webhook_timeout 100ms: want 1s to 1m"},
		{"webhook timeout too long", "webhook_timeout: 5m\n", nil, "webhook_timeout 5m0s: want 1s to 1m"},
		{"bad webhook event", "webhooks: [{url: https://app.example.com/hooks, secret: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw, events: [link.eaten]}]\n", nil, `unknown event type "link.eaten"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			file := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "_")+".yaml")
			os.WriteFile(file, []byte(c.yaml), 0o600)
			e := map[string]string{"LINKGUARD_DEV": "1", "LINKGUARD_DATA_DIR": dir}
			for k, v := range c.env {
				e[k] = v
			}
			_, _, err := loadConfig([]string{"--config", file}, env(e), &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to mention %q", err, c.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Fatalf("error shows a password: %v", err)
			}
		})
	}
}

func TestEmptyConfigFileIsFine(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "empty.yaml")
	os.WriteFile(file, nil, 0o600)
	if _, _, err := loadConfig([]string{"--config", file}, env(map[string]string{"LINKGUARD_DEV": "1", "LINKGUARD_DATA_DIR": dir}), &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
}

// TestConsoleSettings: the console's addresses come from the environment
// too, and the console saves to the config file that was read.
func TestConsoleSettings(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "lg.yaml")
	os.WriteFile(file, []byte("data_dir: "+dir+"\nadmin: {emails: [a@example.com]}\nwebhooks: [{url: https://app.example.com/hooks, secret: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw}]\nwebhook_timeout: 3s\n"), 0o600)
	cfg, opts, err := loadConfig([]string{"--config", file, "--dev"}, env(map[string]string{
		"LINKGUARD_ADMIN_EMAILS": "ops@example.com, boss@example.com", "LINKGUARD_DEFAULT_LOCALE": "de",
	}), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(cfg.Admin.Emails, " ") != "ops@example.com boss@example.com" || cfg.file != file || len(cfg.Webhooks) != 1 || cfg.DefaultLocale != "de" {
		t.Fatalf("admin %v, file %q, webhooks %v, locale %q", cfg.Admin.Emails, cfg.file, cfg.Webhooks, cfg.DefaultLocale)
	}
	if opts.WebhookTimeout != 3*time.Second {
		t.Fatalf("the kit's webhook timeout is %s, want the file's 3s", opts.WebhookTimeout)
	}
}
