package linkguard

import (
	"context"
	"io"
)

// Backuper is the optional part of a Store that writes a consistent
// snapshot of everything it holds while the server runs (the operator
// console's GET /admin/backup). store/badger has it; store/redis does
// not: Redis is backed up by its own RDB and AOF files (docs/redis.md).
type Backuper interface {
	// Backup writes the snapshot to w and returns the bytes written.
	// NB: only a nil error means w holds a whole backup; on an error the
	// caller must make sure nobody takes what was written for one.
	Backup(ctx context.Context, w io.Writer) (uint64, error)
}
