package main

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/fingerprint"
	"github.com/linkguard/linkguard/internal/redistest"
	badgerstore "github.com/linkguard/linkguard/store/badger"
	redisstore "github.com/linkguard/linkguard/store/redis"
)

// The size run (-size N): what pending links and visits weigh, in the
// store and in memory. It runs alone, in a fresh process, so that RSS is
// the store's and the service's, not earlier load runs'.
//
// For each store: N links issued through the service (a browser's
// User-Agent and Accept-Language as the requester, no metadata), then
// 1,000 landing views on 1,000 of them (one each), then 1,000 views of one
// link, whose kept records are bounded (linkguard.KeptViews).

// sizer is one store under measurement.
type sizer struct {
	name  string
	store linkguard.Store
	// linkBytes is what one link's records take in the store.
	linkBytes func(ctx context.Context, id string) (int64, error)
	// used is the store's own memory or disk, in bytes (Redis used_memory;
	// Badger's folder after a flush).
	used func() (int64, error)
	// usedName says what used measures.
	usedName string
}

type sizeRow struct {
	store, what string
	value       string
}

func (h *harness) measureSize(stores []string, n int) (rows []sizeRow, err error) {
	if h.dir, err = os.MkdirTemp("", "lgperf-"); err != nil {
		return nil, err
	}
	defer os.RemoveAll(h.dir)
	defer func() {
		for i := len(h.closers) - 1; i >= 0; i-- {
			h.closers[i]()
		}
	}()
	for _, st := range stores {
		sz, err := h.sizer(strings.TrimSpace(st))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", st, err)
		}
		rs, err := sizeOf(sz, n)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", st, err)
		}
		rows = append(rows, rs...)
	}
	return rows, nil
}

func (h *harness) sizer(name string) (*sizer, error) {
	switch name {
	case "badger":
		dir := tempDir(h, "size-badger")
		open := func() (*badgerstore.Store, error) { return badgerstore.Open(badgerstore.Options{Dir: dir, Log: quiet}) }
		st, err := open()
		if err != nil {
			return nil, err
		}
		sz := &sizer{name: name, store: st, linkBytes: st.LinkBytes, usedName: "data folder on disk"}
		h.closers = append(h.closers, func() error { return sz.store.Close() })
		// Closing flushes the memtable into tables, so that the folder
		// holds what the links take, compressed as Badger keeps them.
		sz.used = func() (int64, error) {
			if err := sz.store.Close(); err != nil {
				return 0, err
			}
			n, err := dirSize(dir)
			if err != nil {
				return 0, err
			}
			st, err := open()
			if err != nil {
				return 0, err
			}
			sz.store, sz.linkBytes = st, st.LinkBytes
			return n, nil
		}
		return sz, nil
	case "redis":
		if ok, why, _ := redistest.Available(); !ok {
			return nil, fmt.Errorf("%s", why)
		}
		srv, err := redistest.Start("--appendonly", "yes", "--appendfsync", "always")
		if err != nil {
			return nil, err
		}
		h.closers = append(h.closers, func() error { srv.Stop(); return nil })
		st, err := redisstore.Open(context.Background(), srv.URL, redisstore.Options{KeyPrefix: "lgsize:", Log: quiet})
		if err != nil {
			return nil, err
		}
		h.closers = append(h.closers, st.Close)
		opt, err := redis.ParseURL(srv.URL)
		if err != nil {
			return nil, err
		}
		rdb := redis.NewClient(opt)
		h.closers = append(h.closers, rdb.Close)
		return &sizer{name: name, store: st, linkBytes: st.LinkBytes, usedName: "redis-server used_memory",
			used: func() (int64, error) { return redisUsedMemory(rdb) }}, nil
	}
	return nil, fmt.Errorf("-stores: unknown store %q (want badger or redis)", name)
}

func sizeOf(sz *sizer, n int) ([]sizeRow, error) {
	ctx := context.Background()
	keys, err := linkguard.NewKeys([]byte("lgperf size run: a 32-byte server key"))
	if err != nil {
		return nil, err
	}
	eng, err := fingerprint.NewEngine(fingerprint.DefaultConfig())
	if err != nil {
		return nil, err
	}
	pol := linkguard.DefaultPolicy()
	pol.RedirectOrigins = []string{"https://app.perf.test"}
	pol.DefaultTTL = pol.MaxTTL // nothing expires during the run
	svc := &linkguard.Service{Store: sz.store, Keys: keys, Decider: eng, Policy: pol, Log: quiet}
	browser := func(i int) *linkguard.Client {
		return &linkguard.Client{IP: netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}),
			Visitor: fingerprint.Visitor{
				UserAgent:      "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Safari/537.36",
				AcceptLanguage: "en-US,en;q=0.9",
			}}
	}

	fmt.Printf("%s: size run, issuing %d links…\n", sz.name, n)
	usedBefore, err := sz.used()
	if err != nil {
		return nil, err
	}
	svc.Store = sz.store
	rssBefore := rss()
	ids := make([]string, n)
	tokens := make([]string, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				is, err := svc.Issue(ctx, &linkguard.IssueRequest{Email: fmt.Sprintf("size%d@perf.test", i),
					RedirectURL: redirect, Requester: *browser(i)})
				if err != nil {
					errs <- err
					return
				}
				ids[i], tokens[i] = is.Link.ID, is.Token
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, fmt.Errorf("issue: %w", err)
	}
	runtime.GC()
	rssLinks := rss()
	usedLinks, err := sz.used()
	if err != nil {
		return nil, err
	}
	svc.Store = sz.store
	runtime.GC()
	rssReopened := rss() // the baseline of the views (Badger was reopened)
	perLink, err := meanLinkBytes(ctx, sz, ids[:min(n, 200)])
	if err != nil {
		return nil, err
	}

	// 1,000 views, one on each of 1,000 links: each adds a kept view and
	// a history entry to its link.
	fmt.Printf("%s: 1,000 views of 1,000 links, then 1,000 views of one…\n", sz.name)
	spread := min(n, 1000)
	for i := range spread {
		if _, err := svc.View(ctx, tokens[i], browser(n+i)); err != nil {
			return nil, err
		}
	}
	if err := flushVisits(ctx, sz, ids[spread-1]); err != nil {
		return nil, err
	}
	rssViews := rss()
	usedViews, err := sz.used()
	if err != nil {
		return nil, err
	}
	svc.Store = sz.store
	perViewed, err := meanLinkBytes(ctx, sz, ids[:min(spread, 200)])
	if err != nil {
		return nil, err
	}
	// 1,000 views of one link: the link keeps its newest KeptViews.
	hot := ids[n-1]
	for i := range 1000 {
		if _, err := svc.View(ctx, tokens[n-1], browser(i)); err != nil {
			return nil, err
		}
	}
	// The views are written in order: once a view after them shows, they
	// are all there.
	if _, err := svc.View(ctx, tokens[n-2], browser(0)); err != nil {
		return nil, err
	}
	if err := flushVisits(ctx, sz, ids[n-2]); err != nil {
		return nil, err
	}
	hotBytes, err := sz.linkBytes(ctx, hot)
	if err != nil {
		return nil, err
	}

	kb := func(b float64) string { return fmt.Sprintf("%.0f B", b) }
	mib := func(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
	return []sizeRow{
		{sz.name, "one pending link's records (keys and values)", kb(perLink)},
		{sz.name, fmt.Sprintf("%s per pending link (%d links)", sz.usedName, n), kb(float64(usedLinks-usedBefore) / float64(n))},
		{sz.name, fmt.Sprintf("lgperf RSS with %d pending links (before: %s)", n, mib(rssBefore)), mib(rssLinks)},
		{sz.name, "one link's records after one view", kb(perViewed)},
		{sz.name, fmt.Sprintf("growth of the %s per 1,000 views (1,000 links)", sz.usedName), kb(float64(usedViews - usedLinks))},
		{sz.name, "growth of RSS per 1,000 views (1,000 links)", mib(rssViews - rssReopened)},
		{sz.name, "one link's records after 1,000 views of it", kb(float64(hotBytes))},
	}, nil
}

func meanLinkBytes(ctx context.Context, sz *sizer, ids []string) (float64, error) {
	var sum int64
	for _, id := range ids {
		b, err := sz.linkBytes(ctx, id)
		if err != nil {
			return 0, err
		}
		sum += b
	}
	return float64(sum) / float64(len(ids)), nil
}

// flushVisits waits until the visit writer has written the views: the
// last view's link shows it in its history.
func flushVisits(ctx context.Context, sz *sizer, id string) error {
	for range 1000 {
		h, err := sz.store.History(ctx, id)
		if err != nil {
			return err
		}
		if len(h) > 0 {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return fmt.Errorf("the views of link %s were not written", id)
}

func dirSize(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err == nil {
			n += fi.Size()
		}
		return err
	})
	return n, err
}

func redisUsedMemory(rdb *redis.Client) (int64, error) {
	info, err := rdb.Info(context.Background(), "memory").Result()
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "used_memory:"); ok {
			return strconv.ParseInt(v, 10, 64)
		}
	}
	return 0, fmt.Errorf("INFO memory has no used_memory")
}

func reportSize(w io.Writer, rows []sizeRow) {
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| store | what | measured |")
	fmt.Fprintln(w, "| --- | --- | ---: |")
	for _, r := range rows {
		fmt.Fprintf(w, "| %s | %s | %s |\n", r.store, r.what, r.value)
	}
}
