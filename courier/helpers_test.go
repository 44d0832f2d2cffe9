package courier_test

import (
	"bytes"
	"context"
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
	"mime/quotedprintable"
	"net"
	netmail "net/mail"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/store"
	"github.com/usherhq/usher/store/storetest"
)

const tenant = "tenant-1"

// newClock is a settable clock shared by the store and the worker, so
// that backoff and leases pass in an instant.
func newClock() *storetest.Clock {
	return storetest.NewClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
}

// forEachStore runs f on a fresh SQLite store and, when
// USHER_TEST_POSTGRES_URL is set, on a fresh PostgreSQL schema.
func forEachStore(t *testing.T, f func(t *testing.T, open func(now func() time.Time) *store.Store)) {
	t.Run("sqlite", func(t *testing.T) {
		f(t, func(now func() time.Time) *store.Store { return storetest.OpenSQLite(t, now) })
	})
	t.Run("postgres", func(t *testing.T) {
		if storetest.PostgresURL() == "" {
			t.Skip("USHER_TEST_POSTGRES_URL is not set: skipping PostgreSQL")
		}
		f(t, func(now func() time.Time) *store.Store { return storetest.OpenPostgres(t, now) })
	})
}

// queueEmails queues n emails to user<i>@example.com and returns them.
func queueEmails(t testing.TB, st *store.Store, n int) []usher.Message {
	t.Helper()
	msgs := make([]usher.Message, n)
	for i := range msgs {
		msgs[i] = usher.Message{
			Kind: "invitation", Channel: usher.ChannelEmail, Language: "en",
			To:      fmt.Sprintf("user%d@example.com", i),
			Subject: fmt.Sprintf("Welcome %d to Acme", i),
			Body:    fmt.Sprintf("Hello user %d,\n\nactivate your account: https://acme.example/a/%d\n\nÅsa & Zoë say hi.", i, i),
		}
	}
	queue(t, st, msgs)
	return msgs
}

func queue(t testing.TB, st *store.Store, msgs []usher.Message) {
	t.Helper()
	err := st.Write(context.Background(), func(tx *store.Tx) error {
		for i := range msgs {
			if _, err := tx.QueueMessage(context.Background(), tenant, &msgs[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// messages returns the tenant's outbox by id.
func messages(t testing.TB, st *store.Store) map[string]usher.Message {
	t.Helper()
	out := map[string]usher.Message{}
	after := ""
	for {
		page, next, err := st.Read().Messages(context.Background(), tenant, store.MessageFilter{}, store.ListOptions{After: after, Limit: 500})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range page {
			out[m.ID] = m
		}
		if next == "" {
			return out
		}
		after = next
	}
}

// countStates counts the outbox's messages by state.
func countStates(t testing.TB, st *store.Store) map[string]int {
	out := map[string]int{}
	for _, m := range messages(t, st) {
		out[m.State]++
	}
	return out
}

// waitFor polls cond until it holds or the time is up.
func waitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// received is one email as the test server got it.
type received struct {
	From, To  string
	MessageID string // without angle brackets
	Subject   string
	Body      string // the text/plain part, decoded, with \n line ends
	Header    netmail.Header
	TLS       bool
	User      string // the authenticated user, if any
}

// mailServer is a real SMTP server (emersion/go-smtp) on 127.0.0.1 that
// records what it accepts and can be told to refuse.
type mailServer struct {
	Addr string
	srv  *smtp.Server

	// User and Pass, when set, make AUTH PLAIN required.
	User, Pass string

	implicitTLS *tls.Config

	mu       sync.Mutex
	got      []received
	refuse   func(cmd, arg string) *smtp.SMTPError // cmd is MAIL, RCPT or DATA; nil accepts
	delay    time.Duration                         // before answering DATA
	sessions atomic.Int64
}

type mailOption func(*mailServer)

func withAuth(user, pass string) mailOption {
	return func(s *mailServer) { s.User, s.Pass = user, pass }
}

// withTLS lets the server offer STARTTLS (implicit false) or speak TLS
// from the start (implicit true).
func withTLS(cfg *tls.Config, implicit bool) mailOption {
	return func(s *mailServer) {
		s.srv.TLSConfig = cfg
		if implicit {
			s.srv.TLSConfig = nil // no STARTTLS inside TLS
			s.implicitTLS = cfg
		}
	}
}

// startMailServer starts a server on a free port of 127.0.0.1.
func startMailServer(t testing.TB, opts ...mailOption) *mailServer {
	return startMailServerAt(t, "127.0.0.1:0", opts...)
}

func startMailServerAt(t testing.TB, addr string, opts ...mailOption) *mailServer {
	t.Helper()
	s := &mailServer{}
	s.srv = smtp.NewServer(backend{s})
	s.srv.Domain = "mx.test"
	s.srv.AllowInsecureAuth = true
	s.srv.ReadTimeout = 10 * time.Second
	s.srv.WriteTimeout = 10 * time.Second
	s.srv.MaxMessageBytes = 1 << 20
	s.srv.MaxRecipients = 10
	for _, o := range opts {
		o(s)
	}
	var ln net.Listener
	var err error
	for range 50 { // a port just released may take a moment to be free again
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	if s.implicitTLS != nil {
		ln = tls.NewListener(ln, s.implicitTLS)
	}
	s.Addr = ln.Addr().String()
	go s.srv.Serve(ln)
	t.Cleanup(func() { s.srv.Close() })
	return s
}

// Refuse sets the refusal rule; nil accepts everything.
func (s *mailServer) Refuse(f func(cmd, arg string) *smtp.SMTPError) {
	s.mu.Lock()
	s.refuse = f
	s.mu.Unlock()
}

func (s *mailServer) refusal(cmd, arg string) error {
	s.mu.Lock()
	f := s.refuse
	s.mu.Unlock()
	if f == nil {
		return nil
	}
	if e := f(cmd, arg); e != nil {
		return e
	}
	return nil
}

// Received returns what was accepted so far.
func (s *mailServer) Received() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.got...)
}

func (s *mailServer) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.got)
}

// byRecipient groups what was accepted by recipient.
func (s *mailServer) byRecipient() map[string][]received {
	out := map[string][]received{}
	for _, r := range s.Received() {
		out[r.To] = append(out[r.To], r)
	}
	return out
}

type backend struct{ s *mailServer }

func (b backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	b.s.sessions.Add(1)
	_, isTLS := c.TLSConnectionState()
	return &session{s: b.s, conn: c, tls: isTLS}, nil
}

type session struct {
	s    *mailServer
	conn *smtp.Conn
	tls  bool
	user string
	from string
	to   []string
}

func (x *session) AuthMechanisms() []string {
	if x.s.User == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (x *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, user, pass string) error {
		if user != x.s.User || pass != x.s.Pass {
			return smtp.ErrAuthFailed
		}
		x.user = user
		return nil
	}), nil
}

func (x *session) Mail(from string, _ *smtp.MailOptions) error {
	if x.s.User != "" && x.user == "" {
		return &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Authentication required"}
	}
	if err := x.s.refusal("MAIL", from); err != nil {
		return err
	}
	x.from = from
	return nil
}

func (x *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if err := x.s.refusal("RCPT", to); err != nil {
		return err
	}
	x.to = append(x.to, to)
	return nil
}

func (x *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if x.s.delay > 0 {
		time.Sleep(x.s.delay)
	}
	if err := x.s.refusal("DATA", strings.Join(x.to, ",")); err != nil {
		return err
	}
	_, isTLS := x.conn.TLSConnectionState()
	for _, to := range x.to {
		rc, err := parseMail(raw)
		if err != nil {
			return &smtp.SMTPError{Code: 554, Message: "unparseable message: " + err.Error()}
		}
		rc.From, rc.To, rc.TLS, rc.User = x.from, to, isTLS || x.tls, x.user
		x.s.mu.Lock()
		x.s.got = append(x.s.got, rc)
		x.s.mu.Unlock()
	}
	return nil
}

func (x *session) Reset()        { x.from, x.to = "", nil }
func (x *session) Logout() error { return nil }

// parseMail reads the headers and the text/plain body of an email.
func parseMail(raw []byte) (received, error) {
	var r received
	m, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return r, err
	}
	r.Header = m.Header
	r.MessageID = strings.Trim(m.Header.Get("Message-Id"), "<>")
	dec := new(mime.WordDecoder)
	if r.Subject, err = dec.DecodeHeader(m.Header.Get("Subject")); err != nil {
		return r, err
	}
	body, err := textPart(m.Header.Get("Content-Type"), m.Header.Get("Content-Transfer-Encoding"), m.Body)
	if err != nil {
		return r, err
	}
	r.Body = strings.ReplaceAll(body, "\r\n", "\n")
	return r, nil
}

func textPart(ctype, cte string, body io.Reader) (string, error) {
	mt, params, err := mime.ParseMediaType(ctype)
	if err != nil {
		return "", err
	}
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if err != nil {
				return "", fmt.Errorf("no text/plain part: %w", err)
			}
			if s, err := textPart(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p); err == nil {
				return s, nil
			}
		}
	}
	if mt != "text/plain" {
		return "", errors.New("not text/plain")
	}
	switch strings.ToLower(cte) {
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	case "base64":
		body = base64.NewDecoder(base64.StdEncoding, body)
	}
	b, err := io.ReadAll(body)
	return string(b), err
}

// testCert returns a server certificate for 127.0.0.1 and a client TLS
// configuration that trusts it.
func testCert(t testing.TB) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "usher test SMTP"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	server = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	return server, &tls.Config{RootCAs: pool}
}

func openSQLite(t testing.TB, clock *storetest.Clock) *store.Store {
	return storetest.OpenSQLite(t.(*testing.T), clock.Now)
}
