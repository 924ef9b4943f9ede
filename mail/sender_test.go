package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/linkguard/linkguard/internal/smtptest"
)

var testNow = time.Date(2026, 3, 2, 14, 0, 0, 0, time.UTC)

func testMessage() Message {
	return Message{
		To:             "bob@example.com",
		ProductName:    "Acme",
		LinkURL:        "https://kit.example.com/l/AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcde",
		Code:           "483920",
		ExpiresAt:      testNow.Add(15 * time.Minute),
		Origin:         "Chrome on Windows, near London",
		RequestedAt:    testNow.Add(-2 * time.Second),
		SupportAddress: "help@acme.example",
	}
}

func newTestSender(t testing.TB, cfg Config) *Sender {
	t.Helper()
	r, err := NewRenderer("")
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSender(cfg, "Acme <no-reply@acme.example>", r)
	if err != nil {
		t.Fatal(err)
	}
	s.Now = func() time.Time { return testNow }
	return s
}

func TestSendDelivers(t *testing.T) {
	tests := []struct {
		name     string
		implicit bool
		url      bool // configure through ParseURL with insecure_skip_verify
	}{
		{name: "smtp/starttls"},
		{name: "smtps/implicit tls", implicit: true},
		{name: "smtp/starttls from URL", url: true},
		{name: "smtps/implicit tls from URL", implicit: true, url: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := smtptest.Start(t, smtptest.Options{ImplicitTLS: tc.implicit})
			cfg := relayConfig(r, tc.implicit)
			if tc.url {
				scheme := "smtp"
				if tc.implicit {
					scheme = "smtps"
				}
				// A percent-encoded password must arrive decoded.
				var err error
				cfg, err = ParseURL(scheme + "://alice:s3cret-Pa55word@" + r.Addr + "?insecure_skip_verify=1&timeout=5s&helo=kit.example.com")
				if err != nil {
					t.Fatal(err)
				}
			}
			m := testMessage()
			if err := newTestSender(t, cfg).Send(context.Background(), m); err != nil {
				t.Fatalf("Send: %v", err)
			}
			got := r.Next(t, 10*time.Second)
			if !got.TLS {
				t.Error("mail travelled without TLS")
			}
			if got.User != smtptest.User {
				t.Errorf("AUTH user %q, want %q", got.User, smtptest.User)
			}
			if got.From != "no-reply@acme.example" || len(got.To) != 1 || got.To[0] != m.To {
				t.Errorf("envelope %q → %q", got.From, got.To)
			}
			p := smtptest.Parse(t, got.Data)
			if p.Subject != "Your sign-in link for Acme" {
				t.Errorf("subject %q", p.Subject)
			}
			if h := p.Header.Get("Auto-Submitted"); h != "auto-generated" {
				t.Errorf("Auto-Submitted %q", h)
			}
			if p.Header.Get("Message-Id") == "" || p.Header.Get("Date") == "" {
				t.Error("missing Message-ID or Date")
			}
			for part, body := range map[string]string{"text": p.Text, "html": p.HTML} {
				for _, want := range []string{m.LinkURL, m.Code, "15 minutes", "2026-03-02 14:15 UTC", "Chrome on Windows, near London"} {
					if !strings.Contains(body, want) {
						t.Errorf("%s part lacks %q:\n%s", part, want, body)
					}
				}
			}
			if !strings.Contains(p.HTML, `href="`+m.LinkURL+`"`) {
				t.Error("html part has no clickable link")
			}
		})
	}
}

func TestSendErrors(t *testing.T) {
	good := smtptest.Start(t, smtptest.Options{})
	plain := smtptest.Start(t, smtptest.Options{NoTLS: true})
	hole := smtptest.StartBlackhole(t, "")
	tests := []struct {
		name      string
		cfg       func() Config
		msg       func(Message) Message
		permanent bool
		code      int
		op        string
		contains  string
	}{
		{
			name: "auth/wrong password",
			cfg: func() Config {
				c := relayConfig(good, false)
				c.Password = "wrong-password"
				return c
			},
			permanent: true, code: 535, op: "dial",
		},
		{
			name:      "rcpt/unknown recipient",
			cfg:       func() Config { return relayConfig(good, false) },
			msg:       func(m Message) Message { m.To = "nobody@example.com"; return m },
			permanent: true, code: 550, op: "send",
		},
		{
			name:      "rcpt/greylisted",
			cfg:       func() Config { return relayConfig(good, false) },
			msg:       func(m Message) Message { m.To = "greylisted@example.com"; return m },
			permanent: false, code: 451, op: "send",
		},
		{
			name: "dial/connection refused",
			cfg: func() Config {
				c := relayConfig(good, false)
				c.Host, c.Port = splitAddr(t, smtptest.FreeAddr(t))
				return c
			},
			permanent: false, op: "dial", contains: "refused",
		},
		{
			name: "dial/timeout",
			cfg: func() Config {
				c := relayConfig(good, false)
				c.Host, c.Port = splitAddr(t, hole.Addr())
				c.Timeout = 300 * time.Millisecond
				return c
			},
			permanent: false, op: "dial",
		},
		{
			name: "smtps/timeout in handshake",
			cfg: func() Config {
				c := relayConfig(good, true)
				c.Host, c.Port = splitAddr(t, hole.Addr())
				c.Timeout = 300 * time.Millisecond
				return c
			},
			permanent: false, op: "dial",
		},
		{
			name: "tls/untrusted certificate",
			cfg: func() Config {
				c := relayConfig(good, false)
				c.TLSConfig = nil
				return c
			},
			permanent: false, op: "dial", contains: "certificate",
		},
		{
			name:      "starttls/not offered",
			cfg:       func() Config { return relayConfig(plain, false) },
			permanent: false, op: "dial", contains: "STARTTLS",
		},
		{
			name:      "validate/bad recipient address",
			cfg:       func() Config { return relayConfig(good, false) },
			msg:       func(m Message) Message { m.To = "not an address"; return m },
			permanent: true, op: "validate",
		},
		{
			name:      "validate/header injection",
			cfg:       func() Config { return relayConfig(good, false) },
			msg:       func(m Message) Message { m.To = "bob@example.com\r\nBcc: eve@example.com"; return m },
			permanent: true, op: "validate",
		},
		{
			name:      "validate/javascript link",
			cfg:       func() Config { return relayConfig(good, false) },
			msg:       func(m Message) Message { m.LinkURL = "javascript:alert(1)"; return m },
			permanent: true, op: "validate",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := testMessage()
			if tc.msg != nil {
				m = tc.msg(m)
			}
			start := time.Now()
			err := newTestSender(t, tc.cfg()).Send(context.Background(), m)
			if err == nil {
				t.Fatal("Send succeeded")
			}
			if time.Since(start) > 3*time.Second {
				t.Errorf("Send took %v", time.Since(start))
			}
			if got := IsPermanent(err); got != tc.permanent {
				t.Errorf("IsPermanent = %v, want %v (err: %v)", got, tc.permanent, err)
			}
			var me *Error
			if !errors.As(err, &me) {
				t.Fatalf("error %T is not *mail.Error", err)
			}
			if me.Code != tc.code {
				t.Errorf("code %d, want %d (err: %v)", me.Code, tc.code, err)
			}
			if me.Op != tc.op {
				t.Errorf("op %q, want %q (err: %v)", me.Op, tc.op, err)
			}
			if tc.contains != "" && !strings.Contains(err.Error(), tc.contains) {
				t.Errorf("error %q lacks %q", err, tc.contains)
			}
			for _, secret := range []string{smtptest.Password, "wrong-password", m.Code, "AbCdEfGhIj"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error leaks %q: %v", secret, err)
				}
			}
		})
	}
	if n := len(good.Mails()) + len(plain.Mails()); n != 0 {
		t.Errorf("%d mails delivered by failing sends", n)
	}
}

// A cancelled context ends a send that hangs before the relay has the mail,
// well before the timeout, and is a temporary failure.
func TestSendCancelWhileConnecting(t *testing.T) {
	hole := smtptest.StartBlackhole(t, "")
	cfg := Config{Timeout: 30 * time.Second, TLSConfig: &tls.Config{RootCAs: testPool()}}
	cfg.Host, cfg.Port = splitAddr(t, hole.Addr())
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	err := newTestSender(t, cfg).Send(ctx, testMessage())
	if err == nil || IsPermanent(err) {
		t.Fatalf("err = %v, want a temporary error", err)
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want it to wrap context.Canceled", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Send took %v after cancel", d)
	}
}

func TestIsPermanent(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"plain error", errors.New("boom"), false},
		{"mail error/permanent", &Error{Op: "send", Code: 550, Permanent: true, Err: errors.New("x")}, true},
		{"mail error/wrapped", errorsJoin(&Error{Op: "send", Permanent: true, Err: errors.New("x")}), true},
		{"mail error/temporary", &Error{Op: "send", Code: 421, Err: errors.New("x")}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := IsPermanent(tc.err); got != tc.want {
				t.Errorf("IsPermanent(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

func errorsJoin(err error) error { return errors.Join(errors.New("context"), err) }

func TestNewSenderRejects(t *testing.T) {
	r, _ := NewRenderer("")
	tests := []struct {
		name string
		cfg  Config
		from string
	}{
		{"config/no host", Config{Port: 587}, "a@b.example"},
		{"config/bad port", Config{Host: "h", Port: 0}, "a@b.example"},
		{"from/empty", Config{Host: "h", Port: 587}, ""},
		{"from/not an address", Config{Host: "h", Port: 587}, "linkguard"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewSender(tc.cfg, tc.from, r); err == nil {
				t.Error("NewSender accepted it")
			}
		})
	}
}

func splitAddr(t testing.TB, addr string) (string, int) {
	t.Helper()
	c, err := ParseURL("smtp://" + addr)
	if err != nil {
		t.Fatal(err)
	}
	return c.Host, c.Port
}
