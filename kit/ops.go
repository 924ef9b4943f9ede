package kit

import (
	"context"
	"time"

	"github.com/linkguard/linkguard/metrics"
	"github.com/linkguard/linkguard/server"
	badgerstore "github.com/linkguard/linkguard/store/badger"
)

// Instrument turns on a kit's metrics (m may be nil: none), its access
// log, and extra readiness checks (for instance the last GeoIP reload):
// the service's decisions, every request, the mail deliverer's results,
// the mail queue's depth, the store's dropped visits, how long its syncs
// take and how long its transactions wait (Badger) and the console's
// online backups. Call it once, before
// Start.
func (k *Kit) Instrument(m *metrics.Metrics, accessLog bool, ready ...server.ReadyCheck) {
	if m != nil {
		k.Service.Observer = m
		if k.deliver != nil {
			k.deliver.Observe = m.MailDelivery
		}
		if q, ok := k.Service.Store.(interface {
			MailQueueDepth(context.Context) (int, error)
		}); ok {
			m.WatchMailQueue(func() float64 {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				defer cancel()
				n, err := q.MailQueueDepth(ctx)
				if err != nil {
					return -1
				}
				return float64(n)
			})
		}
		if d, ok := k.Service.Store.(interface{ DroppedVisits() uint64 }); ok {
			m.WatchDroppedVisits(d.DroppedVisits)
		}
		if y, ok := k.Service.Store.(interface {
			SyncHistogram() (uint64, float64, map[float64]uint64)
		}); ok {
			m.WatchStoreSyncs(y.SyncHistogram)
		}
		if w, ok := k.Service.Store.(interface {
			WaitHistogram(string) (uint64, float64, map[float64]uint64)
		}); ok {
			m.WatchStoreWaits(badgerstore.Waits, w.WaitHistogram)
		}
		if k.console != nil {
			k.console.ObserveBackups(m.Backup)
		}
	}
	var rec server.RequestRecorder
	if m != nil {
		rec = m
	}
	k.Server.Instrument(rec, accessLog, ready...)
}
