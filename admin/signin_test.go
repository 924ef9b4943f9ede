package admin_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/admin"
)

// hitRecorder is the store, noting every limiter write (the kind of key,
// "admin-ip" or "admin-mail") and how long each took.
type hitRecorder struct {
	linkguard.Store
	mu   sync.Mutex
	keys []string
}

func (r *hitRecorder) Hit(ctx context.Context, key string, window time.Duration, max int, now time.Time) (bool, time.Duration, error) {
	kind, _, _ := strings.Cut(key, ":")
	r.mu.Lock()
	r.keys = append(r.keys, kind)
	r.mu.Unlock()
	return r.Store.(linkguard.Limiter).Hit(ctx, key, window, max, now)
}

func (r *hitRecorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := r.keys
	r.keys = nil
	return k
}

// TestSignInAnswersAlike: the answer to an admin's address and to any
// other is the same, byte for byte once the address is set aside, and
// comes by the same path: the same limiter writes in the store, in the
// same order, and no wait for the link, which is issued after the answer
// (here its mail is held back until both answers are in).
func TestSignInAnswersAlike(t *testing.T) {
	h := newHarness(t, true)
	rec := &hitRecorder{Store: h.svc.Store}
	h.svc.Store = rec
	release := make(chan struct{})
	mail := h.svc.Mail
	h.svc.Mail = func(l *linkguard.Link, req *linkguard.IssueRequest, u, code string) ([]byte, error) {
		<-release
		return mail(l, req, u, code)
	}
	_, _, form := h.do("GET", "/admin/login", nil)
	csrf := csrfOf(t, form)
	type answer struct {
		status int
		header http.Header
		body   string
		hits   []string
		took   time.Duration
	}
	post := func(email string) answer {
		t.Helper()
		rec.take()
		start := time.Now()
		done := make(chan answer, 1)
		go func() {
			st, hdr, body := h.do("POST", "/admin/login", url.Values{"email": {email}, "csrf": {csrf}})
			done <- answer{status: st, header: hdr, body: strings.ReplaceAll(body, email, "ADDRESS")}
		}()
		select {
		case a := <-done:
			a.took, a.hits = time.Since(start), rec.take()
			return a
		case <-time.After(10 * time.Second):
			close(release)
			t.Fatalf("the answer to %s waited for its link", email)
			return answer{}
		}
	}
	// The same length, so that Content-Length is the same too.
	other, op := post("eve@example.com"), post(adminEmail)
	close(release)
	h.console.Wait()
	if u, _ := h.mail.get(adminEmail); u == "" {
		t.Fatal("the admin's link was never mailed")
	}
	if u, _ := h.mail.get("eve@example.com"); u != "" {
		t.Fatal("a non-admin got a link")
	}
	if op.status != other.status || op.body != other.body {
		t.Fatalf("the answers differ: %d and %d\n%s\n---\n%s", op.status, other.status, op.body, other.body)
	}
	op.header.Del("Date")
	other.header.Del("Date")
	if fmt.Sprint(op.header) != fmt.Sprint(other.header) {
		t.Fatalf("the headers differ:\n%v\n%v", op.header, other.header)
	}
	want := []string{"admin-ip", "admin-mail"}
	if !slices.Equal(op.hits, want) || !slices.Equal(other.hits, want) {
		t.Fatalf("limiter writes: admin %v, other %v; want %v for both", op.hits, other.hits, want)
	}
	t.Logf("answer times: admin %v, other %v (the link was issued after both)", op.took, other.took)

	// Over the per-address limit (5 per 15 minutes), the answer is
	// still the same for both, and the writes too.
	for range 4 {
		post("eve@example.com")
	}
	h.console.Wait()
	if got := post("eve@example.com"); got.body != other.body || !slices.Equal(got.hits, want) {
		t.Fatalf("a non-admin over the address limit: %v\n%s", got.hits, got.body)
	}
}

var rowRe = regexp.MustCompile(`href="/admin/links/(lnk_[a-z0-9]+)"`)

// TestLinksSearchIsBounded: listing and searching by address read at
// most SearchLimit links, say so when they stop there, and keep the
// newest matches.
func TestLinksSearchIsBounded(t *testing.T) {
	const limit = 70
	h := newHarness(t, true, func(o *admin.Options) { o.SearchLimit = limit })
	h.signIn()
	var ids []string
	issue := func(email string) {
		is, err := h.svc.Issue(context.Background(), &linkguard.IssueRequest{Email: email, RedirectURL: "https://app.example.com/cb"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, is.Link.ID)
	}
	for i := range 60 {
		issue(fmt.Sprintf("bob%02d@example.com", i))
	}
	// 61 links (the admin's own sign-in among them), within the limit: all
	// read, the newest 50 of the 60 matches shown.
	_, _, page := h.do("GET", "/admin/links?q=bob", nil)
	var shown []string
	for _, m := range rowRe.FindAllStringSubmatch(page, -1) {
		shown = append(shown, m[1])
	}
	newest := slices.Clone(ids)
	slices.Sort(newest)
	slices.Reverse(newest)
	if !slices.Equal(shown, newest[:50]) || !strings.Contains(page, "Only the newest 50") || strings.Contains(page, "stopped") {
		t.Fatalf("search within the limit: %d rows, want the 50 newest ids of 60, newest first:\n%s", len(shown), page)
	}
	for i := range 20 {
		issue(fmt.Sprintf("carol%02d@example.com", i))
	}
	// 81 links now: the search stops at 70 and says so, for a search and
	// for the plain listing.
	for _, q := range []string{"carol", ""} {
		_, _, page = h.do("GET", "/admin/links?q="+q, nil)
		if !strings.Contains(page, fmt.Sprintf("stopped after reading %d links", limit)) || !strings.Contains(page, "A link id finds any link") {
			t.Fatalf("search %q past the limit says nothing of it:\n%s", q, page)
		}
	}
	// A link id finds any link.
	_, _, page = h.do("GET", "/admin/links?q="+ids[0], nil)
	if rows := rowRe.FindAllStringSubmatch(page, -1); len(rows) != 1 || rows[0][1] != ids[0] || strings.Contains(page, "stopped") {
		t.Fatalf("search by id: %v\n%s", rows, page)
	}
}
