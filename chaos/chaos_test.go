package chaos

import (
	"bytes"
	"context"
	"crypto/hmac"
	crand "crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/linkguard/linkguard/internal/redistest"
)

// rounds is how many SIGKILLs a test survives: LINKGUARD_CHAOS_ROUNDS,
// else a short run for `make test`.
func rounds(t *testing.T) int {
	if v := os.Getenv("LINKGUARD_CHAOS_ROUNDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("LINKGUARD_CHAOS_ROUNDS=%q: want a positive number", v)
		}
		return n
	}
	return 3
}

const apiKey = "chaos-api-key-0123456789"

// binary builds cmd/linkguard once per test binary.
var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// TestMain removes the binary that binary built: a test run leaves
// nothing behind in the temporary folder.
func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "lg-chaos-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "linkguard")
		out, err := exec.Command("go", "build", "-o", binPath, "../cmd/linkguard").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// server is one run of the binary.
type server struct {
	cmd    *exec.Cmd
	base   string
	log    *bytes.Buffer // read only after exited is closed
	exited chan struct{}
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// start runs `linkguard serve` with env on a fresh port and waits for
// /healthz.
func start(t *testing.T, env []string) *server {
	t.Helper()
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	cmd := exec.Command(binary(t), "serve")
	cmd.Env = append(os.Environ(), "LINKGUARD_LISTEN="+addr, "LINKGUARD_DEV=1",
		"LINKGUARD_API_KEYS="+apiKey, "LINKGUARD_LOG_LEVEL=warn",
		"LINKGUARD_ALLOW_NO_COLLECTOR=1") // the chaos rounds drive the API, not pages
	cmd.Env = append(cmd.Env, env...)
	s := &server{cmd: cmd, base: "http://" + addr, log: &bytes.Buffer{}, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = s.log, s.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { cmd.Wait(); close(s.exited) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-s.exited:
			t.Fatalf("linkguard exited at start; its output:\n%s", s.log)
		default:
		}
		res, err := http.Get(s.base + "/healthz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return s
			}
		}
		if time.Now().After(deadline) {
			s.kill()
			t.Fatalf("linkguard did not answer /healthz within 30 s; its output:\n%s", s.log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *server) kill() {
	s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.exited
}

var client = &http.Client{Timeout: 10 * time.Second}

func (s *server) api(method, path string, body any) (int, map[string]any, error) {
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, _ := http.NewRequest(method, s.base+path, rd)
	req.Header.Set("Authorization", "Bearer "+apiKey)
	req.Header.Set("Content-Type", "application/json")
	res, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	var m map[string]any
	json.NewDecoder(res.Body).Decode(&m)
	return res.StatusCode, m, nil
}

// ledger is what the server acknowledged, across every run.
type ledger struct {
	mu       sync.Mutex
	code     map[string]string // issued link id → its code
	ids      []string
	consumed map[string]int // link id → acknowledged consumptions
	// outage is set while the store is down on purpose: the server's
	// 500s are then expected, and what they did is not acknowledged.
	outage atomic.Bool
}

func (l *ledger) issued(id, code string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.code[id] = code
	l.ids = append(l.ids, id)
}

func (l *ledger) pick() (string, string, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.ids) == 0 {
		return "", "", false
	}
	// Mostly the newest links (pending ones), sometimes any.
	i := len(l.ids) - 1 - rand.IntN(min(len(l.ids), 16))
	if rand.IntN(4) == 0 {
		i = rand.IntN(len(l.ids))
	}
	id := l.ids[i]
	return id, l.code[id], true
}

// load issues and redeems links until ctx ends, recording what the
// server acknowledged; errors of a dying server are expected.
func load(ctx context.Context, t *testing.T, s *server, l *ledger, round int) {
	var wg sync.WaitGroup
	var n atomic.Int64
	for w := 0; w < 4; w++ {
		wg.Add(2)
		go func(w int) { // issuer
			defer wg.Done()
			for ctx.Err() == nil {
				i := n.Add(1)
				st, m, err := s.api("POST", "/v1/links", map[string]any{
					// a few addresses: issues of one family revoke each other
					"email": fmt.Sprintf("u%d-%d@example.com", round, i%40), "redirect_url": s.base + "/done",
					"send_email": false,
				})
				if err != nil || st >= 500 && l.outage.Load() {
					continue
				}
				if st != 201 {
					t.Errorf("issue: %d %v", st, m)
					return
				}
				l.issued(m["id"].(string), m["code"].(string))
			}
		}(w)
		go func() { // consumer: the right code, sometimes twice at once
			defer wg.Done()
			for ctx.Err() == nil {
				id, code, ok := l.pick()
				if !ok {
					time.Sleep(time.Millisecond)
					continue
				}
				var inner sync.WaitGroup
				for k := 0; k < 1+rand.IntN(2); k++ {
					inner.Add(1)
					go func() {
						defer inner.Done()
						st, m, err := s.api("POST", "/v1/links/"+id+"/redeem", map[string]string{"code": code})
						if err != nil {
							return
						}
						switch st {
						case 200:
							l.mu.Lock()
							l.consumed[id]++
							l.mu.Unlock()
						case 409, 429:
						case 500:
							if !l.outage.Load() {
								t.Errorf("redeem: %d %v", st, m)
							}
						default:
							t.Errorf("redeem: %d %v", st, m)
						}
					}()
				}
				inner.Wait()
			}
		}()
	}
	wg.Wait()
}

// check verifies, on a restarted server, every acknowledgement so far.
func check(t *testing.T, s *server, l *ledger, round int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for id, n := range l.consumed {
		if n > 1 {
			t.Fatalf("round %d: link %s was consumed %d times", round, id, n)
		}
	}
	for _, id := range l.ids {
		st, m, err := s.api("GET", "/v1/links/"+id, nil)
		if err != nil || st != 200 {
			t.Fatalf("round %d: acknowledged link %s lost after SIGKILL: %d %v %v", round, id, st, m, err)
		}
		if l.consumed[id] == 1 && m["state"] != "consumed" {
			t.Fatalf("round %d: acknowledged consumption of %s undone: state %v", round, id, m["state"])
		}
	}
	// A consumed link stays spent: the right code is refused.
	for id := range l.consumed {
		if st, m, _ := s.api("POST", "/v1/links/"+id+"/redeem", map[string]string{"code": l.code[id]}); st != 409 {
			t.Fatalf("round %d: redeem of consumed %s after restart: %d %v", round, id, st, m)
		}
	}
}

// hooks are a test's crashes of the store around the server's.
type hooks struct {
	// during, when set, runs mid-load before the server's SIGKILL (a
	// crash of Redis under load); the store may answer errors after it.
	during func(round int)
	// between, when set, runs after each kill (a crash of Redis, or a
	// restart of what during killed).
	between func(round int)
}

// receiver is the host's webhook endpoint in the test: it checks every
// signature with its own HMAC (not linkguard's code) and records the
// distinct webhook-ids of link.consumed for each link. It always answers
// 204: deliveries cut short by a SIGKILL are the sender's to repeat.
type receiver struct {
	srv    *httptest.Server
	secret string
	mu     sync.Mutex
	byLink map[string]map[string]bool // link id → webhook-ids
	posts  int
	bad    []string
}

func newReceiver(t *testing.T) *receiver {
	key := make([]byte, 32)
	crand.Read(key)
	r := &receiver{secret: "whsec_" + base64.StdEncoding.EncodeToString(key), byLink: map[string]map[string]bool{}}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(req.Body, 1<<20))
		id, ts := req.Header.Get("webhook-id"), req.Header.Get("webhook-timestamp")
		m := hmac.New(sha256.New, key)
		m.Write([]byte(id + "." + ts + "." + string(body)))
		want := "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
		var b struct {
			Type string `json:"type"`
			Data struct {
				LinkID string `json:"link_id"`
			} `json:"data"`
		}
		err := json.Unmarshal(body, &b)
		r.mu.Lock()
		defer r.mu.Unlock()
		r.posts++
		switch {
		case req.Header.Get("webhook-signature") != want:
			r.bad = append(r.bad, "bad signature on "+id)
		case err != nil || b.Type != "link.consumed" || b.Data.LinkID == "":
			r.bad = append(r.bad, "unexpected body "+string(body))
		default:
			if r.byLink[b.Data.LinkID] == nil {
				r.byLink[b.Data.LinkID] = map[string]bool{}
			}
			r.byLink[b.Data.LinkID][id] = true
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// config writes the server's config file: one webhook, link.consumed.
func (r *receiver) config(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "linkguard.yaml")
	y := fmt.Sprintf("webhook_timeout: 2s\nwebhooks:\n  - url: %s/hooks\n    secret: %s\n    events: [link.consumed]\n", r.srv.URL, r.secret)
	if err := os.WriteFile(p, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// await waits, on a running server, until the receiver has been told of
// every consumed link exactly once per webhook-id, and of nothing else:
// a consumption that committed, acknowledged or cut off by the SIGKILL,
// had its event queued with it (the outbox), whatever the kill hit.
// Deliveries claimed by a killed server wait out their lease (16 s with
// the config's 2 s webhook_timeout).
func (r *receiver) await(t *testing.T, s *server, l *ledger) {
	l.mu.Lock()
	ids := append([]string(nil), l.ids...)
	l.mu.Unlock()
	consumed := map[string]bool{}
	for _, id := range ids {
		st, m, err := s.api("GET", "/v1/links/"+id, nil)
		if err != nil || st != 200 {
			t.Fatalf("link %s: %d %v %v", id, st, m, err)
		}
		if m["state"] == "consumed" {
			consumed[id] = true
		}
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		r.mu.Lock()
		var missing, extra, twice []string
		for id := range consumed {
			if len(r.byLink[id]) == 0 {
				missing = append(missing, id)
			}
		}
		for id, msgs := range r.byLink {
			if !consumed[id] {
				extra = append(extra, id)
			}
			if len(msgs) > 1 {
				twice = append(twice, id)
			}
		}
		bad, posts := r.bad, r.posts
		r.mu.Unlock()
		if len(bad) > 0 || len(extra) > 0 || len(twice) > 0 {
			t.Fatalf("webhooks: %d bad deliveries %v; link.consumed for links not consumed %v; under two ids %v",
				len(bad), bad, extra, twice)
		}
		if len(missing) == 0 {
			t.Logf("webhooks: %d consumed links, each told once (%d posts in all)", len(consumed), posts)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("webhooks: %d of %d consumed links never told: %s", len(missing), len(consumed),
				strings.Join(missing[:min(5, len(missing))], " "))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// run is the test: rounds of load, SIGKILL mid-load, restart, check;
// then every consumption must reach the webhook receiver.
func run(t *testing.T, env []string, h hooks) {
	l := &ledger{code: map[string]string{}, consumed: map[string]int{}}
	hooks := newReceiver(t)
	env = append(env, "LINKGUARD_CONFIG="+hooks.config(t))
	n := rounds(t)
	for round := 1; round <= n; round++ {
		s := start(t, env)
		l.outage.Store(false)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { load(ctx, t, s, l, round); close(done) }()
		time.Sleep(time.Duration(300+rand.IntN(700)) * time.Millisecond)
		if h.during != nil {
			l.outage.Store(true)
			h.during(round)
			time.Sleep(time.Duration(100+rand.IntN(300)) * time.Millisecond)
		}
		s.kill() // mid-load: requests in flight die with it
		cancel()
		<-done
		if h.between != nil {
			h.between(round)
		}
		s = start(t, env)
		check(t, s, l, round)
		if round == n {
			hooks.await(t, s, l)
		}
		s.kill()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	consumed := 0
	for range l.consumed {
		consumed++
	}
	t.Logf("%d rounds: %d links issued and %d consumed were acknowledged; none lost, undone or consumed twice", n, len(l.ids), consumed)
	if len(l.ids) == 0 || consumed == 0 {
		t.Fatal("the load acknowledged nothing: the test proved nothing")
	}
}

func TestChaosBadger(t *testing.T) {
	run(t, []string{"LINKGUARD_DATA_DIR=" + t.TempDir()}, hooks{})
}

func redisEnv(t *testing.T, storeURL string) []string {
	key := filepath.Join(t.TempDir(), "server.key")
	secret := make([]byte, 32)
	crand.Read(secret) // a key of one repeated byte is refused (kit.CheckWeak)
	if err := os.WriteFile(key, secret, 0o600); err != nil {
		t.Fatal(err)
	}
	// The data folder still holds the signing keys: a temporary one, not
	// ./data in the source tree.
	return []string{"LINKGUARD_STORE=" + storeURL, "LINKGUARD_SECRET_KEY_FILE=" + key,
		"LINKGUARD_DATA_DIR=" + filepath.Dir(key)}
}

// The Redis runs keep the settings docs/redis.md asks for: appendonly
// with appendfsync always, so that a reply means the write is on disk.
var durableRedis = []string{"--appendonly", "yes", "--appendfsync", "always"}

func TestChaosRedis(t *testing.T) {
	srv := redistest.ForTest(t, durableRedis...)
	run(t, redisEnv(t, srv.URL), hooks{})
}

func TestChaosRedisCrash(t *testing.T) {
	srv := redistest.ForTest(t, durableRedis...)
	run(t, redisEnv(t, srv.URL), hooks{between: func(round int) {
		if err := srv.Crash(); err != nil { // SIGKILL of redis-server, then restart on its AOF
			t.Fatalf("round %d: restart redis: %v", round, err)
		}
	}})
}

// TestChaosRedisCluster: three primaries with appendfsync always; in
// every round the primary that serves the deployment's slot (every key
// of it, "{lg}:…") is SIGKILLed under load, then the server, and the
// primary restarts on its AOF before the next round checks.
func TestChaosRedisCluster(t *testing.T) {
	c := redistest.ClusterForTest(t, 3, 0, durableRedis...)
	var victim *redistest.Server
	run(t, redisEnv(t, c.URL), hooks{
		during: func(round int) {
			p, err := c.Primary("{lg}:ready")
			if err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
			victim = p
			victim.Kill()
		},
		between: func(round int) {
			t0 := time.Now()
			if err := victim.Restart(); err != nil {
				t.Fatalf("round %d: restart the primary: %v", round, err)
			}
			if err := c.WaitOK(30 * time.Second); err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
			t.Logf("round %d: primary %s back, cluster ok after %s", round, victim.Addr, time.Since(t0).Round(time.Millisecond))
		},
	})
}
