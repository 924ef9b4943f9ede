package fingerprint

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
)

// Locator fills the GeoIP fields of a Network (Country, City, Lat, Lon,
// HasGeo, TimeZone, ASN, ASOrg) for an address. It leaves fields it
// cannot fill untouched. fingerprint/geoip.Reader is the implementation;
// it lives apart so that this package needs no MaxMind reader.
type Locator interface {
	Locate(ip netip.Addr, n *Network)
}

// NetworkPrefix returns the /24 (IPv4, or IPv4-mapped IPv6) or /48 (IPv6)
// that holds ip, the network PrefixHash hashes; ok is false for an
// invalid address.
func NetworkPrefix(ip netip.Addr) (p netip.Prefix, ok bool) {
	ip = ip.Unmap()
	if !ip.IsValid() {
		return netip.Prefix{}, false
	}
	bits := 48
	if ip.Is4() {
		bits = 24
	}
	p, err := ip.Prefix(bits)
	return p, err == nil
}

// PrefixHash returns a keyed hash of the /24 (IPv4) or /48 (IPv6) that
// holds ip: enough to tell "same network" without keeping the address.
// Use one server-wide secret key; an empty key still works but makes the
// hash guessable.
func PrefixHash(key []byte, ip netip.Addr) string {
	p, ok := NetworkPrefix(ip)
	if !ok {
		return ""
	}
	m := hmac.New(sha256.New, key)
	b, _ := p.MarshalBinary()
	m.Write(b)
	return hex.EncodeToString(m.Sum(nil)[:8])
}

// NetworkOf builds the Network of an address: its prefix hash, what loc
// knows of it (loc may be nil), and the scanner range that holds it when
// e (which may be nil) is given. This is the one place the raw address is
// used; the result can be recorded.
func NetworkOf(ip netip.Addr, key []byte, loc Locator, e *Engine) Network {
	ip = ip.Unmap()
	n := Network{Prefix: PrefixHash(key, ip)}
	if !ip.IsValid() {
		return n
	}
	if loc != nil {
		loc.Locate(ip, &n)
	}
	if e != nil {
		e.MarkRanges(ip, &n)
	}
	return n
}
