package mail

// An in-process SMTP relay on 127.0.0.1:0, built on github.com/emersion/go-smtp,
// with a certificate made here for STARTTLS and implicit TLS, and AUTH PLAIN.

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"net"
	netmail "net/mail"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

const (
	relayUser = "alice"
	relayPass = "s3cret-Pa55word"
)

// testCA is a self-signed certificate for 127.0.0.1 and localhost that the
// client trusts through RootCAs, so that tests verify certificates for real.
type testCA struct {
	cert tls.Certificate
	pool *x509.CertPool
}

var (
	caOnce sync.Once
	caVal  testCA
)

func testCertificate(t testing.TB) testCA {
	t.Helper()
	caOnce.Do(func() {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic(err)
		}
		tmpl := &x509.Certificate{
			SerialNumber:          big.NewInt(1),
			Subject:               pkix.Name{CommonName: "linkguard test relay"},
			NotBefore:             time.Now().Add(-time.Hour),
			NotAfter:              time.Now().Add(24 * time.Hour),
			KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
			ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			BasicConstraintsValid: true,
			IsCA:                  true,
			IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
			DNSNames:              []string{"localhost"},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			panic(err)
		}
		leaf, err := x509.ParseCertificate(der)
		if err != nil {
			panic(err)
		}
		caVal.cert = tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
		caVal.pool = x509.NewCertPool()
		caVal.pool.AddCert(leaf)
	})
	return caVal
}

// received is one mail as the relay got it.
type received struct {
	From string
	To   []string
	Data []byte
	TLS  bool
	User string
}

// relayOpts shapes a test relay.
type relayOpts struct {
	implicitTLS bool   // TLS from the first byte, else STARTTLS
	noTLS       bool   // offer no TLS at all (to test that smtp:// refuses)
	addr        string // listen here; empty means 127.0.0.1:0
}

type relay struct {
	t    testing.TB
	addr string
	srv  *smtp.Server

	mu    sync.Mutex
	mails []received
	got   chan received
}

func startRelay(t testing.TB, o relayOpts) *relay {
	t.Helper()
	addr := o.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("relay listen: %v", err)
	}
	r := &relay{t: t, addr: ln.Addr().String(), got: make(chan received, 16)}
	r.srv = smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{r: r, c: c}, nil
	}))
	r.srv.Domain = "localhost"
	r.srv.ReadTimeout = 10 * time.Second
	r.srv.WriteTimeout = 10 * time.Second
	r.srv.EnableSMTPUTF8 = true
	if !o.noTLS {
		r.srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{testCertificate(t).cert}}
	}
	if o.implicitTLS {
		ln = tls.NewListener(ln, r.srv.TLSConfig)
	}
	go func() { _ = r.srv.Serve(ln) }()
	t.Cleanup(r.close)
	return r
}

func (r *relay) close() { _ = r.srv.Close() }

// config returns a Config that reaches the relay and trusts its certificate.
func (r *relay) config(implicit bool) Config {
	host, port, _ := net.SplitHostPort(r.addr)
	p, _ := strconv.Atoi(port)
	return Config{
		Host: host, Port: p, ImplicitTLS: implicit,
		Username: relayUser, Password: relayPass,
		Timeout:   5 * time.Second,
		TLSConfig: &tls.Config{RootCAs: testCertificate(r.t).pool},
	}
}

func (r *relay) received() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.mails...)
}

// wait returns the next mail or fails the test.
func (r *relay) wait(t testing.TB) received {
	t.Helper()
	select {
	case m := <-r.got:
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("no mail arrived at the relay")
		return received{}
	}
}

type session struct {
	r    *relay
	c    *smtp.Conn
	user string
	cur  received
}

func (s *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if username != relayUser || password != relayPass {
			return smtp.ErrAuthFailed
		}
		s.user = username
		return nil
	}), nil
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if s.user == "" {
		return smtp.ErrAuthRequired
	}
	s.cur = received{From: from, User: s.user}
	return nil
}

// Rcpt refuses some addresses the way real relays do.
func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	switch {
	case strings.HasPrefix(to, "nobody@"):
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user"}
	case strings.HasPrefix(to, "greylisted@"):
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 7, 1}, Message: "Try again later"}
	}
	s.cur.To = append(s.cur.To, to)
	return nil
}

func (s *session) Data(rd io.Reader) error {
	b, err := io.ReadAll(rd)
	if err != nil {
		return err
	}
	_, s.cur.TLS = s.c.TLSConnectionState()
	s.cur.Data = b
	s.r.mu.Lock()
	s.r.mails = append(s.r.mails, s.cur)
	s.r.mu.Unlock()
	s.r.got <- s.cur
	return nil
}

func (s *session) Reset()        { s.cur = received{} }
func (s *session) Logout() error { return nil }

// blackhole accepts TCP connections and never says a word, like a relay
// behind a firewall that drops replies or a hung process.
type blackhole struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
	done  chan struct{}
}

func startBlackhole(t testing.TB, addr string) *blackhole {
	t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("blackhole listen: %v", err)
	}
	b := &blackhole{ln: ln, done: make(chan struct{})}
	go func() {
		defer close(b.done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b.mu.Lock()
			b.conns = append(b.conns, c)
			b.mu.Unlock()
		}
	}()
	t.Cleanup(b.close)
	return b
}

func (b *blackhole) close() {
	_ = b.ln.Close()
	<-b.done
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, c := range b.conns {
		_ = c.Close()
	}
	b.conns = nil
}

// freeAddr returns an address on which nothing listens: connecting to it
// is refused.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// parsedMail is a received mail taken apart.
type parsedMail struct {
	Header  netmail.Header
	Subject string
	Text    string
	HTML    string
}

// parseMail splits a multipart/alternative mail into its text and HTML
// parts, decoding the transfer encoding as a mail client would.
func parseMail(t testing.TB, data []byte) parsedMail {
	t.Helper()
	msg, err := netmail.ReadMessage(strings.NewReader(string(data)))
	if err != nil {
		t.Fatalf("read message: %v", err)
	}
	var p parsedMail
	p.Header = msg.Header
	p.Subject, err = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		t.Fatalf("decode subject: %v", err)
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		t.Fatalf("content type: %v", err)
	}
	if mt != "multipart/alternative" {
		t.Fatalf("content type %q, want multipart/alternative", mt)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("next part: %v", err)
		}
		// NextPart undoes quoted-printable itself.
		b, err := io.ReadAll(part)
		if err != nil {
			t.Fatalf("read part: %v", err)
		}
		pt, _, _ := mime.ParseMediaType(part.Header.Get("Content-Type"))
		switch pt {
		case "text/plain":
			p.Text = string(b)
		case "text/html":
			p.HTML = string(b)
		default:
			t.Fatalf("unexpected part %q", pt)
		}
	}
	return p
}

// testTLSConfig trusts the test relay's certificate.
func testTLSConfig(t testing.TB) *tls.Config {
	return &tls.Config{RootCAs: testCertificate(t).pool}
}
