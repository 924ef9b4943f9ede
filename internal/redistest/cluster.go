package redistest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Cluster is a Redis Cluster that a test started: redis-server processes
// with --cluster-enabled yes on free ports of 127.0.0.1, each in its own
// folder, joined by `redis-cli --cluster create`.
type Cluster struct {
	// URL is the store's cluster URL with every node as a seed:
	// redis+cluster://127.0.0.1:p1,127.0.0.1:p2,...
	URL   string
	Nodes []*Server
	dir   string
}

// ClusterAvailable is Available for a cluster: redis-cli is needed too.
func ClusterAvailable() (ok bool, why string, mustFail bool) {
	if ok, why, mustFail := Available(); !ok {
		return ok, why, mustFail
	}
	if _, err := exec.LookPath("redis-cli"); err != nil {
		return false, "redis-cli is not installed (apt-get install -y redis-tools)", os.Getenv("CI") != ""
	}
	return true, "", false
}

// ClusterForTest starts a cluster for one test and stops it at its end;
// see StartCluster. Without redis-server or redis-cli the test is
// skipped, or fails when CI is set.
func ClusterForTest(t testing.TB, primaries, replicas int, extra ...string) *Cluster {
	t.Helper()
	if ok, why, mustFail := ClusterAvailable(); !ok {
		if mustFail {
			t.Fatal(why + ", and CI is set")
		}
		t.Skip(why)
	}
	c, err := StartCluster(primaries, replicas, extra...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	return c
}

// StartCluster starts primaries×(1+replicas) nodes (at least three
// primaries: redis-cli refuses fewer), joins them with `redis-cli
// --cluster create`, and waits until every node says cluster_state:ok
// and knows all 16384 slots. Extra arguments go to every redis-server.
//
// NB: each node's cluster bus gets its own free port (--cluster-port):
// the default, port+10000, overflows for an ephemeral port.
func StartCluster(primaries, replicas int, extra ...string) (*Cluster, error) {
	dir, err := os.MkdirTemp("", "lg-redis-cluster-")
	if err != nil {
		return nil, err
	}
	c := &Cluster{dir: dir}
	fail := func(err error) (*Cluster, error) {
		c.Stop()
		return nil, err
	}
	n := primaries * (1 + replicas)
	var addrs []string
	for i := 0; i < n; i++ {
		ports, err := freePorts(2)
		if err != nil {
			return fail(err)
		}
		nd := filepath.Join(dir, "node"+strconv.Itoa(i))
		if err := os.Mkdir(nd, 0o700); err != nil {
			return fail(err)
		}
		s := &Server{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0])), dir: nd}
		s.URL = "redis://" + s.Addr + "/0"
		s.args = append([]string{"--port", strconv.Itoa(ports[0]), "--bind", "127.0.0.1",
			"--cluster-enabled", "yes", "--cluster-port", strconv.Itoa(ports[1]),
			"--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "1500",
			// Replicas: sync at once, and may take over however long ago
			// they heard from their primary (a test kills and restarts).
			"--repl-diskless-sync-delay", "0", "--cluster-replica-validity-factor", "0",
			"--save", "", "--appendonly", "no", "--dir", nd, "--logfile", filepath.Join(nd, "redis.log")}, extra...)
		if err := s.start(); err != nil {
			return fail(err)
		}
		c.Nodes = append(c.Nodes, s)
		addrs = append(addrs, s.Addr)
	}
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", strconv.Itoa(replicas), "--cluster-yes")
	out, err := exec.Command("redis-cli", args...).CombinedOutput()
	if err != nil {
		return fail(fmt.Errorf("redis-cli --cluster create: %v\n%s", err, out))
	}
	if err := c.WaitOK(30 * time.Second); err != nil {
		return fail(err)
	}
	c.URL = "redis+cluster://" + strings.Join(addrs, ",")
	return c, nil
}

// WaitOK waits until every running node says cluster_state:ok with all
// slots assigned, and every running replica has synced with its primary.
func (c *Cluster) WaitOK(within time.Duration) error {
	deadline := time.Now().Add(within)
	var last string
	for _, s := range c.Nodes {
		if s.cmd == nil {
			continue // killed
		}
		rdb := goredis.NewClient(&goredis.Options{Addr: s.Addr, DisableIdentity: true})
		for {
			info, err := rdb.ClusterInfo(context.Background()).Result()
			if err == nil && strings.Contains(info, "cluster_state:ok") && strings.Contains(info, "cluster_slots_assigned:16384") {
				repl, err := rdb.Info(context.Background(), "replication").Result()
				if err == nil && (strings.Contains(repl, "role:master") || strings.Contains(repl, "master_link_status:up")) {
					break
				}
				info += repl
			}
			last = fmt.Sprint(info, err)
			if time.Now().After(deadline) {
				rdb.Close()
				return fmt.Errorf("node %s: no cluster_state:ok within %s; last CLUSTER INFO: %s", s.Addr, within, last)
			}
			time.Sleep(50 * time.Millisecond)
		}
		rdb.Close()
	}
	return nil
}

// Primary is the node that serves key's slot now.
func (c *Cluster) Primary(key string) (*Server, error) {
	for _, s := range c.Nodes {
		if s.cmd == nil {
			continue
		}
		rdb := goredis.NewClient(&goredis.Options{Addr: s.Addr, DisableIdentity: true})
		slot, err := rdb.ClusterKeySlot(context.Background(), key).Result()
		if err != nil {
			rdb.Close()
			continue
		}
		slots, err := rdb.ClusterSlots(context.Background()).Result()
		rdb.Close()
		if err != nil {
			continue
		}
		for _, r := range slots {
			if int64(r.Start) <= slot && slot <= int64(r.End) && len(r.Nodes) > 0 {
				for _, n := range c.Nodes {
					if n.Addr == r.Nodes[0].Addr {
						return n, nil
					}
				}
			}
		}
	}
	return nil, fmt.Errorf("no running node serves the slot of %q", key)
}

// Stop kills every node and removes the cluster's folder.
func (c *Cluster) Stop() {
	for _, s := range c.Nodes {
		s.Kill()
	}
	os.RemoveAll(c.dir)
}

// freePorts returns n distinct free ports of 127.0.0.1.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var out []int
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		out = append(out, l.Addr().(*net.TCPAddr).Port)
	}
	return out, nil
}
