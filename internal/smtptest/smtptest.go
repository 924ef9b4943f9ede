// Package smtptest is a real SMTP relay for tests (github.com/emersion/go-smtp
// on 127.0.0.1), with TLS from a certificate made at run time, AUTH PLAIN,
// recipients that fail the way real relays do, a "blackhole" that accepts
// connections and never answers, and a parser that takes a received mail
// apart as a mail client would. The mail package and the kit test with it.
package smtptest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"net"
	netmail "net/mail"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// The only account the relay knows.
const (
	User     = "alice"
	Password = "s3cret-Pa55word"
)

var (
	certOnce sync.Once
	certVal  tls.Certificate
	certPool *x509.CertPool
)

// Certificate is a self-signed certificate for 127.0.0.1 and localhost,
// and a pool that trusts it, so that clients can verify it for real.
func Certificate() (tls.Certificate, *x509.CertPool) {
	certOnce.Do(func() {
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
		certVal = tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
		certPool = x509.NewCertPool()
		certPool.AddCert(leaf)
	})
	return certVal, certPool
}

// Mail is one mail as the relay got it.
type Mail struct {
	From string
	To   []string
	Data []byte
	TLS  bool
	User string
}

// Options shape a relay.
type Options struct {
	ImplicitTLS bool   // TLS from the first byte, else STARTTLS
	NoTLS       bool   // offer no TLS at all
	Addr        string // listen here; empty means 127.0.0.1:0
	// EchoAuth makes the relay refuse every AUTH with a 535 that echoes
	// the client's AUTH PLAIN line, its base64 and the password, as some
	// badly behaved relays do (a test that credentials are scrubbed).
	EchoAuth bool
}

// Relay is a running test relay. It can stop and start again on the same
// address, and it keeps every mail it accepted, across restarts.
//
// Recipients starting with "nobody@" are refused for good (550) and those
// starting with "greylisted@" for now (451), as real relays do.
type Relay struct {
	// Addr is where the relay listens (host:port).
	Addr string

	opts  Options
	mu    sync.Mutex
	srv   *smtp.Server
	ln    net.Listener
	mails []Mail
	got   chan Mail
}

// Start starts a relay; the test's cleanup stops it.
func Start(t testing.TB, o Options) *Relay {
	t.Helper()
	r := &Relay{opts: o, got: make(chan Mail, 64)}
	addr := o.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	r.listen(t, addr)
	t.Cleanup(r.Stop)
	return r
}

// URL is the relay as linkguard's smtp_url names it: smtps:// for an
// ImplicitTLS relay, else smtp:// (STARTTLS), with the test account, the
// test certificate accepted (insecure_skip_verify=1) and a 1 s timeout.
func (r *Relay) URL() string {
	scheme := "smtp"
	if r.opts.ImplicitTLS {
		scheme = "smtps"
	}
	return fmt.Sprintf("%s://%s:%s@%s?insecure_skip_verify=1&timeout=1s", scheme, User, url.QueryEscape(Password), r.Addr)
}

// Restart serves again on the same address after Stop.
func (r *Relay) Restart(t testing.TB) {
	t.Helper()
	r.listen(t, r.Addr)
}

func (r *Relay) listen(t testing.TB, addr string) {
	var ln net.Listener
	var err error
	for try := 0; try < 50; try++ { // a port just closed may take a moment to free
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("relay listen %s: %v", addr, err)
	}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{r: r, c: c}, nil
	}))
	srv.Domain = "localhost"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.EnableSMTPUTF8 = true
	if !r.opts.NoTLS {
		cert, _ := Certificate()
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	}
	r.mu.Lock()
	r.Addr, r.srv, r.ln = ln.Addr().String(), srv, ln
	r.mu.Unlock()
	serveLn := ln
	if r.opts.ImplicitTLS {
		serveLn = tls.NewListener(ln, srv.TLSConfig)
	}
	go func() { _ = srv.Serve(serveLn) }()
}

// Stop closes the listener and every connection: connecting is refused
// until Restart. It is safe to call more than once.
func (r *Relay) Stop() {
	r.mu.Lock()
	srv, ln := r.srv, r.ln
	r.srv, r.ln = nil, nil
	r.mu.Unlock()
	if srv != nil {
		// NB: Close only closes the listeners Serve has registered, and
		// Serve may not have run yet; closing ln here frees the port.
		_ = ln.Close()
		_ = srv.Close()
	}
}

// Mails returns every mail accepted so far.
func (r *Relay) Mails() []Mail {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.mails)
}

// To returns the mails accepted for address.
func (r *Relay) To(address string) []Mail {
	var out []Mail
	for _, m := range r.Mails() {
		if slices.Contains(m.To, address) {
			out = append(out, m)
		}
	}
	return out
}

// Next returns the next mail accepted, or fails the test after d.
func (r *Relay) Next(t testing.TB, d time.Duration) Mail {
	t.Helper()
	select {
	case m := <-r.got:
		return m
	case <-time.After(d):
		t.Fatalf("no mail arrived at the relay within %s", d)
		return Mail{}
	}
}

// WaitFor returns the first mail for address, or fails the test after d.
func (r *Relay) WaitFor(t testing.TB, address string, d time.Duration) Mail {
	t.Helper()
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if m := r.To(address); len(m) > 0 {
			return m[0]
		}
	}
	t.Fatalf("no mail for %s reached the relay within %s", address, d)
	return Mail{}
}

type session struct {
	r    *Relay
	c    *smtp.Conn
	user string
	cur  Mail
}

func (s *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *session) Auth(string) (sasl.Server, error) {
	if s.r.opts.EchoAuth {
		return echoAuth{}, nil
	}
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != User || pass != Password {
			return smtp.ErrAuthFailed
		}
		s.user = user
		return nil
	}), nil
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if s.user == "" {
		return smtp.ErrAuthRequired
	}
	s.cur = Mail{From: from, User: s.user}
	return nil
}

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
	select {
	case s.r.got <- s.cur:
	default: // nobody is waiting with Next: Mails still has it
	}
	return nil
}

func (s *session) Reset()        { s.cur = Mail{} }
func (s *session) Logout() error { return nil }

// Blackhole accepts TCP connections and never says a word, like a relay
// behind a firewall that drops replies, or a hung process.
type Blackhole struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
	done  chan struct{}
	once  sync.Once
}

// StartBlackhole listens on addr ("" for 127.0.0.1:0); the test's cleanup
// closes it.
func StartBlackhole(t testing.TB, addr string) *Blackhole {
	t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("blackhole listen: %v", err)
	}
	b := &Blackhole{ln: ln, done: make(chan struct{})}
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
	t.Cleanup(b.Close)
	return b
}

// Addr is where the blackhole listens.
func (b *Blackhole) Addr() string { return b.ln.Addr().String() }

// Close stops listening and drops every connection. It is safe to call
// more than once.
func (b *Blackhole) Close() {
	b.once.Do(func() {
		_ = b.ln.Close()
		<-b.done
		b.mu.Lock()
		defer b.mu.Unlock()
		for _, c := range b.conns {
			_ = c.Close()
		}
		b.conns = nil
	})
}

// FreeAddr returns an address on which nothing listens: connecting to it
// is refused.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// Parsed is a received mail taken apart.
type Parsed struct {
	Header  netmail.Header
	Subject string
	Text    string
	HTML    string
}

// Parse splits a multipart/alternative mail into its text and HTML parts,
// decoding the transfer encoding as a mail client would.
func Parse(t testing.TB, data []byte) Parsed {
	t.Helper()
	msg, err := netmail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("read message: %v", err)
	}
	p := Parsed{Header: msg.Header}
	if p.Subject, err = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject")); err != nil {
		t.Fatalf("decode subject: %v", err)
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("content type %q (%v), want multipart/alternative", mt, err)
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
		b, err := io.ReadAll(part) // NextPart undoes quoted-printable itself
		if err != nil {
			t.Fatalf("read part: %v", err)
		}
		switch pt, _, _ := mime.ParseMediaType(part.Header.Get("Content-Type")); pt {
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

// echoAuth refuses PLAIN credentials by quoting them back.
type echoAuth struct{}

func (echoAuth) Next(resp []byte) ([]byte, bool, error) {
	if resp == nil {
		return nil, false, nil // ask for the initial response
	}
	parts := strings.SplitN(string(resp), "\x00", 3)
	pass := parts[len(parts)-1]
	b64 := base64.StdEncoding.EncodeToString(resp)
	return nil, false, &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8},
		Message: "Authentication failed: AUTH PLAIN " + b64 + " (password " + pass + ", " +
			base64.StdEncoding.EncodeToString([]byte(pass)) + ") rejected"}
}
