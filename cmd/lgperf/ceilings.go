package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/gofiber/fiber/v2"
	"github.com/redis/go-redis/v9"

	badgerstore "github.com/linkguard/linkguard/store/badger"
)

// The ceilings: what the machine does with the same HTTP stack and the same
// store when linkguard's own work is taken out. A ratio against them says
// how much of the machine linkguard uses, whatever the machine.

// linkSize is about what one pending link weighs in a store, so that the
// ceiling's write carries as much as an issue's.
const linkSize = 512

// bareFiber answers every GET /l/:token with a fixed page of the landing
// page's size and content type: the HTTP stack and nothing else.
func (h *harness) bareFiber(pageSize int) (string, error) {
	return h.pageCeiling(pageSize, func() error { return nil })
}

// pageCeiling answers every GET /l/:token with a fixed page of pageSize
// bytes and the landing page's content type, after read.
func (h *harness) pageCeiling(pageSize int, read func() error) (string, error) {
	page := bytes.Repeat([]byte{'x'}, pageSize)
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Get("/l/:token", func(c *fiber.Ctx) error {
		if err := read(); err != nil {
			return err
		}
		c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
		return c.Send(page)
	})
	return h.serve(app)
}

// writeCeiling answers every POST /txn with one write of linkSize bytes
// under a new random key: the write ceilings differ only in write.
func (h *harness) writeCeiling(write func(ctx context.Context, key, val []byte) error) (string, error) {
	val := make([]byte, linkSize)
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Post("/txn", func(c *fiber.Ctx) error {
		var key [16]byte
		rand.Read(key[:])
		if err := write(c.UserContext(), key[:], val); err != nil {
			return err
		}
		return c.SendStatus(fiber.StatusCreated)
	})
	return h.serve(app)
}

// storeTxn is one durable write per POST through store/badger (PutKV: one
// transaction, made durable by the store's group commit, as every state
// change of the product is): the store's own rate, without linkguard's
// work.
func (h *harness) storeTxn(dir string) (string, error) {
	st, err := badgerstore.Open(badgerstore.Options{Dir: dir, Log: quiet})
	if err != nil {
		return "", fmt.Errorf("open ceiling store: %w", err)
	}
	h.closers = append(h.closers, st.Close)
	return h.writeCeiling(func(ctx context.Context, key, val []byte) error {
		return st.PutKV(ctx, "ceiling", hex.EncodeToString(key), val, time.Hour)
	})
}

// badgerTxn is one Badger transaction per POST with Badger's own
// SyncWrites (one msync per transaction, in line): what the store did
// before its group commit, printed beside the table for comparison.
func (h *harness) badgerTxn(dir string) (string, error) {
	db, err := badger.Open(badger.DefaultOptions(dir).WithSyncWrites(true).WithLogger(nil).WithNumVersionsToKeep(1))
	if err != nil {
		return "", fmt.Errorf("open ceiling badger: %w", err)
	}
	h.closers = append(h.closers, db.Close)
	return h.writeCeiling(func(_ context.Context, key, val []byte) error {
		return db.Update(func(txn *badger.Txn) error { return txn.Set(key, val) })
	})
}

// redisClient connects to the Redis server the product uses, with a pool
// for every connection wrk keeps open, and loads scripts.
func (h *harness) redisClient(url string, scripts ...*redis.Script) (*redis.Client, error) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, err
	}
	opt.PoolSize = 2 * h.conns
	rdb := redis.NewClient(opt)
	h.closers = append(h.closers, rdb.Close)
	for _, sc := range scripts {
		if err := sc.Load(context.Background(), rdb).Err(); err != nil {
			return nil, err
		}
	}
	return rdb, nil
}

// redisTxn is one SET per POST on the Redis server the product uses
// (appendfsync always: acknowledged means on disk).
func (h *harness) redisTxn(url string) (string, error) {
	rdb, err := h.redisClient(url)
	if err != nil {
		return "", err
	}
	return h.writeCeiling(func(ctx context.Context, key, val []byte) error {
		return rdb.Set(ctx, "ceiling:"+string(key), val, 0).Err()
	})
}

// ceilingScript writes its argument under its key and answers it: one
// EVALSHA round trip that carries a link's size each way, which is what a
// Redis store cannot do with less (every change of a link is one script
// that returns the stored link).
var ceilingScript = redis.NewScript(`redis.call('SET', KEYS[1], ARGV[1]) return ARGV[1]`)

// redisScript is one ceilingScript call per POST on the Redis server the
// product uses: the fairest ceiling for a store whose every change is a
// script.
func (h *harness) redisScript(url string) (string, error) {
	rdb, err := h.redisClient(url, ceilingScript)
	if err != nil {
		return "", err
	}
	return h.writeCeiling(func(ctx context.Context, key, val []byte) error {
		return ceilingScript.EvalSha(ctx, rdb, []string{"ceiling:" + string(key)}, val).Err()
	})
}

// readScript answers its key's value: one EVALSHA round trip that reads
// what a landing GET reads.
var readScript = redis.NewScript(`return redis.call('GET', KEYS[1])`)

// fiberRedisRead is bareFiber with one readScript call before the page:
// the fairest GET ceiling for a store that must ask Redis for the link on
// every request (another instance may have changed it).
func (h *harness) fiberRedisRead(url string, pageSize int) (string, error) {
	rdb, err := h.redisClient(url, readScript)
	if err != nil {
		return "", err
	}
	ctx := context.Background()
	if err := rdb.Set(ctx, "ceiling:read", make([]byte, linkSize), 0).Err(); err != nil {
		return "", err
	}
	return h.pageCeiling(pageSize, func() error {
		return readScript.EvalSha(ctx, rdb, []string{"ceiling:read"}).Err()
	})
}

// serve listens on a free loopback port and returns the base URL.
func (h *harness) serve(app *fiber.App) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	go app.Listener(ln)
	h.closers = append(h.closers, app.Shutdown)
	return "http://" + ln.Addr().String(), nil
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))
