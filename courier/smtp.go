package courier

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	netmail "net/mail"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/usherhq/usher"
	mail "github.com/wneessen/go-mail"
	"github.com/wneessen/go-mail/smtp"
)

// TLS modes of an SMTP server.
const (
	TLSStartTLS      = "starttls"      // STARTTLS required: fail if the server does not offer it
	TLSOpportunistic = "opportunistic" // STARTTLS when the server offers it, else in clear
	TLSImplicit      = "implicit"      // TLS from the first byte (smtps://, port 465)
	TLSNone          = "none"          // no TLS: a relay on the same host or a trusted network
)

// SMTPConfig describes an SMTP submission server. ParseSMTPURL makes one
// from a URL.
type SMTPConfig struct {
	Host string
	Port int
	// TLS is one of TLSStartTLS, TLSOpportunistic, TLSImplicit, TLSNone.
	TLS string
	// Username and Password, when Username is set, authenticate with
	// AUTH.
	Username, Password string
	// Auth is the SASL mechanism: "auto" (the default: the strongest the
	// server offers among SCRAM-SHA-256, SCRAM-SHA-1, CRAM-MD5, PLAIN and
	// LOGIN), or one of "plain", "login", "cram-md5", "scram-sha-1",
	// "scram-sha-256", "xoauth2" (the password is the token). PLAIN and
	// LOGIN send the password only over TLS, or to localhost, or when TLS
	// is TLSNone (the operator chose a connection in clear).
	Auth string
	// From is the sender, "noreply@example.com" or
	// "Example <noreply@example.com>". Its domain also names the
	// Message-ID.
	From string
	// HELO is the name the client gives in EHLO [the host name].
	HELO string
	// Timeout bounds connecting and each SMTP command [20s].
	Timeout time.Duration
	// TLSConfig is used for STARTTLS and implicit TLS [system roots,
	// server name Host].
	TLSConfig *tls.Config
}

// ParseSMTPURL parses an SMTP server URL:
//
//	smtp://user:pass@host:587?from=noreply@example.com   STARTTLS required (port 587 by default)
//	smtps://user:pass@host:465?from=...                  implicit TLS (port 465 by default)
//	smtp+insecure://host:25?from=...                     no TLS: a local relay (port 25 by default)
//
// User information, percent-encoded, turns on AUTH. Query parameters:
// from (the sender), tls (starttls, opportunistic or none, for smtp://),
// auth (see SMTPConfig.Auth), helo, timeout (a Go duration, "20s"). An
// unknown parameter is an error, so that a typo does not go unnoticed.
// Errors never repeat the password.
func ParseSMTPURL(raw string) (SMTPConfig, error) {
	var c SMTPConfig
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the url.Error would quote the URL, password and all
		}
		return c, fmt.Errorf("SMTP URL: %v", err)
	}
	red := u.Redacted()
	defPort := 0
	switch u.Scheme {
	case "smtp":
		c.TLS, defPort = TLSStartTLS, 587
	case "smtps":
		c.TLS, defPort = TLSImplicit, 465
	case "smtp+insecure":
		c.TLS, defPort = TLSNone, 25
	default:
		return c, fmt.Errorf("SMTP URL %s: the scheme must be smtp, smtps or smtp+insecure", red)
	}
	c.Host = u.Hostname()
	if c.Host == "" {
		return c, fmt.Errorf("SMTP URL %s: no host", red)
	}
	c.Port = defPort
	if p := u.Port(); p != "" {
		if c.Port, err = strconv.Atoi(p); err != nil || c.Port < 1 || c.Port > 65535 {
			return c, fmt.Errorf("SMTP URL %s: bad port %q", red, p)
		}
	}
	if u.User != nil {
		c.Username = u.User.Username()
		c.Password, _ = u.User.Password()
	}
	if u.Path != "" && u.Path != "/" {
		return c, fmt.Errorf("SMTP URL %s: unexpected path %q", red, u.Path)
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return c, fmt.Errorf("SMTP URL %s: query: %v", red, err)
	}
	for k, vs := range q {
		v := vs[len(vs)-1]
		switch k {
		case "from":
			c.From = v
		case "auth":
			c.Auth = strings.ToLower(v)
		case "helo":
			c.HELO = v
		case "timeout":
			if c.Timeout, err = time.ParseDuration(v); err != nil || c.Timeout <= 0 {
				return c, fmt.Errorf("SMTP URL %s: timeout %q is not a positive duration like 20s", red, v)
			}
		case "tls":
			switch {
			case u.Scheme == "smtp" && (v == TLSStartTLS || v == TLSOpportunistic || v == TLSNone):
				c.TLS = v
			case u.Scheme == "smtps" && v == TLSImplicit, u.Scheme == "smtp+insecure" && v == TLSNone:
			default:
				return c, fmt.Errorf("SMTP URL %s: tls=%q: with smtp:// use starttls, opportunistic or none; use smtps:// for implicit TLS", red, v)
			}
		default:
			return c, fmt.Errorf("SMTP URL %s: unknown parameter %q (known: from, tls, auth, helo, timeout)", red, k)
		}
	}
	return c, nil
}

var smtpAuthMechs = map[string]string{
	"plain": "PLAIN", "login": "LOGIN", "cram-md5": "CRAM-MD5",
	"scram-sha-1": "SCRAM-SHA-1", "scram-sha-256": "SCRAM-SHA-256", "xoauth2": "XOAUTH2",
}

// SMTPSender sends email through an SMTP server with go-mail. It keeps a
// few connections open between messages (each closed after 30 seconds
// unused, or by Close).
//
// Every email carries "Message-ID: <message id@from domain>": the same on
// every attempt, so a message sent again after a crash (delivery is at
// least once) can be recognized as a duplicate by the receiving systems.
type SMTPSender struct {
	cfg      SMTPConfig
	from     *netmail.Address
	idDomain string
	tls      *tls.Config
	opts     []mail.Option
	mech     string // "" for no AUTH

	mu     sync.Mutex
	idle   []*smtpConn
	closed bool
}

const (
	smtpMaxIdle     = 8
	smtpIdleTimeout = 30 * time.Second
)

// NewSMTPSender checks cfg and returns a sender. It does not connect.
func NewSMTPSender(cfg SMTPConfig) (*SMTPSender, error) {
	s := &SMTPSender{cfg: cfg}
	if cfg.Host == "" || cfg.Port < 1 || cfg.Port > 65535 {
		return nil, fmt.Errorf("SMTP: a host and a port are required")
	}
	if cfg.From == "" {
		return nil, fmt.Errorf("SMTP: no sender address (from=... in the URL, or USHER_SMTP_FROM)")
	}
	from, err := netmail.ParseAddress(cfg.From)
	if err != nil {
		return nil, fmt.Errorf("SMTP: sender address %q: %v", cfg.From, err)
	}
	s.from = from
	s.idDomain = from.Address[strings.LastIndexByte(from.Address, '@')+1:]
	if cfg.Timeout <= 0 {
		cfg.Timeout = 20 * time.Second
	}
	s.tls = &tls.Config{ServerName: cfg.Host, MinVersion: tls.VersionTLS12}
	if cfg.TLSConfig != nil {
		s.tls = cfg.TLSConfig.Clone()
		if s.tls.ServerName == "" {
			s.tls.ServerName = cfg.Host
		}
	}
	s.opts = []mail.Option{mail.WithPort(cfg.Port), mail.WithTimeout(cfg.Timeout), mail.WithTLSConfig(s.tls)}
	switch cfg.TLS {
	case TLSStartTLS, "":
		cfg.TLS = TLSStartTLS
		s.opts = append(s.opts, mail.WithTLSPolicy(mail.TLSMandatory))
	case TLSOpportunistic:
		s.opts = append(s.opts, mail.WithTLSPolicy(mail.TLSOpportunistic))
	case TLSImplicit:
		s.opts = append(s.opts, mail.WithSSL()) // the handshake itself is done in dial
	case TLSNone:
		s.opts = append(s.opts, mail.WithTLSPolicy(mail.NoTLS))
	default:
		return nil, fmt.Errorf("SMTP: unknown TLS mode %q", cfg.TLS)
	}
	if cfg.HELO != "" {
		s.opts = append(s.opts, mail.WithHELO(cfg.HELO))
	}
	switch {
	case cfg.Username == "" && cfg.Auth != "" && cfg.Auth != "none":
		return nil, fmt.Errorf("SMTP: auth=%s needs a user name in the URL", cfg.Auth)
	case cfg.Username == "":
	case cfg.Auth == "" || cfg.Auth == "auto":
		s.mech = "auto"
	default:
		if s.mech = smtpAuthMechs[cfg.Auth]; s.mech == "" {
			return nil, fmt.Errorf("SMTP: unknown auth mechanism %q (use auto, plain, login, cram-md5, scram-sha-1, scram-sha-256 or xoauth2)", cfg.Auth)
		}
	}
	s.cfg = cfg
	return s, nil
}

// String describes the server without credentials.
func (s *SMTPSender) String() string {
	scheme := "smtp"
	switch s.cfg.TLS {
	case TLSImplicit:
		scheme = "smtps"
	case TLSNone:
		scheme = "smtp+insecure"
	}
	d := fmt.Sprintf("%s://%s (%s", scheme, net.JoinHostPort(s.cfg.Host, strconv.Itoa(s.cfg.Port)), s.cfg.TLS)
	if s.mech != "" {
		d += ", auth " + strings.ToLower(s.mech)
	}
	return d + ", from " + s.from.Address + ")"
}

// MessageID returns the Message-ID header value an email of message id
// carries, without angle brackets.
func (s *SMTPSender) MessageID(id string) string { return id + "@" + s.idDomain }

// Send delivers m. A 5xx reply to RCPT TO or to the message data is
// permanent (the recipient does not exist, the content is refused), as is
// an address that cannot be parsed; every other failure is temporary:
// network errors, 4xx replies, and 5xx replies to the connection, AUTH or
// MAIL FROM, which concern this server's configuration rather than the
// message.
func (s *SMTPSender) Send(ctx context.Context, m usher.Message) error {
	msg, err := s.message(m)
	if err != nil {
		return err
	}
	for try := 0; ; try++ {
		c, reused, err := s.conn(ctx)
		if err != nil {
			return fmt.Errorf("smtp %s: %w", s.addr(), err)
		}
		// A context that ends aborts the conversation: the connection is
		// closed under it.
		stop := context.AfterFunc(ctx, c.abort)
		err = c.client.Send(msg)
		if !stop() {
			if err == nil {
				return nil // accepted just before the context ended
			}
			return fmt.Errorf("smtp %s: %w (%v)", s.addr(), context.Cause(ctx), err)
		}
		if err == nil {
			s.release(c)
			return nil
		}
		var se *mail.SendError
		if errors.As(err, &se) && se.Reason == mail.ErrConnCheck && reused && try == 0 {
			// A kept connection went stale (the server restarted, say);
			// nothing was sent on it. The others are likely stale too.
			c.abort()
			s.dropIdle()
			continue
		}
		// After a reply from the server the connection is still usable
		// once reset; after anything else it is not.
		if errors.As(err, &se) && se.ErrorCode() != 0 && se.ErrorCode() != 421 && c.client.Reset() == nil {
			s.release(c)
		} else {
			c.abort()
		}
		return s.classify(err)
	}
}

func (s *SMTPSender) addr() string {
	return net.JoinHostPort(s.cfg.Host, strconv.Itoa(s.cfg.Port))
}

// classify marks the failures that retrying cannot fix.
func (s *SMTPSender) classify(err error) error {
	err = fmt.Errorf("smtp %s: %w", s.addr(), err)
	var se *mail.SendError
	if !errors.As(err, &se) {
		return err
	}
	code := se.ErrorCode()
	switch se.Reason {
	case mail.ErrGetRcpts:
		return Permanent(err)
	case mail.ErrSMTPRcptTo, mail.ErrSMTPData, mail.ErrSMTPDataClose:
		// 530 and 535 mean "authenticate first": configuration, not message.
		if code >= 500 && code < 600 && code != 530 && code != 535 {
			return Permanent(err)
		}
	}
	return err
}

// message builds the email of m.
func (s *SMTPSender) message(m usher.Message) (*mail.Msg, error) {
	msg := mail.NewMsg(mail.WithNoDefaultUserAgent())
	msg.FromMailAddress(s.from)
	if err := msg.To(m.To); err != nil {
		return nil, Permanent(fmt.Errorf("smtp: recipient %q: %v", m.To, err))
	}
	msg.Subject(m.Subject)
	msg.SetMessageIDWithValue(s.MessageID(m.ID))
	msg.SetDate()
	msg.SetUserAgent("usher")
	// An automatic message (RFC 3834): no out-of-office replies, please.
	msg.SetGenHeader("Auto-Submitted", "auto-generated")
	msg.SetGenHeader(mail.HeaderXAutoResponseSuppress, "All")
	if m.Language != "" {
		msg.SetGenHeader(mail.HeaderContentLang, m.Language)
	}
	msg.SetBodyString(mail.TypeTextPlain, m.Body)
	if m.HTML != "" {
		msg.AddAlternativeString(mail.TypeTextHTML, m.HTML)
	}
	return msg, nil
}

// smtpConn is one connection to the server, with its own go-mail client
// (which holds one connection and, for AUTH, per-connection state).
type smtpConn struct {
	client *mail.Client
	since  time.Time // when it was last released

	mu  sync.Mutex
	raw net.Conn // the TCP connection, closed to abort
}

// abort closes the TCP connection at once, whatever the client is doing.
func (c *smtpConn) abort() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.raw != nil {
		c.raw.Close()
	}
}

// conn returns a kept connection, or a new one.
func (s *SMTPSender) conn(ctx context.Context) (c *smtpConn, reused bool, err error) {
	s.mu.Lock()
	for len(s.idle) > 0 {
		c = s.idle[len(s.idle)-1]
		s.idle = s.idle[:len(s.idle)-1]
		if time.Since(c.since) < smtpIdleTimeout {
			s.mu.Unlock()
			return c, true, nil
		}
		c.abort() // the server has likely dropped it already
	}
	s.mu.Unlock()
	c, err = s.dial(ctx)
	return c, false, err
}

// release keeps c for the next message, or says goodbye when enough are kept.
func (s *SMTPSender) release(c *smtpConn) {
	s.mu.Lock()
	if !s.closed && len(s.idle) < smtpMaxIdle {
		c.since = time.Now()
		// go-mail sets a deadline per message; the next message's NOOP
		// must not inherit a deadline that ran out while idle.
		c.mu.Lock()
		c.raw.SetDeadline(c.since.Add(smtpIdleTimeout + s.cfg.Timeout))
		c.mu.Unlock()
		s.idle = append(s.idle, c)
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	s.quit(c)
}

// quit says QUIT and closes the connection.
func (s *SMTPSender) quit(c *smtpConn) {
	c.client.Close()
	c.abort()
}

// dropIdle closes the kept connections without a word.
func (s *SMTPSender) dropIdle() {
	s.mu.Lock()
	idle := s.idle
	s.idle = nil
	s.mu.Unlock()
	for _, c := range idle {
		c.abort()
	}
}

// Close ends the kept connections. The sender may still be used: it then
// opens new ones.
func (s *SMTPSender) Close() error {
	s.mu.Lock()
	idle := s.idle
	s.idle = nil
	s.mu.Unlock()
	for _, c := range idle {
		s.quit(c)
	}
	return nil
}

// dial connects, says EHLO, starts TLS and authenticates, all within ctx
// and the timeout.
func (s *SMTPSender) dial(ctx context.Context) (*smtpConn, error) {
	c := &smtpConn{}
	dialer := &net.Dialer{}
	opts := append(slices.Clip(s.opts), mail.WithDialContextFunc(func(ctx context.Context, network, addr string) (net.Conn, error) {
		raw, err := dialer.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		c.mu.Lock()
		c.raw = raw
		c.mu.Unlock()
		if s.cfg.TLS != TLSImplicit {
			return raw, nil
		}
		tc := tls.Client(raw, s.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			raw.Close()
			return nil, fmt.Errorf("TLS handshake: %w", err)
		}
		return tc, nil
	}))
	if s.mech != "" {
		opts = append(opts, mail.WithSMTPAuthCustom(&saslAuth{
			mech: s.mech, user: s.cfg.Username, pass: s.cfg.Password, host: s.cfg.Host,
			clearOK: s.cfg.TLS == TLSNone,
		}))
	}
	client, err := mail.NewClient(s.cfg.Host, opts...)
	if err != nil {
		return nil, fmt.Errorf("configure client: %w", err)
	}
	c.client = client
	stop := context.AfterFunc(ctx, c.abort)
	err = client.DialWithContext(ctx)
	if !stop() && err == nil {
		err = context.Cause(ctx)
	}
	if err != nil {
		c.abort()
		return nil, err
	}
	return c, nil
}

// saslAuth chooses the AUTH mechanism once the server's offer is known.
// A new one serves each connection: mechanisms keep state.
type saslAuth struct {
	mech, user, pass, host string
	clearOK                bool // PLAIN and LOGIN may go over a connection in clear
	inner                  smtp.Auth
}

func (a *saslAuth) Start(si *smtp.ServerInfo) (string, []byte, error) {
	offered := func(m string) bool {
		return slices.ContainsFunc(si.Auth, func(x string) bool { return strings.EqualFold(x, m) })
	}
	mech := a.mech
	if mech == "auto" {
		mech = ""
		for _, m := range []string{"SCRAM-SHA-256", "SCRAM-SHA-1", "CRAM-MD5", "PLAIN", "LOGIN"} {
			if offered(m) {
				mech = m
				break
			}
		}
		if mech == "" {
			return "", nil, fmt.Errorf("AUTH: the server offers no mechanism usher supports (offered: %s)", strings.Join(si.Auth, " "))
		}
	} else if !offered(mech) {
		return "", nil, fmt.Errorf("AUTH %s: not offered by the server (offered: %s)", mech, strings.Join(si.Auth, " "))
	}
	switch mech {
	case "PLAIN":
		a.inner = smtp.PlainAuth("", a.user, a.pass, a.host, a.clearOK)
	case "LOGIN":
		a.inner = smtp.LoginAuth(a.user, a.pass, a.host, a.clearOK)
	case "CRAM-MD5":
		a.inner = smtp.CRAMMD5Auth(a.user, a.pass)
	case "SCRAM-SHA-1":
		a.inner = smtp.ScramSHA1Auth(a.user, a.pass)
	case "SCRAM-SHA-256":
		a.inner = smtp.ScramSHA256Auth(a.user, a.pass)
	case "XOAUTH2":
		a.inner = smtp.XOAuth2Auth(a.user, a.pass)
	}
	proto, resp, err := a.inner.Start(si)
	if err != nil {
		if errors.Is(err, smtp.ErrUnencrypted) {
			return "", nil, fmt.Errorf("AUTH %s: refusing to send the password over a connection in clear (use TLS, or tls=none for a trusted relay)", mech)
		}
		return "", nil, fmt.Errorf("AUTH %s: %w", mech, err)
	}
	return proto, resp, nil
}

func (a *saslAuth) Next(fromServer []byte, more bool) ([]byte, error) {
	return a.inner.Next(fromServer, more)
}
