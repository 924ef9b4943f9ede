package redis

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/linkguard/linkguard"
)

// EndCredentials implements linkguard.Store. A Redis store is restored
// by Redis (an RDB or AOF file, a managed service's snapshot), which
// knows nothing of what a key means, so the operator runs this after
// the restore (`linkguard end-credentials`): every link still pending is
// revoked by revokeScript, as RevokeLink does for RevokeRestore with no
// outbox (a link
// consumed meanwhile is left consumed), and the handoffs and the
// OpenID Provider's entries are unlinked a SCAN page at a time. It walks
// the keys with SCAN, so it costs O(keys in the database), and it is
// safe while servers run.
func (s *Store) EndCredentials(ctx context.Context, at time.Time) (linkguard.Ended, error) {
	var out linkguard.Ended
	err := s.ScanLinks(ctx, func(l *linkguard.Link) error {
		if l.StateAt(at) != linkguard.Pending {
			return nil
		}
		_, err := s.RevokeLink(ctx, l.ID, at, linkguard.RevokeRestore, nil)
		switch {
		case err == nil:
			out.Links++
		case errors.Is(err, linkguard.ErrNotPending), errors.Is(err, linkguard.ErrNotFound):
		default:
			return err
		}
		return nil
	})
	if err != nil {
		return out, fmt.Errorf("revoke pending links: %w", err)
	}
	if out.Handoffs, err = s.unlinkAll(ctx, globEscape(s.prefix+prefixHandoff)+"*"); err != nil {
		return out, fmt.Errorf("delete handoffs: %w", err)
	}
	for _, ns := range linkguard.KVCredentials() {
		n, err := s.unlinkAll(ctx, globEscape(s.kvKey(ns, ""))+"*")
		out.OIDC += n
		if err != nil {
			return out, fmt.Errorf("delete %s entries: %w", ns, err)
		}
	}
	return out, nil
}

// unlinkBatch is how many keys one UNLINK of unlinkAll names at most.
const unlinkBatch = 1000

// unlinkAll unlinks every key that matches match, unlinkBatch at a time,
// and returns how many Redis removed (a key SCAN gives twice counts
// once). Every key of a deployment shares its prefix's hash tag on a
// cluster (keys.go), so one UNLINK may name many.
func (s *Store) unlinkAll(ctx context.Context, match string) (int, error) {
	n := 0
	var batch []string
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		c, err := s.rdb.Unlink(ctx, batch...).Result()
		n += int(c)
		batch = batch[:0]
		return err
	}
	err := s.scan(ctx, match, func(k string) error {
		if batch = append(batch, k); len(batch) == unlinkBatch {
			return flush()
		}
		return ctx.Err()
	})
	if err == nil {
		err = flush()
	}
	return n, err
}
