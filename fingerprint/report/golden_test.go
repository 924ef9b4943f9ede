package report

import (
	"bytes"
	"encoding/hex"
	"flag"
	"math"
	"math/rand/v2"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/appendjson.golden from the current encoder")

// goldenReports are the reports whose encoding testdata/appendjson.golden
// pins byte for byte.
func goldenReports() []struct {
	name string
	r    Report
} {
	out := []struct {
		name string
		r    Report
	}{
		{"zero", Report{}},
		{"sample", *sampleReport()},
		{"edges", Report{V: math.MaxInt64, Stage: "\xff<&>\u2028",
			Device:      Device{DeviceMemory: math.NaN(), HardwareConcurrency: math.MinInt64, Screen: Screen{PixelRatio: math.Inf(1)}, UAData: &UAData{Brands: []Brand{}}},
			Interaction: Interaction{FirstMS: math.Inf(-1), Trusted: Events{Click: EventCount{N: 1, FirstMS: math.NaN()}}, Click: &Click{OnContinue: true}},
			Timing:      Timing{LoadMS: math.Copysign(0, -1), VerifyMS: 1e21, ConfirmMS: 1e-7},
			Errors:      []string{}}},
	}
	for seed := uint64(0); seed < 8; seed++ {
		var r Report
		fill(reflect.ValueOf(&r).Elem(), rand.New(rand.NewPCG(seed, 3)), sampleStrings)
		out = append(out, struct {
			name string
			r    Report
		}{"filled/" + strconv.FormatUint(seed, 10), r})
	}
	return out
}

// TestAppendJSONGolden pins AppendJSON's bytes, and the proof made over
// them, for fixed reports: the server re-encodes a report to check its
// proof, so a change of spelling (a key's order, a number's form, an
// escape) breaks every collector already in a browser's cache. A change
// that means to alter the bytes raises SchemaVersion and regenerates the
// file:
//
//	go test ./fingerprint/report -run TestAppendJSONGolden -update
func TestAppendJSONGolden(t *testing.T) {
	var got bytes.Buffer
	for _, c := range goldenReports() {
		got.WriteString(c.name + "\t" + string(c.r.AppendJSON(nil)) + "\n")
	}
	r := sampleReport()
	seed := ProofSeed(testNonce, ProofBits, r)
	p, ok := Prove(testNonce, r)
	if !ok {
		t.Fatal("Prove found no counter")
	}
	got.WriteString("proof seed\t" + hex.EncodeToString(seed[:]) + "\n")
	got.WriteString("proof counter\t" + strconv.Itoa(p.Counter) + "\n")

	const file = "testdata/appendjson.golden"
	if *update {
		if err := os.WriteFile(file, got.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	gl, wl := strings.Split(got.String(), "\n"), strings.Split(string(want), "\n")
	for i := range max(len(gl), len(wl)) {
		var g, w string
		if i < len(gl) {
			g = gl[i]
		}
		if i < len(wl) {
			w = wl[i]
		}
		if g != w {
			t.Errorf("line %d differs from %s\n got  %s\n want %s", i+1, file, g, w)
		}
	}
}

// TestSchemaMark checks that SchemaMark spells SchemaVersion as
// e2e/build_test.go reads it.
func TestSchemaMark(t *testing.T) {
	want := SchemaMarkPrefix + strconv.Itoa(1000 + SchemaVersion)[1:] + ";"
	if SchemaVersion < 0 || SchemaVersion > 999 || SchemaMark != want {
		t.Fatalf("SchemaMark = %q, want %q (three digits hold versions up to 999)", SchemaMark, want)
	}
}
