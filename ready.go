package linkguard

import (
	"context"
	"errors"
)

// Pinger is the optional part of a Store that says whether it is usable
// right now: reachable and taking writes. Both stores have it.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Ready reports whether the service can work: its store answers and
// takes writes. The error says which and why (GET /readyz).
func (s *Service) Ready(ctx context.Context) error {
	p, ok := s.Store.(Pinger)
	if !ok {
		return nil
	}
	if err := p.Ping(ctx); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return errors.New("the store is unreachable: no answer in time")
		}
		return err
	}
	return nil
}
