package kit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	goredis "github.com/redis/go-redis/v9"

	"github.com/linkguard/linkguard"
	badgerstore "github.com/linkguard/linkguard/store/badger"
	redisstore "github.com/linkguard/linkguard/store/redis"
)

// StoreKind reads a Store setting (see Options.Store): "badger" (with its
// folder, "" for DataDir or memory), "memory", "redis", or "" for a
// setting that names no store.
func StoreKind(s string) (kind, dir string) {
	switch s {
	case "", "badger":
		return "badger", ""
	case "memory":
		return "memory", ""
	}
	for _, scheme := range []string{"redis://", "rediss://", "redis+cluster://", "rediss+cluster://"} {
		// NB: before url.Parse, which refuses a cluster's host list.
		if strings.HasPrefix(s, scheme) {
			return "redis", ""
		}
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", ""
	}
	switch u.Scheme {
	case "badger":
		dir = u.Opaque
		if dir == "" {
			dir = u.Host + u.Path
		}
		if dir == "" {
			return "", ""
		}
		return "badger", dir
	}
	return "", ""
}

// OpenStore opens the store that o.Store names, as New does: Badger in
// o.DataDir (or memory), or Redis, with o.Retention and o.Log. The
// operator tools use it to read the store a server wrote.
func OpenStore(ctx context.Context, o Options) (linkguard.Store, error) {
	o = o.withDefaults()
	switch kind, _ := StoreKind(o.Store); kind {
	case "badger", "memory":
		dir := o.DataDir
		if kind == "memory" {
			dir = ""
		}
		return badgerstore.Open(badgerstore.Options{Dir: dir, Retention: o.Retention, Log: o.Log})
	case "redis":
		// The Redis client's own messages (dial failures, pool trouble) go
		// to the structured log instead of bare stderr lines.
		goredis.SetLogger(redisLog{o.Log})
		raw, prefix := o.Store, ""
		// NB: not url.Parse, which refuses a cluster's host list.
		if base, query, ok := strings.Cut(raw, "?"); ok {
			if q, err := url.ParseQuery(query); err == nil && q.Has("key_prefix") {
				prefix = q.Get("key_prefix")
				q.Del("key_prefix")
				raw = base
				if len(q) > 0 {
					raw += "?" + q.Encode()
				}
			}
		}
		return redisstore.Open(ctx, raw, redisstore.Options{KeyPrefix: prefix, Retention: o.Retention, Log: o.Log})
	}
	return nil, fmt.Errorf("store %q: want badger, badger:///path, memory, a redis:// URL, or a redis+cluster:// URL", RedactURL(o.Store))
}

// redisLog is the Redis client's logger.
type redisLog struct{ log *slog.Logger }

func (r redisLog) Printf(ctx context.Context, format string, v ...any) {
	r.log.Warn("redis client", "msg", fmt.Sprintf(format, v...))
}

// redactURL hides a password in a URL for messages.
func RedactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "<unparseable URL>"
	}
	return u.Redacted()
}

// checkDir reports whether dir can be the data folder, creating nothing:
// an existing folder must take a new file; a missing one, its nearest
// existing parent (where New will create it).
func checkDir(dir string) error {
	d := filepath.Clean(dir)
	for {
		st, err := os.Stat(d)
		if err == nil {
			if !st.IsDir() {
				if d == filepath.Clean(dir) {
					return errors.New("not a folder")
				}
				return fmt.Errorf("cannot create it: %s is not a folder", d)
			}
			break
		}
		if !errors.Is(err, os.ErrNotExist) {
			return err
		}
		parent := filepath.Dir(d)
		if parent == d {
			return fmt.Errorf("cannot create it: no parent folder")
		}
		d = parent
	}
	// A probe file, removed at once: permission bits say nothing of
	// read-only mounts, special file systems or root's rights.
	f, err := os.CreateTemp(d, ".probe-*")
	if err != nil {
		if d != filepath.Clean(dir) {
			return fmt.Errorf("cannot create it: %w", err)
		}
		return fmt.Errorf("not writable: %w", err)
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}

// RaiseProcs sets GOMAXPROCS for a process whose store is the Store
// setting store: a Badger store gets badger.Procs (more Ps than
// cores, see there), unless the operator set GOMAXPROCS in the
// environment, which always wins. It returns the Ps the process runs
// with and whether it raised them. Redis and memory stores keep Go's
// choice. New does not call it: a process-wide setting is the program's
// to choose (linkguard serve and lgperf call it). NB: a process that sets
// GOMAXPROCS no longer follows a change of its container's CPU limit;
// restart it after one.
func RaiseProcs(store string, getenv func(string) string) (procs int, raised bool) {
	procs = runtime.GOMAXPROCS(0)
	if kind, _ := StoreKind(store); kind != "badger" || getenv("GOMAXPROCS") != "" {
		return procs, false
	}
	if want := badgerstore.Procs(procs); want != procs {
		runtime.GOMAXPROCS(want)
		return want, true
	}
	return procs, false
}
