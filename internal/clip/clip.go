// Package clip bounds strings from outside before they are stored, logged
// or quoted in an error message: the one home of that rule, so that every
// bound cuts the same way.
//
// It imports nothing, so that the WebAssembly collector (through
// fingerprint/report) can use it at no cost in size.
package clip

// String returns s cut to at most n bytes. It never cuts inside a UTF-8
// sequence, so a clipped valid string stays valid (encoding/json would
// otherwise turn the torn rune into U+FFFD, three bytes longer).
func String(s string, n int) string {
	if len(s) <= n {
		return s
	}
	if n <= 0 {
		return ""
	}
	i := n
	for i > 0 && s[i]&0xC0 == 0x80 { // s[i] continues the rune before it
		i--
	}
	return s[:i]
}

// Ellipsis is String for a value quoted in a message for people: a cut
// value ends in "…", so the reader knows there was more.
func Ellipsis(s string, n int) string {
	if c := String(s, n); len(c) < len(s) {
		return c + "…"
	}
	return s
}
