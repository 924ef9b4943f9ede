package redis

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/fingerprint"
	"github.com/linkguard/linkguard/internal/redistest"
	"github.com/linkguard/linkguard/store/storetest"
)

// The Redis Cluster tests run against a real cluster of three primaries
// on 127.0.0.1, started once for the test binary by the first test that
// needs it (redistest.StartCluster) and stopped by TestMain.
var (
	clusterOnce sync.Once
	cluster     *redistest.Cluster
	clusterErr  error
)

func needCluster(t testing.TB) *redistest.Cluster {
	t.Helper()
	if ok, why, mustFail := redistest.ClusterAvailable(); !ok {
		if mustFail {
			t.Fatal(why + ", and CI is set")
		}
		t.Skip(why)
	}
	clusterOnce.Do(func() { cluster, clusterErr = redistest.StartCluster(3, 0) })
	if clusterErr != nil {
		t.Fatal(clusterErr)
	}
	return cluster
}

func stopCluster() {
	if cluster != nil {
		cluster.Stop()
	}
}

// openClusterStore is openStore on the test cluster.
func openClusterStore(t testing.TB, prefix string) *Store {
	t.Helper()
	c := needCluster(t)
	if prefix == "" {
		prefix = freshPrefix()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := Open(ctx, c.URL, Options{KeyPrefix: prefix, Log: quietLog})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// clusterClient is a plain cluster client on the test cluster.
func clusterClient(t testing.TB) *goredis.ClusterClient {
	t.Helper()
	c := needCluster(t)
	var addrs []string
	for _, n := range c.Nodes {
		addrs = append(addrs, n.Addr)
	}
	rc := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: addrs, DisableIdentity: true})
	t.Cleanup(func() { rc.Close() })
	return rc
}

// The whole conformance suite, the limiter's and the KV's, on a cluster.
func TestClusterConformance(t *testing.T) {
	open := func(t *testing.T) *Store { return openClusterStore(t, "") }
	cases := storetest.Cases
	if testing.Short() {
		// make test: the cases whose scripts read keys they build from
		// the prefix (revoke-older, token lookup, the queues), which a
		// cluster refuses unless every key is in one slot.
		cases = nil
		for _, c := range storetest.Cases {
			if slices.Contains(shortClusterCases, c.Name) {
				cases = append(cases, c)
			}
		}
	}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) { c.Test(t, func(t *testing.T) linkguard.Store { return open(t) }) })
	}
	t.Run("limiter", func(t *testing.T) {
		storetest.RunLimiter(t, func(t *testing.T) linkguard.Limiter { return open(t) })
	})
	t.Run("kv", func(t *testing.T) {
		storetest.RunKV(t, func(t *testing.T) linkguard.KV { return open(t) })
	})
}

var shortClusterCases = []string{
	"create and find",
	"new link revokes the older pending one of its family",
	"a revoked link keeps why it was revoked, read back every way", // createScript writes replaced on the key it builds
	"consume once, with handoff",
	"visits are recorded in order and scanned",
	"mail queue: claim, lease, retry, sent, failed",
	"webhook queue: claim, lease, retry, delivered, failed, bound",
	"per-hour counts and the scan of links",
	"ending credentials revokes pending links, deletes handoffs and OpenID entries", // one UNLINK of many keys
}

// Every key a deployment writes, for a link through its whole life and
// for the limiter, the KV, the queues and the counts, hashes to the one
// slot of the prefix's tag (CLUSTER KEYSLOT on the server).
func TestClusterKeysShareOneSlot(t *testing.T) {
	ctx := context.Background()
	prefix := freshPrefix()
	s := openClusterStore(t, prefix)
	rc := clusterClient(t)
	if !strings.HasPrefix(s.prefix, "{") || !strings.HasSuffix(s.prefix, "}:") {
		t.Fatalf("cluster prefix %q for %q: want a hash tag", s.prefix, prefix)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	older := storetest.NewLink(t, now, "fam")
	l := storetest.NewLink(t, now, "fam")
	for _, x := range []*linkguard.Link{older, l} {
		if err := s.CreateLink(ctx, x, []byte("sealed"), nil); err != nil {
			t.Fatal(err)
		}
	}
	h := &linkguard.Handoff{CodeHash: []byte("slot-handoff"), LinkID: l.ID, ExpiresAt: now.Add(time.Minute)}
	if _, err := s.ConsumeLink(ctx, l.ID, now, fingerprint.Verdict{Decision: fingerprint.Consume}, h, nil); err != nil {
		t.Fatal(err)
	}
	s.AddVisit(ctx, &linkguard.Visit{LinkID: l.ID, At: now, Kind: linkguard.VisitView})
	s.AddVisit(ctx, &linkguard.Visit{LinkID: l.ID, At: now, Kind: linkguard.VisitVerify, Outcome: linkguard.VisitOutcomeConsumed})
	if _, _, err := s.Hit(ctx, "ip:203.0.113.9", time.Minute, 5, now); err != nil {
		t.Fatal(err)
	}
	if err := s.PutKV(ctx, "codes", "k1", []byte("v"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := s.EnqueueWebhooks(ctx, []linkguard.WebhookJob{{ID: "wh1", Endpoint: "https://hooks.example/x", CreatedAt: now, NextAt: now}}, 100); err != nil {
		t.Fatal(err)
	}
	if err := s.AddCounts(ctx, now, map[string]int64{"issued": 1}); err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	// Close flushes the visits.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	want, err := rc.ClusterKeySlot(ctx, s.prefix).Result()
	if err != nil {
		t.Fatal(err)
	}
	// The keys of one link, by name: each must exist and be in the slot.
	one := []string{s.linkKey(l.ID), s.tokenKey(l.TokenHash), s.familyKey(l.Family), s.mailKey(l.ID),
		s.queueKey(), s.visitKey(l.ID), s.decidedKey(l.ID), s.historyKey(l.ID), s.handoffKey(h.CodeHash)}
	for _, k := range one {
		if n, err := rc.Exists(ctx, k).Result(); err != nil || n != 1 {
			t.Fatalf("key %s of the link: exists %d, %v", k, n, err)
		}
	}
	// And every key of the deployment, found on every primary.
	var keys []string
	var mu sync.Mutex
	err = rc.ForEachMaster(ctx, func(ctx context.Context, m *goredis.Client) error {
		ks, err := m.Keys(ctx, globEscape(s.prefix)+"*").Result()
		mu.Lock()
		keys = append(keys, ks...)
		mu.Unlock()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range one {
		if !slices.Contains(keys, k) {
			t.Fatalf("key %s not found on any primary", k)
		}
	}
	if len(keys) < len(one)+6 {
		t.Fatalf("only %d keys: %q", len(keys), keys)
	}
	for _, k := range keys {
		slot, err := rc.ClusterKeySlot(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		if slot != want {
			t.Errorf("key %s is in slot %d, not %d", k, slot, want)
		}
	}
	t.Logf("%d keys, all in slot %d", len(keys), want)
}

// Two instances agree through the cluster: one consume wins of 200 split
// between them, a newer link issued on one revokes the older issued on
// the other, and their limit counts and KV are shared.
func TestClusterTwoInstances(t *testing.T) {
	t.Run("consume once", func(t *testing.T) { twoInstancesConsumeOnce(t, openClusterStore) })
	t.Run("newest only, limits, KV", func(t *testing.T) {
		ctx := context.Background()
		prefix := freshPrefix()
		a, b := openClusterStore(t, prefix), openClusterStore(t, prefix)
		now := time.Now().UTC()
		older := storetest.NewLink(t, now, "fam")
		newer := storetest.NewLink(t, now.Add(time.Second), "fam")
		if err := a.CreateLink(ctx, older, nil, nil); err != nil {
			t.Fatal(err)
		}
		if err := b.CreateLink(ctx, newer, nil, nil); err != nil {
			t.Fatal(err)
		}
		if l, err := a.LinkByTokenHash(ctx, older.TokenHash); err != nil || l.State != linkguard.Revoked {
			t.Fatalf("older link seen by a after b issued a newer one: %v %+v", err, l)
		}
		if ok, _, err := a.Hit(ctx, "k", time.Minute, 1, now); err != nil || !ok {
			t.Fatalf("hit on a: %v %v", ok, err)
		}
		if ok, _, err := b.Hit(ctx, "k", time.Minute, 1, now); err != nil || ok {
			t.Fatalf("hit on b after a's: ok %v, %v; want refused", ok, err)
		}
		if err := a.PutKV(ctx, "codes", "c", []byte("x"), time.Minute); err != nil {
			t.Fatal(err)
		}
		if v, err := b.TakeKV(ctx, "codes", "c"); err != nil || string(v) != "x" {
			t.Fatalf("take on b: %q %v", v, err)
		}
		if _, err := a.TakeKV(ctx, "codes", "c"); !errors.Is(err, linkguard.ErrNotFound) {
			t.Fatalf("second take on a: %v", err)
		}
	})
}

// The cluster URL: seeds, TLS, options and refusals, with the password
// never in a message.
func TestClusterURL(t *testing.T) {
	c := needCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	one := "redis+cluster://" + c.Nodes[0].Addr + "/?dial_timeout=2s"
	s, err := Open(ctx, one, Options{KeyPrefix: freshPrefix(), Log: quietLog})
	if err != nil {
		t.Fatalf("one seed: %v", err)
	}
	if s.cluster == nil {
		t.Fatal("a redis+cluster URL opened a single-server client")
	}
	s.Close()
	for _, tc := range []struct{ url, want string }{
		{"redis+cluster://:pw-Secret1@" + c.Nodes[0].Addr + "/3", "database 0"},
		{"redis+cluster://:pw-Secret1@127.0.0.1," + c.Nodes[0].Addr, `seed "127.0.0.1"`},
		{"redis+cluster://:pw-Secret1@" + c.Nodes[0].Addr + "/?bogus=1", "bogus"},
		{"redis+sentinel://:pw-Secret1@" + c.Nodes[0].Addr, "redis+cluster://"},
	} {
		_, err := Open(ctx, tc.url, Options{Log: quietLog})
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "pw-Secret1") {
			t.Errorf("Open(%s): %v; want an error that says %q without the password", tc.url, err, tc.want)
		}
	}
	if got := clusterPrefix("lg:"); got != "{lg}:" {
		t.Errorf(`clusterPrefix("lg:") = %q`, got)
	}
	for p, want := range map[string]string{"app:{x}:": "app:{x}:", "x": "{x}", "{}:": "{{}}:", ":": "{lg}:"} {
		if got := clusterPrefix(p); got != want {
			t.Errorf("clusterPrefix(%q) = %q, want %q", p, got, want)
		}
	}
}

// After SCRIPT FLUSH on every node, the scripts and the pipelined visit
// writer load them again on the primary of the deployment's slot.
func TestClusterScriptCacheFlushed(t *testing.T) {
	checkScriptCacheFlushed(t, openClusterStore(t, ""), clusterClient(t))
}

// A cluster with a replica per primary: a store opens while a node that
// does not serve its slot is down, and keeps its state through a
// failover of the primary that does (what reached the replica before it
// died: the test waits for replication, which Redis does not promise).
func TestClusterFailover(t *testing.T) {
	c := redistest.ClusterForTest(t, 3, 1)
	ctx := context.Background()
	prefix := freshPrefix()
	open := func() *Store {
		t.Helper()
		octx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		s, err := Open(octx, c.URL, Options{KeyPrefix: prefix, Log: quietLog})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	a := open()
	home, err := c.Primary(a.prefix)
	if err != nil {
		t.Fatal(err)
	}
	// A node of another shard down: Open still works.
	var other *redistest.Server
	for _, n := range c.Nodes {
		if n != home && !servesSlotOf(t, n, a.prefix) {
			other = n
			break
		}
	}
	other.Kill()
	open()
	if err := other.Restart(); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitOK(30 * time.Second); err != nil {
		t.Fatal(err)
	}

	now := time.Now().UTC()
	pending, consumed := storetest.NewLink(t, now, "a"), storetest.NewLink(t, now, "b")
	for _, l := range []*linkguard.Link{pending, consumed} {
		if err := a.CreateLink(ctx, l, []byte("sealed"), nil); err != nil {
			t.Fatal(err)
		}
	}
	h := &linkguard.Handoff{CodeHash: []byte("fo"), LinkID: consumed.ID, ExpiresAt: now.Add(time.Minute)}
	if _, err := a.ConsumeLink(ctx, consumed.ID, now, fingerprint.Verdict{Decision: fingerprint.Consume}, h, nil); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // replication on loopback: well within

	home.Kill()
	if err := c.WaitOK(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	// The client learns the new primary on the errors of the first calls
	// (docs/redis.md: requests fail meanwhile).
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := a.LinkByID(ctx, pending.ID)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			for _, n := range c.Nodes {
				if n != home {
					rc := goredis.NewClient(&goredis.Options{Addr: n.Addr, DisableIdentity: true})
					out, _ := rc.ClusterNodes(ctx).Result()
					rc.Close()
					t.Logf("CLUSTER NODES on %s:\n%s", n.Addr, out)
					break
				}
			}
			for _, n := range c.Nodes {
				b, _ := os.ReadFile(filepath.Join(n.Dir(), "redis.log"))
				t.Logf("log of %s:\n%s", n.Addr, b[max(0, len(b)-1500):])
			}
			t.Fatalf("no answer 10 s after the failover: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("the store answered %s after the kill of its primary", time.Since(t0).Round(time.Millisecond))
	if l, err := a.LinkByTokenHash(ctx, pending.TokenHash); err != nil || l.State != linkguard.Pending {
		t.Fatalf("pending link after failover: %v %+v", err, l)
	}
	if _, err := a.ConsumeLink(ctx, consumed.ID, now, fingerprint.Verdict{}, &linkguard.Handoff{CodeHash: []byte("x"), ExpiresAt: now.Add(time.Minute)}, nil); !errors.Is(err, linkguard.ErrNotPending) {
		t.Fatalf("consume after failover: %v, want ErrNotPending", err)
	}
	if _, err := a.TakeHandoff(ctx, []byte("fo"), now); err != nil {
		t.Fatalf("handoff after failover: %v", err)
	}
	// The new primary has no scripts loaded: calls and the visit writer
	// load them there.
	newer := storetest.NewLink(t, now.Add(time.Second), "a")
	if err := a.CreateLink(ctx, newer, nil, nil); err != nil {
		t.Fatalf("issue after failover: %v", err)
	}
	if l, _ := a.LinkByID(ctx, pending.ID); l.State != linkguard.Revoked {
		t.Fatalf("older link after a newer one, after failover: %s", l.State)
	}
	a.AddVisit(ctx, &linkguard.Visit{LinkID: newer.ID, At: now, Kind: linkguard.VisitView})
	if v := storetest.WaitVisits(t, a, newer.ID, 1); len(v) != 1 {
		t.Fatalf("visits after failover = %d, want 1", len(v))
	}
}

// servesSlotOf reports whether node n is the primary or a replica of the
// slot of key.
func servesSlotOf(t *testing.T, n *redistest.Server, key string) bool {
	t.Helper()
	rc := goredis.NewClient(&goredis.Options{Addr: n.Addr, DisableIdentity: true})
	defer rc.Close()
	slot, err := rc.ClusterKeySlot(context.Background(), key).Result()
	if err != nil {
		t.Fatal(err)
	}
	slots, err := rc.ClusterSlots(context.Background()).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range slots {
		if int64(r.Start) <= slot && slot <= int64(r.End) {
			for _, nd := range r.Nodes {
				if nd.Addr == n.Addr {
					return true
				}
			}
		}
	}
	return false
}

// New takes one server or a cluster; a Ring (keys spread by the client,
// scripts split) and no client are refused with the reason.
func TestNewRefusesRingAndNil(t *testing.T) {
	ring := goredis.NewRing(&goredis.RingOptions{Addrs: map[string]string{"a": "127.0.0.1:1"}})
	if _, err := New(context.Background(), Options{Client: ring}); err == nil || !strings.Contains(err.Error(), "Ring") {
		t.Fatalf("New with a Ring: %v", err)
	}
	if _, err := New(context.Background(), Options{}); err == nil || !strings.Contains(err.Error(), "Client is nil") {
		t.Fatalf("New without a client: %v", err)
	}
}
