package clip

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestString(t *testing.T) {
	cases := []struct {
		s    string
		n    int
		want string
	}{
		{"", 4, ""},
		{"abc", 3, "abc"},
		{"abcd", 3, "abc"},
		{"abc", 0, ""},
		{"abc", -1, ""},
		{"aé", 2, "a"},          // é is two bytes: not torn
		{"aé", 3, "aé"},         // fits exactly
		{"a€b", 3, "a"},         // € is three bytes
		{"a€b", 4, "a€"},        // up to the rune's end
		{"\xff\xfe", 1, "\xff"}, // invalid input is cut by bytes
	}
	for _, c := range cases {
		if got := String(c.s, c.n); got != c.want {
			t.Errorf("String(%q, %d) = %q, want %q", c.s, c.n, got, c.want)
		}
	}
}

func TestEllipsis(t *testing.T) {
	if got := Ellipsis("abc", 3); got != "abc" {
		t.Errorf("Ellipsis kept = %q", got)
	}
	if got := Ellipsis("abcd", 3); got != "abc…" {
		t.Errorf("Ellipsis cut = %q", got)
	}
}

func FuzzString(f *testing.F) {
	f.Add("plain ascii", 4)
	f.Add("żółć", 3)
	f.Add("😀😀", 5)
	f.Fuzz(func(t *testing.T, s string, n int) {
		got := String(s, n)
		if len(got) > max(n, 0) || !strings.HasPrefix(s, got) {
			t.Fatalf("String(%q, %d) = %q", s, n, got)
		}
		if utf8.ValidString(s) && !utf8.ValidString(got) {
			t.Fatalf("String(%q, %d) tore a rune: %q", s, n, got)
		}
		if utf8.ValidString(s) && len(s) > n && n >= utf8.UTFMax && len(got) <= n-utf8.UTFMax {
			t.Fatalf("String(%q, %d) = %q cut more than one rune", s, n, got)
		}
	})
}
