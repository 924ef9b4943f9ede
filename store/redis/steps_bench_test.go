package redis

import (
	"context"
	"encoding/json"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/internal/benchcpu"
	"github.com/linkguard/linkguard/internal/redistest"
	"github.com/linkguard/linkguard/store/storetest"
)

// BenchmarkSteps measures, one at a time, the store calls that lgperf's
// paths make (cmd/lgperf), on a Redis of its own with appendfsync always,
// 64 calls in flight: the landing read, the issue, the confirm's read of
// link and history, and its code script, which writes the decision's
// record with the consumption. Each reports the client's CPU (cpu-ns/op)
// and redis-server's (srv-ns/op, INFO cpu), the two parts of lgperf's
// CPU/req that the store decides. The verdict and visit are those of a
// confirm in lgperf's run (testdata/perf-visit.json). verify-visit is the
// record of a decision that does not consume (the visit writer's, in
// batches), for comparison.
//
//	go test ./store/redis/ -run '^$' -bench Steps -benchtime 4000x
func BenchmarkSteps(b *testing.B) {
	s := openFsyncStore(b)
	raw, err := os.ReadFile("testdata/perf-visit.json")
	if err != nil {
		b.Fatal(err)
	}
	var visit linkguard.Visit
	if err := json.Unmarshal(raw, &visit); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	now := time.Now().UTC()
	links := func(b *testing.B, n int) []*linkguard.Link {
		out := make([]*linkguard.Link, n)
		parallel(n, func(i int) {
			l := storetest.NewLink(b, now, "")
			l.Family = l.ID
			l.Requester = visit.Input.Requester
			if err := s.CreateLink(ctx, l, nil, nil); err != nil {
				b.Error(err)
			}
			out[i] = l
		})
		return out
	}
	run := func(b *testing.B, n int, op func(i int)) {
		b.ReportAllocs()
		srv0 := redistest.ServerCPU(context.Background(), s.rdb)
		cpu0 := benchcpu.Start()
		b.ResetTimer()
		parallel(n, op)
		time.Sleep(100 * time.Millisecond) // the visit writer's last batch
		b.StopTimer()
		benchcpu.Report(b, cpu0)
		b.ReportMetric(float64(redistest.ServerCPU(context.Background(), s.rdb)-srv0)/float64(b.N), "srv-ns/op")
	}
	b.Run("landing", func(b *testing.B) {
		// As lgperf's: two links read again and again, a view each.
		ls := links(b, 2)
		run(b, b.N, func(i int) {
			l, err := s.LinkByTokenHash(ctx, ls[i%len(ls)].TokenHash)
			if err != nil {
				b.Error(err)
				return
			}
			s.AddVisit(ctx, &linkguard.Visit{LinkID: l.ID, At: time.Now(), Kind: linkguard.VisitView,
				Outcome: linkguard.VisitOutcomeNone, Network: visit.Network})
		})
	})
	b.Run("issue", func(b *testing.B) {
		ls := make([]*linkguard.Link, b.N)
		for i := range ls {
			ls[i] = storetest.NewLink(b, now, "")
			ls[i].Requester = visit.Input.Requester
		}
		run(b, b.N, func(i int) {
			if err := s.CreateLink(ctx, ls[i], nil, &linkguard.Outbox{}); err != nil {
				b.Error(err)
			}
		})
	})
	b.Run("confirm-read", func(b *testing.B) {
		ls := links(b, b.N)
		run(b, b.N, func(i int) {
			if _, _, err := s.LinkAndHistoryByTokenHash(ctx, ls[i].TokenHash); err != nil {
				b.Error(err)
			}
		})
	})
	b.Run("confirm-code", func(b *testing.B) {
		ls := links(b, b.N)
		run(b, b.N, func(i int) {
			l := ls[i]
			h := &linkguard.Handoff{CodeHash: l.TokenHash, LinkID: l.ID, Email: l.Email, ConsumedAt: now,
				ExpiresAt: now.Add(time.Minute), Verdict: *visit.Verdict}
			rec := visit
			rec.ID, rec.LinkID, rec.At, rec.Verdict = "", l.ID, now, nil
			if _, err := s.ConsumeWithCode(ctx, l.ID, l.CodeHash, 5, now, *visit.Verdict, h, &linkguard.Outbox{Record: &rec}); err != nil {
				b.Error(err)
			}
		})
	})
	b.Run("verify-visit", func(b *testing.B) {
		ls := links(b, b.N)
		const batch = 64
		b.ReportAllocs()
		srv0 := redistest.ServerCPU(context.Background(), s.rdb)
		cpu0 := benchcpu.Start()
		b.ResetTimer()
		for i := 0; i < b.N; i += batch {
			var vs []*linkguard.Visit
			for j := i; j < min(i+batch, b.N); j++ {
				v := visit
				v.ID, v.LinkID, v.At = "", ls[j].ID, now
				v.Kind, v.Outcome = linkguard.VisitVerify, linkguard.VisitOutcomeCode // stored whole
				vs = append(vs, &v)
			}
			for _, v := range vs {
				v.ID = strconv.Itoa(i) // as visitq would
			}
			if err := s.writeVisits(vs); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		benchcpu.Report(b, cpu0)
		b.ReportMetric(float64(redistest.ServerCPU(context.Background(), s.rdb)-srv0)/float64(b.N), "srv-ns/op")
	})
}

// parallel calls op(i) for every i < n, 64 at a time.
func parallel(n int, op func(i int)) {
	var wg sync.WaitGroup
	next := make(chan int, 64)
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				op(i)
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}
