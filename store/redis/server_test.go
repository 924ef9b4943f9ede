package redis

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// A real redis-server for the whole test binary, on a free port of
// 127.0.0.1, without persistence. Tests share it and keep apart by key
// prefix (see freshPrefix).
var (
	serverURL  string // redis://127.0.0.1:port/0, "" when absent
	serverSkip string // why the Redis tests skip
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("CI") != "" {
			fmt.Fprintln(os.Stderr, "store/redis: redis-server is not installed, and CI is set: install it (apt-get install -y redis-server)")
			return 1
		}
		serverSkip = "redis-server is not installed (apt-get install -y redis-server); the Redis tests are skipped"
		return m.Run()
	}
	srv, err := startServer()
	if err != nil {
		fmt.Fprintln(os.Stderr, "store/redis: start redis-server:", err)
		return 1
	}
	defer srv.stop()
	serverURL = srv.url
	return m.Run()
}

// server is a redis-server that a test started.
type server struct {
	url  string
	addr string
	cmd  *exec.Cmd
	dir  string
	args []string
}

// startServer starts redis-server with extra arguments on a free port in
// a temporary folder, and waits until it answers PING.
func startServer(extra ...string) (*server, error) {
	dir, err := os.MkdirTemp("", "lg-redis-")
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	args := append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "",
		"--appendonly", "no", "--dir", dir, "--logfile", filepath.Join(dir, "redis.log")}, extra...)
	s := &server{addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), dir: dir, args: args}
	s.url = "redis://" + s.addr + "/0"
	if err := s.start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

// start runs redis-server and waits until it answers.
func (s *server) start() error {
	s.cmd = exec.Command("redis-server", s.args...)
	if err := s.cmd.Start(); err != nil {
		return err
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", s.addr, time.Second)
		if err == nil {
			fmt.Fprintf(c, "PING\r\n")
			buf := make([]byte, 64)
			c.SetReadDeadline(time.Now().Add(time.Second))
			n, _ := c.Read(buf)
			c.Close()
			// +PONG, or -NOAUTH from a server with a password: up either way.
			if n > 0 && (buf[0] == '+' || buf[0] == '-') {
				return nil
			}
		}
		if time.Now().After(deadline) {
			s.cmd.Process.Kill()
			s.cmd.Wait()
			log, _ := os.ReadFile(filepath.Join(s.dir, "redis.log"))
			return fmt.Errorf("no PONG from %s within 10 s; log:\n%s", s.addr, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// crash kills redis-server (SIGKILL: no shutdown save) and starts it
// again on the same port and folder.
func (s *server) crash() error {
	s.cmd.Process.Kill()
	s.cmd.Wait()
	return s.start()
}

func (s *server) stop() {
	s.cmd.Process.Kill()
	s.cmd.Wait()
	os.RemoveAll(s.dir)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// needServer skips the test when there is no redis-server (outside CI).
func needServer(t testing.TB) {
	t.Helper()
	if serverURL == "" {
		t.Skip(serverSkip)
	}
}

var prefixSeq atomic.Int64

// freshPrefix is a key prefix no other test in this run uses.
func freshPrefix() string {
	return fmt.Sprintf("t%d-%d:", os.Getpid(), prefixSeq.Add(1))
}

// openStore opens a Store on the test server with a fresh prefix (or the
// given one), closed at the end of the test.
func openStore(t testing.TB, prefix string) *Store {
	t.Helper()
	needServer(t)
	if prefix == "" {
		prefix = freshPrefix()
	}
	s, err := Open(context.Background(), serverURL, Options{KeyPrefix: prefix, Log: quietLog})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// rawClient is a plain client on the test server, for looking at keys.
func rawClient(t testing.TB) *goredis.Client {
	t.Helper()
	needServer(t)
	o, err := goredis.ParseURL(serverURL)
	if err != nil {
		t.Fatal(err)
	}
	c := goredis.NewClient(o)
	t.Cleanup(func() { c.Close() })
	return c
}
