package kit_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/linkguard/linkguard/kit"
	"github.com/linkguard/linkguard/webhook"
)

const hookSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// hookReceiver is a host's webhook endpoint: it checks each signature
// with its own HMAC code (not webhook.Sign) and answers 500 to the first
// `down` requests, as a receiver that is down.
type hookReceiver struct {
	mu     sync.Mutex
	down   int
	bad    int
	tries  map[string]int    // webhook-id → requests
	bodies map[string]string // webhook-id → the body answered 2xx
	types  map[string][]string
}

func (r *hookReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	id, ts := req.Header.Get("webhook-id"), req.Header.Get("webhook-timestamp")
	key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(hookSecret, "whsec_"))
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + ts + "." + string(body)))
	want := "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
	r.mu.Lock()
	defer r.mu.Unlock()
	if req.Header.Get("webhook-signature") != want {
		r.bad++
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	r.tries[id]++
	if r.down > 0 {
		r.down--
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	if _, dup := r.bodies[id]; !dup {
		var b struct {
			Type string `json:"type"`
			Data struct {
				LinkID string `json:"link_id"`
			} `json:"data"`
		}
		json.Unmarshal(body, &b)
		r.types[b.Data.LinkID] = append(r.types[b.Data.LinkID], b.Type)
	}
	r.bodies[id] = string(body)
	w.WriteHeader(http.StatusNoContent)
}

// waitType waits until the receiver accepted an event of type typ for link.
func (r *hookReceiver) waitType(t *testing.T, link, typ string) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		r.mu.Lock()
		for id, b := range r.bodies {
			if strings.Contains(b, `"type":"`+typ+`"`) && strings.Contains(b, link) {
				r.mu.Unlock()
				return id
			}
		}
		r.mu.Unlock()
		time.Sleep(20 * time.Millisecond)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	t.Fatalf("no %s for %s; got %v", typ, link, r.types)
	return ""
}

// TestWebhooksEndToEnd: a kit with a webhook endpoint and real SMTP tells
// a real receiver, signed, of a consumed link, a locked one and a mail
// given up on, through the receiver's first failures (retried under the
// same webhook-id), once per id, and never with a code, token or address.
func TestWebhooksEndToEnd(t *testing.T) {
	rc := &hookReceiver{down: 2, tries: map[string]int{}, bodies: map[string]string{}, types: map[string][]string{}}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	r := newRelay(t)
	h := newKitWith(t, r, false, func(o *kit.Options) {
		o.Webhooks = []webhook.Endpoint{{URL: srv.URL + "/hooks", Secret: hookSecret}}
	})

	used := h.issue("alice@example.com")
	var ex map[string]any
	if st := h.api("POST", "/v1/links/"+used.ID+"/redeem", map[string]string{"code": used.Code}, &ex); st != http.StatusOK {
		t.Fatalf("redeem: %d", st)
	}
	locked := h.issue("bob@example.com")
	wrong := "000000"
	if locked.Code == wrong {
		wrong = "111111"
	}
	for range 5 {
		h.api("POST", "/v1/links/"+locked.ID+"/redeem", map[string]string{"code": wrong}, nil)
	}
	bounced := h.issue("nobody@example.com")

	rc.waitType(t, used.ID, "link.consumed")
	rc.waitType(t, locked.ID, "link.locked")
	failedID := rc.waitType(t, bounced.ID, "mail.failed")

	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.bad != 0 {
		t.Fatalf("%d requests with a bad signature", rc.bad)
	}
	retried := false
	for id, b := range rc.bodies {
		if rc.tries[id] > 1 {
			retried = true
		}
		for _, secret := range []string{used.Code, locked.Code, bounced.Code, "@example.com", tokenOf(used.URL)} {
			if strings.Contains(b, secret) {
				t.Fatalf("webhook %s carries %q: %s", id, secret, b)
			}
		}
	}
	if !retried {
		t.Fatalf("no event was retried after the receiver's 503s: %v", rc.tries)
	}
	for link, types := range rc.types {
		seen := map[string]bool{}
		for _, typ := range types {
			if seen[typ] {
				t.Fatalf("%s got %s twice under different ids: %v", link, typ, types)
			}
			seen[typ] = true
		}
	}
	if b := rc.bodies[failedID]; !strings.Contains(b, `"attempts":1`) || !strings.Contains(b, "550") {
		t.Fatalf("mail.failed body: %s", b)
	}
	if got := rc.types[used.ID]; len(got) != 1 {
		t.Fatalf("consumed link's events: %v (link.issued is not subscribed by default)", got)
	}
}

func tokenOf(link string) string {
	u, _ := url.Parse(link)
	return u.Path[strings.LastIndex(u.Path, "/")+1:]
}

// TestAdminOnlyWhenConfigured: without an admin address nothing answers
// under /admin; with one, the sign-in form does, and an admin's sign-in
// link is mailed even when the hosts' redirect origins leave the kit's
// own origin out.
func TestAdminOnlyWhenConfigured(t *testing.T) {
	off := newKit(t, nil, true)
	for _, p := range []string{"/admin", "/admin/", "/admin/login", "/admin/static/admin.css", "/admin/export.jsonl", "/admin/backup"} {
		req, _ := http.NewRequest("GET", off.base+p, nil)
		if res, _ := off.do(req); res.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s without admins: %d, want 404", p, res.StatusCode)
		}
	}

	r := newRelay(t)
	on := newKitWith(t, r, true, func(o *kit.Options) {
		o.Admin.Emails = []string{"ops@example.com"}
		o.RedirectOrigins = []string{"https://app.example.com"}
	})
	req, _ := http.NewRequest("GET", on.base+"/admin/", nil)
	res, _ := on.do(req)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/admin/login" {
		t.Fatalf("GET /admin/ without a session: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	req, _ = http.NewRequest("GET", on.base+"/admin/login", nil)
	res, page := on.do(req)
	m := csrfRe.FindStringSubmatch(page)
	if res.StatusCode != http.StatusOK || m == nil || !strings.Contains(page, `id="lg-admin-email"`) {
		t.Fatalf("sign-in form: %d %s", res.StatusCode, page)
	}
	form := url.Values{"csrf": {m[1]}, "email": {"ops@example.com"}}
	req, _ = http.NewRequest("POST", on.base+"/admin/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, c := range res.Cookies() {
		req.AddCookie(c)
	}
	res, page = on.do(req)
	if res.StatusCode != http.StatusOK || !strings.Contains(page, `data-lg-state="sent"`) {
		t.Fatalf("POST /admin/login: %d %s", res.StatusCode, page)
	}
	mail := r.WaitFor(t, "ops@example.com", 10*time.Second)
	if !strings.Contains(string(mail.Data), on.base+"/l/") {
		t.Fatalf("the mail holds no link to %s/l/", on.base)
	}
}

// TestAdminNeedsMail: a console whose sign-in links cannot be mailed is
// refused at start, with the setting to fix.
func TestAdminNeedsMail(t *testing.T) {
	_, err := kit.New(kit.Options{PublicURL: "https://kit.example.com", APIKeys: []string{apiKey}, Store: "memory",
		Admin: kit.AdminOptions{Emails: []string{"ops@example.com"}}})
	if err == nil || !strings.Contains(err.Error(), "LINKGUARD_SMTP_URL") {
		t.Fatalf("err %v, want one naming LINKGUARD_SMTP_URL", err)
	}
}
