package kit

import (
	"testing"

	"github.com/linkguard/linkguard/fingerprint"
)

// TestReloadSwapsHeuristicsAndRefusesBadOnes is what SIGHUP does: a valid
// configuration replaces the running one (new hash on every verdict), a
// bad one is refused and the running one stays.
func TestReloadSwapsHeuristicsAndRefusesBadOnes(t *testing.T) {
	k, err := New(Options{PublicURL: "https://kit.example.com", APIKeys: []string{"api-key-0123456789"},
		GeoIPCity: "../testdata/geoip/test-city.mmdb", GeoIPASN: "../testdata/geoip/test-asn.mmdb"})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	before := k.Engine.Hash()

	cfg := fingerprint.DefaultConfig()
	cfg.SetWeight("geo", 2)
	if err := k.Reload(&cfg); err != nil {
		t.Fatal(err)
	}
	after := k.Engine.Hash()
	if after == before {
		t.Fatal("a new weight did not change the configuration hash")
	}

	bad := fingerprint.DefaultConfig()
	bad.Compatibility.Thresholds.Confirm = 7
	if err := k.Reload(&bad); err == nil {
		t.Fatal("an invalid configuration was accepted")
	}
	if k.Engine.Hash() != after {
		t.Fatal("a refused configuration replaced the running one")
	}
	if err := k.Reload(nil); err != nil {
		t.Fatalf("reloading the GeoIP files alone: %v", err)
	}
}
