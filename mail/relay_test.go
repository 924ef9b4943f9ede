package mail

// The tests' SMTP relay is internal/smtptest (shared with the kit's
// tests); these adapt it to this package's Config.

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/linkguard/linkguard/internal/smtptest"
)

// relayConfig returns a Config that reaches r and trusts its certificate.
func relayConfig(r *smtptest.Relay, implicit bool) Config {
	host, port, _ := net.SplitHostPort(r.Addr)
	p, _ := strconv.Atoi(port)
	return Config{
		Host: host, Port: p, ImplicitTLS: implicit,
		Username: smtptest.User, Password: smtptest.Password,
		Timeout:   5 * time.Second,
		TLSConfig: testTLSConfig(nil),
	}
}

// testPool trusts the test relay's certificate.
func testPool() *x509.CertPool {
	_, pool := smtptest.Certificate()
	return pool
}

// testTLSConfig trusts the test relay's certificate.
func testTLSConfig(testing.TB) *tls.Config {
	return &tls.Config{RootCAs: testPool()}
}
