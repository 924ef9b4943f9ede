package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"path"
	"strconv"
	"testing"

	"github.com/linkguard/linkguard/fingerprint/report"
	"github.com/linkguard/linkguard/web"
)

// TestCollectorSchema fails when the collector the browser tests serve
// was built for another report schema than this tree writes: `make wasm`
// not run since SchemaVersion changed. Its reports would be read under
// the wrong schema, and the person tests would fail as if the detection
// were wrong ("state code, want confirm"). sharedSite, which every
// browser test goes through, makes the check (servedCollectorSchema);
// this test lives in the first test file so that a full run's failure
// comes first.
func TestCollectorSchema(t *testing.T) { sharedSite(t) }

// servedCollectorSchema checks the schema of the collector that site
// serves.
func servedCollectorSchema(site *web.Site) error {
	a, ok := site.Asset(path.Base(site.AssetURL("collector.wasm")))
	if !ok {
		return errors.New("the site names a collector.wasm it does not serve")
	}
	return checkCollectorSchema(a.Raw)
}

// checkCollectorSchema reads report.SchemaMark from a built collector
// and compares it with this tree's report.SchemaVersion.
func checkCollectorSchema(wasm []byte) error {
	prefix := []byte(report.SchemaMarkPrefix)
	i := bytes.Index(wasm, prefix)
	if i < 0 {
		return fmt.Errorf("collector.wasm carries no report schema mark (%q): built before the mark, or not from this tree: run `make wasm`", report.SchemaMarkPrefix)
	}
	if bytes.Count(wasm, prefix) > 1 {
		return fmt.Errorf("collector.wasm carries the report schema mark %q more than once", report.SchemaMarkPrefix)
	}
	rest := wasm[i+len(prefix):]
	if len(rest) < 4 || rest[3] != ';' {
		return fmt.Errorf("collector.wasm's report schema mark is malformed: %q", wasm[i:min(len(wasm), i+len(prefix)+4)])
	}
	v, err := strconv.Atoi(string(rest[:3]))
	if err != nil {
		return fmt.Errorf("collector.wasm's report schema mark is malformed: %q", wasm[i:i+len(prefix)+4])
	}
	if v != report.SchemaVersion {
		return fmt.Errorf("collector.wasm is stale: built for report schema %d, this tree writes %d: run `make wasm`", v, report.SchemaVersion)
	}
	return nil
}

// TestCheckCollectorSchema checks the check on made-up binaries, so that
// it neither passes a stale build nor fails a fresh one.
func TestCheckCollectorSchema(t *testing.T) {
	mark := func(v int) string { return report.SchemaMarkPrefix + strconv.Itoa(1000 + v)[1:] + ";" }
	cases := []struct {
		name string
		bin  string
		ok   bool
	}{
		{"fresh/this tree's mark", "\x00asm" + report.SchemaMark + "\x00", true},
		{"fresh/spelled by hand", "\x00asm" + mark(report.SchemaVersion), true},
		{"stale/older schema", "\x00asm" + mark(report.SchemaVersion-1) + "\x00", false},
		{"stale/newer schema", "\x00asm" + mark(report.SchemaVersion+1) + "\x00", false},
		{"stale/no mark", "\x00asm lg-report-schema", false},
		{"bad/truncated", "\x00asm" + report.SchemaMarkPrefix + "00", false},
		{"bad/not digits", "\x00asm" + report.SchemaMarkPrefix + "0x4;", false},
		{"bad/twice", "\x00asm" + report.SchemaMark + mark(report.SchemaVersion+1), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := checkCollectorSchema([]byte(c.bin)); (err == nil) != c.ok {
				t.Fatalf("checkCollectorSchema = %v, want ok %v", err, c.ok)
			}
		})
	}
}
