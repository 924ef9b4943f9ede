package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/linkguard/linkguard"
	badgerstore "github.com/linkguard/linkguard/store/badger"
	"github.com/linkguard/linkguard/store/storetest"
)

const testSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// TestSignSpecVector checks Sign against the example of the Standard
// Webhooks specification.
func TestSignSpecVector(t *testing.T) {
	key, err := ParseSecret(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	got := Sign(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`))
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
	h := http.Header{}
	h.Set(HeaderID, "msg_p5jXN8AQM9LWM0D4loKWxJek")
	h.Set(HeaderTimestamp, "1614265330")
	h.Set(HeaderSignature, "v1,bm9ldHUjKzFob2VudXRob2VodWUzMjRvdWVvdW9ldQo= "+got)
	if err := Verify(testSecret, h, []byte(`{"test": 2432232314}`), time.Unix(1614265330, 0), 5*time.Minute); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if err := Verify(testSecret, h, []byte(`{"test": 2432232315}`), time.Unix(1614265330, 0), 5*time.Minute); err == nil {
		t.Fatal("Verify accepted a changed body")
	}
	if err := Verify(testSecret, h, []byte(`{"test": 2432232314}`), time.Unix(1614265330+3600, 0), 5*time.Minute); err == nil {
		t.Fatal("Verify accepted a message an hour old")
	}
}

func TestEndpointErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		ep   Endpoint
		want string
	}{
		{"url", Endpoint{URL: "ftp://x", Secret: testSecret}, "webhooks[0].url"},
		{"credentials", Endpoint{URL: "https://u:p@x", Secret: testSecret}, "credentials"},
		{"secret prefix", Endpoint{URL: "https://x", Secret: "abc"}, `start with "whsec_"`},
		{"secret base64", Endpoint{URL: "https://x", Secret: "whsec_!!"}, "not base64"},
		{"secret short", Endpoint{URL: "https://x", Secret: "whsec_YWJj"}, "3 bytes"},
		{"event", Endpoint{URL: "https://x", Secret: testSecret, Events: []string{"link.eaten"}}, `unknown event type "link.eaten"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(Options{Store: openStore(t, ""), Endpoints: []Endpoint{tc.ep}})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func openStore(t testing.TB, dir string) *badgerstore.Store {
	t.Helper()
	s, err := badgerstore.Open(badgerstore.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// receiver is a real HTTP receiver that checks every signature with its
// own HMAC code (not Sign) and answers 500 while down.
type receiver struct {
	t  *testing.T
	mu sync.Mutex
	// fails is how many more requests get a 500 (negative: all of them).
	fails    int
	tries    map[string]int // webhook-id → requests
	ok       map[string]int // webhook-id → 2xx answers
	bodies   map[string][]byte
	badSigs  int
	received chan string
	// hold, when set, is sent to by each request, which then never answers.
	hold chan struct{}
	// onRequest, when set, sees the webhook headers of each good request.
	onRequest func(map[string]string)
}

func newReceiver(t *testing.T) (*receiver, *httptest.Server) {
	r := &receiver{t: t, tries: map[string]int{}, ok: map[string]int{}, bodies: map[string][]byte{}, received: make(chan string, 100)}
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return r, srv
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	hold := r.hold
	r.mu.Unlock()
	if hold != nil {
		hold <- struct{}{}
		<-req.Context().Done() // never answers: the sender gives up
		return
	}
	id, ts, sig := req.Header.Get("webhook-id"), req.Header.Get("webhook-timestamp"), req.Header.Get("webhook-signature")
	key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(testSecret, "whsec_"))
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + ts + "." + string(body)))
	want := "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
	r.mu.Lock()
	defer r.mu.Unlock()
	if sig != want || req.Header.Get("Content-Type") != "application/json" {
		r.badSigs++
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	r.tries[id]++
	if r.onRequest != nil {
		r.onRequest(map[string]string{"webhook-id": id, "webhook-timestamp": ts, "webhook-signature": sig})
	}
	if r.fails != 0 {
		r.fails--
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	r.ok[id]++
	r.bodies[id] = body
	w.WriteHeader(http.StatusNoContent)
	r.received <- id
}

func (r *receiver) set(fails int) { r.mu.Lock(); r.fails = fails; r.mu.Unlock() }

func (r *receiver) wait(t *testing.T, n int) []string {
	t.Helper()
	var ids []string
	for len(ids) < n {
		select {
		case id := <-r.received:
			ids = append(ids, id)
		case <-time.After(10 * time.Second):
			t.Fatalf("received %d of %d webhooks", len(ids), n)
		}
	}
	return ids
}

func fast(store Queue, url string) Options {
	return Options{Store: store, Endpoints: []Endpoint{{URL: url, Secret: testSecret}},
		Backoff: []time.Duration{20 * time.Millisecond, 40 * time.Millisecond, 40 * time.Millisecond, 40 * time.Millisecond},
		Poll:    10 * time.Millisecond, Timeout: time.Second,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

func run(t *testing.T, d *Dispatcher) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	return func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run: %v", err)
		}
	}
}

var ctx = context.Background()

// waitDelivered waits until n jobs are recorded as delivered.
func waitDelivered(t *testing.T, st linkguard.WebhookQueue, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		recent, err := st.RecentWebhooks(ctx, 100)
		if err != nil {
			t.Fatal(err)
		}
		done := 0
		for _, j := range recent {
			if j.State == linkguard.WebhookDelivered {
				done++
			}
		}
		if done >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d delivered: %+v", done, n, recent)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// enqueue queues e's jobs as a Store change would.
func enqueue(t *testing.T, d *Dispatcher, e *linkguard.Event) {
	t.Helper()
	if err := d.enqueue(ctx, e, d.opts.MaxPending); err != nil && !errors.Is(err, linkguard.ErrQueueFull) {
		t.Fatal(err)
	}
}

func consumed(id string) *linkguard.Event {
	return &linkguard.Event{Type: linkguard.EventLinkConsumed, At: time.Now(), Email: "alice@example.com",
		LinkID: id, Via: linkguard.ViaClick, Verdict: &linkguard.VerdictSummary{Decision: "consume", Score: 0.9}}
}

// TestRetriesAfter500 delivers three events through two 500s each: every
// event arrives once with a 2xx, under one webhook-id across its retries,
// and the queue records the attempts.
func TestRetriesAfter500(t *testing.T) {
	rc, srv := newReceiver(t)
	rc.set(6)
	st := openStore(t, "")
	d, err := New(fast(st, srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"lnk_a", "lnk_b", "lnk_c"} {
		enqueue(t, d, consumed(id))
	}
	enqueue(t, d, &linkguard.Event{Type: linkguard.EventLinkIssued, LinkID: "lnk_d"}) // not subscribed: no job
	stop := run(t, d)
	ids := rc.wait(t, 3)
	waitDelivered(t, st, 3)
	stop()
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.badSigs != 0 {
		t.Fatalf("%d requests with a bad signature", rc.badSigs)
	}
	total := 0
	for _, id := range ids {
		if rc.ok[id] != 1 {
			t.Fatalf("%s delivered %d times", id, rc.ok[id])
		}
		total += rc.tries[id]
		var b struct {
			Type      string         `json:"type"`
			Timestamp time.Time      `json:"timestamp"`
			Data      map[string]any `json:"data"`
		}
		if err := json.Unmarshal(rc.bodies[id], &b); err != nil {
			t.Fatal(err)
		}
		if b.Type != "link.consumed" || b.Timestamp.IsZero() || b.Data["via"] != "click" || !strings.HasPrefix(b.Data["link_id"].(string), "lnk_") {
			t.Fatalf("body: %s", rc.bodies[id])
		}
		for k := range b.Data {
			switch k {
			case "link_id", "via", "verdict":
			default:
				t.Fatalf("unexpected field %q in %s", k, rc.bodies[id])
			}
		}
		if strings.Contains(string(rc.bodies[id]), "alice@") {
			t.Fatalf("the address leaked into the body: %s", rc.bodies[id])
		}
	}
	if total != 9 {
		t.Fatalf("%d requests for 3 events and 6 failures, want 9", total)
	}
	recent, err := st.RecentWebhooks(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(recent) != 3 {
		t.Fatalf("recent: %+v", recent)
	}
	for _, j := range recent {
		if j.State != linkguard.WebhookDelivered || j.DoneAt.IsZero() {
			t.Fatalf("job %+v", j)
		}
	}
}

// TestRestartMidRetry: the receiver is down; linkguard stops once the
// first failure is recorded in the store and starts again on the same data
// folder; once the receiver is up the event arrives, under its first
// webhook-id, once. NB: it waits for the store's record of the failure,
// not for the receiver's request: stopping between the two is another
// case (TestStopMidPost).
func TestRestartMidRetry(t *testing.T) {
	rc, srv := newReceiver(t)
	rc.set(-1)
	dir := t.TempDir()
	st, err := badgerstore.Open(badgerstore.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	opts := fast(st, srv.URL)
	opts.Backoff = []time.Duration{200 * time.Millisecond, time.Hour}
	d, _ := New(opts)
	enqueue(t, d, consumed("lnk_r"))
	stop := run(t, d)
	first := waitJob(t, st, func(j linkguard.WebhookJob) bool { return j.Attempt == 1 })
	stop()
	st.Close()
	if first.State != linkguard.WebhookPending || first.LastError == "" {
		t.Fatalf("after one failure: %+v", first)
	}

	rc.set(0)
	st2 := openStore(t, dir)
	opts.Store = st2
	d2, _ := New(opts)
	stop = run(t, d2)
	ids := rc.wait(t, 1)
	waitDelivered(t, st2, 1)
	stop()
	if ids[0] != first.MsgID {
		t.Fatalf("after the restart the webhook-id is %s, was %s", ids[0], first.MsgID)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.ok[first.MsgID] != 1 || rc.tries[first.MsgID] != 2 {
		t.Fatalf("ok %d, tries %d; want 1 and 2", rc.ok[first.MsgID], rc.tries[first.MsgID])
	}
}

// TestStopMidPost: linkguard stops while a POST is in flight; the claim
// is given back, so the next start delivers at once, not after the lease.
func TestStopMidPost(t *testing.T) {
	rc, srv := newReceiver(t)
	rc.mu.Lock()
	rc.hold = make(chan struct{}, 1)
	rc.mu.Unlock()
	dir := t.TempDir()
	st, err := badgerstore.Open(badgerstore.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	opts := fast(st, srv.URL)
	opts.Timeout = 5 * time.Second // lease 25 s: far past this test's wait
	d, _ := New(opts)
	enqueue(t, d, consumed("lnk_s"))
	stop := run(t, d)
	select {
	case <-rc.hold:
	case <-time.After(10 * time.Second):
		t.Fatal("no POST")
	}
	stop() // the POST is cut short
	st.Close()

	rc.mu.Lock()
	rc.hold = nil
	rc.mu.Unlock()
	st2 := openStore(t, dir)
	opts.Store = st2
	d2, _ := New(opts)
	start := time.Now()
	stop = run(t, d2)
	rc.wait(t, 1)
	waitDelivered(t, st2, 1)
	stop()
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("delivered after %s: the claim was not given back", el)
	}
	recent, err := st2.RecentWebhooks(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(recent) != 1 || recent[0].State != linkguard.WebhookDelivered || recent[0].Attempt != 0 {
		t.Fatalf("recent: %+v", recent)
	}
}

// waitJob waits until the queue's one job meets ok, and returns it.
func waitJob(t *testing.T, st linkguard.WebhookQueue, ok func(linkguard.WebhookJob) bool) linkguard.WebhookJob {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		recent, err := st.RecentWebhooks(ctx, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(recent) == 1 && ok(recent[0]) {
			return recent[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("jobs: %+v", recent)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestQueuedBeforeCrash: an event queued by a process that stops before
// any delivery (the crash between commit and delivery) is delivered by
// the next one.
func TestQueuedBeforeCrash(t *testing.T) {
	rc, srv := newReceiver(t)
	dir := t.TempDir()
	st, err := badgerstore.Open(badgerstore.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	d, _ := New(fast(st, srv.URL))
	enqueue(t, d, consumed("lnk_q"))
	st.Close()
	st2 := openStore(t, dir)
	d2, _ := New(fast(st2, srv.URL))
	stop := run(t, d2)
	rc.wait(t, 1)
	stop()
}

// TestExpiryTimer: an issued link that nobody uses gives one link.expired
// when it expires; a consumed one gives none.
func TestExpiryTimer(t *testing.T) {
	rc, srv := newReceiver(t)
	st := openStore(t, "")
	opts := fast(st, srv.URL)
	opts.Endpoints[0].Events = []string{"link.expired"}
	var d *Dispatcher
	opts.Emit = func(ctx context.Context, e *linkguard.Event) { d.Notify(ctx, e) }
	d, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	unused := storetest.NewLink(t, now, "fam-1")
	used := storetest.NewLink(t, now, "fam-2")
	for _, l := range []*linkguard.Link{unused, used} {
		l.ExpiresAt = now.Add(300 * time.Millisecond)
		// The timer is queued with the link, as the Service does it.
		out := &linkguard.Outbox{Jobs: d.Jobs(&linkguard.Event{Type: linkguard.EventLinkIssued, LinkID: l.ID, ExpiresAt: l.ExpiresAt})}
		if len(out.Jobs) != 1 || out.Jobs[0].Endpoint != "" {
			t.Fatalf("jobs of link.issued: %+v, want the expiry timer alone", out.Jobs)
		}
		if err := st.CreateLink(ctx, l, nil, out); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.RevokeLink(ctx, used.ID, now, linkguard.RevokeAPI, nil); err != nil {
		t.Fatal(err)
	}
	stop := run(t, d)
	ids := rc.wait(t, 1)
	time.Sleep(300 * time.Millisecond)
	stop()
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.ok) != 1 {
		t.Fatalf("%d events, want 1", len(rc.ok))
	}
	if b := string(rc.bodies[ids[0]]); !strings.Contains(b, `"type":"link.expired"`) || !strings.Contains(b, unused.ID) {
		t.Fatalf("body %s", b)
	}
}

// TestQueueBound: past MaxPending, events are dropped, not queued.
func TestQueueBound(t *testing.T) {
	st := openStore(t, "")
	opts := fast(st, "http://127.0.0.1:1/")
	opts.MaxPending = 2
	d, _ := New(opts)
	for _, id := range []string{"lnk_1", "lnk_2", "lnk_3"} {
		enqueue(t, d, consumed(id))
	}
	due, err := st.DueWebhooks(ctx, time.Now().Add(time.Minute), time.Minute, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(due) != 2 {
		t.Fatalf("%d queued, want 2", len(due))
	}
}

// TestQueueBoundFollowsDeliveries: the bound counts pending jobs only: a
// delivered one frees its place, a retried one keeps it, and a reopened
// store counts again from its data.
func TestQueueBoundFollowsDeliveries(t *testing.T) {
	dir := t.TempDir()
	st, err := badgerstore.Open(badgerstore.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	const max = 2
	enqueue := func(st linkguard.WebhookQueue, id string) error {
		now := time.Now().UTC()
		return st.EnqueueWebhooks(ctx, []linkguard.WebhookJob{{ID: id + ".x", MsgID: id, Endpoint: "x",
			Type: linkguard.EventLinkConsumed, CreatedAt: now, NextAt: now}}, max)
	}
	for _, id := range []string{"msg_1", "msg_2"} {
		if err := enqueue(st, id); err != nil {
			t.Fatal(err)
		}
	}
	if err := enqueue(st, "msg_3"); !errors.Is(err, linkguard.ErrQueueFull) {
		t.Fatalf("third job: %v, want ErrQueueFull", err)
	}
	due, err := st.DueWebhooks(ctx, time.Now().UTC(), time.Minute, 10)
	if err != nil || len(due) != 2 {
		t.Fatalf("due %d, %v", len(due), err)
	}
	retry, done := due[0], due[1]
	retry.Attempt, retry.NextAt = 1, time.Now().Add(time.Minute)
	done.State, done.DoneAt = linkguard.WebhookDelivered, time.Now()
	for _, j := range []*linkguard.WebhookJob{&retry, &done} {
		if err := st.UpdateWebhook(ctx, j, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	if err := enqueue(st, "msg_3"); err != nil {
		t.Fatalf("after one delivery: %v", err)
	}
	if err := enqueue(st, "msg_4"); !errors.Is(err, linkguard.ErrQueueFull) {
		t.Fatalf("fourth job: %v, want ErrQueueFull", err)
	}
	st.Close()
	st2 := openStore(t, dir)
	if err := enqueue(st2, "msg_5"); !errors.Is(err, linkguard.ErrQueueFull) {
		t.Fatalf("after reopening, 2 pending: %v, want ErrQueueFull", err)
	}
}
