package server

import (
	"context"
	"expvar"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/internal/benchcpu"
)

// The handler benchmarks call the app's fasthttp handler directly, with
// no socket and no client: what linkguard's own code costs per request,
// in CPU (cpu-ns/op), which the machine's load does not change. The
// socket's share is make perf's (cmd/lgperf), against a bare handler.

func serveDirect(b *testing.B, h *harness, req func(r *fasthttp.Request)) {
	serveHandler(b, h.srv.App().Handler(), req)
}

func serveHandler(b *testing.B, handler fasthttp.RequestHandler, req func(r *fasthttp.Request)) {
	addr := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
	b.SetParallelism(32) // 64 in flight on 2 cores, as make perf
	b.ReportAllocs()
	written := badgerBytes()
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
	b.ReportMetric(float64(badgerBytes()-written)/float64(b.N), "badger-B/op")
}

// badgerBytes is what Badger was given to write so far in this process
// (keys, values and their headers; visits come a batch later).
func badgerBytes() int64 {
	if v, ok := expvar.Get("badger_write_bytes_user").(*expvar.Int); ok {
		return v.Value()
	}
	return 0
}

// chromeUA and the other headers are what Chromium sends with a
// navigation: every one is read for the visit.
const chromeUA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"

func browserHeaders(r *fasthttp.Request) {
	r.Header.SetUserAgent(chromeUA)
	r.Header.Set("Accept-Language", "en-GB,en;q=0.9,de;q=0.8")
	r.Header.Set("Sec-Fetch-Site", "none")
	r.Header.Set("Sec-Fetch-Mode", "navigate")
	r.Header.Set("Sec-Fetch-Dest", "document")
	r.Header.Set("Sec-Fetch-User", "?1")
	r.Header.Set("Sec-CH-UA", `"Chromium";v="131", "Not_A Brand";v="24"`)
	r.Header.Set("Sec-CH-UA-Mobile", "?0")
	r.Header.Set("Sec-CH-UA-Platform", `"Linux"`)
}

// BenchmarkLandingHandler is GET /l/{token} without the socket: the store
// read, the page, the headers and the visit queued. pending is a link
// that waits (a scanner's flood on it, or a person); unknown and used
// are the tokens a flood of bad links brings, which must cost no more;
// bare is the ceiling of make perf, a Fiber handler that sends a page of
// the same size, measured in the same run.
func BenchmarkLandingHandler(b *testing.B) {
	h := newHarness(b, b.TempDir())
	l := h.issue("")
	used := h.issue(`{"email":"bob@example.com","redirect_url":"https://app.example.com/cb"}`)
	if r := h.do("POST", "/l/"+used.Token+"/confirm", fmt.Sprintf(`{"nonce":%q,"code":%q}`, h.nonce(used.Token), used.Code),
		"Content-Type", "application/json"); r.status != 200 {
		b.Fatalf("consume: %d %s", r.status, r.body)
	}
	page := h.do("GET", "/l/"+l.Token, "").body
	for _, c := range []struct{ name, token string }{
		{"pending", l.Token}, {"unknown", strings.Repeat("A", len(l.Token))}, {"used", used.Token},
	} {
		uri := "http://kit.test/l/" + c.token
		b.Run(c.name, func(b *testing.B) {
			serveDirect(b, h, func(r *fasthttp.Request) { r.SetRequestURI(uri); browserHeaders(r) })
		})
	}
	b.Run("bare", func(b *testing.B) {
		app := fiber.New(fiber.Config{DisableStartupMessage: true})
		body := []byte(page)
		app.Get("/l/:token", func(c *fiber.Ctx) error {
			c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
			return c.Send(body)
		})
		uri := "http://kit.test/l/" + l.Token
		serveHandler(b, app.Handler(), func(r *fasthttp.Request) { r.SetRequestURI(uri); browserHeaders(r) })
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

// BenchmarkIssueHandler is POST /v1/links without the socket: the API
// key, the JSON, the link and one durable transaction per request.
func BenchmarkIssueHandler(b *testing.B) {
	h := newHarness(b, b.TempDir())
	var n atomic.Int64
	serveDirect(b, h, func(r *fasthttp.Request) {
		r.SetRequestURI("http://kit.test/v1/links")
		r.Header.SetMethod("POST")
		r.Header.SetContentType("application/json")
		r.Header.Set("Authorization", "Bearer "+testKey)
		r.SetBodyString(fmt.Sprintf(`{"email":"u%d@example.com","redirect_url":"https://app.example.com/cb"}`, n.Add(1)))
	})
}

// BenchmarkStoreWriteHandler is the ceiling of make perf's issue and
// confirm rows without the socket: a Fiber handler that makes one
// durable store write of 512 bytes (PutKV) per request.
func BenchmarkStoreWriteHandler(b *testing.B) {
	h := newHarness(b, b.TempDir())
	val := make([]byte, 512)
	var n atomic.Int64
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Post("/txn", func(c *fiber.Ctx) error {
		if err := h.store.PutKV(c.UserContext(), "ceiling", fmt.Sprint(n.Add(1)), val, time.Hour); err != nil {
			return err
		}
		return c.SendStatus(fiber.StatusCreated)
	})
	serveHandler(b, app.Handler(), func(r *fasthttp.Request) {
		r.SetRequestURI("http://kit.test/txn")
		r.Header.SetMethod("POST")
	})
}
