package redis

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Ping implements linkguard.Pinger: Redis answers and takes a write (a
// replica, a full memory or a failed save refuse it).
func (s *Store) Ping(ctx context.Context) error {
	err := s.rdb.Set(ctx, s.prefix+"ready", time.Now().UnixMilli(), time.Minute).Err()
	if err == nil {
		return nil
	}
	if ctx.Err() != nil || isNetErr(err) {
		return fmt.Errorf("Redis is unreachable: %w", err)
	}
	return fmt.Errorf("Redis refuses writes (a replica, out of memory, or a failed save): %w", err)
}

// MailQueueDepth is how many emails wait in the queue (ZCARD; a job that
// was sent meanwhile may count until the next claim meets it).
func (s *Store) MailQueueDepth(ctx context.Context) (int, error) {
	n, err := s.rdb.ZCard(ctx, s.queueKey()).Result()
	return int(n), err
}

// isNetErr: the error is the connection's, not Redis's answer.
func isNetErr(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, goredis.ErrClosed)
}
