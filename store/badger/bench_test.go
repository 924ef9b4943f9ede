package badger

import (
	"testing"

	"github.com/linkguard/linkguard/store/storetest"
)

func benchStore(b *testing.B) *Store {
	s, err := Open(Options{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// BenchmarkCreateLink is one synced transaction per link: Badger groups
// concurrent commits into one fsync.
func BenchmarkCreateLink(b *testing.B) { storetest.BenchCreateLink(b, benchStore(b)) }

// BenchmarkConsumeLink is the synced compare-and-set that spends a link.
func BenchmarkConsumeLink(b *testing.B) { storetest.BenchConsumeLink(b, benchStore(b)) }

// BenchmarkLinkByTokenHash is the read behind every landing page.
func BenchmarkLinkByTokenHash(b *testing.B) { storetest.BenchLinkByTokenHash(b, benchStore(b)) }
