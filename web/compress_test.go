package web

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"
)

// TestCompressSmallAllocatesLittle: a site's small scripts and styles are
// compressed at every start (and every test server's); the brotli
// encoder's tables follow its window, so a window sized to the file keeps
// one 7 KB script under 8 MB of allocation (35 MB at the default window).
// Both forms still decode to the file.
func TestCompressSmallAllocatesLittle(t *testing.T) {
	raw, err := os.ReadFile("static/lg.js")
	if err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	gz, br := compress(raw)
	runtime.ReadMemStats(&after)
	if n := after.TotalAlloc - before.TotalAlloc; n > 8<<20 {
		t.Errorf("compressing a %d-byte file allocated %d MB", len(raw), n>>20)
	}
	if br == nil || gz == nil {
		t.Fatalf("no compressed forms of a %d-byte script", len(raw))
	}
	got, err := io.ReadAll(brotli.NewReader(bytes.NewReader(br)))
	if err != nil || !bytes.Equal(got, raw) {
		t.Errorf("brotli form: %v, equal %v", err, bytes.Equal(got, raw))
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	if got, err = io.ReadAll(zr); err != nil || !bytes.Equal(got, raw) {
		t.Errorf("gzip form: %v, equal %v", err, bytes.Equal(got, raw))
	}
}

func TestBrotliWindow(t *testing.T) {
	for _, c := range []struct{ n, want int }{{0, 10}, {1000, 10}, {1009, 11}, {7180, 13}, {2 << 20, 22}, {64 << 20, 24}} {
		if got := brotliWindow(c.n); got != c.want {
			t.Errorf("brotliWindow(%d) = %d, want %d", c.n, got, c.want)
		}
	}
	// The window holds the whole input, so a larger one would gain nothing.
	big := []byte(strings.Repeat("linkguard ", 100000))
	_, a := Compress(big, 1, 5)
	var b bytes.Buffer
	w := brotli.NewWriterOptions(&b, brotli.WriterOptions{Quality: 5, LGWin: 24})
	w.Write(big)
	w.Close()
	if len(a) > b.Len()+b.Len()/100 {
		t.Errorf("sized window: %d bytes, the largest window: %d", len(a), b.Len())
	}
}
