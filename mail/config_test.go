package mail

import (
	"strings"
	"testing"
	"time"
)

func TestParseURL(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Config
	}{
		{"smtp/starttls default port", "smtp://mail.example.com",
			Config{Host: "mail.example.com", Port: 587}},
		{"smtp/starttls with auth", "smtp://user:pass@mail.example.com:2525",
			Config{Host: "mail.example.com", Port: 2525, Username: "user", Password: "pass"}},
		{"smtp/user only", "smtp://apikey@mail.example.com",
			Config{Host: "mail.example.com", Port: 587, Username: "apikey"}},
		{"smtp/percent-encoded credentials", "smtp://me%40example.com:p%40ss%3Aw%2Frd@mail.example.com",
			Config{Host: "mail.example.com", Port: 587, Username: "me@example.com", Password: "p@ss:w/rd"}},
		{"smtps/implicit tls default port", "smtps://user:pass@mail.example.com",
			Config{Host: "mail.example.com", Port: 465, ImplicitTLS: true, Username: "user", Password: "pass"}},
		{"smtps/upper-case scheme", "SMTPS://mail.example.com:1465",
			Config{Host: "mail.example.com", Port: 1465, ImplicitTLS: true}},
		{"smtp/ipv6", "smtp://[::1]:25",
			Config{Host: "::1", Port: 25}},
		{"smtp/trailing slash", "smtp://mail.example.com/",
			Config{Host: "mail.example.com", Port: 587}},
		{"smtp/options", "smtp://mail.example.com?timeout=3s&helo=kit.example.com&insecure_skip_verify=true",
			Config{Host: "mail.example.com", Port: 587, Timeout: 3 * time.Second, HELO: "kit.example.com", InsecureSkipVerify: true}},
		{"smtp/surrounding spaces", "  smtp://mail.example.com  ",
			Config{Host: "mail.example.com", Port: 587}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseURL(tc.in)
			if err != nil {
				t.Fatalf("ParseURL: %v", err)
			}
			if got != tc.want {
				t.Errorf("got  %#v\nwant %#v", got, tc.want)
			}
		})
	}
}

func TestParseURLErrors(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"error/empty", "", "empty URL"},
		{"error/http scheme", "http://user:hunter22@mail.example.com", `LINKGUARD_SMTP_URL: scheme must be smtp or smtps, got "http"`},
		{"error/no scheme", "user:hunter22@mail.example.com:587", "want smtp://"},
		{"error/missing host", "smtp://user:hunter22@:587", "missing host"},
		{"error/port not a number", "smtp://user:hunter22@mail.example.com:abc", "not a valid URL"},
		{"error/port out of range", "smtp://user:hunter22@mail.example.com:70000", "port must be 1..65535"},
		{"error/port zero", "smtp://mail.example.com:0", "port must be 1..65535"},
		{"error/empty port", "smtp://user:hunter22@mail.example.com:", "empty port"},
		{"error/path", "smtp://user:hunter22@mail.example.com/inbox", "unexpected path"},
		{"error/fragment", "smtp://user:hunter22@mail.example.com#x", "unexpected fragment"},
		{"error/unknown option", "smtp://user:hunter22@mail.example.com?tls=off", `unknown option "tls"`},
		{"error/bad timeout", "smtp://user:hunter22@mail.example.com?timeout=soon", "timeout must be"},
		{"error/negative timeout", "smtp://mail.example.com?timeout=-1s", "timeout must be"},
		{"error/bad bool", "smtp://mail.example.com?insecure_skip_verify=maybe", "insecure_skip_verify must be"},
		{"error/password without user", "smtp://:hunter22@mail.example.com", "password given without a user"},
		{"error/bad escape in password", "smtp://user:hunter22%zz@mail.example.com", "not a valid URL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseURL(tc.in)
			if err == nil {
				t.Fatal("ParseURL accepted it")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q lacks %q", err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "LINKGUARD_SMTP_URL: ") {
				t.Errorf("error %q does not name the setting", err)
			}
			if strings.Contains(err.Error(), "hunter22") {
				t.Errorf("error leaks the password: %q", err)
			}
		})
	}
}

func TestConfigStringMasksPassword(t *testing.T) {
	c, err := ParseURL("smtps://user:hunter22@mail.example.com?timeout=5s")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{c.String(), c.GoString()} {
		if strings.Contains(s, "hunter22") {
			t.Errorf("%q leaks the password", s)
		}
	}
	if want := "smtps://user:xxxxx@mail.example.com:465?timeout=5s"; c.String() != want {
		t.Errorf("String() = %q, want %q", c.String(), want)
	}
}

// FuzzParseURL checks that any accepted URL yields a usable Config whose
// String() parses back to the same settings with the password masked.
//
// Seeds: the documented forms, credentials that need escaping, IPv6, and
// shapes that once looked tempting to mishandle (empty port, bare scheme).
func FuzzParseURL(f *testing.F) {
	for _, s := range []string{
		"smtp://user:pass@mail.example.com:587",
		"smtps://user:pass@mail.example.com:465",
		"smtp://me%40example.com:p%40ss@mail.example.com",
		"smtp://[::1]:25?timeout=10s",
		"smtp://h?helo=x&insecure_skip_verify=1",
		"smtp://h:",
		"smtp://",
		"smtps://@h",
		"http://h",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseURL(s)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "LINKGUARD_SMTP_URL: ") {
				t.Errorf("error %q does not name the setting", err)
			}
			return
		}
		if c.Host == "" || c.Port < 1 || c.Port > 65535 {
			t.Fatalf("accepted %q as host %q port %d", s, c.Host, c.Port)
		}
		back, err := ParseURL(c.String())
		if err != nil {
			t.Fatalf("String() %q of %q does not parse: %v", c.String(), s, err)
		}
		want := c
		if want.Password != "" {
			want.Password = "xxxxx"
		}
		if back != want {
			t.Fatalf("round trip of %q:\n got %#v\nwant %#v", s, back, want)
		}
	})
}

// FuzzParseURLSecret checks that no error ever quotes the password.
func FuzzParseURLSecret(f *testing.F) {
	for _, s := range []string{"mail.example.com", "h:0", "h/x", "h?x=1", "[::1", "h:99999", "%zz"} {
		f.Add("smtp", s)
	}
	f.Fuzz(func(t *testing.T, scheme, rest string) {
		const secret = "Sekr1tPa55"
		if strings.Contains(scheme+rest, secret) {
			return
		}
		_, err := ParseURL(scheme + "://user:" + secret + "@" + rest)
		if err != nil && strings.Contains(err.Error(), secret) {
			t.Fatalf("error leaks the password: %v", err)
		}
	})
}
