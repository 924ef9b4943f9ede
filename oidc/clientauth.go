package oidc

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/linkguard/linkguard"
)

// Client authentication. A confidential client's secret is checked
// against its bcrypt hash, which costs tens of milliseconds of CPU by
// design; unbounded, anyone could keep every core busy with wrong
// secrets (the revocation and introspection endpoints take any client
// id) and starve the sign-in links. So a check goes:
//
//  1. a secret this process verified lately is accepted from memory
//     (keyed on an HMAC of id and secret, bound to the bcrypt hash it
//     matched); a check of the same id and secret already running is
//     waited for;
//  2. otherwise the attempt is counted in the store's Limiter, per client
//     address and per client id, and refused over the limit (429);
//  3. otherwise it waits at most authWait for one of compareSlots
//     compares, and is refused without one (503).
//
// The bounds are fixed: a client that knows its secret needs one compare
// per authCacheTTL and instance, far below every limit. NB: op spends an
// authorization code before it checks the client, so a refused exchange
// spends its code, as a wrong secret does; op checks the client before a
// refresh token, a revocation or an introspection, so those lose nothing.
const (
	// authCacheSize bounds the remembered verifications. Only correct
	// secrets are remembered, so only holders of a secret fill it.
	authCacheSize = 1024
	// authCacheTTL is how long a verification is remembered.
	authCacheTTL = 10 * time.Minute
	// authWait is how long a check waits for a compare slot.
	authWait = 500 * time.Millisecond
	// authWindow, authPerAddress and authPerClient: checks that need a
	// compare, per client address and per client id, in a window. Every
	// unknown id shares one count, so random ids make no new keys.
	authWindow     = time.Minute
	authPerAddress = 20
	authPerClient  = 60
	// maxSecret: longer secrets are refused unread (bcrypt reads 72
	// bytes; ours are 43).
	maxSecret = 128
)

// compareSlots is how many bcrypt compares run at once: half the cores,
// so that the rest of the service keeps the other half. Cores, not Ps:
// a Badger deployment runs more Ps than cores (GOMAXPROCS, docs/operations.md),
// and half of those could be every core.
func compareSlots() int { return max(1, min(runtime.NumCPU(), runtime.GOMAXPROCS(0))/2) }

// compares counts the bcrypt compares of the process: run in all, running
// now, and the most that ever ran at once (the tests' evidence).
var compares struct{ total, running, peak atomic.Int64 }

// dummyHash is compared against when the client is unknown, so that the
// answer takes as long as for a known client. Made once, by New (not at
// package start: every process that links this package paid a bcrypt
// hash at start, OIDC on or not).
var dummyHash = sync.OnceValue(func() []byte {
	h, _ := bcrypt.GenerateFromPassword([]byte("linkguard"), bcrypt.DefaultCost)
	return h
})

// errBadClient is every failed check's error: an unknown client and a
// wrong secret look the same.
var errBadClient = errors.New("unknown client or wrong secret")

// refusal is a check that did not run: too many attempts (429) or no
// compare slot in time (503). Retry says when to try again.
type refusal struct {
	status int
	retry  time.Duration
	msg    string
}

func (r *refusal) Error() string { return r.msg }

// clientAuth checks client secrets, bounded and remembered.
type clientAuth struct {
	clients map[string]*client
	limits  linkguard.Limiter
	keys    *linkguard.Keys
	now     func() time.Time
	log     *slog.Logger
	slots   chan struct{}
	// cacheKey keys the hash of presented secrets; random per process,
	// so the cache holds nothing that tests a secret anywhere else.
	cacheKey []byte

	mu    sync.Mutex
	cache map[[sha256.Size]byte]verified
	// flights are the checks running, by key: a check of the same id and
	// secret waits for that one's answer (a client's parallel first
	// requests cost one compare and one count, not one each).
	flights map[[sha256.Size]byte]*flight
}

// flight is a running check; err is set when done is closed.
type flight struct {
	done chan struct{}
	err  error
}

// verified is a remembered check: the bcrypt hash the secret matched.
// A changed hash (another secret configured) no longer matches it.
type verified struct {
	hash  string
	until time.Time
}

func newClientAuth(clients map[string]*client, limits linkguard.Limiter, keys *linkguard.Keys, now func() time.Time, log *slog.Logger) (*clientAuth, error) {
	a := &clientAuth{clients: clients, limits: limits, keys: keys, now: now, log: log,
		slots: make(chan struct{}, compareSlots()), cacheKey: make([]byte, 32),
		cache: map[[sha256.Size]byte]verified{}, flights: map[[sha256.Size]byte]*flight{}}
	if _, err := rand.Read(a.cacheKey); err != nil {
		return nil, err
	}
	return a, nil
}

// verify checks secret for the client id presented from addr: nil, or
// errBadClient, or a *refusal.
func (a *clientAuth) verify(ctx context.Context, addr netip.Addr, id, secret string) error {
	c, known := a.clients[id]
	hash := ""
	if known && !c.cfg.Public && len(secret) <= maxSecret {
		hash = c.cfg.Secret
	}
	// Unknown ids take the same steps as known ones (a MAC, a lookup,
	// two counts, a compare), so the time tells nothing.
	key := a.key(id, secret)
	f, leader, ok := a.lookup(key, hash)
	for !ok && !leader {
		select {
		case <-f.done:
		case <-ctx.Done():
			return ctx.Err()
		}
		if !errors.Is(f.err, context.Canceled) && !errors.Is(f.err, context.DeadlineExceeded) {
			return f.err
		}
		// The leader's request went away, not its answer: check again.
		f, leader, ok = a.lookup(key, hash)
	}
	if ok {
		return nil
	}
	f.err = a.check(ctx, addr, id, known, hash, secret, key)
	a.mu.Lock()
	delete(a.flights, key)
	a.mu.Unlock()
	close(f.done)
	return f.err
}

// lookup says whether the secret keyed k was verified lately against
// hash, the client's current one (ok); else it returns the running check
// of k to wait for, or a new one this caller leads.
func (a *clientAuth) lookup(k [sha256.Size]byte, hash string) (f *flight, leader, ok bool) {
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	if v, found := a.cache[k]; found && hash != "" && now.Before(v.until) &&
		subtle.ConstantTimeCompare([]byte(v.hash), []byte(hash)) == 1 {
		return nil, false, true
	}
	if f := a.flights[k]; f != nil {
		return f, false, false
	}
	f = &flight{done: make(chan struct{})}
	a.flights[k] = f
	return f, true, false
}

// check is a check that found nothing remembered: counted, then compared
// in a slot.
func (a *clientAuth) check(ctx context.Context, addr netip.Addr, id string, known bool, hash, secret string, key [sha256.Size]byte) error {
	// NB: counted before the compare, never after a failure: parallel
	// guesses would all pass a check of the failures so far while the
	// first compares run.
	if r := a.limit(ctx, addr, id, known); r != nil {
		return r
	}
	t := time.NewTimer(authWait)
	defer t.Stop()
	select {
	case a.slots <- struct{}{}:
	case <-t.C:
		return &refusal{status: http.StatusServiceUnavailable, retry: time.Second,
			msg: "too many client authentications at once: retry in a second"}
	case <-ctx.Done():
		return ctx.Err()
	}
	ok := compare(hash, secret)
	<-a.slots
	if !ok {
		return errBadClient
	}
	a.remember(key, hash)
	return nil
}

// compare is bcrypt's compare against hash, or the dummy hash when there
// is none (an unknown client), which always fails.
func compare(hash, secret string) bool {
	n := compares.running.Add(1)
	for p := compares.peak.Load(); n > p && !compares.peak.CompareAndSwap(p, n); p = compares.peak.Load() {
	}
	compares.total.Add(1)
	defer compares.running.Add(-1)
	if hash == "" {
		bcrypt.CompareHashAndPassword(dummyHash(), []byte(secret))
		return false
	}
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(secret)) == nil
}

// key is the cache's key of (id, secret): an HMAC under the process key,
// never the secret.
func (a *clientAuth) key(id, secret string) [sha256.Size]byte {
	m := hmac.New(sha256.New, a.cacheKey)
	m.Write(binary.AppendUvarint(nil, uint64(len(id))))
	m.Write([]byte(id))
	m.Write([]byte(secret))
	var k [sha256.Size]byte
	m.Sum(k[:0])
	return k
}

// remember keeps a verification; when full, the expired go first, then
// any one (a map's order): a client that loses its entry pays one compare.
func (a *clientAuth) remember(k [sha256.Size]byte, hash string) {
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.cache[k]; !ok && len(a.cache) >= authCacheSize {
		for ck, v := range a.cache {
			if !now.Before(v.until) {
				delete(a.cache, ck)
			}
		}
		for ck := range a.cache {
			if len(a.cache) < authCacheSize {
				break
			}
			delete(a.cache, ck)
		}
	}
	a.cache[k] = verified{hash: hash, until: now.Add(authCacheTTL)}
}

// limit counts a check that needs a compare, per address and then per
// client id, and refuses it over either limit. An address over its limit
// is not counted against the id: one address cannot hold a client's
// checks off.
func (a *clientAuth) limit(ctx context.Context, addr netip.Addr, id string, known bool) *refusal {
	name := "" // every unknown id
	if known {
		name = id
	}
	now := a.now()
	for _, l := range []struct {
		key, what string
		max       int
	}{
		{"oidc-auth-ip:" + a.keys.Family(addr.String(), "limit/ip"), "from this address", authPerAddress},
		{"oidc-auth-client:" + a.keys.Family(name, "limit/oidc-client"), "for this client", authPerClient},
	} {
		ok, retry, err := a.limits.Hit(ctx, l.key, authWindow, l.max, now)
		if err != nil {
			// Fail closed: the store is what keeps codes and tokens, so
			// the request would fail there too.
			a.log.Warn("oidc: count a client authentication", "err", err)
			return &refusal{status: http.StatusServiceUnavailable, retry: time.Second,
				msg: "client authentication is unavailable: retry in a second"}
		}
		if !ok {
			return &refusal{status: http.StatusTooManyRequests, retry: retry,
				msg: "too many client authentications " + l.what + ": retry after " + strconv.Itoa(retrySeconds(retry)) + " s"}
		}
	}
	return nil
}

func retrySeconds(d time.Duration) int {
	return max(1, int((d+time.Second-1)/time.Second))
}

// authKey is the context key of the request's authState.
type authKey struct{}

// authState is a request that may authenticate a client: its client
// address, and the refusal of its check, if one was refused.
type authState struct {
	addr    netip.Addr
	refused *refusal
}

// withClientAuth prepares a token, revocation or introspection request:
// op answers every failed client check as invalid_client (401) or
// server_error (500), so the writer answers a refused check (too many,
// or no compare slot) with its own status and Retry-After instead, which
// a client can act on.
func (p *Provider) withClientAuth(w http.ResponseWriter, r *http.Request) (http.ResponseWriter, *http.Request) {
	st := &authState{addr: p.clientAddr(r)}
	return &refusingWriter{ResponseWriter: w, st: st}, r.WithContext(context.WithValue(r.Context(), authKey{}, st))
}

// refusingWriter writes op's answer, unless the client check was
// refused: then the refusal instead.
type refusingWriter struct {
	http.ResponseWriter
	st      *authState
	wrote   bool
	dropped bool
}

func (w *refusingWriter) WriteHeader(status int) {
	if w.wrote {
		return
	}
	w.wrote = true
	if w.st.refused != nil {
		w.dropped = true
		refuse(w.ResponseWriter, w.st.refused)
		return
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *refusingWriter) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	if w.dropped {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

// refuse answers a refused check as the token endpoint answers errors,
// with the status and Retry-After a client can act on.
func refuse(w http.ResponseWriter, ref *refusal) {
	b, _ := json.Marshal(struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}{"temporarily_unavailable", ref.msg})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Retry-After", strconv.Itoa(retrySeconds(ref.retry)))
	w.WriteHeader(ref.status)
	w.Write(b)
}

// clientAddr is the client address of r: the server's (trusted proxies
// applied) when it says, else the peer.
func (p *Provider) clientAddr(r *http.Request) netip.Addr {
	if p.opts.ClientAddr != nil {
		if a := p.opts.ClientAddr(r); a.IsValid() {
			return a.Unmap()
		}
	}
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}
