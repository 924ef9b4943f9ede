package admin_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/linkguard/linkguard"
	badgerstore "github.com/linkguard/linkguard/store/badger"
)

// listen serves the harness's app on a loopback port, for the tests
// that read a streamed answer as a client does, connection and all.
func (h *harness) listen() string {
	h.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		h.t.Fatal(err)
	}
	go h.srv.App().Listener(ln)
	h.t.Cleanup(func() { h.srv.App().Shutdown() })
	return "http://" + ln.Addr().String()
}

// get sends a GET with the browser's cookies, not following redirects.
func (h *harness) get(base, path string) *http.Response {
	h.t.Helper()
	req, _ := http.NewRequest("GET", base+path, nil)
	for k, v := range h.jar {
		req.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	return res
}

// results collects how the console's backups ended, as the metrics do.
type results struct {
	mu  sync.Mutex
	got []linkguard.BackupResult
}

func (r *results) add(b linkguard.BackupResult) { r.mu.Lock(); r.got = append(r.got, b); r.mu.Unlock() }
func (r *results) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var s []string
	for _, b := range r.got {
		s = append(s, string(b))
	}
	return strings.Join(s, ",")
}

// restores checks that file is a whole backup holding the link id.
func restores(t *testing.T, file []byte, id string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "restored")
	if _, err := badgerstore.Restore(context.Background(), dir, bytes.NewReader(file), nil); err != nil {
		t.Fatalf("the downloaded backup does not restore: %v", err)
	}
	st, err := badgerstore.Open(badgerstore.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.LinkByID(context.Background(), id); err != nil {
		t.Fatalf("link %s in the restored store: %v", id, err)
	}
}

func TestBackupNeedsASession(t *testing.T) {
	h := newHarness(t, true)
	base := h.listen()
	for name, cookie := range map[string]string{
		"no cookie":      "",
		"forged session": "b3BzQGV4YW1wbGUuY29t.9999999999.AAAAAAAAAAAAAAAAAAAAAAAA",
	} {
		h.jar = map[string]string{}
		if cookie != "" {
			h.jar["lg_admin"] = cookie
		}
		res := h.get(base, "/admin/backup")
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/admin/login" ||
			res.Header.Get("Content-Type") == "application/octet-stream" || len(b) > 0 && bytes.Contains(b, []byte("linkguard-backup-end")) {
			t.Fatalf("%s: %d %v", name, res.StatusCode, res.Header)
		}
	}
}

// signedInWithLink is a console with an operator signed in, whose backups
// are collected in r, and a host's link (id) in its store.
func signedInWithLink(t *testing.T) (h *harness, r *results, id string) {
	t.Helper()
	h = newHarness(t, true)
	r = &results{}
	h.console.ObserveBackups(r.add)
	h.signIn()
	is, err := h.svc.Issue(context.Background(), &linkguard.IssueRequest{Email: "alice@example.com", RedirectURL: "https://app.example.com/cb"})
	if err != nil {
		t.Fatal(err)
	}
	return h, r, is.Link.ID
}

var backupName = regexp.MustCompile(`^attachment; filename="linkguard-backup-\d{8}T\d{6}Z\.badger"$`)

func TestBackupDownload(t *testing.T) {
	h, r, id := signedInWithLink(t)
	base := h.listen()
	res := h.get(base, "/admin/backup")
	file, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("GET /admin/backup: %d %v", res.StatusCode, err)
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/octet-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	if cd := res.Header.Get("Content-Disposition"); !backupName.MatchString(cd) {
		t.Fatalf("Content-Disposition %q", cd)
	}
	restores(t, file, id)
	if r.String() != "ok" {
		t.Fatalf("backups counted: %q, want ok", r.String())
	}
	_, _, page := h.do("GET", "/admin/export", nil)
	if !strings.Contains(page, `href="/admin/backup"`) {
		t.Fatalf("the export page offers no backup:\n%s", page)
	}
}

// gated is the real store whose Backup waits for the test's word, so
// that a second request meets the first still running.
type gated struct {
	*badgerstore.Store
	started, release chan struct{}
}

func (g *gated) Backup(ctx context.Context, w io.Writer) (uint64, error) {
	close(g.started)
	<-g.release
	return g.Store.Backup(ctx, w)
}

func TestOneBackupAtATime(t *testing.T) {
	h, r, id := signedInWithLink(t)
	real := h.svc.Store.(*badgerstore.Store)
	g := &gated{Store: real, started: make(chan struct{}), release: make(chan struct{})}
	h.svc.Store = g
	base := h.listen()

	first := make(chan []byte)
	go func() {
		res := h.get(base, "/admin/backup")
		b, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil || res.StatusCode != 200 {
			t.Errorf("first backup: %d %v", res.StatusCode, err)
		}
		first <- b
	}()
	<-g.started
	res := h.get(base, "/admin/backup")
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusConflict || !strings.Contains(string(b), "A backup is already running") {
		t.Fatalf("second backup while one runs: %d\n%s", res.StatusCode, b)
	}
	close(g.release)
	file := <-first
	restores(t, file, id)

	// Once it is done, the next one runs.
	h.svc.Store = real
	res = h.get(base, "/admin/backup")
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("backup after the first: %d", res.StatusCode)
	}
	if r.String() != "refused,ok,ok" {
		t.Fatalf("backups counted: %q", r.String())
	}
}

// failing is the real store whose Backup breaks half way, as a disk
// error would.
type failing struct{ *badgerstore.Store }

func (f failing) Backup(ctx context.Context, w io.Writer) (uint64, error) {
	var whole bytes.Buffer
	if _, err := f.Store.Backup(ctx, &whole); err != nil {
		return 0, err
	}
	n, _ := w.Write(whole.Bytes()[:whole.Len()/2])
	return uint64(n), errors.New("read error")
}

// TestFailedBackupIsCutOff: a backup that fails part way must not reach
// the client as a whole file: the connection ends without the last chunk.
func TestFailedBackupIsCutOff(t *testing.T) {
	h, r, _ := signedInWithLink(t)
	h.svc.Store = failing{h.svc.Store.(*badgerstore.Store)}
	base := h.listen()
	res := h.get(base, "/admin/backup")
	_, err := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("a failed backup read as %d, err %v; want the body cut off (unexpected EOF)", res.StatusCode, err)
	}
	if r.String() != "failed" {
		t.Fatalf("backups counted: %q, want failed", r.String())
	}
}
