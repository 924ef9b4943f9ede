package admin

import (
	"context"
	"io"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/linkguard/linkguard"
)

// backups keeps the console's online backups to one at a time and tells
// the metrics how each ended.
type backups struct {
	running atomic.Bool
	observe atomic.Pointer[func(linkguard.BackupResult)]
}

// ObserveBackups has f told how each online backup ends (the metrics).
func (c *Console) ObserveBackups(f func(linkguard.BackupResult)) { c.backups.observe.Store(&f) }

func (c *Console) backupEnded(r linkguard.BackupResult) {
	if f := c.backups.observe.Load(); f != nil {
		(*f)(r)
	}
}

// backup streams a snapshot of the whole store (GET /admin/backup): the
// file `linkguard restore` reads. It is a GET without a CSRF token
// because it changes nothing, and the session cookie is SameSite=Strict:
// another site can neither send it nor read the answer.
//
// The snapshot is taken from one read transaction while the server
// serves, and streamed as it is read, one Badger batch at a time. One
// runs at a time: each reads the whole store, and a second would only
// double that.
func (c *Console) backup(fc *fiber.Ctx) error {
	b, ok := c.svc.Store.(linkguard.Backuper)
	if !ok {
		return c.fail(fc, http.StatusNotFound, "This store has no online backup: back up Redis with its own RDB or AOF files (docs/redis.md).")
	}
	admin, _ := fc.Locals("admin").(string)
	if !c.backups.running.CompareAndSwap(false, true) {
		c.backupEnded(linkguard.BackupRefused)
		c.log.Warn("console backup refused: another one is running", "admin", admin)
		return c.fail(fc, http.StatusConflict, "A backup is already running. Wait until its download has finished, then try again.")
	}
	began := time.Now()
	name := "linkguard-backup-" + c.opts.Now().UTC().Format("20060102T150405Z") + ".badger"
	fc.Set(fiber.HeaderContentType, fiber.MIMEOctetStream)
	fc.Set(fiber.HeaderContentDisposition, `attachment; filename="`+name+`"`)
	fc.Set(fiber.HeaderCacheControl, "no-store")
	fc.Set("X-Content-Type-Options", "nosniff")
	if fc.Method() == fiber.MethodHead {
		c.backups.running.Store(false)
		return nil
	}
	// NB: the body is a pipe that fasthttp copies to the connection as
	// chunks after this handler returns. A nil CloseWithError ends it
	// with the last chunk: a whole file. Any other error makes fasthttp
	// drop the connection without that chunk, so a client (curl, a
	// browser) reports a failed download instead of saving a file that
	// looks whole. A client that goes away closes the pipe, which fails
	// the backup's next write and ends it.
	pr, pw := io.Pipe()
	go func() {
		n, err := b.Backup(context.Background(), pw)
		d := time.Since(began).Round(time.Millisecond)
		// Counted, logged and released before the pipe closes: once the
		// client has the file, the next backup may start.
		if err != nil {
			c.backupEnded(linkguard.BackupFailed)
			c.log.Error("console backup failed: the download was cut off", "admin", admin, "bytes", n, "duration", d, "err", err)
		} else {
			c.backupEnded(linkguard.BackupOK)
			c.log.Info("console backup", "admin", admin, "file", name, "bytes", n, "duration", d)
		}
		c.backups.running.Store(false)
		pw.CloseWithError(err)
	}()
	fc.Context().SetBodyStream(pr, -1)
	return nil
}
