// Package redistest runs a real redis-server for tests: on a free port of
// 127.0.0.1, in a temporary folder, without persistence unless asked; or
// a real Redis Cluster of such servers (StartCluster).
package redistest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// Server is a redis-server that a test started.
type Server struct {
	URL  string // redis://127.0.0.1:port/0
	Addr string // 127.0.0.1:port
	cmd  *exec.Cmd
	dir  string
	args []string
}

// Available says whether redis-server is installed; when it is not, why
// not, and whether the caller must fail (CI is set) rather than skip.
func Available() (ok bool, why string, mustFail bool) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		return false, "redis-server is not installed (apt-get install -y redis-server)", os.Getenv("CI") != ""
	}
	return true, "", false
}

// ForTest starts a server for one test and stops it at its end. Without
// redis-server the test is skipped, or fails when CI is set.
func ForTest(t testing.TB, extra ...string) *Server {
	t.Helper()
	if ok, why, mustFail := Available(); !ok {
		if mustFail {
			t.Fatal(why + ", and CI is set")
		}
		t.Skip(why)
	}
	s, err := Start(extra...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// Start starts redis-server with extra arguments and waits until it
// answers PING.
func Start(extra ...string) (*Server, error) {
	dir, err := os.MkdirTemp("", "lg-redis-")
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	args := append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "",
		"--appendonly", "no", "--dir", dir, "--logfile", filepath.Join(dir, "redis.log")}, extra...)
	s := &Server{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), dir: dir, args: args}
	s.URL = "redis://" + s.Addr + "/0"
	if err := s.start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

// start runs redis-server and waits until it answers.
func (s *Server) start() error {
	s.cmd = exec.Command("redis-server", s.args...)
	if err := s.cmd.Start(); err != nil {
		return err
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", s.Addr, time.Second)
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
			s.Kill()
			log, _ := os.ReadFile(filepath.Join(s.dir, "redis.log"))
			return fmt.Errorf("no PONG from %s within 10 s; log:\n%s", s.Addr, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Crash kills redis-server (SIGKILL: no shutdown save) and starts it
// again on the same port and folder.
func (s *Server) Crash() error {
	s.Kill()
	return s.start()
}

// Kill stops redis-server (SIGKILL) and leaves it stopped; Restart
// starts it again on the same port and folder.
func (s *Server) Kill() {
	if s.cmd != nil {
		s.cmd.Process.Kill()
		s.cmd.Wait()
		s.cmd = nil
	}
}

// Restart starts a server that Kill stopped.
func (s *Server) Restart() error { return s.start() }

// Stop kills the server and removes its folder.
func (s *Server) Stop() {
	s.Kill()
	os.RemoveAll(s.dir)
}

// Dir is the server's folder (its log is redis.log there).
func (s *Server) Dir() string { return s.dir }
