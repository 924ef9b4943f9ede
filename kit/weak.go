package kit

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
)

// Weak are the settings that can make a deployment weaker than it looks,
// checked at start by CheckWeak.
type Weak struct {
	// KeyPath is the server key's file; "" when the key came otherwise.
	KeyPath string
	// Key is the server key.
	Key []byte
	// TrustedProxies are the networks whose X-Forwarded-For is believed.
	TrustedProxies []netip.Prefix
	// Dev is dev mode: the outbox (every link sent, readable over HTTP)
	// and plain-http cookies.
	Dev bool
	// Listen is the address the server listens on; "" when the kit is
	// mounted in another app (that app decides who reaches it).
	Listen string
}

// CheckWeak looks at settings that weaken linkguard and returns one
// warning per weakness it lets pass, and an error naming every weakness
// it refuses, each with its reason and its remedy. Outside dev mode it
// refuses a server key readable by others, a key of one repeated byte
// (all zeros, say) and trusted proxies that cover every address; in dev
// mode those are warnings, and dev mode itself is refused on an address
// other than loopback, since its outbox shows every sign-in link to
// whoever can reach it.
func CheckWeak(w Weak) (warnings []string, err error) {
	var refused []string
	weak := func(refuse bool, format string, a ...any) {
		if refuse {
			refused = append(refused, fmt.Sprintf(format, a...))
		} else {
			warnings = append(warnings, fmt.Sprintf(format, a...))
		}
	}
	if w.KeyPath != "" {
		if fi, err := os.Stat(w.KeyPath); err == nil && fi.Mode().Perm()&0o077 != 0 {
			weak(!w.Dev, "server key %s has permissions %04o: whoever else can read it can forge nonces and open queued mail; chmod 600 %s",
				w.KeyPath, fi.Mode().Perm(), w.KeyPath)
		}
	}
	if len(w.Key) > 0 && oneByte(w.Key) {
		weak(!w.Dev, "the server key is one byte repeated (%#02x x %d): every key derived from it is guessable; make one with head -c 32 /dev/urandom",
			w.Key[0], len(w.Key))
	}
	for _, p := range w.TrustedProxies {
		if p.Bits() == 0 {
			weak(!w.Dev, "trusted proxies include %s: every client could then choose the address it is recorded and rate-limited as by sending X-Forwarded-For; list only your proxies' addresses", p)
		}
	}
	if w.Dev && w.Listen != "" && !loopback(w.Listen) {
		refused = append(refused, fmt.Sprintf("dev mode listens on %s, not on loopback: its outbox would show every sign-in link to whoever reaches it; listen on 127.0.0.1 or turn dev mode off", w.Listen))
	}
	if len(refused) > 0 {
		return warnings, errors.New("weak settings: " + strings.Join(refused, "; "))
	}
	return warnings, nil
}

func oneByte(b []byte) bool {
	for _, c := range b {
		if c != b[0] {
			return false
		}
	}
	return true
}

// loopback reports whether the listen address host:port only accepts
// connections from this machine ("" and "0.0.0.0" and "::" do not).
func loopback(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		host = listen
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(strings.Trim(host, "[]"))
	return err == nil && a.IsLoopback()
}
