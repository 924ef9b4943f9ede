package server

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
)

// listen serves h's app on a loopback port for benchmarks: a real socket
// and a keep-alive client, as a load balancer would talk to it.
func listen(b *testing.B, h *harness) (string, *http.Client) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go h.srv.App().Listener(ln)
	tr := &http.Transport{MaxIdleConnsPerHost: 256}
	b.Cleanup(func() {
		tr.CloseIdleConnections()
		h.srv.App().Shutdown()
	})
	return "http://" + ln.Addr().String(), &http.Client{Transport: tr}
}

func send(b *testing.B, c *http.Client, req *http.Request, want int) {
	res, err := c.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != want {
		b.Fatalf("status %d, want %d", res.StatusCode, want)
	}
}

// BenchmarkLandingGET is the scanner's and the person's first request: a
// store read, a page render, and a visit queued without waiting for disk.
func BenchmarkLandingGET(b *testing.B) {
	h := newHarness(b, b.TempDir())
	l := h.issue("")
	base, c := listen(b, h)
	b.SetParallelism(32)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest("GET", base+"/l/"+l.Token, nil)
			send(b, c, req, 200)
		}
	})
}

// BenchmarkIssue is POST /v1/links on disk, 64 at a time: one synced
// transaction per link; Badger groups concurrent commits into one fsync.
func BenchmarkIssue(b *testing.B) {
	h := newHarness(b, b.TempDir())
	base, c := listen(b, h)
	var n atomic.Int64
	b.SetParallelism(32)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			body := fmt.Sprintf(`{"email":"u%d@example.com","redirect_url":"https://app.example.com/"}`, n.Add(1))
			req, _ := http.NewRequest("POST", base+"/v1/links", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+testKey)
			send(b, c, req, 201)
		}
	})
}
