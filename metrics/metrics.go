// Package metrics is linkguard's Prometheus metrics, with
// github.com/prometheus/client_golang: what the service decides (a
// linkguard.Observer), what the mail deliverer does, and how long HTTP
// requests take, plus the Go and process collectors, on a registry of
// its own served by Handler (the LINKGUARD_METRICS_LISTEN listener).
//
// Recording never allocates once a label set has been seen: children are
// looked up in maps keyed by value, not through the variadic
// WithLabelValues, so the landing GET pays no garbage for its metrics.
package metrics

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/fingerprint"
)

// The metric names: docs/operations.md and deploy/grafana-dashboard.json
// use them; outside tests and the operator console read them.
const (
	LinksIssued     = "linkguard_links_issued_total"
	Decisions       = "linkguard_decisions_total"
	LinksConsumed   = "linkguard_links_consumed_total"
	ScannerVisits   = "linkguard_scanner_visits_total"
	CodeAttempts    = "linkguard_code_attempts_total"
	MailDeliveries  = "linkguard_mail_deliveries_total"
	MailQueueDepth  = "linkguard_mail_queue_depth"
	VisitsDropped   = "linkguard_visits_dropped_total"
	RequestDuration = "linkguard_http_request_duration_seconds"
	StoreSyncs      = "linkguard_store_sync_seconds"
	StoreWaits      = "linkguard_store_wait_seconds"
	Backups         = "linkguard_backups_total"
)

// Names lists every linkguard metric name, in the order above.
var Names = []string{LinksIssued, Decisions, LinksConsumed, ScannerVisits, CodeAttempts,
	MailDeliveries, MailQueueDepth, VisitsDropped, RequestDuration, StoreSyncs,
	StoreWaits, Backups}

// Mail delivery results, the label of linkguard_mail_deliveries_total.
const (
	MailSent   = "sent"   // the relay accepted it
	MailRetry  = "retry"  // a failure that may pass: tried again later
	MailFailed = "failed" // given up for good
	// MailCanceled: not sent, because its link was revoked (or replaced,
	// or used) while the mail waited; nothing failed.
	MailCanceled = "canceled"
)

// Metrics holds linkguard's collectors and their registry. It is safe for
// concurrent use; the zero value is not: use New.
type Metrics struct {
	reg *prometheus.Registry

	issued    vec1
	decisions vec2
	consumed  vec1
	scanners  vec1
	codes     vec1
	mail      vec1
	backups   vec1
	duration  *prometheus.HistogramVec

	hmu  sync.RWMutex
	http map[httpKey]prometheus.Observer
}

type httpKey struct {
	route, method string
	code          int
}

// New makes the collectors and registers them, with the Go and process
// collectors, on a new registry.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		issued: newVec1(prometheus.CounterOpts{Name: LinksIssued,
			Help: "Links stored by POST /v1/links (and the hosted sign-in), by purpose."}, "purpose"),
		decisions: vec2{vec: prometheus.NewCounterVec(prometheus.CounterOpts{Name: Decisions,
			Help: "Decisions of the decision engine, by stage (verify, confirm, code) and decision (consume, confirm, code)."},
			[]string{"stage", "decision"}), kids: map[[2]string]prometheus.Counter{}},
		consumed: newVec1(prometheus.CounterOpts{Name: LinksConsumed,
			Help: "Links consumed, by what spent them: the device cookie, a click on the page, or the code."}, "by"),
		scanners: newVec1(prometheus.CounterOpts{Name: ScannerVisits,
			Help: "Visits turned away that a known mail-scanner entry names (vendor), or vetoed as a machine no entry names (unknown)."}, "vendor"),
		codes: newVec1(prometheus.CounterOpts{Name: CodeAttempts,
			Help: "Codes typed, by result: right, wrong, or locked (no tries were left)."}, "result"),
		mail: newVec1(prometheus.CounterOpts{Name: MailDeliveries,
			Help: "Email delivery attempts, by result: sent, retry (a failure that may pass), failed (given up) or canceled (its link was revoked before it went out)."}, "result"),
		backups: newVec1(prometheus.CounterOpts{Name: Backups,
			Help: "Online backups (GET /admin/backup), by result: ok, failed (cut off part way) or refused (one was running)."}, "result"),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: RequestDuration,
			Help:    "HTTP request durations, by route pattern (never a token), method and status code.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}},
			[]string{"route", "method", "code"}),
		http: map[httpKey]prometheus.Observer{},
	}
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.issued.vec, m.decisions.vec, m.consumed.vec, m.scanners.vec, m.codes.vec, m.mail.vec, m.backups.vec, m.duration)
	// Known label values start at zero, so that rate() and the dashboard
	// see a series before the first event.
	for _, p := range linkguard.Purposes {
		m.issued.get(string(p))
	}
	for _, via := range linkguard.ConsumedVias {
		m.consumed.get(string(via))
	}
	for _, r := range linkguard.CodeResults {
		m.codes.get(string(r))
	}
	for _, r := range []string{MailSent, MailRetry, MailFailed, MailCanceled} {
		m.mail.get(r)
	}
	for _, r := range linkguard.BackupResults {
		m.backups.get(string(r))
	}
	m.scanners.get(linkguard.ScannerUnknown)
	return m
}

// Registry is the registry the metrics are on, to add collectors to.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in the Prometheus text (or OpenMetrics)
// format: GET /metrics of the metrics listener.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Mux is the metrics listener's whole handler: GET /metrics, 404 else.
func (m *Metrics) Mux() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	return mux
}

// LinkIssued implements linkguard.Observer.
func (m *Metrics) LinkIssued(p linkguard.Purpose) { m.issued.get(string(p)).Inc() }

// Decided implements linkguard.Observer.
func (m *Metrics) Decided(kind linkguard.VisitKind, d fingerprint.Decision) {
	m.decisions.get(string(kind), string(d)).Inc()
}

// LinkConsumed implements linkguard.Observer.
func (m *Metrics) LinkConsumed(via linkguard.ConsumedVia) { m.consumed.get(string(via)).Inc() }

// ScannerVisit implements linkguard.Observer.
func (m *Metrics) ScannerVisit(vendor string) { m.scanners.get(vendor).Inc() }

// CodeAttempt implements linkguard.Observer.
func (m *Metrics) CodeAttempt(r linkguard.CodeResult) { m.codes.get(string(r)).Inc() }

// Backup counts one online backup by how it ended.
func (m *Metrics) Backup(r linkguard.BackupResult) { m.backups.get(string(r)).Inc() }

// MailDelivery counts one delivery attempt: MailSent, MailRetry,
// MailFailed or MailCanceled (the mail deliverer's hook).
func (m *Metrics) MailDelivery(result string) { m.mail.get(result).Inc() }

// WatchMailQueue publishes linkguard_mail_queue_depth, read from depth at
// each scrape (emails queued and not yet sent or given up).
func (m *Metrics) WatchMailQueue(depth func() float64) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: MailQueueDepth,
		Help: "Emails waiting in the durable queue: not yet sent nor given up."}, depth))
}

// WatchDroppedVisits publishes linkguard_visits_dropped_total, read from
// dropped at each scrape (the store's visit queue was full: evidence lost,
// never a link).
func (m *Metrics) WatchDroppedVisits(dropped func() uint64) {
	m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: VisitsDropped,
		Help: "Visits not recorded because the store's visit queue was full."},
		func() float64 { return float64(dropped()) }))
}

// WatchStoreSyncs publishes linkguard_store_sync_seconds, read from
// hist at each scrape: how long the store's syncs to disk took (Badger's
// group commit, which every durable write waits for; store/badger's
// SyncHistogram gives count, sum in seconds and cumulative buckets).
func (m *Metrics) WatchStoreSyncs(hist func() (count uint64, sum float64, buckets map[float64]uint64)) {
	m.reg.MustRegister(&histFunc{hist: hist, desc: prometheus.NewDesc(StoreSyncs,
		"How long the store's syncs to disk took: every durable write waits for one.", nil, nil)})
}

// WatchStoreWaits publishes linkguard_store_wait_seconds{wait}, one
// histogram for each of waits, read from hist at each scrape: how long
// the store's transactions waited for their snapshot ("read"), for their
// commit to be applied ("commit") and for a sync to cover it ("durable")
// (store/badger's Waits and WaitHistogram).
func (m *Metrics) WatchStoreWaits(waits []string, hist func(wait string) (count uint64, sum float64, buckets map[float64]uint64)) {
	desc := prometheus.NewDesc(StoreWaits,
		"How long the store's transactions waited: for their snapshot (read), for their commit to be applied (commit), for a sync to disk to cover it (durable).",
		[]string{"wait"}, nil)
	m.reg.MustRegister(&histVecFunc{desc: desc, labels: waits, hist: hist})
}

// histVecFunc is histograms of one label kept elsewhere, read at each
// scrape.
type histVecFunc struct {
	desc   *prometheus.Desc
	labels []string
	hist   func(string) (uint64, float64, map[float64]uint64)
}

func (h *histVecFunc) Describe(ch chan<- *prometheus.Desc) { ch <- h.desc }

func (h *histVecFunc) Collect(ch chan<- prometheus.Metric) {
	for _, l := range h.labels {
		n, sum, buckets := h.hist(l)
		ch <- prometheus.MustNewConstHistogram(h.desc, n, sum, buckets, l)
	}
}

// histFunc is a histogram kept elsewhere (lock-free counters), read at
// each scrape.
type histFunc struct {
	desc *prometheus.Desc
	hist func() (uint64, float64, map[float64]uint64)
}

func (h *histFunc) Describe(ch chan<- *prometheus.Desc) { ch <- h.desc }

func (h *histFunc) Collect(ch chan<- prometheus.Metric) {
	n, sum, buckets := h.hist()
	ch <- prometheus.MustNewConstHistogram(h.desc, n, sum, buckets)
}

// Request records one HTTP request: route is the route's pattern
// ("/l/:token"), never the path it matched.
func (m *Metrics) Request(route, method string, code int, d time.Duration) {
	k := httpKey{route, method, code}
	m.hmu.RLock()
	o, ok := m.http[k]
	m.hmu.RUnlock()
	if !ok {
		m.hmu.Lock()
		if o, ok = m.http[k]; !ok {
			o = m.duration.WithLabelValues(route, method, strconv.Itoa(code))
			m.http[k] = o
		}
		m.hmu.Unlock()
	}
	o.Observe(d.Seconds())
}

// vec1 is a counter vector of one label whose children are cached by value.
type vec1 struct {
	vec  *prometheus.CounterVec
	mu   sync.RWMutex
	kids map[string]prometheus.Counter
}

func newVec1(o prometheus.CounterOpts, label string) vec1 {
	return vec1{vec: prometheus.NewCounterVec(o, []string{label}), kids: map[string]prometheus.Counter{}}
}

func (v *vec1) get(a string) prometheus.Counter {
	v.mu.RLock()
	c, ok := v.kids[a]
	v.mu.RUnlock()
	if ok {
		return c
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if c, ok = v.kids[a]; !ok {
		c = v.vec.WithLabelValues(a)
		v.kids[a] = c
	}
	return c
}

// vec2 is vec1 with two labels.
type vec2 struct {
	vec  *prometheus.CounterVec
	mu   sync.RWMutex
	kids map[[2]string]prometheus.Counter
}

func (v *vec2) get(a, b string) prometheus.Counter {
	k := [2]string{a, b}
	v.mu.RLock()
	c, ok := v.kids[k]
	v.mu.RUnlock()
	if ok {
		return c
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if c, ok = v.kids[k]; !ok {
		c = v.vec.WithLabelValues(a, b)
		v.kids[k] = c
	}
	return c
}

var _ linkguard.Observer = (*Metrics)(nil)
