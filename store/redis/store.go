// Package redis is the linkguard Store on Redis (or Valkey), for several
// linkguard instances that share one Redis.
//
// Every state change that is a compare-and-set (issue with revoke-older
// and mail, consume with its handoff, revoke, code attempts, taking a
// handoff, claiming and finishing mail jobs) is one Lua script, which
// Redis runs as one atomic step; instances need no lock between them.
// The key layout is in keys.go; a link's JSON is byte for byte what
// store/badger keeps. Visits are evidence: a buffered writer pipelines
// them to Redis off the request path, and drops them when it cannot keep
// up; the record of the decision that consumed a link is the exception,
// written by the consumption's script with it.
//
// Durability is Redis's, not this package's: a script's reply means Redis
// applied it in memory, and Redis persistence decides what a crash of
// Redis can lose. With `appendonly yes` and `appendfsync always`, Redis
// writes and fsyncs the AOF before it replies, so an issued link or a
// consumption that a caller was told about is never undone, the
// guarantee that store/badger's synced transactions give. With
// `appendfsync everysec` a crash of the Redis host can lose the last
// second: a consumption could be undone and its link used a second time.
// Set `maxmemory-policy noeviction` so that Redis never drops a link to
// make room. Replication is asynchronous: a failover to a replica can
// lose the last writes in the same way. docs/redis.md has the details.
package redis

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/fingerprint"
	"github.com/linkguard/linkguard/store/internal/visitq"
	"github.com/linkguard/linkguard/store/internal/visitrec"
)

var _ linkguard.Store = (*Store)(nil)

// Options configure a Store.
type Options struct {
	// Client is the connection to Redis, for New: a *goredis.Client for
	// one server (with replicas or Sentinel: a *goredis.Client from
	// goredis.NewFailoverClient), or a *goredis.ClusterClient for Redis
	// Cluster. Open makes it from a URL. The Store closes it.
	Client goredis.UniversalClient
	// KeyPrefix starts every key, so that several deployments (or tests)
	// can share one Redis database. Default "lg:". NB: one deployment's
	// prefix must not start with another's, or ScanVisits of the shorter
	// one sees the other's visits. On a cluster the prefix is a hash tag
	// (see keys.go): "lg:" becomes "{lg}:".
	KeyPrefix string
	// Retention is how long a link and its visits are kept after expiry,
	// so that the API can still say "expired" or "consumed". Default
	// linkguard.DefaultRetention. Visits are kept linkguard.VisitTTL of it.
	Retention time.Duration
	// VisitBuffer is how many visits may wait for the writer. Default 4096.
	VisitBuffer int
	// Log receives warnings about the Redis configuration and visit
	// writes. Default slog.Default().
	Log *slog.Logger
}

// Store is a linkguard.Store on Redis. It is safe for concurrent use, and
// any number of Stores (in any number of processes) may share one Redis.
type Store struct {
	rdb       goredis.UniversalClient
	cluster   *goredis.ClusterClient // rdb, when it is a cluster; else nil
	prefix    string
	opts      Options
	log       *slog.Logger
	visits    *visitq.Queue
	decoded   *decoded
	closeOnce sync.Once
}

// URL forms that Open takes, for messages.
const urlForms = "redis://[user:password@]host:port/db, rediss://… for TLS, or redis+cluster://[user:password@]host:port,host:port,… (rediss+cluster:// for TLS) for Redis Cluster"

// Open connects to the Redis at rawURL and returns New's Store. The URL
// is redis://[user:password@]host:port/db, or rediss://… for TLS; for
// Redis Cluster it is redis+cluster://[user:password@]host:port,host:port,…
// (rediss+cluster:// for TLS), listing some nodes as seeds, without a
// database (a cluster has only 0). go-redis's query options are accepted
// in both forms. ctx bounds the checks: pass one with a timeout, since
// go-redis retries a dial. Errors name the server with its password
// redacted.
func Open(ctx context.Context, rawURL string, opts Options) (*Store, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		// NB: a *url.Error repeats the whole URL, password included.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("redis store: the URL is not valid (%v); want %s", err, urlForms)
	}
	where := u.Redacted()
	switch u.Scheme {
	case "redis", "rediss":
		ro, err := goredis.ParseURL(rawURL)
		if err != nil {
			return nil, fmt.Errorf("redis store %s: %s", where, redact(err.Error(), u))
		}
		ro.DisableIdentity = true // CLIENT SETINFO: not on every server, and nothing reads it
		opts.Client = goredis.NewClient(ro)
	case "redis+cluster", "rediss+cluster":
		co, err := parseClusterURL(u)
		if err != nil {
			return nil, fmt.Errorf("redis store %s: %s", where, redact(err.Error(), u))
		}
		co.DisableIdentity = true
		opts.Client = goredis.NewClusterClient(co)
	default:
		return nil, fmt.Errorf("redis store %s: want %s", where, urlForms)
	}
	s, err := New(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("redis store %s: %s", where, redact(err.Error(), u))
	}
	return s, nil
}

// parseClusterURL turns redis+cluster://user:pass@h1:p1,h2:p2/?opts into
// go-redis's cluster options (its own URL form lists the other seeds as
// addr parameters).
func parseClusterURL(u *url.URL) (*goredis.ClusterOptions, error) {
	if p := strings.TrimPrefix(u.Path, "/"); p != "" && p != "0" {
		return nil, fmt.Errorf("a cluster has only database 0, not %q: leave the path out", p)
	}
	hosts := strings.Split(u.Host, ",")
	q := u.Query()
	for _, h := range hosts {
		if _, _, err := net.SplitHostPort(h); err != nil || h == "" {
			return nil, fmt.Errorf("seed %q: want host:port", h)
		}
	}
	for _, h := range hosts[1:] {
		q.Add("addr", h)
	}
	g := *u
	g.Scheme = strings.TrimSuffix(u.Scheme, "+cluster")
	g.Host = hosts[0]
	g.Path = ""
	g.RawQuery = q.Encode()
	return goredis.ParseClusterURL(g.String())
}

// New returns a Store on opts.Client (required): it checks that Redis
// answers, loads the scripts, and warns through opts.Log about settings
// that weaken the guarantees. On an error it closes the client.
func New(ctx context.Context, opts Options) (*Store, error) {
	if opts.Client == nil {
		return nil, errors.New("redis store: Options.Client is nil")
	}
	if _, ok := opts.Client.(*goredis.Ring); ok {
		// A Ring spreads keys over servers with no slot rules: the
		// scripts' keys would be split. One server or a cluster.
		opts.Client.Close()
		return nil, errors.New("redis store: a goredis.Ring is not supported (it splits a script's keys over servers); use a Client or a ClusterClient")
	}
	if opts.KeyPrefix == "" {
		opts.KeyPrefix = "lg:"
	}
	if opts.Retention == 0 {
		opts.Retention = linkguard.DefaultRetention
	}
	if opts.VisitBuffer == 0 {
		opts.VisitBuffer = 4096
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	s := &Store{rdb: opts.Client, prefix: opts.KeyPrefix, opts: opts, log: opts.Log, decoded: newDecoded()}
	if c, ok := opts.Client.(*goredis.ClusterClient); ok {
		s.cluster = c
		s.prefix = clusterPrefix(opts.KeyPrefix)
		c.AddHook(reloadOnNodeError{c})
	}
	if err := s.check(ctx); err != nil {
		opts.Client.Close()
		return nil, err
	}
	s.visits = visitq.New(opts.VisitBuffer, s.writeVisits, opts.Log)
	return s, nil
}

// loadingPoll is how often check asks again a Redis that is loading.
const loadingPoll = 100 * time.Millisecond

// check runs checkOnce, and while Redis answers LOADING (it reads its
// AOF or RDB after a start: a restart, a crash, an upgrade) waits for it
// within ctx, saying so once, rather than fail: linkguard started beside
// a restarting Redis would otherwise exit and leave the retry to the
// service manager. An error once ctx ends says Redis was still loading.
func (s *Store) check(ctx context.Context) error {
	var loading error // Redis's last LOADING answer, once there was one
	for {
		err := s.checkOnce(ctx)
		switch {
		case loading != nil && ctx.Err() != nil:
			// The wait ended, between two checks or inside one (Redis
			// answers slowly while it loads): say what it waited for.
			return fmt.Errorf("redis was still loading its dataset when the wait ended (%w): start linkguard again once it has loaded", loading)
		case err == nil || !goredis.HasErrorPrefix(err, "LOADING"):
			return err
		case loading == nil:
			s.log.Warn("redis: the server is loading its dataset; waiting for it")
		}
		loading = err
		select {
		case <-ctx.Done():
		case <-time.After(loadingPoll):
		}
	}
}

// checkOnce pings the server, checks its settings (on a cluster, every
// node's), and loads the scripts.
func (s *Store) checkOnce(ctx context.Context) error {
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		return err
	}
	home, err := s.scriptNode(ctx)
	if err != nil {
		return err
	}
	nodes, err := s.nodes(ctx, true)
	if err != nil {
		return err
	}
	for _, n := range nodes {
		err := s.checkNode(ctx, n)
		if err == nil {
			continue
		}
		// Of a cluster, only the primary of the deployment's slot must
		// answer: a replica or another primary that is down is a
		// warning, or one instance could not start while it is.
		if c, ok := n.(*goredis.Client); ok && s.cluster != nil && c.Options().Addr != home.(*goredis.Client).Options().Addr {
			s.log.Warn("redis: a cluster node does not pass the checks", "node", c.Options().Addr, "err", err)
			continue
		}
		return err
	}
	for _, sc := range allScripts {
		if err := sc.Load(ctx, home).Err(); err != nil {
			return fmt.Errorf("load scripts: %w", err)
		}
	}
	return nil
}

// reloadOnNodeError asks a cluster client to reload the cluster's shape
// when a node does not answer or says the cluster is down. NB: go-redis
// reloads it on MOVED and every 10 s, and on a dead primary it gets no
// MOVED: without this, calls would keep going to the dead primary for
// up to 10 s after a replica took over. The reload is asynchronous, at
// most one at a time.
type reloadOnNodeError struct{ c *goredis.ClusterClient }

func (h reloadOnNodeError) check(ctx context.Context, err error) {
	if err != nil && (isNetErr(err) || goredis.HasErrorPrefix(err, "CLUSTERDOWN")) {
		h.c.ReloadState(ctx)
	}
}

func (h reloadOnNodeError) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (h reloadOnNodeError) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		err := next(ctx, cmd)
		h.check(ctx, err)
		return err
	}
}

func (h reloadOnNodeError) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		err := next(ctx, cmds)
		h.check(ctx, err)
		return err
	}
}

// scriptNode is where the scripts run: the one server, or the primary
// that serves the deployment's slot now (after a failover, another).
func (s *Store) scriptNode(ctx context.Context) (goredis.Scripter, error) {
	if s.cluster == nil {
		return s.rdb, nil
	}
	return s.cluster.MasterForKey(ctx, s.prefix)
}

// nodes is the one server, or the nodes of the cluster: its primaries,
// and its replicas too when all is set.
func (s *Store) nodes(ctx context.Context, all bool) ([]goredis.UniversalClient, error) {
	if s.cluster == nil {
		return []goredis.UniversalClient{s.rdb}, nil
	}
	var mu sync.Mutex
	var out []goredis.UniversalClient
	add := func(_ context.Context, c *goredis.Client) error {
		mu.Lock()
		defer mu.Unlock()
		out = append(out, c)
		return nil
	}
	var err error
	if all {
		err = s.cluster.ForEachShard(ctx, add)
	} else {
		err = s.cluster.ForEachMaster(ctx, add)
	}
	return out, err
}

// checkNode checks one server (or node) as check says.
func (s *Store) checkNode(ctx context.Context, rdb goredis.UniversalClient) error {
	log := s.log
	if c, ok := rdb.(*goredis.Client); ok && s.cluster != nil {
		log = log.With("node", c.Options().Addr)
	}
	// INFO without arguments (its default sections hold all we read):
	// several section names need Redis 7.
	info, err := rdb.Info(ctx).Result()
	if err != nil {
		return err
	}
	fields := map[string]string{}
	for _, line := range strings.Split(info, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
			fields[k] = v
		}
	}
	if v := fields["redis_version"]; v != "" && versionBelow(v, 6, 2) {
		return fmt.Errorf("server is Redis %s; the store needs 6.2 or later (SET PXAT)", v)
	}
	if fields["aof_enabled"] == "0" {
		log.Warn("redis: appendonly is off; a crash of Redis can lose issued links and undo consumptions (see docs/redis.md)")
	} else if fsync, err := rdb.ConfigGet(ctx, "appendfsync").Result(); err == nil && fsync["appendfsync"] != "always" {
		log.Warn("redis: appendfsync is not always; a crash of the Redis host can undo the last second of consumptions (see docs/redis.md)",
			"appendfsync", fsync["appendfsync"])
	}
	if p := fields["maxmemory_policy"]; p != "" && p != "noeviction" {
		log.Warn("redis: maxmemory-policy is not noeviction; Redis may drop links to make room (see docs/redis.md)", "policy", p)
	}
	return nil
}

// versionBelow reports whether version v (like "7.0.15") is below major.minor.
func versionBelow(v string, major, minor int) bool {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return false
	}
	ma, err1 := strconv.Atoi(parts[0])
	mi, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil {
		return false
	}
	return ma < major || ma == major && mi < minor
}

// redact removes the URL's password from an error message, whatever
// quoted it.
func redact(msg string, u *url.URL) string {
	if u.User == nil {
		return msg
	}
	if p, ok := u.User.Password(); ok && p != "" {
		msg = strings.ReplaceAll(msg, p, "xxxxx")
	}
	return msg
}

// Close stops taking visits, writes the buffered ones, and closes the
// connections. It is safe to call more than once.
func (s *Store) Close() error {
	var err error
	s.closeOnce.Do(func() {
		s.visits.Close()
		err = s.rdb.Close()
	})
	return err
}

// pxat is when the keys of a link that expires at t expire: t plus the
// retention, and at least a minute from now (as Badger's TTL).
func (s *Store) pxat(t time.Time) int64 {
	at := t.Add(s.opts.Retention)
	if min := time.Now().Add(time.Minute); at.Before(min) {
		at = min
	}
	return at.UnixMilli()
}

// CreateLink implements linkguard.Store.
func (s *Store) CreateLink(ctx context.Context, l *linkguard.Link, mail []byte, out *linkguard.Outbox) error {
	p, err := encodeLink(l)
	if err != nil {
		return err
	}
	revokedAt, err := fragment(l.CreatedAt)
	if err != nil {
		return err
	}
	replaced, err := reasonFragment(linkguard.RevokeReplaced)
	if err != nil {
		return err
	}
	hasMail := "0"
	if mail != nil {
		hasMail = "1"
	}
	keys, args, err := s.outboxArgs(
		[]string{s.linkKey(l.ID), s.tokenKey(l.TokenHash), s.familyKey(l.Family), s.mailKey(l.ID), s.queueKey()},
		[]any{l.ID, p.json, p.hl, p.mid, p.state, nanos(l.ExpiresAt), s.pxat(l.ExpiresAt),
			p.consumedAt, p.revokedAt, p.attempts, p.verdict, p.delivery,
			nanos(l.CreatedAt), revokedAt, s.prefix + prefixLink, hasMail, mail, l.CreatedAt.UnixMilli(),
			base64.StdEncoding.EncodeToString(l.CodeHash), p.reason, replaced}, out)
	if err != nil {
		return err
	}
	n, err := createScript.Run(ctx, s.rdb, keys, args...).Int64()
	if err != nil {
		return fmt.Errorf("create link %s: %w", l.ID, err)
	}
	dropped(out, n)
	return nil
}

// linkFieldNames are the fields of a link's hash that luaLink reads, in
// its order, for the reads that need no script.
var linkFieldNames = []string{"json", "hl", "mid", "state", "consumed_at", "revoked_at", "reason", "attempts", "verdict", "delivery"}

// link is the link whose fields f luaLink (or an HMGET of
// linkFieldNames) read, or ErrNotFound.
func (s *Store) link(f []any) (*linkguard.Link, error) {
	js, ok, err := linkJSON(f)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, linkguard.ErrNotFound
	}
	return s.decoded.link(js)
}

// LinkByID implements linkguard.Store.
func (s *Store) LinkByID(ctx context.Context, id string) (*linkguard.Link, error) {
	f, err := s.rdb.HMGet(ctx, s.linkKey(id), linkFieldNames...).Result()
	if err != nil {
		return nil, fmt.Errorf("read link %s: %w", id, err)
	}
	return s.link(f)
}

// LinkByTokenHash implements linkguard.Store.
func (s *Store) LinkByTokenHash(ctx context.Context, h []byte) (*linkguard.Link, error) {
	f, err := linkByTokenScript.Run(ctx, s.rdb, []string{s.tokenKey(h)}, s.prefix+prefixLink).Slice()
	if errors.Is(err, goredis.Nil) {
		return nil, linkguard.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("read link by token: %w", err)
	}
	return s.link(f)
}

var _ linkguard.LinkHistoryReader = (*Store)(nil)

// LinkAndHistoryByTokenHash implements linkguard.LinkHistoryReader: the
// link and its history summary in one script, one round trip.
func (s *Store) LinkAndHistoryByTokenHash(ctx context.Context, h []byte) (*linkguard.Link, []fingerprint.PastVisit, error) {
	reply, err := linkHistoryScript.Run(ctx, s.rdb, []string{s.tokenKey(h)}, s.prefix+prefixLink, s.prefix+prefixHistory).Slice()
	if errors.Is(err, goredis.Nil) {
		return nil, nil, linkguard.ErrNotFound
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read link and history by token: %w", err)
	}
	var f, entries []any
	ok := len(reply) == 2
	if ok {
		f, ok = reply[0].([]any)
	}
	if ok {
		entries, ok = reply[1].([]any)
	}
	if !ok {
		return nil, nil, fmt.Errorf("read link and history by token: unexpected reply %v", reply)
	}
	l, err := s.link(f)
	if err != nil {
		return nil, nil, err
	}
	hist := make([]fingerprint.PastVisit, len(entries))
	for i, e := range entries {
		b, _ := e.(string)
		if err := json.Unmarshal([]byte(b), &hist[i]); err != nil {
			return nil, nil, fmt.Errorf("decode history of %s: %w", l.ID, err)
		}
	}
	return l, hist, nil
}

// Script results (the first element of a script's reply).
const (
	resNotFound   = 0
	resNotPending = 1
	resDone       = 2
	resTooMany    = 3
	resWrongCode  = 4
)

// linkResult turns a {status, fields, dropped, …} reply into the Store's
// answer: the link as stored, and ErrNotPending when the change was
// refused. The jobs a full webhook queue dropped are recorded on out.
// When the change was made (done, or a wrong code counted), the fields
// are the link's from before it, and change applies to it what the
// script changed (see scripts.go).
func (s *Store) linkResult(reply []any, err error, out *linkguard.Outbox, change func(l *linkguard.Link, reply []any) error) (*linkguard.Link, error) {
	if err != nil {
		return nil, err
	}
	if len(reply) > 2 {
		n, _ := reply[2].(int64)
		dropped(out, n)
	}
	if len(reply) == 0 {
		return nil, fmt.Errorf("unexpected script reply %v", reply)
	}
	status, _ := reply[0].(int64)
	if status == resNotFound {
		return nil, linkguard.ErrNotFound
	}
	if len(reply) < 2 {
		return nil, fmt.Errorf("unexpected script reply %v", reply)
	}
	f, _ := reply[1].([]any)
	l, err := s.link(f)
	if err != nil {
		return nil, err
	}
	if status == resDone || status == resWrongCode {
		if err := change(l, reply); err != nil {
			return nil, err
		}
	}
	switch status {
	case resNotPending:
		return l, linkguard.ErrNotPending
	case resTooMany:
		return l, linkguard.ErrTooManyAttempts
	case resWrongCode:
		return l, linkguard.ErrWrongCode
	}
	return l, nil
}

// consumption is what a consumption script stores: consumed_at and the
// verdict as the link keeps them, the handoff's JSON, and when the
// handoff's key expires (ms; at least a second from now).
type consumption struct {
	consumedAt, verdict string
	handoff             []byte
	handoffPXAT         int64
}

// newConsumption encodes a consumption at at with verdict v and handoff
// h. The verdict is encoded once when the handoff carries the same one
// (as the service makes them: handoffJSON).
func newConsumption(at time.Time, v *fingerprint.Verdict, h *linkguard.Handoff) (*consumption, error) {
	c := &consumption{handoffPXAT: h.ExpiresAt.UnixMilli()}
	if min := time.Now().Add(time.Second).UnixMilli(); c.handoffPXAT < min {
		c.handoffPXAT = min
	}
	var err error
	if c.consumedAt, err = fragment(at); err != nil {
		return nil, err
	}
	if c.verdict, err = fragment(v); err != nil {
		return nil, err
	}
	c.handoff, err = handoffJSON(h, v, c.verdict)
	return c, err
}

// zeroVerdict is the JSON of a zero Verdict, as a Handoff's ends with it.
var zeroVerdict, _ = json.Marshal(fingerprint.Verdict{})

// handoffJSON is json.Marshal(h). When h carries verdict v itself (the
// same signals, not a copy), whose JSON is vjs, it encodes h with a zero
// verdict and puts vjs in its place, so that the verdict (most of a
// handoff) is not encoded twice. NB: a json.RawMessage would do the same
// with less code, and cost more than encoding the verdict again
// (encoding/json checks and copies raw JSON).
func handoffJSON(h *linkguard.Handoff, v *fingerprint.Verdict, vjs string) ([]byte, error) {
	if !sameVerdict(&h.Verdict, v) {
		return json.Marshal(h)
	}
	z := *h
	z.Verdict = fingerprint.Verdict{}
	b, err := json.Marshal(&z)
	if err != nil {
		return nil, err
	}
	tail := len(zeroVerdict) + 1 // the zero verdict and the closing brace
	if len(b) < tail || !bytes.Equal(b[len(b)-tail:len(b)-1], zeroVerdict) || b[len(b)-1] != '}' {
		return json.Marshal(h) // the verdict is not Handoff's last field
	}
	return append(append(b[:len(b)-tail], vjs...), '}'), nil
}

// sameVerdict reports whether a and b are one verdict: equal fields and
// one slice of signals (NB: a nil and an empty slice encode apart, null
// and []).
func sameVerdict(a, b *fingerprint.Verdict) bool {
	if len(a.Signals) != len(b.Signals) || (a.Signals == nil) != (b.Signals == nil) ||
		len(a.Signals) > 0 && &a.Signals[0] != &b.Signals[0] {
		return false
	}
	x, y := *a, *b
	x.Signals, y.Signals = nil, nil
	return reflect.DeepEqual(x, y)
}

// ConsumeLink implements linkguard.Store.
func (s *Store) ConsumeLink(ctx context.Context, id string, at time.Time, v fingerprint.Verdict, h *linkguard.Handoff, out *linkguard.Outbox) (*linkguard.Link, error) {
	c, err := newConsumption(at, &v, h)
	if err != nil {
		return nil, err
	}
	args, err := s.recordArgs([]any{nanos(at), c.consumedAt, c.verdict, c.handoff, nanos(h.ExpiresAt), c.handoffPXAT}, id, out, v)
	if err != nil {
		return nil, err
	}
	keys, args, err := s.outboxArgs([]string{s.linkKey(id), s.handoffKey(h.CodeHash), s.decidedKey(id)}, args, out)
	if err != nil {
		return nil, err
	}
	reply, err := consumeScript.Run(ctx, s.rdb, keys, args...).Slice()
	l, err := s.linkResult(reply, err, out, func(l *linkguard.Link, _ []any) error {
		return consumed(l, c.consumedAt, &v)
	})
	if err != nil && !isStoreAnswer(err) {
		return nil, fmt.Errorf("consume link %s: %w", id, err)
	}
	return l, err
}

// recordArgs appends to a consumption script's ARGV the record of the
// decision that consumes link id (out's Record, with the consumption's
// outcome and verdict v: visitrec.Consumption) as luaRing's record reads
// it: the bytes, score and expiry that the visit writer would give it
// (appendLinkVisits), or "" and three zeros when out has no Record. The
// script writes it only when it consumes; the Record gets its ID here
// either way (a refused one keeps it for the caller's AddVisit).
//
// NB: the Record's own Outbox (Visit.Outbox) is not queued. The visit
// writer, which wrote the record before, queues a visit's Outbox, but a
// consumption's Record never has one (the service sets it only on a
// code-outcome visit, for link.scanner_blocked; a consumption's events
// are out's Jobs), so no event is lost; store/badger does not queue it
// either.
func (s *Store) recordArgs(args []any, id string, out *linkguard.Outbox, v fingerprint.Verdict) ([]any, error) {
	rec := visitrec.Consumption(out, id, v)
	if rec == nil {
		return append(args, "", 0, 0, 0), nil
	}
	b, err := visitrec.Encode(rec)
	if err != nil {
		return nil, err
	}
	pxat := rec.At.Add(linkguard.VisitTTL(s.opts.Retention)).UnixMilli()
	return append(args, b, rec.At.UnixMilli(), linkguard.KeptDecisions, pxat), nil
}

// RevokeLink implements linkguard.Store.
func (s *Store) RevokeLink(ctx context.Context, id string, at time.Time, why linkguard.RevokeReason, out *linkguard.Outbox) (*linkguard.Link, error) {
	revokedAt, err := fragment(at)
	if err != nil {
		return nil, err
	}
	reason, err := reasonFragment(why)
	if err != nil {
		return nil, err
	}
	keys, args, err := s.outboxArgs([]string{s.linkKey(id)}, []any{nanos(at), revokedAt, reason}, out)
	if err != nil {
		return nil, err
	}
	reply, err := revokeScript.Run(ctx, s.rdb, keys, args...).Slice()
	l, err := s.linkResult(reply, err, out, func(l *linkguard.Link, _ []any) error {
		l.State, l.RevokeReason = linkguard.Revoked, why
		return json.Unmarshal([]byte(revokedAt), &l.RevokedAt)
	})
	if err != nil && !isStoreAnswer(err) {
		return nil, fmt.Errorf("revoke link %s: %w", id, err)
	}
	return l, err
}

// ConsumeWithCode implements linkguard.Store: one script, so one step
// (and, with appendfsync always, one fsync) whether the code is right or
// wrong.
func (s *Store) ConsumeWithCode(ctx context.Context, id string, codeHash []byte, max int, at time.Time, v fingerprint.Verdict, h *linkguard.Handoff, out *linkguard.Outbox) (*linkguard.Link, error) {
	c, err := newConsumption(at, &v, h)
	if err != nil {
		return nil, err
	}
	args, err := s.recordArgs([]any{nanos(at), max, base64.StdEncoding.EncodeToString(codeHash), c.consumedAt, c.verdict,
		c.handoff, nanos(h.ExpiresAt), c.handoffPXAT}, id, out, v)
	if err != nil {
		return nil, err
	}
	keys, args, err := s.outboxArgs([]string{s.linkKey(id), s.handoffKey(h.CodeHash), s.decidedKey(id)}, args, out)
	if err != nil {
		return nil, err
	}
	reply, err := codeScript.Run(ctx, s.rdb, keys, args...).Slice()
	l, err := s.linkResult(reply, err, out, func(l *linkguard.Link, reply []any) error {
		n, ok := int64(0), false
		if len(reply) > 3 {
			n, ok = reply[3].(int64)
		}
		if !ok {
			return fmt.Errorf("unexpected script reply %v", reply)
		}
		l.CodeAttempts = int(n)
		if status, _ := reply[0].(int64); status == resDone {
			return consumed(l, c.consumedAt, &v)
		}
		return nil
	})
	if err != nil && !isStoreAnswer(err) {
		return nil, fmt.Errorf("code on link %s: %w", id, err)
	}
	return l, err
}

// consumed applies to l what a consumption script stored: the state,
// consumed_at (decoded from the very fragment it stored) and the verdict
// (v itself: encoding/json gives back an equal Verdict, so decoding the
// stored one again would only cost time).
func consumed(l *linkguard.Link, consumedAt string, v *fingerprint.Verdict) error {
	l.State = linkguard.Consumed
	vc := *v
	l.Verdict = &vc
	return json.Unmarshal([]byte(consumedAt), &l.ConsumedAt)
}

// TakeHandoff implements linkguard.Store.
func (s *Store) TakeHandoff(ctx context.Context, h []byte, now time.Time) (*linkguard.Handoff, error) {
	b, err := takeHandoffScript.Run(ctx, s.rdb, []string{s.handoffKey(h)}, nanos(now)).Text()
	if errors.Is(err, goredis.Nil) {
		return nil, linkguard.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("take handoff: %w", err)
	}
	var out linkguard.Handoff
	if err := json.Unmarshal([]byte(b), &out); err != nil {
		return nil, fmt.Errorf("decode handoff: %w", err)
	}
	return &out, nil
}

// isStoreAnswer reports whether err is one of the Store's sentinel
// answers rather than a failure of Redis.
func isStoreAnswer(err error) bool {
	return errors.Is(err, linkguard.ErrNotFound) || errors.Is(err, linkguard.ErrNotPending) ||
		errors.Is(err, linkguard.ErrTooManyAttempts) || errors.Is(err, linkguard.ErrWrongCode)
}
