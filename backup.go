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

// BackupResult is how an online backup ended: the label of the metric
// linkguard_backups_total and of the console's log line.
type BackupResult string

// The backup results.
const (
	BackupOK      BackupResult = "ok"      // the whole file was sent
	BackupFailed  BackupResult = "failed"  // stopped part way: the connection was cut
	BackupRefused BackupResult = "refused" // another backup was running
)

// BackupResults lists every BackupResult.
var BackupResults = []BackupResult{BackupOK, BackupFailed, BackupRefused}
