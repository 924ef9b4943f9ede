// Package badger is the linkguard Store on Badger v4, an embedded
// key-value store: the default, single-instance backend.
//
// State changes (issue, consume, revoke, code attempts, handoffs) are
// transactions that are on disk when the call returns; concurrent ones
// share one fdatasync (sync.go: group commit) instead of syncing one
// after the other. Visits are evidence and go through a
// buffered writer that batches them, off the request path.
package badger

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math/rand/v2"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/fingerprint"
	"github.com/linkguard/linkguard/store/internal/visitq"
	"github.com/linkguard/linkguard/store/internal/visitrec"
)

var _ linkguard.Store = (*Store)(nil)

// Options configure a Store.
type Options struct {
	// Dir is the data folder; empty means in memory (tests).
	Dir string
	// Retention is how long a link and its visits are kept after expiry,
	// so that the API can still say "expired" or "consumed". Default
	// linkguard.DefaultRetention. Visits are kept linkguard.VisitTTL of it.
	Retention time.Duration
	// GCInterval is how often value-log garbage collection runs. Default 10 min.
	GCInterval time.Duration
	// VisitBuffer is how many visits may wait for the writer. Default 4096.
	VisitBuffer int
	Log         *slog.Logger

	// tune, when set (tests), changes Badger's options last.
	tune func(badger.Options) badger.Options
}

// Store is a linkguard.Store on Badger.
type Store struct {
	db        *badger.DB
	opts      Options
	log       *slog.Logger
	visits    *visitq.Queue
	closeOnce sync.Once
	closing   chan struct{}
	done      sync.WaitGroup // the GC loop
	stripes   [4096]sync.Mutex
	tokens    tokenCache
	links     *linkCache
	// commits counts the read-write transactions committed (each made
	// durable before its call returns), for the tests that hold a
	// consumption to one.
	commits atomic.Uint64
	// durable makes commits durable (sync.go); nil in memory.
	durable *syncer
	// barrier, while the value-log GC runs, syncs the value log before
	// Badger writes the memtable-log entries that point into it
	// (vlogsync.go); nil in memory.
	barrier *vlogBarrier
	// pending counts the webhook queue's pending jobs (webhook.go).
	pending webhookCount
	// waits are how long transactions waited (waits.go).
	waits waits
	// gcMoved, when set (tests), runs when the value-log GC has moved a
	// file's values, before they are synced.
	gcMoved func()
}

// Open opens (creating if needed) the store in opts.Dir. A folder held by
// another process gives an error wrapping linkguard.ErrLocked.
func Open(opts Options) (*Store, error) {
	if opts.Retention == 0 {
		opts.Retention = linkguard.DefaultRetention
	}
	if opts.GCInterval == 0 {
		opts.GCInterval = 10 * time.Minute
	}
	if opts.VisitBuffer == 0 {
		opts.VisitBuffer = 4096
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	// NB: SyncWrites off is not durability off: every write waits for
	// the group commit (sync.go) before it returns. MetricsEnabled keeps
	// the value-log write count that tells the group commit (and the
	// barrier, vlogsync.go) to sync the value log too.
	//
	// MemTableSize: Badger allocates (and the kernel faults in) a new
	// memtable's whole arena inside its write goroutine, every write of
	// the process waiting; at the default 64 MiB that was a 0.5–2 s stall
	// per rotation under load, the p99 of the load run. 16 MiB makes it a
	// quarter, for the same bytes written (docs/performance.md).
	//
	// ValueThreshold: values of 128 B and more live in the value log, and
	// the tree holds pointers to them; after an unclean stop, Open undoes
	// the commits whose values did not reach the disk (vlogsync.go,
	// repair.go). Its files keep Badger's size, 1 GiB: Badger's write
	// goroutine msyncs and truncates the old file each time it starts a
	// new one, and at 128 MiB (a new file every 20 s under the load run)
	// the confirm's p99 was 25.2–46.8 ms (median 28.3) in six rounds,
	// against 23.2–32.9 ms (median 25.2) at 1 GiB (docs/performance.md,
	// "The value log").
	var barrier *vlogBarrier
	if opts.Dir != "" {
		barrier = newVlogBarrier(opts.Dir)
	}
	bo := badger.DefaultOptions(opts.Dir).
		WithSyncWrites(false).
		WithMetricsEnabled(true).
		WithMemTableSize(memTableSize).
		WithLogger(badgerLogger{l: opts.Log, barrier: barrier}).
		WithNumVersionsToKeep(1)
	if opts.Dir == "" {
		// NB: in memory, Badger refuses values over the threshold.
		bo = bo.WithInMemory(true)
	} else {
		bo = bo.WithValueThreshold(valueThreshold)
	}
	if opts.tune != nil {
		bo = opts.tune(bo)
	}
	openErr := func(err error) error {
		if strings.Contains(err.Error(), "Cannot acquire directory lock") {
			return fmt.Errorf("open data folder %s: %w (is another linkguard running on it?)", opts.Dir, linkguard.ErrLocked)
		}
		return fmt.Errorf("open data folder %q: %w", opts.Dir, err)
	}
	if opts.Dir != "" && isBadgerFolder(opts.Dir) {
		clean, err := takeCleanMarker(opts.Dir)
		if err != nil {
			return nil, openErr(err)
		}
		if !clean {
			res, err := repair(bo, opts.Log)
			if err != nil {
				return nil, openErr(fmt.Errorf("check after an unclean stop: %w", err))
			}
			log := opts.Log.Info
			if res.Undone > 0 {
				log = opts.Log.Warn
			}
			log("the last stop was not clean: read every value back, and undid the transactions whose values had not reached the disk (none had been acknowledged)",
				"versions", res.Versions, "undone", res.Undone, "keys", res.Keys, "took", res.Took.Round(time.Millisecond))
		}
	}
	db, err := badger.Open(bo)
	if err != nil {
		return nil, openErr(err)
	}
	s := &Store{db: db, opts: opts, log: opts.Log, closing: make(chan struct{}), links: newLinkCache(), barrier: barrier}
	if opts.Dir != "" {
		s.durable = newSyncer(opts.Dir)
		s.durable.snapshot = func() func() { return db.NewTransaction(false).Discard }
		s.durable.warn = opts.Log.Warn
	}
	s.visits = visitq.New(opts.VisitBuffer, s.writeVisits, opts.Log)
	if opts.Dir != "" {
		s.done.Add(1)
		go s.gcLoop()
	}
	return s, nil
}

// Close stops the background work, flushes buffered visits and closes
// the database. It is safe to call more than once.
func (s *Store) Close() error {
	var err error
	s.closeOnce.Do(func() {
		s.visits.Close()
		close(s.closing)
		s.done.Wait()
		s.durable.release()
		err = s.db.Close()
		s.barrier.close()
		if err == nil && s.durable != nil && s.durable.failed() == nil {
			// NB: not after a failed sync: then nothing since is known
			// to be on disk, and the next start must check (repair.go).
			err = putCleanMarker(s.opts.Dir)
		}
	})
	return err
}

// memTableSize is Badger's memtable size (its default is 64 MiB).
const memTableSize = 16 << 20

// conflictBudget is how long update keeps retrying a transaction that
// conflicts before it gives up: far beyond any real storm, since a
// conflict is contention, never the caller's fault (no 5xx for it).
const conflictBudget = 30 * time.Second

// update runs fn in a read-write transaction, retrying when a concurrent
// transaction touched the same keys (Badger's optimistic concurrency),
// with a jittered backoff so that a storm on one key resolves instead of
// spinning: each round lets at least one transaction through. It returns
// once the commit is on disk.
func (s *Store) update(fn func(txn *badger.Txn) error) error {
	deadline := time.Now().Add(conflictBudget)
	backoff := 50 * time.Microsecond
	for {
		err := s.transact(fn)
		if err == nil {
			s.commits.Add(1)
			if s.durable == nil {
				return nil
			}
			began := time.Now()
			err := s.durable.wait()
			s.waits.durable.observe(time.Since(began))
			return err
		}
		if !errors.Is(err, badger.ErrConflict) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(rand.N(backoff) + time.Microsecond)
		backoff = min(2*backoff, 5*time.Millisecond)
	}
}

// lock holds the stripe of key while a state change on it runs, so that
// changes of one link (or issues of one family) in this process queue up
// instead of conflicting and retrying: Badger would run them one after
// the other anyway. Changes of different links take different stripes
// and still commit together (group commit). A stripe is held through the
// sync, so 4,096 of them: with 64 changes in flight, one in 65 waits for
// an unrelated one's (256 made it one in 5).
func (s *Store) lock(key string) (unlock func()) {
	h := fnv.New32a()
	h.Write([]byte(key))
	m := &s.stripes[h.Sum32()%uint32(len(s.stripes))]
	m.Lock()
	return m.Unlock
}

func (s *Store) ttl(expires time.Time) time.Duration {
	d := time.Until(expires) + s.opts.Retention
	if d < time.Minute {
		d = time.Minute
	}
	return d
}

func getJSON(txn *badger.Txn, key []byte, v any) error {
	item, err := txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return linkguard.ErrNotFound
	}
	if err != nil {
		return err
	}
	return item.Value(func(b []byte) error { return json.Unmarshal(b, v) })
}

// getLink reads the link at key (codec.go's format, or JSON from before it).
func getLink(txn *badger.Txn, key []byte, l *linkguard.Link) error {
	item, err := txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return linkguard.ErrNotFound
	}
	if err != nil {
		return err
	}
	return item.Value(func(b []byte) error { return decodeLink(b, l) })
}

func (s *Store) putLink(txn *badger.Txn, l *linkguard.Link) error {
	b, err := packEncoded(func(b []byte) ([]byte, error) { return encodeLink(b, l) })
	if err != nil {
		return err
	}
	ttl := s.ttl(l.ExpiresAt)
	if l.State == linkguard.Consumed {
		ttl = max(ttl, s.consumedTTL())
	}
	return txn.SetEntry(badger.NewEntry(linkKey(l.ID), b).WithTTL(ttl))
}

// consumedTTL is how long a consumed link is kept at least: longer than
// the visit record of the decision that consumed it, which takes its
// verdict from the link (visitrec) and is written with the consumption
// (Outbox.Record) or moments later (AddVisit). An hour more than a
// visit's time to live: the visit writer's queue (4,096 visits) drains
// in well under that. The link's t/ and f/ keys keep their own,
// shorter, lives: a token whose index is gone reads as unknown, as before.
func (s *Store) consumedTTL() time.Duration {
	return linkguard.VisitTTL(s.opts.Retention) + time.Hour
}

// CreateLink implements linkguard.Store.
func (s *Store) CreateLink(ctx context.Context, l *linkguard.Link, mail []byte, out *linkguard.Outbox) error {
	ob, err := s.outbox(out)
	if err != nil {
		return err
	}
	defer s.lock(prefixFamily + l.Family)()
	var revoked string // the family's older link, when this revokes it
	defer func() {
		if revoked != "" {
			s.links.invalidate(revoked)
		}
	}()
	defer s.links.invalidate(l.ID)
	err = s.update(func(txn *badger.Txn) error {
		ob.reset()
		if err := ob.write(s, txn, false); err != nil {
			return err
		}
		if mail != nil {
			if err := s.putJob(txn, l.ID, &mailJob{NextAt: l.CreatedAt, Payload: mail, Expires: l.ExpiresAt}); err != nil {
				return err
			}
		}
		if item, err := txn.Get(familyKey(l.Family)); err == nil {
			var oldID []byte
			if oldID, err = item.ValueCopy(nil); err != nil {
				return err
			}
			var old linkguard.Link
			err := getLink(txn, linkKey(string(oldID)), &old)
			if err == nil && revoke(&old, l.CreatedAt, linkguard.RevokeReplaced) {
				revoked = old.ID
				if err := s.putLink(txn, &old); err != nil {
					return err
				}
			} else if err != nil && !errors.Is(err, linkguard.ErrNotFound) {
				return err
			}
		} else if !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
		if err := s.putLink(txn, l); err != nil {
			return err
		}
		ttl := s.ttl(l.ExpiresAt)
		if err := txn.SetEntry(badger.NewEntry(tokenKey(l.TokenHash), []byte(l.ID)).WithTTL(ttl)); err != nil {
			return err
		}
		return txn.SetEntry(badger.NewEntry(familyKey(l.Family), []byte(l.ID)).WithTTL(ttl))
	})
	ob.done(s, err)
	return err
}

// LinkByID implements linkguard.Store.
func (s *Store) LinkByID(ctx context.Context, id string) (*linkguard.Link, error) {
	if l, ok := s.links.get(id, time.Now()); ok {
		return l, nil
	}
	v := s.links.version(id) // before the read transaction: see linkCache
	var l linkguard.Link
	var expires uint64
	err := s.view(func(txn *badger.Txn) error {
		item, err := txn.Get(linkKey(id))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return linkguard.ErrNotFound
		}
		if err != nil {
			return err
		}
		expires = item.ExpiresAt()
		return item.Value(func(b []byte) error { return decodeLink(b, &l) })
	})
	if err != nil {
		return nil, err
	}
	s.links.put(v, expires, &l)
	return &l, nil
}

// LinkByTokenHash implements linkguard.Store. A token seen before names
// its link from the token cache, and the link comes from the link cache
// when nothing has written it since: a landing GET of a known link reads
// nothing from Badger.
func (s *Store) LinkByTokenHash(ctx context.Context, h []byte) (*linkguard.Link, error) {
	if id, ok := s.tokens.get(h); ok {
		// NB: t/ and l/ are written together with the same TTL and
		// never deleted apart, so a cached id whose link is gone
		// means the token is gone too.
		return s.LinkByID(ctx, id)
	}
	var l *linkguard.Link
	err := s.view(func(txn *badger.Txn) (err error) {
		l, err = s.linkByToken(txn, h)
		return err
	})
	if err != nil {
		return nil, err
	}
	return l, nil
}

// linkByToken reads the link of token hash h in txn and files the token
// in the token cache. The Link is allocated once found: unknown tokens
// cost less.
func (s *Store) linkByToken(txn *badger.Txn, h []byte) (*linkguard.Link, error) {
	item, err := txn.Get(tokenKey(h))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, linkguard.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	id, err := item.ValueCopy(nil)
	if err != nil {
		return nil, err
	}
	l := new(linkguard.Link)
	if err := getLink(txn, linkKey(string(id)), l); err != nil {
		return nil, err
	}
	s.tokens.put(h, l.ID)
	return l, nil
}

// LinkAndHistoryByTokenHash implements linkguard.LinkHistoryReader: a
// verify or confirm reads its link and the link's history summary in one
// read transaction, where LinkByTokenHash and History would open two.
// Each new Badger transaction first waits until every commit before it is
// applied (its read watermark), so under load each one is a wait in line
// with the writes. A link from the caches costs one transaction, for the
// summary.
func (s *Store) LinkAndHistoryByTokenHash(ctx context.Context, h []byte) (*linkguard.Link, []fingerprint.PastVisit, error) {
	var l *linkguard.Link
	id, known := s.tokens.get(h)
	if known {
		l, _ = s.links.get(id, time.Now())
	}
	var sm summary
	err := s.view(func(txn *badger.Txn) error {
		if l == nil {
			var err error
			if l, err = s.linkIn(txn, h, id, known); err != nil {
				return err
			}
		}
		if err := getJSON(txn, summaryKey(l.ID), &sm); !errors.Is(err, linkguard.ErrNotFound) {
			return err
		}
		return nil // never visited: an empty history
	})
	if err != nil {
		return nil, nil, err
	}
	if sm.History == nil {
		sm.History = []fingerprint.PastVisit{} // read, and empty: not nil
	}
	return l, sm.History, nil
}

// linkIn reads the link of token hash h in txn: by its id when the token
// cache knew it, else through the token index.
func (s *Store) linkIn(txn *badger.Txn, h []byte, id string, known bool) (*linkguard.Link, error) {
	if !known {
		return s.linkByToken(txn, h)
	}
	l := new(linkguard.Link)
	if err := getLink(txn, linkKey(id), l); err != nil {
		return nil, err
	}
	return l, nil
}

// tokenCache remembers which link a token hash names: a direct-mapped
// table of tokenSlots entries, so that a landing GET of a known token
// reads the link alone, without the t/ index. The mapping never changes
// while the link lives; a token hash is an HMAC, so its first bytes
// spread the entries evenly. Unknown tokens are not cached: a flood of
// made-up tokens cannot push known ones out faster than known ones come
// back.
type tokenCache struct {
	slots [tokenSlots]atomic.Pointer[tokenEntry]
}

const tokenSlots = 1 << 12

type tokenEntry struct{ hash, id string }

func tokenSlot(h []byte) int {
	if len(h) < 2 {
		return -1
	}
	return int(binary.LittleEndian.Uint16(h)) % tokenSlots
}

func (c *tokenCache) get(h []byte) (string, bool) {
	i := tokenSlot(h)
	if i < 0 {
		return "", false
	}
	if e := c.slots[i].Load(); e != nil && e.hash == string(h) {
		return e.id, true
	}
	return "", false
}

func (c *tokenCache) put(h []byte, id string) {
	if i := tokenSlot(h); i >= 0 {
		c.slots[i].Store(&tokenEntry{hash: string(h), id: id})
	}
}

// change loads a link, lets fn change it (or refuse), and writes it back
// in one transaction. It returns the link as stored at the end.
//
// fn's answer ErrWrongCode is the one refusal that is still written: the
// attempt it counted must stay counted.
func (s *Store) change(id string, ob *outbox, fn func(txn *badger.Txn, l *linkguard.Link) error) (*linkguard.Link, error) {
	defer s.lock(prefixLink + id)()
	defer s.links.invalidate(id)
	var out *linkguard.Link
	var answer error
	err := s.update(func(txn *badger.Txn) error {
		ob.reset()
		var l linkguard.Link
		if err := getLink(txn, linkKey(id), &l); err != nil {
			return err
		}
		out = &l
		if answer = fn(txn, &l); answer != nil && !errors.Is(answer, linkguard.ErrWrongCode) {
			return answer
		}
		return s.putLink(txn, &l)
	})
	ob.done(s, err)
	if err == nil {
		err = answer
	}
	if err != nil && !errors.Is(err, linkguard.ErrNotPending) && !errors.Is(err, linkguard.ErrTooManyAttempts) &&
		!errors.Is(err, linkguard.ErrWrongCode) {
		return nil, err
	}
	return out, err
}

// ConsumeLink implements linkguard.Store.
func (s *Store) ConsumeLink(ctx context.Context, id string, at time.Time, v fingerprint.Verdict, h *linkguard.Handoff, out *linkguard.Outbox) (*linkguard.Link, error) {
	ob, err := s.outbox(out)
	if err != nil {
		return nil, err
	}
	return s.change(id, ob, func(txn *badger.Txn, l *linkguard.Link) error {
		if l.StateAt(at) != linkguard.Pending {
			return linkguard.ErrNotPending
		}
		if err := s.consume(txn, l, at, v, h, out); err != nil {
			return err
		}
		return ob.write(s, txn, false)
	})
}

// consume spends l and stores its handoff, and out's Record (the
// decision's visit, without the verdict l now holds: visitrec) at
// v/<id>/c, inside the caller's transaction.
//
// The handoff refers to its link for what it shares with it (address,
// metadata, locale and the verdict, 1–2 KB of the verdict's reasons) when
// they are equal and the link's record outlives the handoff (Retention
// keeps it long after): TakeHandoff reads them from the link, which a
// consumed link never changes. Otherwise it is stored whole.
func (s *Store) consume(txn *badger.Txn, l *linkguard.Link, at time.Time, v fingerprint.Verdict, h *linkguard.Handoff, out *linkguard.Outbox) error {
	l.State, l.ConsumedAt, l.Verdict = linkguard.Consumed, at, &v
	if rec := visitrec.Consumption(out, l.ID, v); rec != nil {
		b, err := visitrec.Encode(rec)
		if err != nil {
			return err
		}
		e := badger.NewEntry(consumedVisitKey(l.ID), pack(b)).WithTTL(linkguard.VisitTTL(s.opts.Retention))
		if err := txn.SetEntry(e); err != nil {
			return err
		}
	}
	ttl := time.Until(h.ExpiresAt)
	if ttl < time.Second {
		ttl = time.Second
	}
	var hb []byte
	if h.LinkID == l.ID && h.Email == l.Email && bytes.Equal(h.Metadata, l.Metadata) && h.Locale == l.Locale &&
		s.ttl(l.ExpiresAt) >= ttl+time.Minute && reflect.DeepEqual(h.Verdict, v) {
		hb = encodeHandoffRef(nil, h)
	} else {
		hb, _ = packEncoded(func(b []byte) ([]byte, error) { return encodeHandoff(b, h), nil })
	}
	return txn.SetEntry(badger.NewEntry(handoffKey(h.CodeHash), hb).WithTTL(ttl))
}

// ConsumeWithCode implements linkguard.Store: one transaction, one synced
// commit, whether the code is right or wrong.
func (s *Store) ConsumeWithCode(ctx context.Context, id string, codeHash []byte, max int, at time.Time, v fingerprint.Verdict, h *linkguard.Handoff, out *linkguard.Outbox) (*linkguard.Link, error) {
	ob, err := s.outbox(out)
	if err != nil {
		return nil, err
	}
	return s.change(id, ob, func(txn *badger.Txn, l *linkguard.Link) error {
		if l.StateAt(at) != linkguard.Pending {
			return linkguard.ErrNotPending
		}
		if l.CodeAttempts >= max {
			return linkguard.ErrTooManyAttempts
		}
		// NB: the attempt is counted before the compare, and a wrong code
		// still commits the count (change writes the link on
		// ErrWrongCode): a guess is never free. The whole step is one
		// transaction on the link's key, so parallel guesses conflict and
		// run one after the other, and no more than max are ever compared.
		l.CodeAttempts++
		if subtle.ConstantTimeCompare(codeHash, l.CodeHash) != 1 {
			if l.CodeAttempts >= max {
				if err := ob.write(s, txn, true); err != nil {
					return err
				}
			}
			return linkguard.ErrWrongCode
		}
		if err := s.consume(txn, l, at, v, h, out); err != nil {
			return err
		}
		return ob.write(s, txn, false)
	})
}

// RevokeLink implements linkguard.Store.
func (s *Store) RevokeLink(ctx context.Context, id string, at time.Time, why linkguard.RevokeReason, out *linkguard.Outbox) (*linkguard.Link, error) {
	ob, err := s.outbox(out)
	if err != nil {
		return nil, err
	}
	return s.change(id, ob, func(txn *badger.Txn, l *linkguard.Link) error {
		if !revoke(l, at, why) {
			return linkguard.ErrNotPending
		}
		return ob.write(s, txn, false)
	})
}

// revoke revokes l at at, for why, when it is pending then, and says
// whether it did: the one rule of RevokeLink, of CreateLink's revoking
// the family's older link, and of a restore (backup.go).
func revoke(l *linkguard.Link, at time.Time, why linkguard.RevokeReason) bool {
	if l.StateAt(at) != linkguard.Pending {
		return false
	}
	l.State, l.RevokedAt, l.RevokeReason = linkguard.Revoked, at, why
	return true
}

// TakeHandoff implements linkguard.Store.
func (s *Store) TakeHandoff(ctx context.Context, h []byte, now time.Time) (*linkguard.Handoff, error) {
	var out linkguard.Handoff
	err := s.update(func(txn *badger.Txn) error {
		item, err := txn.Get(handoffKey(h))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return linkguard.ErrNotFound
		}
		if err != nil {
			return err
		}
		var fromLink bool
		if err := item.Value(func(b []byte) (err error) { fromLink, err = decodeStoredHandoff(b, &out); return err }); err != nil {
			return err
		}
		if !now.Before(out.ExpiresAt) {
			return linkguard.ErrNotFound
		}
		if fromLink {
			var l linkguard.Link
			if err := getLink(txn, linkKey(out.LinkID), &l); err != nil {
				// NB: consume refers to the link only when it outlives
				// the handoff; a link gone anyway takes its handoff along.
				return err
			}
			out.Email, out.Metadata, out.Locale = l.Email, l.Metadata, l.Locale
			if l.Verdict != nil {
				out.Verdict = *l.Verdict
			}
		}
		return txn.Delete(handoffKey(h))
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}
