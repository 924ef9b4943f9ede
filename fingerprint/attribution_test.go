package fingerprint

import "testing"

func TestEngineScanner(t *testing.T) {
	e, err := NewEngine(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	chrome := "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/145.0.0.0 Safari/537.36"
	for _, tc := range []struct {
		name string
		n    Network
		ua   string
		want string
	}{
		{"range", Network{Range: "microsoft", ASN: 64496}, chrome, "microsoft"},
		{"asn", Network{ASN: 15324}, chrome, "barracuda"},
		{"vendor ua", Network{ASN: 64496}, "Mozilla/5.0 Barracuda Sentinel (EE)", "barracuda"},
		{"generic bot names no vendor", Network{ASN: 64496}, "python-requests/2.32", ""},
		{"person", Network{ASN: 64496}, chrome, ""},
		{"no asn", Network{}, "", ""},
	} {
		if got := e.Scanner(&tc.n, tc.ua); got != tc.want {
			t.Errorf("%s: Scanner = %q, want %q", tc.name, got, tc.want)
		}
	}
}
