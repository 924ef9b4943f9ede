package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/kit"
)

const (
	apiKey   = "lgperf-api-key-0123456789abcdef"
	redirect = "https://app.perf.test/cb"
)

// instance is one running linkguard with its base URL.
type instance struct {
	kit *kit.Kit
	url string
}

// product starts n instances: on Badger in dir (n must be 1), or sharing
// one Redis server when redisURL is set, with one server key between them.
func (h *harness) product(dir, redisURL string, n int) ([]*instance, error) {
	secret := make([]byte, 32)
	copy(secret, "lgperf: one server key for all ")
	var out []*instance
	for i := range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		opts := kit.Options{
			PublicURL: "http://" + ln.Addr().String(), DataDir: dir, SecretKey: secret,
			APIKeys: []string{apiKey}, RedirectOrigins: []string{"https://app.perf.test"}, Log: quiet,
		}
		if redisURL != "" {
			u, err := url.Parse(redisURL)
			if err != nil {
				ln.Close()
				return nil, fmt.Errorf("redis URL: %w", err)
			}
			q := u.Query()
			q.Set("key_prefix", fmt.Sprintf("lgperf%d:", h.run))
			u.RawQuery = q.Encode()
			opts.Store, opts.DataDir = u.String(), ""
		}
		k, err := kit.New(opts)
		if err != nil {
			ln.Close()
			if redisURL != "" {
				return nil, fmt.Errorf("open redis store %d: %w", i, err)
			}
			return nil, err
		}
		ctx, cancel := context.WithCancel(context.Background())
		k.Start(ctx)
		go k.App().Listener(ln)
		h.closers = append(h.closers, func() error { cancel(); k.App().Shutdown(); return k.Close() })
		out = append(out, &instance{kit: k, url: opts.PublicURL})
	}
	h.run++
	return out, nil
}

// issue makes one pending link through the service (send_email off).
func issue(ctx context.Context, svc *linkguard.Service, email string) (*linkguard.Issued, error) {
	return svc.Issue(ctx, &linkguard.IssueRequest{Email: email, RedirectURL: redirect})
}

// confirmFile issues count links on inst, 64 at a time, and writes one
// line per link: its confirm path and a body with a fresh nonce and the
// right code, so that every replayed request consumes one link.
func confirmFile(inst *instance, count int, path string) error {
	ctx := context.Background()
	svc := inst.kit.Service
	lines := make([]string, count)
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for w := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= count {
					return
				}
				l, err := issue(ctx, svc, fmt.Sprintf("c%d-%d@perf.test", w, i))
				if err != nil {
					errs <- err
					return
				}
				nonce := svc.Keys.Nonce(svc.Keys.TokenHash(l.Token), time.Now())
				lines[i] = fmt.Sprintf("/l/%s/confirm\t{\"nonce\":%q,\"code\":%q}", l.Token, nonce, l.Code)
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return fmt.Errorf("issue links for confirm: %w", err)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for _, l := range lines {
		w.WriteString(l + "\n")
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func tempDir(h *harness, name string) string {
	d := filepath.Join(h.roundDir(), name)
	os.MkdirAll(d, 0o700)
	return d
}
