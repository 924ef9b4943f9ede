package badger

import (
	"testing"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/store/storetest"
)

func TestKVConformance(t *testing.T) {
	storetest.RunKV(t, func(t *testing.T) linkguard.KV {
		return memStore(t)
	})
}
