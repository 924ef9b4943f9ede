// Package geoip reads GeoIP2/GeoLite2 City (or Country) and ASN databases
// and fills the GeoIP fields of a fingerprint.Network. It is the
// fingerprint.Locator of the server.
//
// A database path that is empty or names no file turns its signals off
// (the missing file is logged once); a file that exists but is not a
// readable database of the right kind is an error, so that a broken
// deployment fails at start rather than deciding blind. Reload re-reads
// both files (for SIGHUP).
//
// Lookups decode only the fields the signals use and cache the decoded
// records by their offset in the database, so a lookup of an address in a
// known record allocates only the net.IP that maxminddb takes.
package geoip

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"

	"github.com/linkguard/linkguard/fingerprint"
	"github.com/oschwald/geoip2-golang"
	"github.com/oschwald/maxminddb-golang"
)

// Reader is the pair of databases in use. It is safe for concurrent use;
// Reload swaps the databases atomically.
type Reader struct {
	cityPath, asnPath string
	log               *slog.Logger
	cur               atomic.Pointer[dbs]
	missingLogged     sync.Map // path → struct{}: "missing" is logged once per path
}

var _ fingerprint.Locator = (*Reader)(nil)

type dbs struct {
	city *db // nil when off
	asn  *db // nil when off
}

// db is one opened database with its record cache.
type db struct {
	r    *maxminddb.Reader
	kind string
	mu   sync.RWMutex
	city map[uintptr]cityRecord
	asn  map[uintptr]asnRecord
}

// maxCache bounds a record cache; it is emptied when full. Real databases
// have far more records than one server sees in a day, and a miss costs
// only a decode.
const maxCache = 1 << 16

type cityRecord struct {
	Country struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"country"`
	City struct {
		Names struct {
			En string `maxminddb:"en"`
		} `maxminddb:"names"`
	} `maxminddb:"city"`
	Location struct {
		Latitude       float64 `maxminddb:"latitude"`
		Longitude      float64 `maxminddb:"longitude"`
		TimeZone       string  `maxminddb:"time_zone"`
		AccuracyRadius uint16  `maxminddb:"accuracy_radius"`
	} `maxminddb:"location"`
}

type asnRecord struct {
	Number uint32 `maxminddb:"autonomous_system_number"`
	Org    string `maxminddb:"autonomous_system_organization"`
}

// Open opens the City (or Country) database at cityPath and the ASN
// database at asnPath. Either may be "" or missing: its signals are then
// off, and a missing file is logged once.
func Open(cityPath, asnPath string) (*Reader, error) {
	return OpenWithLogger(cityPath, asnPath, slog.Default())
}

// OpenWithLogger is Open with the logger that reports missing files.
func OpenWithLogger(cityPath, asnPath string, log *slog.Logger) (*Reader, error) {
	r := &Reader{cityPath: cityPath, asnPath: asnPath, log: log}
	if err := r.Reload(); err != nil {
		return nil, err
	}
	return r, nil
}

// Reload re-reads both databases and swaps them in. On error the
// databases in use stay.
func (r *Reader) Reload() error {
	city, err := r.load(r.cityPath, "city", "City", "Country", "Enterprise")
	if err != nil {
		return err
	}
	asn, err := r.load(r.asnPath, "asn", "ASN", "ISP")
	if err != nil {
		return err
	}
	r.cur.Store(&dbs{city: city, asn: asn})
	return nil
}

// Enabled reports which databases are loaded.
func (r *Reader) Enabled() (city, asn bool) {
	d := r.cur.Load()
	return d.city != nil, d.asn != nil
}

// load opens one database, checking with geoip2 that it is of one of the
// wanted kinds ("City", "Country", "ASN", ... as geoip2 names them by
// their method).
func (r *Reader) load(path, role string, kinds ...string) (*db, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		if _, dup := r.missingLogged.LoadOrStore(path, struct{}{}); !dup {
			r.log.Warn("geoip database missing: its signals are off", "role", role, "path", path)
		}
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("geoip: read %s database %s: %w", role, path, err)
	}
	// geoip2 checks the metadata and the database type; we then look up
	// with the underlying reader over the same bytes, decoding only what
	// the signals use. Reading the file (rather than mapping it) lets a
	// reload drop the old database while lookups still use it.
	g, err := geoip2.FromBytes(b)
	if err != nil {
		return nil, fmt.Errorf("geoip: %s database %s is not a readable MaxMind database: %w", role, path, err)
	}
	kind := g.Metadata().DatabaseType
	if !kindOK(g, kinds) {
		return nil, fmt.Errorf("geoip: %s database %s is of type %q, want a %v database", role, path, kind, kinds)
	}
	mr, err := maxminddb.FromBytes(b)
	if err != nil {
		return nil, fmt.Errorf("geoip: %s database %s: %w", role, path, err)
	}
	if err := mr.Verify(); err != nil {
		return nil, fmt.Errorf("geoip: %s database %s is corrupt: %w", role, path, err)
	}
	return &db{r: mr, kind: kind, city: map[uintptr]cityRecord{}, asn: map[uintptr]asnRecord{}}, nil
}

// kindOK asks geoip2 whether the database answers the wanted methods: it
// returns InvalidMethodError for a method the database type lacks.
func kindOK(g *geoip2.Reader, kinds []string) bool {
	probe := net.IPv4(192, 0, 2, 1)
	for _, k := range kinds {
		var err error
		switch k {
		case "City":
			_, err = g.City(probe)
		case "Country":
			_, err = g.Country(probe)
		case "Enterprise":
			_, err = g.Enterprise(probe)
		case "ASN":
			_, err = g.ASN(probe)
		case "ISP":
			_, err = g.ISP(probe)
		}
		var im geoip2.InvalidMethodError
		if !errors.As(err, &im) {
			return true
		}
	}
	return false
}

// Locate implements fingerprint.Locator.
func (r *Reader) Locate(ip netip.Addr, n *fingerprint.Network) {
	d := r.cur.Load()
	if d.city == nil && d.asn == nil {
		return
	}
	a := ip.Unmap().As16()
	nip := net.IP(a[:])
	if c := d.city; c != nil {
		if rec, ok := c.cityAt(nip); ok {
			n.Country = rec.Country.ISOCode
			n.City = rec.City.Names.En
			n.TimeZone = rec.Location.TimeZone
			if rec.Location.AccuracyRadius > 0 || rec.Location.Latitude != 0 || rec.Location.Longitude != 0 {
				n.Lat, n.Lon, n.HasGeo = rec.Location.Latitude, rec.Location.Longitude, true
			}
		}
	}
	if s := d.asn; s != nil {
		if rec, ok := s.asnAt(nip); ok {
			n.ASN, n.ASOrg = rec.Number, rec.Org
		}
	}
}

func (d *db) cityAt(ip net.IP) (cityRecord, bool) {
	off, err := d.r.LookupOffset(ip)
	if err != nil || off == maxminddb.NotFound {
		return cityRecord{}, false
	}
	d.mu.RLock()
	rec, ok := d.city[off]
	d.mu.RUnlock()
	if ok {
		return rec, true
	}
	if err := d.r.Decode(off, &rec); err != nil {
		return cityRecord{}, false
	}
	d.mu.Lock()
	if len(d.city) >= maxCache {
		clear(d.city)
	}
	d.city[off] = rec
	d.mu.Unlock()
	return rec, true
}

func (d *db) asnAt(ip net.IP) (asnRecord, bool) {
	off, err := d.r.LookupOffset(ip)
	if err != nil || off == maxminddb.NotFound {
		return asnRecord{}, false
	}
	d.mu.RLock()
	rec, ok := d.asn[off]
	d.mu.RUnlock()
	if ok {
		return rec, true
	}
	if err := d.r.Decode(off, &rec); err != nil {
		return asnRecord{}, false
	}
	d.mu.Lock()
	if len(d.asn) >= maxCache {
		clear(d.asn)
	}
	d.asn[off] = rec
	d.mu.Unlock()
	return rec, true
}
