package webhook

import (
	"fmt"
	"testing"
	"time"

	"github.com/linkguard/linkguard"

	badgerstore "github.com/linkguard/linkguard/store/badger"
)

// BenchmarkNotify is what a request pays to queue one event for one
// endpoint: a synced Badger write on disk (the request path's cost of
// webhooks; delivery runs elsewhere).
func BenchmarkNotify(b *testing.B) {
	st, err := badgerstore.Open(badgerstore.Options{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	d, err := New(fast(st, "http://127.0.0.1:1/"))
	if err != nil {
		b.Fatal(err)
	}
	d.opts.MaxPending = b.N + 1
	for b.Loop() {
		d.Notify(ctx, consumed("lnk_bench"))
	}
}

// BenchmarkNotifyBacklog is BenchmarkNotify with 20,000 deliveries
// waiting (a receiver down for a while): the queue's bound must not make
// every request pay for the backlog.
func BenchmarkNotifyBacklog(b *testing.B) {
	st, err := badgerstore.Open(badgerstore.Options{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	d, err := New(fast(st, "http://127.0.0.1:1/"))
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now().UTC()
	for i := range 20 { // 20,000 jobs, 1,000 a transaction
		jobs := make([]linkguard.WebhookJob, 1000)
		for k := range jobs {
			id := fmt.Sprintf("msg_backlog%05d", i*1000+k)
			jobs[k] = linkguard.WebhookJob{ID: id + ".x", MsgID: id, Endpoint: "x", Type: linkguard.EventLinkConsumed,
				Body: []byte(`{}`), CreatedAt: now, NextAt: now.Add(time.Hour)}
		}
		if err := st.EnqueueWebhooks(ctx, jobs, 0); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		d.Notify(ctx, consumed("lnk_bench"))
	}
}
