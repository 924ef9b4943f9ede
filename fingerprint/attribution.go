package fingerprint

import "bytes"

// Scanner names the mail-scanner entry of the configuration that a visit
// from network n with user agent ua matches: its address range (n.Range,
// set by MarkRanges), then its ASN, then a vendor's user-agent mark. It
// returns "" when none matches; generic crawler and library marks are
// not vendors and name nothing. Stores keep the name in a link's history
// summary, so that a page can say which filter opened the link before.
func (e *Engine) Scanner(n *Network, ua string) string {
	c := e.cur.Load()
	if n.Range != "" {
		return n.Range
	}
	if name, ok := c.scannerASN[n.ASN]; ok && n.ASN != 0 {
		return name
	}
	if ua == "" {
		return ""
	}
	var lb [512]byte
	lower := lowerASCII(lb[:0], ua)
	for _, p := range c.uaPats {
		if !p.generic && bytes.Contains(lower, p.lower) {
			return p.name
		}
	}
	return ""
}
