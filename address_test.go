package linkguard

import "testing"

func TestLimitAddress(t *testing.T) {
	for in, want := range map[string]string{
		"carol@example.com":       "carol@example.com",
		" Carol@Example.COM ":     "carol@example.com",
		"carol+1@example.com":     "carol@example.com",
		"carol+a+b@example.com":   "carol@example.com",
		"c.a.r.o.l@gmail.com":     "carol@gmail.com",
		"C.arol+x@GoogleMail.com": "carol@gmail.com",
		"c.arol@example.com":      "c.arol@example.com", // dots count elsewhere
		"+carol@example.com":      "+carol@example.com", // a local part that is only a tag stays
		"carol@example.com.":      "carol@example.com",
		"not-an-address":          "not-an-address",
	} {
		if got := LimitAddress(in); got != want {
			t.Errorf("LimitAddress(%q) = %q, want %q", in, got, want)
		}
	}
}
