package mail

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/linkguard/linkguard/internal/smtptest"
)

// credentialForms are the ways a relay's reply can carry the password.
func credentialForms(user, pass string) map[string]string {
	b := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	return map[string]string{
		"password": pass, "base64 password": strings.TrimRight(b(pass), "="),
		"PLAIN blob":              strings.TrimRight(b("\x00"+user+"\x00"+pass), "="),
		"PLAIN blob with authzid": strings.TrimRight(b(user+"\x00"+user+"\x00"+pass), "="),
		"user:pass":               strings.TrimRight(b(user+":"+pass), "="),
	}
}

func TestScrub(t *testing.T) {
	const user, pass = "alice", "s3cret-Pa55word"
	b := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	for _, tc := range []struct{ name, in, keep string }{
		{"AUTH PLAIN line", "535 5.7.8 rejected AUTH PLAIN " + b("\x00"+user+"\x00"+pass) + "\r\n535 bye", "AUTH PLAIN [redacted]\r\n535 bye"},
		{"AUTH with another secret", "535 AUTH XOAUTH2 dG9rZW4tb3RoZXI= no", "AUTH XOAUTH2 [redacted] no"},
		{"auth lower case", "535 auth plain " + b("\x00"+user+"\x00"+pass), "535"},
		{"bare PLAIN blob", "535 5.7.8 bad credentials " + b("\x00"+user+"\x00"+pass) + " for you", "for you"},
		{"blob cut short", "535 bad " + b("\x00" + user + "\x00" + pass)[:20] + " end", " end"},
		{"URL-safe blob", "535 bad " + base64.RawURLEncoding.EncodeToString([]byte("\x00"+user+"\x00"+pass)), "535 bad"},
		{"base64 user:pass", "535 bad " + b(user+":"+pass), "535 bad"},
		{"password verbatim", "535 password " + pass + " is wrong", "is wrong"},
		{"password in base64", "535 LOGIN " + b(pass), "535"},
		{"percent-encoded", "535 s3cret-Pa55word%21 no", " no"},
		{"nothing to scrub", "550 5.1.1 <bob@example.com>: No such user", "550 5.1.1 <bob@example.com>: No such user"},
	} {
		got := scrub(tc.in, user, pass)
		for name, secret := range credentialForms(user, pass) {
			if strings.Contains(got, secret) {
				t.Errorf("%s: %q still holds the %s", tc.name, got, name)
			}
		}
		if strings.Contains(got, b(pass)[:12]) {
			t.Errorf("%s: %q still holds a piece of the base64 password", tc.name, got)
		}
		if !strings.Contains(got, tc.keep) {
			t.Errorf("%s: %q lost %q", tc.name, got, tc.keep)
		}
	}
}

// TestRelayEchoingAuthIsScrubbed: a real relay (go-smtp) that quotes the
// AUTH PLAIN command and the password in its 535: neither the Sender's
// error, nor the deliverer's log, nor the stored last error holds them,
// and the reply code still classifies the failure.
func TestRelayEchoingAuthIsScrubbed(t *testing.T) {
	relay := smtptest.Start(t, smtptest.Options{EchoAuth: true})
	cfg := relayConfig(relay, false)
	forms := credentialForms(cfg.Username, cfg.Password)

	err := newTestSender(t, cfg).Send(context.Background(), testMessage())
	var me *Error
	if !errors.As(err, &me) || me.Code != 535 || !me.Permanent {
		t.Fatalf("Send: %v; want a permanent 535", err)
	}
	if !strings.Contains(err.Error(), "535") || !strings.Contains(err.Error(), redacted) {
		t.Errorf("error %q: want the reply code and a redaction", err)
	}
	for name, secret := range forms {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("Send's error holds the %s: %v", name, err)
		}
	}

	q := newMemQueue()
	m := testMessage()
	m.ExpiresAt = time.Now().Add(time.Hour)
	q.add("lnk_1", m, time.Now())
	sender := newTestSender(t, cfg)
	sender.Now = time.Now
	d := fastDeliverer(q, sender)
	var logs bytes.Buffer
	d.Logger = slog.New(slog.NewTextHandler(&logs, nil)) // read after stop: Run has returned
	stop := runDeliverer(t, d)
	waitFor(t, "the failure", func() bool { return q.get("lnk_1").state == "failed" })
	stop()
	j := q.get("lnk_1")
	if !strings.Contains(j.lastErr, "535") {
		t.Errorf("last error %q lacks the reply code", j.lastErr)
	}
	for name, secret := range forms {
		if strings.Contains(j.lastErr, secret) {
			t.Errorf("last error holds the %s: %s", name, j.lastErr)
		}
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the log holds the %s:\n%s", name, logs.String())
		}
	}
}
