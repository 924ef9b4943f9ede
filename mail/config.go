package mail

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/linkguard/linkguard/internal/clip"
)

// Default ports and timeout, used when the URL does not say otherwise.
const (
	DefaultSubmissionPort  = 587 // smtp://: message submission with STARTTLS (RFC 6409).
	DefaultImplicitTLSPort = 465 // smtps://: submission over implicit TLS (RFC 8314).
	DefaultTimeout         = 15 * time.Second
)

// envName prefixes ParseURL's errors: the URL only ever comes from this
// setting, and naming it tells the operator where to look.
const envName = "LINKGUARD_SMTP_URL"

// Config says how to reach the SMTP relay. ParseURL builds one from
// LINKGUARD_SMTP_URL; tests and Go callers may fill it directly.
type Config struct {
	// Host is the relay's host name or IP address, without port.
	Host string
	// Port is the relay's TCP port.
	Port int
	// ImplicitTLS selects TLS from the first byte (smtps://). When false the
	// connection must be upgraded with STARTTLS before anything else is said.
	ImplicitTLS bool
	// Username and Password enable SMTP AUTH when Username is not empty.
	// The mechanism is the strongest one the relay offers (PLAIN and LOGIN
	// only ever over TLS).
	Username string
	Password string
	// Timeout bounds connection setup (dial, TLS, AUTH) and, separately,
	// the mail transaction. Zero means DefaultTimeout.
	Timeout time.Duration
	// HELO is the name given in EHLO; empty means this machine's host name.
	HELO string
	// InsecureSkipVerify disables certificate checks. It exists for test
	// relays with self-signed certificates and must not be used in
	// production: it lets anyone on the path read the sign-in links.
	InsecureSkipVerify bool
	// TLSConfig, when set, is cloned and used for the TLS handshake (for
	// example to trust a private CA). ServerName defaults to Host.
	TLSConfig *tls.Config
}

// Addr returns host:port, bracketing IPv6 addresses.
func (c Config) Addr() string {
	return net.JoinHostPort(c.Host, strconv.Itoa(c.Port))
}

// String returns the configuration as a URL with the password masked, so
// that it can be logged.
func (c Config) String() string {
	u := url.URL{Scheme: "smtp", Host: c.Addr()}
	if c.ImplicitTLS {
		u.Scheme = "smtps"
	}
	if c.Username != "" {
		if c.Password != "" {
			u.User = url.UserPassword(c.Username, "xxxxx")
		} else {
			u.User = url.User(c.Username)
		}
	}
	q := url.Values{}
	if c.Timeout != 0 {
		q.Set("timeout", c.Timeout.String())
	}
	if c.HELO != "" {
		q.Set("helo", c.HELO)
	}
	if c.InsecureSkipVerify {
		q.Set("insecure_skip_verify", "1")
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// GoString masks the password too, so that %#v cannot leak it.
func (c Config) GoString() string { return "mail.Config(" + c.String() + ")" }

// timeout returns the effective Timeout.
func (c Config) timeout() time.Duration {
	if c.Timeout <= 0 {
		return DefaultTimeout
	}
	return c.Timeout
}

// ParseURL parses an SMTP URL:
//
//	smtp://user:pass@host:587   STARTTLS, required (default port 587)
//	smtps://user:pass@host:465  implicit TLS (default port 465)
//
// The user and password are optional and percent-decoded ("p%40ss" is
// "p@ss"). Query options: timeout (a Go duration, e.g. 10s), helo (the EHLO
// name), insecure_skip_verify (1/true, for test relays only). Unknown
// options are errors, so that a typo does not silently change behaviour.
//
// NB: errors never quote the whole URL, since it may hold the password.
func ParseURL(s string) (Config, error) {
	var c Config
	s = strings.TrimSpace(s)
	if s == "" {
		return c, fmt.Errorf("%s: empty URL", envName)
	}
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return c, fmt.Errorf("%s: want smtp://host:587 or smtps://host:465", envName)
	}
	switch strings.ToLower(scheme) {
	case "smtp":
		c.Port = DefaultSubmissionPort
	case "smtps":
		c.ImplicitTLS = true
		c.Port = DefaultImplicitTLSPort
	default:
		return c, fmt.Errorf("%s: scheme must be smtp or smtps, got %q", envName, clip.Ellipsis(scheme, 20))
	}
	// url.Parse errors echo the input, password included, so they are
	// replaced by our own message.
	u, err := url.Parse("smtp://" + rest)
	if err != nil {
		return Config{}, fmt.Errorf("%s: not a valid URL (check that special characters in the user or password are percent-encoded)", envName)
	}
	if u.User != nil {
		c.Username = u.User.Username()
		c.Password, _ = u.User.Password()
		if c.Username == "" && c.Password != "" {
			return Config{}, fmt.Errorf("%s: password given without a user", envName)
		}
	}
	c.Host = u.Hostname()
	if c.Host == "" {
		return Config{}, fmt.Errorf("%s: missing host", envName)
	}
	if !validHost(c.Host, strings.HasPrefix(u.Host, "[")) {
		return Config{}, fmt.Errorf("%s: invalid host %q (want a DNS name, an IPv4 address or a bracketed IPv6 address)", envName, clip.Ellipsis(c.Host, 64))
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return Config{}, fmt.Errorf("%s: port must be 1..65535, got %q", envName, clip.Ellipsis(p, 20))
		}
		c.Port = n
	} else if strings.HasSuffix(u.Host, ":") {
		return Config{}, fmt.Errorf("%s: empty port", envName)
	}
	if u.Path != "" && u.Path != "/" {
		return Config{}, fmt.Errorf("%s: unexpected path %q (an SMTP URL has none)", envName, clip.Ellipsis(u.Path, 64))
	}
	if u.Fragment != "" {
		return Config{}, fmt.Errorf("%s: unexpected fragment", envName)
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return Config{}, fmt.Errorf("%s: invalid query string", envName)
	}
	for key, vals := range q {
		v := vals[len(vals)-1]
		switch key {
		case "timeout":
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return Config{}, fmt.Errorf("%s: timeout must be a positive duration such as 10s, got %q", envName, clip.Ellipsis(v, 20))
			}
			c.Timeout = d
		case "helo":
			if v == "" || strings.ContainsAny(v, " \t\r\n") {
				return Config{}, fmt.Errorf("%s: helo must be a host name, got %q", envName, clip.Ellipsis(v, 64))
			}
			c.HELO = v
		case "insecure_skip_verify":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return Config{}, fmt.Errorf("%s: insecure_skip_verify must be 1 or 0, got %q", envName, clip.Ellipsis(v, 20))
			}
			c.InsecureSkipVerify = b
		default:
			return Config{}, fmt.Errorf("%s: unknown option %q (known: timeout, helo, insecure_skip_verify)", envName, clip.Ellipsis(key, 32))
		}
	}
	return c, nil
}

// validHost accepts a DNS name (ASCII; IDNs in punycode), an IPv4 address,
// or an IPv6 address when it was bracketed. Anything looser reaches the
// dialer and TLS verification as a puzzle.
func validHost(h string, bracketed bool) bool {
	if ip := net.ParseIP(h); ip != nil {
		return bracketed == (ip.To4() == nil || strings.Contains(h, ":"))
	}
	if bracketed || len(h) > 253 {
		return false
	}
	for _, r := range h {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '.', r == '_':
		default:
			return false
		}
	}
	return true
}
