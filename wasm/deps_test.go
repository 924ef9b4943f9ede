package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// heavy are standard packages the collector must not depend on, and
// why (brotli sizes of collector.wasm; its budget is
// e2e.TestCollectorBudget). A package is linked with its init even when
// nothing of it is called.
var heavy = map[string]string{
	"fmt":             "with encoding/json and reflect, ~370 KB (docs/collector.md)",
	"encoding/json":   "with fmt and reflect, ~370 KB (docs/collector.md)",
	"reflect":         "its init and unicode's tables, even unused",
	"time":            "37 KB (docs/collector.md)",
	"strings":         "its Unicode tables (report/ua.go)",
	"unicode":         "its tables",
	"encoding/binary": "imports reflect: 3.7 KB in a bare syscall/js module",
	"crypto":          "x/crypto/blake2s registers with it at init; with encoding/binary and reflect ~5 KB, so fingerprint/report has its own BLAKE2s",
}

// TestCollectorLinksNoHeavyPackage fails when the collector's build
// (GOOS=js GOARCH=wasm) depends on a package of heavy.
func TestCollectorLinksNoHeavyPackage(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go is not on the PATH")
	}
	cmd := exec.Command(goBin, "list", "-deps", ".")
	cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) == 0 {
		t.Fatal("go list named no package")
	}
	for _, p := range deps {
		if why, ok := heavy[p]; ok {
			t.Errorf("the collector depends on %s (%s): `GOOS=js GOARCH=wasm go list -deps ./wasm` shows through what", p, why)
		}
	}
}
