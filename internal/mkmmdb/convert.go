package main

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"github.com/maxmind/mmdbwriter"
	"github.com/oschwald/maxminddb-golang"
)

// The converters below turn the free databases that npm serves
// (@ip-location-db, see scripts/geoip-fetch) into the GeoLite2 schema that
// fingerprint/geoip reads: ip-location-db's City mmdb has flat fields
// (country_code, city, latitude, longitude, timezone) and its ASN table is
// CSV.

// ipldbCity is a record of ip-location-db's city mmdb.
type ipldbCity struct {
	CountryCode string  `maxminddb:"country_code"`
	City        string  `maxminddb:"city"`
	Latitude    float64 `maxminddb:"latitude"`
	Longitude   float64 `maxminddb:"longitude"`
	Timezone    string  `maxminddb:"timezone"`
}

func newTree(kind string) (*mmdbwriter.Tree, error) {
	return mmdbwriter.New(mmdbwriter.Options{
		DatabaseType: kind,
		Description:  map[string]string{"en": "converted by linkguard internal/mkmmdb from @ip-location-db (see its licence files)"},
		Languages:    []string{"en"},
		RecordSize:   28,
		// The sources list some reserved blocks (192.88.99.0/24, the
		// 6to4 relay); keep them rather than fail.
		IncludeReservedNetworks: true,
	})
}

func writeTree(t *mmdbwriter.Tree, out string) error {
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	if _, err := t.WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// convertCity reads ip-location-db city mmdbs (the IPv4 and IPv6 files)
// and writes one GeoLite2-City-schema database.
func convertCity(ins []string, out string) error {
	t, err := newTree("GeoLite2-City")
	if err != nil {
		return err
	}
	n := 0
	for _, in := range ins {
		r, err := maxminddb.Open(in)
		if err != nil {
			return fmt.Errorf("open %s: %w", in, err)
		}
		nets := r.Networks(maxminddb.SkipAliasedNetworks)
		for nets.Next() {
			var rec ipldbCity
			subnet, err := nets.Network(&rec)
			if err != nil {
				return fmt.Errorf("%s: %w", in, err)
			}
			if rec.CountryCode == "" {
				continue
			}
			p := place{country: rec.CountryCode, city: rec.City, lat: rec.Latitude, lon: rec.Longitude, tz: rec.Timezone}
			if err := t.Insert(subnet, cityRecord(p)); err != nil {
				if strings.Contains(err.Error(), "aliased network") {
					continue
				}
				return fmt.Errorf("insert %s: %w", subnet, err)
			}
			n++
		}
		if err := nets.Err(); err != nil {
			return fmt.Errorf("%s: %w", in, err)
		}
		r.Close()
	}
	if n == 0 {
		return errors.New("no city records read: is this an ip-location-db city mmdb?")
	}
	return writeTree(t, out)
}

// convertASN reads ip-location-db ASN CSVs (ip_range_start, ip_range_end,
// autonomous_system_number, autonomous_system_organization) and writes a
// GeoLite2-ASN-schema database.
func convertASN(ins []string, out string) error {
	t, err := newTree("GeoLite2-ASN")
	if err != nil {
		return err
	}
	n := 0
	for _, in := range ins {
		f, err := os.Open(in)
		if err != nil {
			return err
		}
		cr := csv.NewReader(f)
		cr.FieldsPerRecord = 4
		for line := 1; ; line++ {
			row, err := cr.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				f.Close()
				return fmt.Errorf("%s:%d: %w", in, line, err)
			}
			start, err1 := netip.ParseAddr(strings.TrimSpace(row[0]))
			end, err2 := netip.ParseAddr(strings.TrimSpace(row[1]))
			asn, err3 := strconv.ParseUint(strings.TrimSpace(row[2]), 10, 32)
			if err := errors.Join(err1, err2, err3); err != nil {
				f.Close()
				return fmt.Errorf("%s:%d: %w", in, line, err)
			}
			p := place{asn: uint32(asn), org: row[3]}
			if err := t.InsertRange(net.IP(start.AsSlice()), net.IP(end.AsSlice()), asnRecord(p)); err != nil {
				if strings.Contains(err.Error(), "aliased network") {
					continue // IPv4 space seen through IPv6: the IPv4 rows hold it
				}
				f.Close()
				return fmt.Errorf("%s:%d: %w", in, line, err)
			}
			n++
		}
		f.Close()
	}
	if n == 0 {
		return errors.New("no ASN rows read")
	}
	return writeTree(t, out)
}
