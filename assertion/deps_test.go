package assertion

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportsOnlyStdlibAndJOSE keeps the package importable by a host
// without the kit's server: `go list -deps` of it may name the standard
// library, go-jose, golang.org/x/crypto, this package and internal/keyfile
// (standard library only), nothing else (no Fiber, Badger, chromedp,
// redis, no other package of this module).
func TestImportsOnlyStdlibAndJOSE(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go is not on the PATH")
	}
	out, err := exec.Command(goBin, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	const self = "github.com/linkguard/linkguard/assertion"
	// internal/keyfile is standard library only: the shared atomic key writer.
	allowed := []string{"github.com/go-jose/go-jose/v4", "golang.org/x/crypto", "github.com/linkguard/linkguard/internal/keyfile"}
	var n int
	for _, p := range strings.Fields(string(out)) {
		n++
		if p == self {
			continue
		}
		ok := false
		for _, a := range allowed {
			ok = ok || p == a || strings.HasPrefix(p, a+"/")
		}
		if !ok {
			t.Errorf("assertion depends on %s: hosts would pull it in (only the standard library, go-jose and x/crypto may appear)", p)
		}
	}
	if n == 0 {
		t.Fatal("go list named no package, not even this one")
	}
}
