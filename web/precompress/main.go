// Command precompress writes FILE.br (brotli, best level) and FILE.gz
// (gzip, best level) beside each FILE it is given, for package web to
// embed and serve as they are. `make wasm` runs it on the collector:
//
//	go run ./web/precompress web/static/gen/collector.wasm web/static/gen/wasm_exec.js
//
// Brotli at its best level takes seconds for the 2 MB collector, so it is
// done once at build time rather than at every start.
package main

import (
	"compress/gzip"
	"fmt"
	"os"

	"github.com/andybalholm/brotli"

	"github.com/linkguard/linkguard/web"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: precompress FILE...")
		os.Exit(2)
	}
	for _, f := range os.Args[1:] {
		raw, err := os.ReadFile(f)
		if err != nil {
			fmt.Fprintln(os.Stderr, "precompress:", err)
			os.Exit(1)
		}
		gz, br := web.Compress(raw, gzip.BestCompression, brotli.BestCompression)
		for _, out := range []struct {
			name string
			b    []byte
		}{{f + ".gz", gz}, {f + ".br", br}} {
			if err := os.WriteFile(out.name, out.b, 0o644); err != nil {
				fmt.Fprintln(os.Stderr, "precompress:", err)
				os.Exit(1)
			}
		}
		fmt.Printf("%s: %d raw, %d gzip, %d brotli\n", f, len(raw), len(gz), len(br))
	}
}
