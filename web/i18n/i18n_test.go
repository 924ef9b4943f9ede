package i18n

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// shipped are the languages the issue asks for; each must be offered.
var shipped = []string{"en", "de", "fr", "es", "nl", "pt", "it", "pl"}

func TestEveryLanguageHasEveryMessage(t *testing.T) {
	c, err := New("", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range shipped {
		if !slices.Contains(c.Languages(), l) {
			t.Errorf("%s is not offered (offered: %v)", l, c.Languages())
		}
	}
	en := c.IDs(Default)
	if len(en) < 50 {
		t.Fatalf("English has %d messages", len(en))
	}
	for _, l := range c.Languages() {
		ids := c.IDs(l)
		for _, id := range en {
			if !slices.Contains(ids, id) {
				t.Errorf("%s lacks %s", l, id)
			}
		}
		for _, id := range ids {
			if !slices.Contains(en, id) {
				t.Errorf("%s has %s, which English does not", l, id)
			}
		}
		// Every message renders in every language, with every plural form.
		for _, id := range en {
			for _, n := range []int{0, 1, 2, 3, 5, 12, 22} {
				s := c.T(l, id, "Count", n, "Action", "A", "Product", "P", "Email", "e@x", "To", "e@x", "When", "W",
					"Origin", "O", "Browser", "B", "OS", "S", "Device", "D", "Place", "Q", "Filter", "F", "After", "T",
					"Support", "s@x", "ExpiresIn", "I", "ExpiresAt", "X")
				if s == "" || s == id || strings.Contains(s, "<no value>") {
					t.Errorf("%s %s (count %d): %q", l, id, n, s)
				}
			}
		}
	}
}

func TestLanguageChoice(t *testing.T) {
	c, err := New("", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ locale, accept, want string }{
		{"de", "fr", "de"},
		{"pt-BR", "", "pt"},
		{"de-CH", "", "de"},
		{"", "nl-BE,nl;q=0.9,en;q=0.5", "nl"},
		{"", "ja,pl;q=0.8", "pl"},
		{"", "ja", "en"},
		{"ja", "", "en"},
		{"", "not a header;;;", "en"},
		{"", "", "en"},
	} {
		if got := c.Lang(tc.locale, tc.accept); got != tc.want {
			t.Errorf("Lang(%q, %q) = %s, want %s", tc.locale, tc.accept, got, tc.want)
		}
	}
	if got := c.Match("ja"); got != "" {
		t.Errorf("Match(ja) = %q, want none", got)
	}
	if got := c.T("de", "purpose.reset_password.title"); got != "Passwort zurücksetzen" {
		t.Errorf("German reset title: %q", got)
	}
	if got := c.T("pl", "duration.minute", "Count", 5); got != "5 minut" {
		t.Errorf("Polish 5 minutes: %q", got)
	}
	if got := c.Region("de", "GB"); got != "Vereinigtes Königreich" {
		t.Errorf("Region(de, GB) = %q", got)
	}
	if _, err := New("", "ja"); err == nil {
		t.Error("a default locale that is not offered was accepted")
	}
}

// TestOperatorLanguages: an operator adds a language and overrides a
// message of a shipped one with files in a folder, without rebuilding;
// what the new language lacks comes in English.
func TestOperatorLanguages(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "sv.yaml"), []byte("purpose.sign_in.title: \"Logga in\"\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "de.yaml"), []byte("purpose.sign_in.title: \"Einloggen\"\n"), 0o644)
	c, err := New(dir, "sv")
	if err != nil {
		t.Fatal(err)
	}
	if got := c.T(c.Lang("", "sv-SE"), "purpose.sign_in.title"); got != "Logga in" {
		t.Errorf("Swedish: %q", got)
	}
	if got := c.T("sv", "wait.title"); got != "Check your inbox" {
		t.Errorf("Swedish fallback: %q", got)
	}
	if got := c.T("de", "purpose.sign_in.title"); got != "Einloggen" {
		t.Errorf("German override: %q", got)
	}
	if got := c.T("de", "wait.title"); got != "Sehen Sie in Ihrem Posteingang nach" {
		t.Errorf("German kept: %q", got)
	}
	if got := c.Lang("", "ja"); got != "sv" {
		t.Errorf("default: %q", got)
	}
	os.WriteFile(filepath.Join(dir, "xx.yaml"), []byte("a: [broken\n"), 0o644)
	if _, err := New(dir, ""); err == nil || !strings.Contains(err.Error(), "xx.yaml") {
		t.Errorf("a broken file: %v", err)
	}
	if _, err := New(filepath.Join(dir, "missing"), ""); err == nil {
		t.Error("a missing folder was accepted")
	}
}
