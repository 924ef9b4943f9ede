package server

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/internal/benchcpu"
)

// The handler benchmarks call the app's fasthttp handler directly, with
// no socket and no client: what linkguard's own code costs per request,
// in CPU (cpu-ns/op), which the machine's load does not change. The
// socket's share is make perf's (cmd/lgperf), against a bare handler.

func serveDirect(b *testing.B, h *harness, req func(r *fasthttp.Request)) {
	handler := h.srv.App().Handler()
	addr := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
	b.SetParallelism(32) // 64 in flight on 2 cores, as make perf
	b.ReportAllocs()
	b.ResetTimer()
	cpu := benchcpu.Start()
	b.RunParallel(func(pb *testing.PB) {
		var ctx fasthttp.RequestCtx
		var r fasthttp.Request
		for pb.Next() {
			r.Reset()
			req(&r)
			ctx.Response.Reset() // Init keeps the last answer's body
			ctx.Init(&r, addr, nil)
			handler(&ctx)
			if sc := ctx.Response.StatusCode(); sc >= 300 {
				panic(fmt.Sprintf("status %d: %s", sc, ctx.Response.Body()))
			}
		}
	})
	benchcpu.Report(b, cpu)
}

// BenchmarkLandingHandler is GET /l/{token} of a pending link without the
// socket: the store read, the page, the headers and the visit queued.
func BenchmarkLandingHandler(b *testing.B) {
	h := newHarness(b, b.TempDir())
	l := h.issue("")
	uri := "http://kit.test/l/" + l.Token
	serveDirect(b, h, func(r *fasthttp.Request) {
		r.SetRequestURI(uri)
		r.Header.SetUserAgent("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36")
	})
}

// BenchmarkConfirmCodeHandler is POST /l/{token}/confirm with the right
// code without the socket: each request spends its own link (issued
// before the clock starts) in one synced transaction.
func BenchmarkConfirmCodeHandler(b *testing.B) {
	h := newHarness(b, b.TempDir())
	type req struct{ uri, body string }
	reqs := make(chan req, b.N)
	var wg sync.WaitGroup
	var next atomic.Int64
	for range 64 { // issued 64 at a time: each is a synced write
		wg.Go(func() {
			for i := next.Add(1); i <= int64(b.N); i = next.Add(1) {
				is, err := h.svc.Issue(context.Background(), &linkguard.IssueRequest{
					Email: fmt.Sprintf("c%d@example.com", i), RedirectURL: "https://app.example.com/cb"})
				if err != nil {
					panic(err)
				}
				nonce := h.svc.Keys.Nonce(h.svc.Keys.TokenHash(is.Token), h.clock.Now())
				reqs <- req{"http://kit.test/l/" + is.Token + "/confirm", fmt.Sprintf(`{"nonce":%q,"code":%q}`, nonce, is.Code)}
			}
		})
	}
	wg.Wait()
	serveDirect(b, h, func(r *fasthttp.Request) {
		q := <-reqs
		r.SetRequestURI(q.uri)
		r.Header.SetMethod("POST")
		r.Header.SetContentType("application/json")
		r.SetBodyString(q.body)
	})
}
