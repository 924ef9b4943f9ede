package mail

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/linkguard/linkguard/internal/smtptest"
)

func TestOutboxKeepsNewestFirstAndBounded(t *testing.T) {
	o := NewOutbox(3, nil, nil)
	for i := range 5 {
		o.Add(OutboxEntry{To: fmt.Sprintf("u%d@example.com", i), SentAt: testNow.Add(time.Duration(i) * time.Second)})
	}
	got := o.List()
	if len(got) != 3 {
		t.Fatalf("%d entries, want 3", len(got))
	}
	for i, want := range []string{"u4@example.com", "u3@example.com", "u2@example.com"} {
		if got[i].To != want {
			t.Errorf("entry %d is %q, want %q", i, got[i].To, want)
		}
	}
}

func TestOutboxJSONShape(t *testing.T) {
	o := NewOutbox(0, nil, nil)
	var b bytes.Buffer
	if err := o.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(b.String()) != "[]" {
		t.Errorf("empty outbox is %q, want []", b.String())
	}
	o.Add(OutboxEntry{To: "bob@example.com", Subject: "S", URL: "https://k.example/l/x", Code: "123456",
		SentAt: time.Date(2026, 3, 2, 15, 0, 0, 123456789, time.FixedZone("CET", 3600))})
	b.Reset()
	if err := o.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var raw []map[string]any
	if err := json.Unmarshal(b.Bytes(), &raw); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"to": "bob@example.com", "subject": "S", "url": "https://k.example/l/x", "code": "123456", "sent_at": "2026-03-02T14:00:00.123Z"}
	if len(raw) != 1 || fmt.Sprint(raw[0]) != fmt.Sprint(want) {
		t.Errorf("got %v, want [%v]", raw, want)
	}
}

func TestOutboxHTML(t *testing.T) {
	o := NewOutbox(0, nil, nil)
	var b bytes.Buffer
	if err := o.WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "No mail yet") {
		t.Error("empty page does not say so")
	}
	o.Add(OutboxEntry{To: "bob@example.com", Subject: "<i>Hi</i>", URL: "https://k.example/l/abc?x=1&y=2", Code: "123456", SentAt: testNow})
	b.Reset()
	if err := o.WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, want := range []string{`<a href="https://k.example/l/abc?x=1&amp;y=2"`, "123456", "&lt;i&gt;Hi&lt;/i&gt;", `name="robots" content="noindex"`} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

type failingTransport struct{ err error }

func (f failingTransport) Send(context.Context, Message) error { return f.err }

func TestOutboxAsTransport(t *testing.T) {
	r, err := NewRenderer("")
	if err != nil {
		t.Fatal(err)
	}
	m := testMessage()

	t.Run("record only", func(t *testing.T) {
		o := NewOutbox(0, r, nil)
		o.Now = func() time.Time { return testNow }
		if err := o.Send(context.Background(), m); err != nil {
			t.Fatal(err)
		}
		got := o.List()
		want := OutboxEntry{To: m.To, Subject: "Your sign-in link for Acme", URL: m.LinkURL, Code: m.Code, SentAt: testNow}
		if len(got) != 1 || got[0] != want {
			t.Errorf("got %+v, want %+v", got, want)
		}
	})
	t.Run("next fails: not recorded", func(t *testing.T) {
		boom := &Error{Op: "dial", Err: errors.New("refused")}
		o := NewOutbox(0, r, failingTransport{boom})
		if err := o.Send(context.Background(), m); !errors.Is(err, boom) {
			t.Fatalf("err = %v, want the next transport's", err)
		}
		if n := len(o.List()); n != 0 {
			t.Errorf("%d entries recorded for a failed send", n)
		}
	})
	t.Run("real relay: sent and recorded", func(t *testing.T) {
		relay := smtptest.Start(t, smtptest.Options{})
		o := NewOutbox(0, r, newTestSender(t, relayConfig(relay, false)))
		if err := o.Send(context.Background(), m); err != nil {
			t.Fatal(err)
		}
		relay.Next(t, 10*time.Second)
		if n := len(o.List()); n != 1 {
			t.Errorf("%d entries, want 1", n)
		}
	})
}

func TestOutboxConcurrent(t *testing.T) {
	o := NewOutbox(50, nil, nil)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 100 {
				o.Add(OutboxEntry{To: fmt.Sprintf("%d-%d@example.com", g, i)})
				_ = o.List()
				_ = o.WriteJSON(&bytes.Buffer{})
			}
		}()
	}
	wg.Wait()
	if n := len(o.List()); n != 50 {
		t.Errorf("%d entries, want 50", n)
	}
}
