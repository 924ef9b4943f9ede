package badger

import (
	"testing"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/store/storetest"
)

func TestLimiterConformance(t *testing.T) {
	storetest.RunLimiter(t, func(t *testing.T) linkguard.Limiter {
		return memStore(t)
	})
}
