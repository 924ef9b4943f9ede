package webhook

import (
	"fmt"
	"testing"
	"time"

	"github.com/linkguard/linkguard"

	badgerstore "github.com/linkguard/linkguard/store/badger"
)

// benchDispatcher is a Dispatcher over a Badger store in dir ("": in
// memory) whose endpoint nobody answers: the benchmarks measure queueing.
func benchDispatcher(b *testing.B, dir string) (*badgerstore.Store, *Dispatcher) {
	st := openStore(b, dir)
	d, err := New(fast(st, "http://127.0.0.1:1/"))
	if err != nil {
		b.Fatal(err)
	}
	return st, d
}

// BenchmarkEnqueue is what queueing one event for one endpoint costs on
// its own: the job's body and a synced Badger write on disk. On the
// request path the write is part of the change's own transaction
// (linkguard.Outbox), so a request pays the body and the bytes, not a
// second commit; BenchmarkJobs is the body alone.
func BenchmarkEnqueue(b *testing.B) {
	_, d := benchDispatcher(b, b.TempDir())
	d.opts.MaxPending = b.N + 1
	for b.Loop() {
		d.enqueue(ctx, consumed("lnk_bench"), d.opts.MaxPending)
	}
}

// BenchmarkEnqueueBacklog is BenchmarkEnqueue with 20,000 deliveries
// waiting (a receiver down for a while): the queue's bound must not make
// every request pay for the backlog.
func BenchmarkEnqueueBacklog(b *testing.B) {
	st, d := benchDispatcher(b, b.TempDir())
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
		d.enqueue(ctx, consumed("lnk_bench"), d.opts.MaxPending)
	}
}

// BenchmarkJobs is the webhook work a consumption adds before its
// transaction: the message id and the signed body's JSON.
func BenchmarkJobs(b *testing.B) {
	_, d := benchDispatcher(b, "")
	b.ReportAllocs()
	for b.Loop() {
		if len(d.Jobs(consumed("lnk_bench"))) != 1 {
			b.Fatal("no job")
		}
	}
}
