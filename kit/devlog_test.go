package kit

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/linkguard/linkguard/mail"
)

// TestDevMailLogKeepsNoSecret: dev mode's stand-in for SMTP says where
// the mail is, never its link's token or its code.
func TestDevMailLogKeepsNoSecret(t *testing.T) {
	var buf bytes.Buffer
	d := devLog{slog.New(slog.NewTextHandler(&buf, nil))}
	const token, code = "tok_SECRETsecretSECRETsecret0123456789abcd", "482913"
	if err := d.Send(context.Background(), mail.Message{To: "alice@example.com",
		LinkURL: "http://127.0.0.1:8080/l/" + token, Code: code}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if strings.Contains(out, token) || strings.Contains(out, code) || strings.Contains(out, "/l/") {
		t.Fatalf("the dev mail log line carries a secret: %s", out)
	}
	if !strings.Contains(out, "/dev/outbox") {
		t.Fatalf("the dev mail log line does not say where the mail is: %s", out)
	}
}
