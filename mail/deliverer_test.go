package mail

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/linkguard/linkguard/internal/smtptest"
)

// memQueue is an in-memory Queue with the semantics the store must
// provide: Due claims with a lease, MarkSent and permanent MarkFailed end
// a job. It is a test double of the store's queue, not of the Deliverer.
type memQueue struct {
	mu   sync.Mutex
	jobs map[string]*memJob
	seq  int
	// dueCalls counts Due calls, so tests can wait for the loop to idle.
	dueCalls atomic.Int64
	// sticky makes Due hand out jobs again despite their lease, like a
	// broken store or a lease shorter than a send.
	sticky bool
}

type memJob struct {
	Job
	order   int
	next    time.Time
	state   string // pending, sent, failed, canceled
	lastErr string
	// cancel and checkErr are what Canceled answers for the job: its
	// link is no longer pending, or cannot be read.
	cancel   string
	checkErr error
	sentAt   time.Time
	failures []string
}

func newMemQueue() *memQueue { return &memQueue{jobs: map[string]*memJob{}} }

func (q *memQueue) add(id string, m Message, due time.Time) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.seq++
	q.jobs[id] = &memJob{Job: Job{ID: id, Message: m}, order: q.seq, next: due, state: "pending"}
}

func (q *memQueue) Due(_ context.Context, now time.Time, lease time.Duration, max int) ([]Job, error) {
	q.dueCalls.Add(1)
	q.mu.Lock()
	defer q.mu.Unlock()
	var due []*memJob
	for _, j := range q.jobs {
		if j.state == "pending" && !j.next.After(now) {
			due = append(due, j)
		}
	}
	sort.Slice(due, func(a, b int) bool { return due[a].order < due[b].order })
	if len(due) > max {
		due = due[:max]
	}
	out := make([]Job, len(due))
	for i, j := range due {
		if !q.sticky {
			j.next = now.Add(lease)
		}
		out[i] = j.Job
	}
	return out, nil
}

func (q *memQueue) MarkSent(_ context.Context, id string, at time.Time) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	j := q.jobs[id]
	j.state, j.sentAt = "sent", at
	j.Message = Message{} // the link and code are no longer needed
	return nil
}

func (q *memQueue) MarkFailed(_ context.Context, id string, attempt int, next time.Time, lastErr string, permanent bool) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	j := q.jobs[id]
	j.Attempt, j.next, j.lastErr = attempt, next, lastErr
	j.failures = append(j.failures, lastErr)
	if permanent {
		j.state = "failed"
		j.Message = Message{}
	}
	return nil
}

func (q *memQueue) Canceled(_ context.Context, id string) (string, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	j := q.jobs[id]
	return j.cancel, j.checkErr
}

func (q *memQueue) MarkCanceled(_ context.Context, id string, attempts int, reason string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	j := q.jobs[id]
	j.Attempt, j.lastErr, j.state = attempts, reason, "canceled"
	j.Message = Message{}
	return nil
}

func (q *memQueue) get(id string) memJob {
	q.mu.Lock()
	defer q.mu.Unlock()
	return *q.jobs[id]
}

// waitFor polls cond until it holds or the test times out.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// fastDeliverer polls often and retries quickly, so the relay scenarios
// play out in a second.
func fastDeliverer(q Queue, tr Transport) *Deliverer {
	d := NewDeliverer(q, tr)
	d.Interval = 10 * time.Millisecond
	d.Backoff = Backoff{Base: 20 * time.Millisecond, Max: 50 * time.Millisecond}
	d.Logger = quietLogger()
	return d
}

func runDeliverer(t *testing.T, d *Deliverer) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("Run did not return after cancel")
		}
	}
	t.Cleanup(stop)
	return stop
}

// The relay first hangs, then refuses connections, then comes back: the
// mail is delivered once it is back, and exactly once.
func TestDelivererRelayDownThenBack(t *testing.T) {
	addr := smtptest.FreeAddr(t)
	hole := smtptest.StartBlackhole(t, addr)

	cfg := Config{Timeout: 200 * time.Millisecond, Username: smtptest.User, Password: smtptest.Password}
	cfg.Host, cfg.Port = splitAddr(t, addr)
	cfg.TLSConfig = testTLSConfig(t)
	sender := newTestSender(t, cfg)
	sender.Now = time.Now

	q := newMemQueue()
	m := testMessage()
	m.ExpiresAt = time.Now().Add(time.Hour)
	q.add("lnk_1", m, time.Now())

	d := fastDeliverer(q, sender)
	var omu sync.Mutex
	observed := map[string]int{}
	d.Observe = func(r string) { omu.Lock(); observed[r]++; omu.Unlock() }
	stop := runDeliverer(t, d)

	waitFor(t, "a timed-out attempt", func() bool { return q.get("lnk_1").Attempt >= 1 })
	hole.Close()
	after := q.get("lnk_1").Attempt
	waitFor(t, "a refused attempt", func() bool { return q.get("lnk_1").Attempt >= after+1 })
	if j := q.get("lnk_1"); j.state != "pending" {
		t.Fatalf("job %s after temporary failures (%v)", j.state, j.failures)
	}

	relay := smtptest.Start(t, smtptest.Options{Addr: addr})
	d.Kick()
	waitFor(t, "delivery", func() bool { return q.get("lnk_1").state == "sent" })
	got := relay.Next(t, 10*time.Second)
	p := smtptest.Parse(t, got.Data)
	if !contains(p.Text, m.LinkURL) || !contains(p.HTML, m.Code) {
		t.Error("delivered mail lacks the link or the code")
	}

	// Let the loop run on, and kick it, and check nothing goes out again.
	calls := q.dueCalls.Load()
	for range 5 {
		d.Kick()
	}
	waitFor(t, "more polling", func() bool { return q.dueCalls.Load() > calls+10 })
	stop()
	if n := len(relay.Mails()); n != 1 {
		t.Errorf("relay received %d mails, want exactly 1", n)
	}
	j := q.get("lnk_1")
	if j.Attempt < 2 {
		t.Errorf("only %d failed attempts recorded", j.Attempt)
	}
	t.Logf("delivered after %d failed attempts: %q", j.Attempt, j.failures)
	omu.Lock()
	defer omu.Unlock()
	if observed["sent"] != 1 || observed["retry"] != j.Attempt || observed["failed"] != 0 {
		t.Errorf("observed %v, want 1 sent and %d retries", observed, j.Attempt)
	}
}

func TestDelivererPermanentFailureIsNotRetried(t *testing.T) {
	relay := smtptest.Start(t, smtptest.Options{})
	q := newMemQueue()
	m := testMessage()
	m.To = "nobody@example.com"
	m.ExpiresAt = time.Now().Add(time.Hour)
	q.add("lnk_1", m, time.Now())
	sender := newTestSender(t, relayConfig(relay, false))
	sender.Now = time.Now
	d := fastDeliverer(q, sender)
	stop := runDeliverer(t, d)
	waitFor(t, "the failure", func() bool { return q.get("lnk_1").state == "failed" })
	calls := q.dueCalls.Load()
	waitFor(t, "more polling", func() bool { return q.dueCalls.Load() > calls+5 })
	stop()
	j := q.get("lnk_1")
	if j.Attempt != 1 || len(j.failures) != 1 {
		t.Errorf("attempts %d, failures %q; want one", j.Attempt, j.failures)
	}
	if !contains(j.lastErr, "550") {
		t.Errorf("last error %q does not carry the reply", j.lastErr)
	}
}

// countingTransport records sends, optionally failing or blocking.
type countingTransport struct {
	mu       sync.Mutex
	sent     map[string]int
	active   map[string]int
	maxConc  int
	block    chan struct{} // when set, Send waits for it to close
	started  chan string
	failWith error
}

func newCountingTransport() *countingTransport {
	return &countingTransport{sent: map[string]int{}, active: map[string]int{}, started: make(chan string, 100)}
}

func (c *countingTransport) Send(ctx context.Context, m Message) error {
	c.mu.Lock()
	c.active[m.To]++
	if c.active[m.To] > c.maxConc {
		c.maxConc = c.active[m.To]
	}
	c.mu.Unlock()
	c.started <- m.To
	if c.block != nil {
		<-c.block // a transaction under way ignores ctx, as Transport requires
	} else {
		time.Sleep(20 * time.Millisecond)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.active[m.To]--
	if c.failWith != nil {
		return c.failWith
	}
	c.sent[m.To]++
	return nil
}

// Even when the queue hands the same job out again while it is being sent,
// it is never sent twice at once.
func TestDelivererNeverSendsAJobConcurrently(t *testing.T) {
	q := newMemQueue()
	q.sticky = true
	m := testMessage()
	m.ExpiresAt = time.Now().Add(time.Hour)
	q.add("lnk_1", m, time.Now())
	tr := newCountingTransport()
	d := fastDeliverer(q, tr)
	d.Interval = time.Millisecond
	ctx := context.Background()
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := d.RunOnce(ctx); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if tr.maxConc != 1 {
		t.Errorf("job sent %d times at once", tr.maxConc)
	}
}

// Shutdown waits for a send under way and records its outcome, so the
// mail is not sent again after the restart.
func TestDelivererShutdownRecordsSendInFlight(t *testing.T) {
	q := newMemQueue()
	m := testMessage()
	m.ExpiresAt = time.Now().Add(time.Hour)
	q.add("lnk_1", m, time.Now())
	tr := newCountingTransport()
	tr.block = make(chan struct{})
	d := fastDeliverer(q, tr)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = d.Run(ctx); close(done) }()
	<-tr.started
	cancel()
	select {
	case <-done:
		t.Fatal("Run returned while a send was under way")
	case <-time.After(50 * time.Millisecond):
	}
	close(tr.block)
	<-done
	if j := q.get("lnk_1"); j.state != "sent" {
		t.Errorf("job %s after shutdown, want sent", j.state)
	}
}

func TestDelivererExpiredLinkIsNotSent(t *testing.T) {
	q := newMemQueue()
	m := testMessage()
	m.ExpiresAt = time.Now().Add(-time.Second)
	q.add("lnk_1", m, time.Now())
	tr := newCountingTransport()
	d := fastDeliverer(q, tr)
	if _, err := d.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	j := q.get("lnk_1")
	if j.state != "failed" || !contains(j.lastErr, "expired") {
		t.Errorf("job %s (%q), want failed for expiry", j.state, j.lastErr)
	}
	if len(tr.sent) != 0 {
		t.Error("an expired link was mailed")
	}
}

// A job the Queue says is no longer wanted is ended unsent, as canceled;
// one whose answer is unknown is put off, not counted as an attempt, and
// sent once the answer comes.
func TestDelivererCancelsUnwantedMail(t *testing.T) {
	q := newMemQueue()
	for _, id := range []string{"lnk_revoked", "lnk_unknown", "lnk_kept"} {
		m := testMessage()
		m.To = id + "@example.com"
		m.ExpiresAt = time.Now().Add(time.Hour)
		q.add(id, m, time.Now())
	}
	q.jobs["lnk_revoked"].cancel = "the link was revoked before its mail was sent"
	q.jobs["lnk_unknown"].checkErr = errors.New("read link: i/o error")
	tr := newCountingTransport()
	d := fastDeliverer(q, tr)
	d.Backoff = Backoff{Base: time.Minute, Max: time.Minute}
	var omu sync.Mutex
	observed := map[string]int{}
	d.Observe = func(r string) { omu.Lock(); observed[r]++; omu.Unlock() }
	if _, err := d.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if j := q.get("lnk_revoked"); j.state != "canceled" || j.lastErr != "the link was revoked before its mail was sent" || j.Message != (Message{}) {
		t.Errorf("revoked: job %s (%q), want canceled with the reason, message dropped", j.state, j.lastErr)
	}
	if j := q.get("lnk_unknown"); j.state != "pending" || j.Attempt != 0 || j.next.Before(time.Now().Add(50*time.Second)) {
		t.Errorf("unknown: job %s, attempt %d, next %s; want pending, put off, no attempt counted", j.state, j.Attempt, j.next)
	}
	if j := q.get("lnk_kept"); j.state != "sent" {
		t.Errorf("kept: job %s, want sent", j.state)
	}
	if tr.sent["lnk_revoked@example.com"] != 0 || tr.sent["lnk_unknown@example.com"] != 0 || tr.sent["lnk_kept@example.com"] != 1 {
		t.Errorf("sent %v, want only the kept job's mail", tr.sent)
	}
	if observed["canceled"] != 1 || observed["retry"] != 1 || observed["sent"] != 1 {
		t.Errorf("observed %v, want 1 canceled, 1 retry, 1 sent", observed)
	}

	q.mu.Lock()
	q.jobs["lnk_unknown"].checkErr = nil
	q.jobs["lnk_unknown"].next = time.Now()
	q.mu.Unlock()
	if _, err := d.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if j := q.get("lnk_unknown"); j.state != "sent" || tr.sent["lnk_unknown@example.com"] != 1 {
		t.Errorf("unknown, once readable: job %s, sent %d times; want sent once", j.state, tr.sent["lnk_unknown@example.com"])
	}
}

func TestDelivererGivesUp(t *testing.T) {
	temp := &Error{Op: "dial", Err: errors.New("connection refused")}
	tests := []struct {
		name        string
		maxAttempts int
		expiresIn   time.Duration
		attempts    int // failed attempts before this one
		wantState   string
		wantNextIn  time.Duration
	}{
		{"retry/first failure", 0, time.Hour, 0, "pending", 5 * time.Second},
		{"retry/third failure", 0, time.Hour, 2, "pending", 20 * time.Second},
		{"give up/max attempts", 3, time.Hour, 2, "failed", 20 * time.Second},
		{"give up/link expires before next try", 0, 10 * time.Second, 1, "failed", 10 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			now := time.Date(2026, 3, 2, 14, 0, 0, 0, time.UTC)
			q := newMemQueue()
			m := testMessage()
			m.ExpiresAt = now.Add(tc.expiresIn)
			q.add("lnk_1", m, now)
			q.jobs["lnk_1"].Attempt = tc.attempts
			tr := newCountingTransport()
			tr.failWith = temp
			d := NewDeliverer(q, tr)
			d.Logger = quietLogger()
			d.Backoff = Backoff{Base: 5 * time.Second, Max: time.Minute}
			d.MaxAttempts = tc.maxAttempts
			d.Now = func() time.Time { return now }
			if _, err := d.RunOnce(context.Background()); err != nil {
				t.Fatal(err)
			}
			j := q.get("lnk_1")
			if j.state != tc.wantState || j.Attempt != tc.attempts+1 {
				t.Errorf("state %s attempt %d, want %s %d (%q)", j.state, j.Attempt, tc.wantState, tc.attempts+1, j.lastErr)
			}
			if j.next != now.Add(tc.wantNextIn) {
				t.Errorf("next in %v, want %v", j.next.Sub(now), tc.wantNextIn)
			}
		})
	}
}

func TestDelivererKick(t *testing.T) {
	q := newMemQueue()
	tr := newCountingTransport()
	d := fastDeliverer(q, tr)
	d.Interval = time.Hour
	runDeliverer(t, d)
	waitFor(t, "the first poll", func() bool { return q.dueCalls.Load() >= 1 })
	m := testMessage()
	m.ExpiresAt = time.Now().Add(time.Hour)
	q.add("lnk_1", m, time.Now())
	d.Kick()
	waitFor(t, "the kicked send", func() bool { return q.get("lnk_1").state == "sent" })
}

func contains(s, sub string) bool { return sub != "" && strings.Contains(s, sub) }
