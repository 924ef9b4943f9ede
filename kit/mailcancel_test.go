package kit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/internal/logbuf"
	"github.com/linkguard/linkguard/internal/redistest"
	"github.com/linkguard/linkguard/internal/smtptest"
	"github.com/linkguard/linkguard/mail"
	badgerstore "github.com/linkguard/linkguard/store/badger"
	"github.com/linkguard/linkguard/store/storetest"
	"github.com/linkguard/linkguard/webhook"
)

// These tests drive the kit's own deliverer a batch at a time (RunOnce,
// with its clock moved past the retry delay) instead of starting the kit:
// the relay's outage and return, the revoke and the retry then happen in
// a fixed order, in a second, with nothing sleeping. The relay (smtptest)
// and the stores are real; the webhook dispatcher does not run, so every
// event job the changes queue is still in the store to be counted.

const cancelAPIKey = "cancel-test-api-key-0123456789"

// mailKit is a kit mailing through relay r, whose deliverer the test runs.
type mailKit struct {
	t     *testing.T
	k     *Kit
	r     *smtptest.Relay
	logs  *logbuf.Buffer
	mu    sync.Mutex
	seen  map[string]int // the deliverer's results (Observe)
	clock atomic.Int64   // how far the deliverer's clock is ahead
}

// newMailKit makes a kit on store ("memory" or a Redis URL) that mails
// through a relay that is down until the test restarts it, and sends
// mail.failed to a webhook endpoint (queued, never delivered here). edit,
// when given, changes the options first.
func newMailKit(t *testing.T, store string, edit ...func(*Options)) *mailKit {
	t.Helper()
	r := smtptest.Start(t, smtptest.Options{ImplicitTLS: true})
	r.Stop()
	m := &mailKit{t: t, r: r, logs: &logbuf.Buffer{}, seen: map[string]int{}}
	o := Options{PublicURL: "https://kit.example.com", Store: store, APIKeys: []string{cancelAPIKey},
		RedirectOrigins: []string{"https://app.example.com"}, MailFrom: "signin@example.com",
		SMTPURL: r.URL(),
		Webhooks: []webhook.Endpoint{{URL: "https://app.example.com/hooks", Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
			Events: []string{string(linkguard.EventMailFailed)}}},
		Log: slog.New(slog.NewTextHandler(m.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	for _, e := range edit {
		e(&o)
	}
	k, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	m.k = k
	k.deliver.Now = func() time.Time { return time.Now().Add(time.Duration(m.clock.Load())) }
	k.deliver.Observe = func(r string) { m.mu.Lock(); m.seen[r]++; m.mu.Unlock() }
	return m
}

func (m *mailKit) api(method, path string, body any, out any) int {
	m.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req := httptest.NewRequest(method, path, rd)
	req.Header.Set("Authorization", "Bearer "+cancelAPIKey)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := m.k.App().Test(req, -1)
	if err != nil {
		m.t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	if out != nil && res.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			m.t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
	return res.StatusCode
}

type mailedLink struct{ ID, URL, Code string }

func (m *mailKit) issue(email string) mailedLink {
	m.t.Helper()
	var l mailedLink
	if st := m.api("POST", "/v1/links", map[string]any{"email": email,
		"redirect_url": "https://app.example.com/cb", "send_email": true}, &l); st != http.StatusCreated {
		m.t.Fatalf("POST /v1/links for %s: %d", email, st)
	}
	return l
}

func (m *mailKit) delivery(id string) linkguard.Delivery {
	m.t.Helper()
	var l struct{ Delivery *linkguard.Delivery }
	if st := m.api("GET", "/v1/links/"+id, nil, &l); st != http.StatusOK || l.Delivery == nil {
		m.t.Fatalf("GET /v1/links/%s: %d, delivery %v", id, st, l.Delivery)
	}
	return *l.Delivery
}

// run moves the deliverer's clock ahead by d (past a retry's delay) and
// runs one batch.
func (m *mailKit) run(d time.Duration) {
	m.t.Helper()
	m.clock.Add(int64(d))
	if _, err := m.k.deliver.RunOnce(context.Background()); err != nil {
		m.t.Fatal(err)
	}
}

// mailFailed lists the links that have a mail.failed job queued.
func (m *mailKit) mailFailed() []string {
	m.t.Helper()
	jobs, err := m.k.store.DueWebhooks(context.Background(), time.Now().Add(48*time.Hour), time.Minute, 1000)
	if err != nil {
		m.t.Fatal(err)
	}
	var ids []string
	for _, j := range jobs {
		if j.Type == linkguard.EventMailFailed {
			ids = append(ids, j.LinkID)
		}
	}
	return ids
}

func (m *mailKit) results() map[string]int {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]int{}
	for k, v := range m.seen {
		out[k] = v
	}
	return out
}

// mailStores are the stores the mail tests run on.
func mailStores(t *testing.T) map[string]func(t *testing.T) string {
	return map[string]func(t *testing.T) string{
		"badger": func(*testing.T) string { return "memory" },
		"redis":  func(t *testing.T) string { return redistest.ForTest(t).URL },
	}
}

// TestRevokedLinksMailIsNotSent: a link revoked through the API while its
// mail waits for a relay that is down gets no mail when the relay is
// back; its delivery says canceled and why, no mail.failed is queued for
// it, and the deliverer counts and logs a cancel without the address. A
// link that nothing happened to, queued beside it, is sent in the same
// batch, and a bounced one still gets its mail.failed (so that the
// webhook's absence above means something).
func TestRevokedLinksMailIsNotSent(t *testing.T) {
	for name, store := range mailStores(t) {
		t.Run(name, func(t *testing.T) {
			m := newMailKit(t, store(t))
			revoked := m.issue("alice@example.com")
			kept := m.issue("bob@example.com")
			m.run(0)
			for _, l := range []mailedLink{revoked, kept} {
				if d := m.delivery(l.ID); d.State != linkguard.DeliveryRetrying || d.Attempts != 1 {
					t.Fatalf("link %s with the relay down: %+v, want retrying after 1 attempt", l.ID, d)
				}
			}
			if st := m.api("DELETE", "/v1/links/"+revoked.ID, nil, nil); st != http.StatusNoContent {
				t.Fatalf("DELETE: %d", st)
			}

			m.r.Restart(t)
			bounced := m.issue("nobody@example.com")
			m.run(time.Minute)

			if got := m.r.To("alice@example.com"); len(got) != 0 {
				t.Fatalf("the revoked link's mail went out: %d mails", len(got))
			}
			if got := m.r.To("bob@example.com"); len(got) != 1 || !strings.Contains(string(got[0].Data), kept.Code) {
				t.Fatalf("the other link's mail: %d mails, want 1 with its code", len(got))
			}
			if got := m.mailFailed(); len(got) != 1 || got[0] != bounced.ID {
				t.Fatalf("mail.failed queued for %v, want only the bounced link %s", got, bounced.ID)
			}
			d := m.delivery(revoked.ID)
			if d.State != linkguard.DeliveryCanceled || d.Attempts != 1 ||
				d.LastError != "the link was revoked by the host's API before its mail was sent" ||
				!d.NextAt.IsZero() || !d.SentAt.IsZero() {
				t.Fatalf("the revoked link's delivery: %+v, want canceled after 1 attempt, saying the API revoked it", d)
			}
			if d := m.delivery(kept.ID); d.State != linkguard.DeliverySent || d.Attempts != 2 {
				t.Fatalf("the other link's delivery: %+v, want sent at the 2nd attempt", d)
			}
			if d := m.delivery(bounced.ID); d.State != linkguard.DeliveryFailed {
				t.Fatalf("the bounced link's delivery: %+v, want failed", d)
			}
			if got := m.results(); got["canceled"] != 1 || got["sent"] != 1 || got["failed"] != 1 || got["retry"] != 2 {
				t.Fatalf("deliverer results %v, want 1 canceled, 1 sent, 1 failed, 2 retries", got)
			}

			// The job ended: later batches neither send nor touch it.
			m.run(time.Minute)
			if got := m.r.To("alice@example.com"); len(got) != 0 {
				t.Fatalf("the revoked link's mail went out later: %d mails", len(got))
			}
			logs := m.logs.String()
			if !strings.Contains(logs, "mail not sent: its link is no longer pending") || !strings.Contains(logs, "job="+revoked.ID) {
				t.Fatalf("no log line for the cancel:\n%s", logs)
			}
			for _, secret := range []string{"alice@example.com", revoked.Code, revoked.URL[strings.LastIndex(revoked.URL, "/")+1:]} {
				if strings.Contains(logs, secret) {
					t.Fatalf("the logs hold %q:\n%s", secret, logs)
				}
			}
		})
	}
}

// TestOnlyTheNewestLinksMailIsSent: two links for one address and site
// while the relay is down; the second revokes the first (newest only per
// family). When the relay is back, the person gets one mail, the newer
// link's, and not the dead one after it.
func TestOnlyTheNewestLinksMailIsSent(t *testing.T) {
	for name, store := range mailStores(t) {
		t.Run(name, func(t *testing.T) {
			m := newMailKit(t, store(t))
			older := m.issue("alice@example.com")
			m.run(0)
			newer := m.issue("alice@example.com")
			m.run(0)
			if d := m.delivery(newer.ID); d.State != linkguard.DeliveryRetrying {
				t.Fatalf("the newer link with the relay down: %+v", d)
			}

			m.r.Restart(t)
			m.run(time.Minute)

			got := m.r.To("alice@example.com")
			if len(got) != 1 {
				t.Fatalf("alice got %d mails, want 1", len(got))
			}
			if body := string(got[0].Data); !strings.Contains(body, newer.Code) || strings.Contains(body, older.Code) {
				t.Fatalf("the mail is not the newer link's (code %s; older %s)", newer.Code, older.Code)
			}
			if got := m.mailFailed(); len(got) != 0 {
				t.Fatalf("mail.failed queued for %v", got)
			}
			if d := m.delivery(older.ID); d.State != linkguard.DeliveryCanceled ||
				d.LastError != "the link was replaced by a newer link before its mail was sent" {
				t.Fatalf("the older link's delivery: %+v, want canceled, naming the newer link", d)
			}
			if d := m.delivery(newer.ID); d.State != linkguard.DeliverySent {
				t.Fatalf("the newer link's delivery: %+v, want sent", d)
			}
		})
	}
}

// TestRestoredLinksMailIsNotSent: a restore revokes the links that were
// pending in the backup and keeps their queued mails; the restored
// server does not send those mails.
func TestRestoredLinksMailIsNotSent(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	before := newMailKit(t, "", func(o *Options) { o.DataDir, o.SecretKey = t.TempDir(), key })
	l := before.issue("alice@example.com")
	var backup bytes.Buffer
	if _, err := before.k.store.(*badgerstore.Store).Backup(context.Background(), &backup); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "restored")
	if _, err := badgerstore.Restore(context.Background(), dir, &backup, nil); err != nil {
		t.Fatal(err)
	}

	after := newMailKit(t, "", func(o *Options) { o.DataDir, o.SecretKey = dir, key })
	after.r.Restart(t)
	if d := after.delivery(l.ID); d.State != linkguard.DeliveryQueued {
		t.Fatalf("the restored link's delivery: %+v, want still queued", d)
	}
	after.run(0)
	if n := len(after.r.To("alice@example.com")); n != 0 {
		t.Fatalf("the restored server sent the revoked link's mail: %d mails", n)
	}
	if d := after.delivery(l.ID); d.State != linkguard.DeliveryCanceled || d.LastError != "the link was ended by a restore before its mail was sent" {
		t.Fatalf("the restored link's delivery: %+v, want canceled, naming the restore", d)
	}
	if got := after.mailFailed(); len(got) != 0 {
		t.Fatalf("mail.failed queued for %v", got)
	}
}

// failingReads is the kit's store whose LinkByID fails while fail is set,
// as a store does when its disk or network does: the one read that a
// real store cannot be made to fail alone (a closed Badger or a stopped
// Redis fails the queue's claim too, before the check is reached).
type failingReads struct {
	linkguard.Store
	fail atomic.Bool
}

func (f *failingReads) LinkByID(ctx context.Context, id string) (*linkguard.Link, error) {
	if f.fail.Load() {
		return nil, errors.New("read link: i/o error")
	}
	return f.Store.LinkByID(ctx, id)
}

// TestMailWaitsWhenItsLinkCannotBeRead: when the link cannot be read, the
// mail is neither sent nor dropped: it is tried again, and goes out once
// the store answers.
func TestMailWaitsWhenItsLinkCannotBeRead(t *testing.T) {
	m := newMailKit(t, "memory")
	m.r.Restart(t)
	st := &failingReads{Store: m.k.store}
	d := mail.NewDeliverer(queue{st: st, sealer: m.k.Service.Keys.Sealer(), hooks: &m.k.mailHooks}, transportOf(t, m))
	m.k.deliver = d
	d.Now = func() time.Time { return time.Now().Add(time.Duration(m.clock.Load())) }
	d.Observe = func(r string) { m.mu.Lock(); m.seen[r]++; m.mu.Unlock() }
	d.Logger = m.k.log

	l := m.issue("alice@example.com")
	st.fail.Store(true)
	m.run(0)
	if n := len(m.r.To("alice@example.com")); n != 0 {
		t.Fatalf("sent without knowing the link's state: %d mails", n)
	}
	if got := m.delivery(l.ID); got.State != linkguard.DeliveryRetrying || got.Attempts != 0 || got.NextAt.IsZero() {
		t.Fatalf("delivery after a failed read: %+v, want retrying, no attempt counted", got)
	}
	st.fail.Store(false)
	m.run(time.Minute)
	if n := len(m.r.To("alice@example.com")); n != 1 {
		t.Fatalf("after the store answered again: %d mails, want 1", n)
	}
	if got := m.delivery(l.ID); got.State != linkguard.DeliverySent {
		t.Fatalf("delivery: %+v, want sent", got)
	}
	if got := m.results(); got["retry"] != 1 || got["sent"] != 1 || got["canceled"] != 0 {
		t.Fatalf("deliverer results %v, want 1 retry then 1 sent", got)
	}
}

// transportOf is a Sender to m's relay, as setupMail makes.
func transportOf(t *testing.T, m *mailKit) mail.Transport {
	t.Helper()
	r, err := mail.NewLocalizedRenderer("", m.k.catalog)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := mail.ParseURL(m.k.opts.SMTPURL)
	if err != nil {
		t.Fatal(err)
	}
	s, err := mail.NewSender(cfg, m.k.opts.MailFrom, r)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestCancelReasonNamesWhy: the reason a mail is canceled with names
// what ended its link: what revoked it, each way, or the generic words
// for a link revoked before reasons were recorded; a pending link's mail
// is wanted.
func TestCancelReasonNamesWhy(t *testing.T) {
	ctx := context.Background()
	st, err := badgerstore.Open(badgerstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now().UTC()
	n := 0
	link := func(why linkguard.RevokeReason, revoke bool) string {
		t.Helper()
		n++
		l := storetest.NewLink(t, now, fmt.Sprint("family", n))
		if err := st.CreateLink(ctx, l, nil, nil); err != nil {
			t.Fatal(err)
		}
		if revoke {
			if _, err := st.RevokeLink(ctx, l.ID, now, why, nil); err != nil {
				t.Fatal(err)
			}
		}
		return l.ID
	}
	q := queue{st: st}
	for _, c := range []struct {
		id, want string
	}{
		{link(linkguard.RevokeAPI, true), "the link was revoked by the host's API before its mail was sent"},
		{link(linkguard.RevokeConsole, true), "the link was revoked in the console before its mail was sent"},
		{link(linkguard.RevokeReplaced, true), "the link was replaced by a newer link before its mail was sent"},
		{link(linkguard.RevokeRestore, true), "the link was ended by a restore before its mail was sent"},
		{link("", true), "the link was revoked (by the host, or by a newer link for the same address) before its mail was sent"},
		{link("", false), ""},
	} {
		if got, err := q.Canceled(ctx, c.id); err != nil || got != c.want {
			t.Errorf("Canceled: %q, %v; want %q", got, err, c.want)
		}
	}
}
