package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// Transport delivers one Message. Sender is the SMTP one; Outbox wraps one
// for dev mode. The Deliverer needs nothing more.
//
// NB: the Deliverer cancels ctx on shutdown. Send may give up while nothing
// has been handed over, but must not abandon a transaction that the relay
// may already have accepted, or a mail could be delivered and then sent
// again as a retry (Sender.Send keeps to this).
type Transport interface {
	Send(ctx context.Context, m Message) error
}

var (
	_ Transport = (*Sender)(nil)
	_ Transport = (*Outbox)(nil)
)

// Sender delivers messages to an SMTP relay, one connection per message.
// It is safe for concurrent use.
//
// A connection per message costs a handshake, but sign-in mail is rare and
// urgent, and it avoids keeping a session that the relay may have dropped.
type Sender struct {
	cfg      Config
	from     string
	renderer *Renderer

	// Now is the clock used for the Date header and for "expires in".
	Now func() time.Time
}

// NewSender returns a Sender for cfg that uses from as the default sender
// address (LINKGUARD_MAIL_FROM) and r for the templates.
func NewSender(cfg Config, from string, r *Renderer) (*Sender, error) {
	if cfg.Host == "" {
		return nil, errors.New("mail sender: missing SMTP host")
	}
	if cfg.Port < 1 || cfg.Port > 65535 {
		return nil, fmt.Errorf("mail sender: port must be 1..65535, got %d", cfg.Port)
	}
	if _, err := parseAddress(from); err != nil {
		return nil, fmt.Errorf("mail sender: from: %w", err)
	}
	if r == nil {
		return nil, errors.New("mail sender: nil renderer")
	}
	return &Sender{cfg: cfg, from: from, renderer: r, Now: time.Now}, nil
}

// Config returns the configuration the Sender was made with.
func (s *Sender) Config() Config { return s.cfg }

// Send renders m and delivers it. The error, if any, is an *Error: see
// IsPermanent for whether to retry.
//
// ctx cancels the connection setup (dial, TLS, AUTH), and a deadline on
// ctx shortens Config.Timeout. NB: once the relay has accepted the
// recipient, the transaction runs to its end (bounded by Timeout) even if
// ctx is cancelled: abandoning DATA half way can still deliver the mail
// while we record a failure, and the retry would then send it twice.
func (s *Sender) Send(ctx context.Context, m Message) error {
	err := s.send(ctx, m)
	var e *Error
	if errors.As(err, &e) && e.Err != nil {
		// Relays quote themselves, and some quote our AUTH command.
		if msg := scrub(e.Err.Error(), s.cfg.Username, s.cfg.Password); msg != e.Err.Error() {
			e.Err = &scrubError{msg: msg, cause: e.Err}
		}
	}
	return err
}

func (s *Sender) send(ctx context.Context, m Message) error {
	if err := m.Validate(); err != nil {
		return err
	}
	now := s.Now()
	out, err := s.renderer.Render(m, now)
	if err != nil {
		return &Error{Op: "render", Permanent: true, Err: err}
	}
	msg, err := s.message(m, out, now)
	if err != nil {
		return &Error{Op: "render", Permanent: true, Err: err}
	}

	timeout := s.cfg.timeout()
	if dl, ok := ctx.Deadline(); ok {
		if left := time.Until(dl); left < timeout {
			timeout = left
		}
	}
	if timeout <= 0 {
		return classify("dial", context.DeadlineExceeded)
	}

	var (
		mu   sync.Mutex
		conn net.Conn
	)
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := s.dial(ctx, network, addr)
		if err == nil {
			mu.Lock()
			conn = c
			mu.Unlock()
		}
		return c, err
	}
	// Whatever go-mail does with the connection on failure, it is closed
	// when Send returns.
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		if conn != nil {
			_ = conn.Close()
		}
	}()

	client, err := gomail.NewClient(s.cfg.Host, s.clientOptions(timeout, dial)...)
	if err != nil {
		return &Error{Op: "dial", Permanent: true, Err: err}
	}
	// Until the relay knows the message, cancelling is harmless: close the
	// connection so that a hung relay does not hold a shutdown.
	stop := context.AfterFunc(ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		if conn != nil {
			_ = conn.Close()
		}
	})
	sc, err := client.DialToSMTPClientWithContext(ctx)
	if !stop() && err == nil {
		err = ctx.Err()
	}
	if err != nil {
		if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
			err = fmt.Errorf("%w (%w)", err, cerr)
		}
		return classify("dial", err)
	}
	if err := client.SendWithSMTPClient(sc, msg); err != nil {
		return classify("send", err)
	}
	// The relay has accepted the mail: a failing QUIT changes nothing, and
	// reporting it would make the queue send the mail again.
	_ = client.CloseWithSMTPClient(sc)
	return nil
}

// dial connects to the relay; for implicit TLS it also does the handshake,
// so the SMTP client sees a *tls.Conn and allows PLAIN and LOGIN.
func (s *Sender) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	raw, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	if !s.cfg.ImplicitTLS {
		return raw, nil
	}
	tc := tls.Client(raw, s.tlsConfig())
	if err := tc.HandshakeContext(ctx); err != nil {
		_ = raw.Close()
		return nil, fmt.Errorf("tls handshake: %w", err)
	}
	return tc, nil
}

// clientOptions builds the go-mail options for one send.
func (s *Sender) clientOptions(timeout time.Duration, dial gomail.DialContextFunc) []gomail.Option {
	opts := []gomail.Option{
		gomail.WithPort(s.cfg.Port),
		gomail.WithTimeout(timeout),
		gomail.WithTLSConfig(s.tlsConfig()),
		gomail.WithDialContextFunc(dial),
		// One message per connection: the NOOP before it buys nothing.
		gomail.WithoutNoop(),
	}
	if s.cfg.ImplicitTLS {
		// Our dialer has already done TLS. NB: go-mail skips its own TLS
		// step (and with it the "is this encrypted" check that gates PLAIN
		// and LOGIN) under WithSSL, so we use the opportunistic policy,
		// which finds the *tls.Conn and records it as encrypted; a relay on
		// an implicit-TLS port does not offer STARTTLS.
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	} else {
		// smtp:// never falls back to plain text: links sent in clear text
		// could be read and used by anyone on the path.
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	}
	if s.cfg.HELO != "" {
		opts = append(opts, gomail.WithHELO(s.cfg.HELO))
	}
	if s.cfg.Username != "" {
		opts = append(opts,
			gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(s.cfg.Username),
			gomail.WithPassword(s.cfg.Password),
		)
	}
	return opts
}

// tlsConfig returns the TLS settings for the relay.
func (s *Sender) tlsConfig() *tls.Config {
	var c *tls.Config
	if s.cfg.TLSConfig != nil {
		c = s.cfg.TLSConfig.Clone()
	} else {
		c = &tls.Config{}
	}
	if c.ServerName == "" {
		c.ServerName = s.cfg.Host
	}
	if c.MinVersion == 0 {
		c.MinVersion = tls.VersionTLS12
	}
	if s.cfg.InsecureSkipVerify {
		c.InsecureSkipVerify = true
	}
	return c
}

// message builds the MIME message: text first, HTML as the alternative
// that capable clients prefer.
func (s *Sender) message(m Message, out Rendered, now time.Time) (*gomail.Msg, error) {
	msg := gomail.NewMsg()
	from := m.From
	if from == "" {
		from = s.from
	}
	if err := msg.From(from); err != nil {
		return nil, fmt.Errorf("from: %w", err)
	}
	if err := msg.To(m.To); err != nil {
		return nil, fmt.Errorf("to: %w", err)
	}
	msg.Subject(out.Subject)
	msg.SetDateWithValue(now)
	msg.SetMessageID()
	// Ask autoresponders and Exchange not to answer a machine's mail
	// (RFC 3834).
	msg.SetGenHeader(gomail.Header("Auto-Submitted"), "auto-generated")
	msg.SetGenHeader(gomail.Header("X-Auto-Response-Suppress"), "All")
	msg.SetBodyString(gomail.TypeTextPlain, out.Text)
	msg.AddAlternativeString(gomail.TypeTextHTML, out.HTML)
	return msg, nil
}
