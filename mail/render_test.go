package mail

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRender(t *testing.T) {
	r, err := NewRenderer("")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		edit    func(*Message)
		subject string
		want    []string // in both parts
		notWant []string // in neither part
	}{
		{
			name:    "sign_in/full",
			subject: "Your sign-in link for Acme",
			want:    []string{"sign in at", "483920", "15 minutes", "2026-03-02 14:15 UTC", "Chrome on Windows, near London", "2026-03-02 13:59 UTC", "help@acme.example", "bob@example.com"},
		},
		{
			name:    "sign_in/no product, origin or support",
			edit:    func(m *Message) { m.ProductName, m.Origin, m.SupportAddress, m.RequestedAt = "", "", "", time.Time{} },
			subject: "Your sign-in link for linkguard",
			want:    []string{"an unknown device", "483920"},
			notWant: []string{"Acme", "write to"},
		},
		{
			name:    "confirm_email/subject",
			edit:    func(m *Message) { m.Purpose = PurposeConfirmEmail },
			subject: "Confirm your email address for Acme",
			want:    []string{"confirm your email address"},
		},
		{
			name:    "reset_password/subject",
			edit:    func(m *Message) { m.Purpose = PurposeResetPassword; m.ExpiresAt = testNow.Add(2 * time.Hour) },
			subject: "Reset your password for Acme",
			want:    []string{"reset your password", "2 hours"},
		},
		{
			name: "reset_password/German, origin in parts",
			edit: func(m *Message) {
				m.Purpose, m.Locale, m.ExpiresAt = PurposeResetPassword, "de-AT", testNow.Add(5*time.Minute)
				m.Origin, m.Browser, m.OS, m.Country = "", "Firefox", "Windows", "GB"
			},
			subject: "Passwort für Acme zurücksetzen",
			want:    []string{"Ihr Passwort zurückzusetzen", "5 Minuten", "Firefox unter Windows in der Nähe von Vereinigtes Königreich"},
			notWant: []string{"sign in", "Someone"},
		},
		{
			name:    "brand accent on the button",
			edit:    func(m *Message) { m.Accent = "#0a7d3b" },
			subject: "Your sign-in link for Acme",
			want:    []string{"483920"},
		},
		{
			name:    "invite/Polish plural",
			edit:    func(m *Message) { m.Purpose, m.Locale, m.ExpiresAt = PurposeInvite, "pl", testNow.Add(22*time.Minute) },
			subject: "Twoje zaproszenie do Acme",
			want:    []string{"przyjąć zaproszenie", "22 minuty"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := testMessage()
			if tc.edit != nil {
				tc.edit(&m)
			}
			out, err := r.Render(m, testNow)
			if err != nil {
				t.Fatal(err)
			}
			if out.Subject != tc.subject {
				t.Errorf("subject %q, want %q", out.Subject, tc.subject)
			}
			for part, body := range map[string]string{"text": out.Text, "html": out.HTML} {
				for _, w := range append([]string{m.LinkURL, m.Code}, tc.want...) {
					if !strings.Contains(body, w) {
						t.Errorf("%s lacks %q", part, w)
					}
				}
				for _, w := range tc.notWant {
					if strings.Contains(body, w) {
						t.Errorf("%s has %q", part, w)
					}
				}
			}
		})
	}
}

// The HTML part loads nothing from outside and does not rely on <style>,
// which many mail clients drop; and it escapes what the caller passes in.
func TestRenderHTMLIsSelfContainedAndEscaped(t *testing.T) {
	r, err := NewRenderer("")
	if err != nil {
		t.Fatal(err)
	}
	m := testMessage()
	m.ProductName = `<b>Acme</b>`
	m.Origin = `"><script>alert(1)</script>`
	out, err := r.Render(m, testNow)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"<script", "<style", "<img", "<link", "src=", "url(", "<b>Acme"} {
		if strings.Contains(out.HTML, bad) {
			t.Errorf("html contains %q", bad)
		}
	}
	for _, want := range []string{`lang="en"`, `role="presentation"`, "&lt;b&gt;Acme&lt;/b&gt;", `href="` + m.LinkURL + `"`} {
		if !strings.Contains(out.HTML, want) {
			t.Errorf("html lacks %q", want)
		}
	}
	if strings.ContainsAny(out.Subject, "\r\n") {
		t.Errorf("subject spans lines: %q", out.Subject)
	}
}

func TestRendererOverride(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(SubjectTemplate, "Sign in to {{.Product}}\n")
	write(TextTemplate, "Link: {{.LinkURL}} Code: {{.Code}}")
	r, err := NewRenderer(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := testMessage()
	out, err := r.Render(m, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if out.Subject != "Sign in to Acme" {
		t.Errorf("subject %q", out.Subject)
	}
	if out.Text != "Link: "+m.LinkURL+" Code: 483920" {
		t.Errorf("text %q", out.Text)
	}
	if !strings.Contains(out.HTML, "Requested from Chrome") {
		t.Error("html is not the embedded default")
	}

	t.Run("broken template fails at start", func(t *testing.T) {
		write(HTMLTemplate, "{{.Nope")
		if _, err := NewRenderer(dir); err == nil {
			t.Error("NewRenderer accepted a broken template")
		}
	})
	t.Run("unknown field fails at render", func(t *testing.T) {
		write(HTMLTemplate, "{{.Nope}}")
		r, err := NewRenderer(dir)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Render(m, testNow); err == nil {
			t.Error("Render accepted an unknown field")
		}
	})
}

func TestHumanDuration(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{-time.Minute, "less than a minute"},
		{30 * time.Second, "less than a minute"},
		{time.Minute, "1 minute"},
		{15*time.Minute - time.Second, "15 minutes"},
		{89 * time.Minute, "89 minutes"},
		{90 * time.Minute, "2 hours"},
		{24 * time.Hour, "24 hours"},
		{36 * time.Hour, "2 days"},
	}
	r, err := NewRenderer("")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		if got := r.duration("en", tc.d); got != tc.want {
			t.Errorf("humanDuration(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

// TestRenderAccent: the brand's accent colours the button; anything
// that is not a plain colour is refused by Validate and never reaches
// the style.
func TestRenderAccent(t *testing.T) {
	r, err := NewRenderer("")
	if err != nil {
		t.Fatal(err)
	}
	m := testMessage()
	m.Accent = "#0a7d3b"
	out, err := r.Render(m, testNow)
	if err != nil || !strings.Contains(out.HTML, "background-color:#0a7d3b") {
		t.Fatalf("accent not on the button (%v)", err)
	}
	m.Accent = "red;background:url(https://evil.example/x)"
	if m.Validate() == nil {
		t.Error("a CSS injection as accent passed Validate")
	}
	out, _ = r.Render(m, testNow)
	if strings.Contains(out.HTML, "evil.example") || !strings.Contains(out.HTML, "background-color:#1d4ed8") {
		t.Error("a bad accent reached the style")
	}
}
