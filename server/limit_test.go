package server

import (
	"testing"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/store/storetest"
)

// TestMemLimitsConformance: the in-memory fallback limits as the stores do.
func TestMemLimitsConformance(t *testing.T) {
	storetest.RunLimiter(t, func(t *testing.T) linkguard.Limiter { return &memLimits{} })
}
