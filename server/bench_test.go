package server

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
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

// BenchmarkMaximalVerify is the verify of one link that has already had
// 1,000 maximal verifies (maximalVerify: a 62 KB report and 12 KiB of
// headers), sent 16 at a time over a real socket: the person's verify on
// a fresh link and on that link (latency should not depend on what the
// link went through), and more maximal verifies. The link's bytes and
// the process's peak RSS (VmHWM) are reported too.
func BenchmarkMaximalVerify(b *testing.B) {
	for _, tc := range []struct {
		name    string
		warm    int
		maximal bool
	}{{"person/fresh", 0, false}, {"person/after-1000-maximal", 1000, false}, {"maximal/after-1000-maximal", 1000, true}} {
		b.Run(tc.name, func(b *testing.B) {
			h := newHarness(b, b.TempDir())
			l := h.issue("")
			nonce := h.nonce(l.Token)
			body, hdr := maximalVerify(nonce)
			for i := 0; i < tc.warm; i++ {
				h.do("POST", "/l/"+l.Token+"/verify", body, hdr...)
			}
			if !tc.maximal {
				body, hdr = `{"nonce":"`+nonce+`","signals":`+personVerify+`}`, personHeaders
			}
			base, c := listen(b, h)
			b.SetParallelism(8) // 16 on 2 cores
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req, _ := http.NewRequest("POST", base+"/l/"+l.Token+"/verify", strings.NewReader(body))
					req.Header.Set("Content-Type", "application/json")
					for i := 0; i+1 < len(hdr); i += 2 {
						req.Header.Set(hdr[i], hdr[i+1])
					}
					send(b, c, req, 200)
				}
			})
			b.StopTimer()
			if n, err := h.store.LinkBytes(context.Background(), l.ID); err == nil {
				b.ReportMetric(float64(n), "link-bytes")
			}
			b.ReportMetric(float64(peakRSS()), "peak-rss-MiB")
		})
	}
}

// peakRSS is the process's peak resident set (VmHWM), in MiB; 0 where
// /proc is missing.
func peakRSS() int {
	b, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return kb >> 10
		}
	}
	return 0
}
