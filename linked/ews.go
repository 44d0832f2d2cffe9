package linked

// The credential check for Exchange on-premises: usher signs in to the
// configured EWS address with the person's own Exchange user name and password
// and asks for their calendar folder, so a link is accepted only when the
// credentials open a mailbox whose calendar usher can read.
//
// Authentication: NTLM (also when offered inside Negotiate, as Exchange's EWS
// virtual directory does by default) and Basic, whichever the server's 401
// offers, NTLM first. The NTLM handshake is done by github.com/Azure/go-ntlmssp.
// Kerberos-only servers (Negotiate without NTLM) and OAuth-only servers are not
// supported by this check. Credentials are sent only over TLS, except to a
// loopback address (which is what the tests use).

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/Azure/go-ntlmssp"
)

// ExchangeAccount is what the credential check learned about the account.
type ExchangeAccount struct {
	// Login is the user name the check signed in with, as given.
	Login string
	// PrimarySMTP is the mailbox's primary SMTP address when EWS's name
	// resolution found exactly one mailbox for the login; empty otherwise.
	PrimarySMTP string
}

// Errors of CheckExchange. Their messages are safe to show the person who typed
// the credentials; none of them ever holds the password.
var (
	// ErrExchangeCredentials: the server refused the user name or password.
	ErrExchangeCredentials = errors.New("exchange: the user name or password was not accepted")
	// ErrExchangeUnreachable: the server could not be reached in time, its
	// certificate was not trusted, it did not answer as EWS, or it was busy.
	// Transient as far as the person is concerned: try again later or fix the
	// EWS address.
	ErrExchangeUnreachable = errors.New("exchange: the EWS server could not be reached or did not answer as EWS")
)

// ExchangeError is an EWS response code: the server accepted the credentials
// (or answered with a SOAP fault) but refused the request, for example
// ErrorNonExistentMailbox or ErrorAccessDenied.
type ExchangeError struct {
	Code    string // the EWS ResponseCode, e.g. "ErrorAccessDenied"
	Message string // the server's MessageText, if any
}

func (e *ExchangeError) Error() string {
	if e.Message == "" {
		return "exchange: the server refused the request: " + e.Code
	}
	return "exchange: the server refused the request: " + e.Code + ": " + e.Message
}

// Transient tells whether the code means the server was busy or briefly
// unavailable, so the same check may pass later.
func (e *ExchangeError) Transient() bool {
	switch e.Code {
	case "ErrorServerBusy", "ErrorTimeoutExpired", "ErrorInternalServerTransientError",
		"ErrorMailboxMoveInProgress", "ErrorMailboxStoreUnavailable", "ErrorConnectionFailed":
		return true
	}
	return false
}

// Is makes errors.Is(err, ErrExchangeUnreachable) true for transient codes.
func (e *ExchangeError) Is(target error) bool {
	return target == ErrExchangeUnreachable && e.Transient()
}

const (
	ewsMessagesNS   = "http://schemas.microsoft.com/exchange/services/2006/messages"
	ewsTypesNS      = "http://schemas.microsoft.com/exchange/services/2006/types"
	soapEnvelopeNS  = "http://schemas.xmlsoap.org/soap/envelope/"
	ewsDefaultPath  = "/EWS/Exchange.asmx"
	ewsMaxResponse  = 1 << 20
	ewsCheckTimeout = 20 * time.Second
)

// CheckExchange signs in to the EWS endpoint at ewsURL with the person's user
// name (user@domain, DOMAIN\user or user) and password and asks for their
// calendar folder (EWS GetFolder on the distinguished folder "calendar"). An
// address with no path gets EWS's usual path /EWS/Exchange.asmx.
//
// client may be nil; its Timeout (or 20 seconds when it has none) bounds the
// whole check, and its Transport (with its TLS settings) carries the requests.
// Redirects are not followed: credentials go only to the configured address.
//
// The errors are ErrExchangeCredentials, ErrExchangeUnreachable (wrapped with
// what happened) or an *ExchangeError.
func CheckExchange(ctx context.Context, client *http.Client, ewsURL, username, password string) (ExchangeAccount, error) {
	endpoint, err := exchangeEndpoint(ewsURL)
	if err != nil {
		return ExchangeAccount{}, err
	}
	if strings.TrimSpace(username) == "" || password == "" {
		return ExchangeAccount{}, ErrExchangeCredentials
	}
	timeout := ewsCheckTimeout
	base := http.DefaultTransport
	if client != nil {
		if client.Timeout > 0 {
			timeout = client.Timeout
		}
		if client.Transport != nil {
			base = client.Transport
		}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	base, done := ewsTransport(base)
	defer done()
	watch := &ewsAuthWatch{next: base}
	c := &http.Client{
		Transport: ntlmssp.Negotiator{RoundTripper: watch, AllowBasicAuth: true},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	s := &ewsSession{ctx: ctx, client: c, watch: watch, endpoint: endpoint, username: username, password: password}

	env, err := s.call("GetFolder", ewsGetCalendarFolder)
	if err != nil {
		return ExchangeAccount{}, err
	}
	if env.Body.GetFolder == nil || len(env.Body.GetFolder.GetFolder) == 0 {
		return ExchangeAccount{}, fmt.Errorf("%w: the answer has no GetFolderResponse", ErrExchangeUnreachable)
	}
	m := env.Body.GetFolder.GetFolder[0]
	if m.ResponseClass == "Error" {
		return ExchangeAccount{}, s.scrub(&ExchangeError{Code: m.codeOr("ErrorUnknown"), Message: m.MessageText})
	}
	if len(m.Folders.Calendar) == 0 {
		return ExchangeAccount{}, s.scrub(&ExchangeError{Code: "ErrorFolderNotFound", Message: "the mailbox has no calendar folder"})
	}

	account := ExchangeAccount{Login: username}
	account.PrimarySMTP = s.primarySMTP()
	return account, nil
}

// exchangeEndpoint checks the configured address: https, or http to a
// loopback address; no user info; the usual EWS path when none is given.
func exchangeEndpoint(raw string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" {
		return "", errors.New("exchange: the EWS address is not an absolute URL")
	}
	if u.User != nil {
		return "", errors.New("exchange: the EWS address must not hold a user name or password")
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !ewsLoopback(u.Hostname()) {
			return "", errors.New("exchange: the EWS address must use https, so the password is not sent in the clear")
		}
	default:
		return "", fmt.Errorf("exchange: the EWS address must use https, not %q", u.Scheme)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = ewsDefaultPath
	}
	u.Fragment = ""
	return u.String(), nil
}

// ewsTransport gives the check its own connections over HTTP/1.1: NTLM
// authenticates a connection, so its handshake must stay on one, which
// neither a pool shared with other checks nor HTTP/2 (which IIS refuses for
// Windows authentication) guarantees. The closing function drops them.
func ewsTransport(base http.RoundTripper) (http.RoundTripper, func()) {
	t, ok := base.(*http.Transport)
	if !ok {
		return base, func() {}
	}
	t = t.Clone()
	var p http.Protocols
	p.SetHTTP1(true)
	t.Protocols = &p
	if t.TLSClientConfig != nil { // Clone made it ours; ALPN must not offer h2
		t.TLSClientConfig.NextProtos = []string{"http/1.1"}
	}
	t.MaxConnsPerHost = 1
	return t, t.CloseIdleConnections
}

func ewsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ewsAuthWatch sits under the NTLM negotiator and notes whether the server
// answered 401 to a request that carried credentials, and the last transport
// error: the negotiator hands back its first 401 when a later request fails,
// which must not read as a wrong password.
type ewsAuthWatch struct {
	next http.RoundTripper

	mu       sync.Mutex
	refused  bool
	transErr error
}

func (w *ewsAuthWatch) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := w.next.RoundTrip(req)
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil {
		w.transErr = err
		return nil, err
	}
	if resp.StatusCode == http.StatusUnauthorized && carriesCredentials(req.Header.Get("Authorization")) {
		w.refused = true
	}
	return resp, nil
}

func (w *ewsAuthWatch) reset() {
	w.mu.Lock()
	w.refused, w.transErr = false, nil
	w.mu.Unlock()
}

func (w *ewsAuthWatch) state() (bool, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.refused, w.transErr
}

type ewsSession struct {
	ctx      context.Context
	client   *http.Client
	watch    *ewsAuthWatch
	endpoint string
	username string
	password string
}

// call posts one SOAP request and reads the envelope of the answer. A SOAP
// fault becomes an *ExchangeError.
func (s *ewsSession) call(operation, body string) (*ewsEnvelope, error) {
	req, err := http.NewRequestWithContext(s.ctx, http.MethodPost, s.endpoint, strings.NewReader(ewsRequest(body)))
	if err != nil {
		return nil, fmt.Errorf("exchange: the EWS address is not usable: %w", err)
	}
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	req.Header.Set("Accept", "text/xml")
	req.Header.Set("SOAPAction", `"`+ewsMessagesNS+"/"+operation+`"`)
	req.SetBasicAuth(s.username, s.password)

	s.watch.reset()
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, s.unreachable(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, ewsMaxResponse+1))
	if err != nil {
		return nil, s.unreachable(err)
	}
	if resp.StatusCode == http.StatusUnauthorized {
		refused, transErr := s.watch.state()
		switch {
		case s.ctx.Err() != nil:
			return nil, s.unreachable(s.ctx.Err())
		case transErr != nil:
			// A connection dropped mid-handshake is not a wrong password.
			return nil, s.unreachable(fmt.Errorf("the connection failed during sign-in: %w", transErr))
		case refused:
			return nil, ErrExchangeCredentials
		default:
			return nil, fmt.Errorf("%w: the server asks for an authentication usher does not support (%s); Basic or NTLM must be enabled on the EWS virtual directory",
				ErrExchangeUnreachable, ewsSchemes(resp.Header))
		}
	}
	if len(data) > ewsMaxResponse {
		return nil, fmt.Errorf("%w: the answer is larger than %d bytes", ErrExchangeUnreachable, ewsMaxResponse)
	}
	var env ewsEnvelope
	if xml.Unmarshal(data, &env) != nil || env.XMLName.Space != soapEnvelopeNS {
		if resp.StatusCode == http.StatusForbidden {
			// Exchange's answer when EWS is turned off for the mailbox
			// (Set-CASMailbox -EWSEnabled $false) or by a client access rule.
			return nil, &ExchangeError{Code: "Forbidden", Message: "the server does not allow EWS for this account"}
		}
		return nil, fmt.Errorf("%w: HTTP %d with %s, not a SOAP answer", ErrExchangeUnreachable, resp.StatusCode, ewsContentType(resp.Header))
	}
	if f := env.Body.Fault; f != nil {
		code := f.ResponseCode
		if code == "" {
			_, code, _ = strings.Cut(f.Code, ":")
			if code == "" {
				code = f.Code
			}
		}
		msg := f.Message
		if msg == "" {
			msg = f.String
		}
		return nil, s.scrub(&ExchangeError{Code: strings.TrimSpace(code), Message: strings.TrimSpace(msg)})
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: HTTP %d", ErrExchangeUnreachable, resp.StatusCode)
	}
	return &env, nil
}

// primarySMTP asks EWS to resolve the login's user name to a mailbox and
// returns its SMTP address when exactly one mailbox matches. Best effort: any
// failure leaves it empty, the credentials having already been checked.
func (s *ewsSession) primarySMTP() string {
	name := s.username
	if _, user, ok := strings.Cut(name, `\`); ok {
		name = user
	}
	var esc bytes.Buffer
	if xml.EscapeText(&esc, []byte(name)) != nil {
		return ""
	}
	env, err := s.call("ResolveNames",
		`<m:ResolveNames ReturnFullContactData="false" SearchScope="ActiveDirectory"><m:UnresolvedEntry>`+esc.String()+`</m:UnresolvedEntry></m:ResolveNames>`)
	if err != nil || env.Body.ResolveNames == nil || len(env.Body.ResolveNames.ResolveNames) != 1 {
		return ""
	}
	m := env.Body.ResolveNames.ResolveNames[0]
	if m.ResponseClass != "Success" || len(m.ResolutionSet.Resolutions) != 1 {
		return ""
	}
	mb := m.ResolutionSet.Resolutions[0].Mailbox
	if !strings.EqualFold(mb.RoutingType, "SMTP") || !strings.Contains(mb.EmailAddress, "@") {
		return ""
	}
	return strings.TrimSpace(mb.EmailAddress)
}

// unreachable wraps a transport error; net/http's errors name the URL and the
// cause, never the Authorization header.
func (s *ewsSession) unreachable(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: no answer from %s in time", ErrExchangeUnreachable, s.endpoint)
	}
	return s.scrub(fmt.Errorf("%w: %v", ErrExchangeUnreachable, err))
}

// scrub makes sure no error text holds the password, even if a server echoed it.
func (s *ewsSession) scrub(err error) error {
	if s.password == "" || !strings.Contains(err.Error(), s.password) {
		return err
	}
	var ee *ExchangeError
	if errors.As(err, &ee) {
		return &ExchangeError{Code: strings.ReplaceAll(ee.Code, s.password, "***"), Message: strings.ReplaceAll(ee.Message, s.password, "***")}
	}
	if errors.Is(err, ErrExchangeUnreachable) {
		return fmt.Errorf("%w: %s", ErrExchangeUnreachable, strings.ReplaceAll(strings.TrimPrefix(err.Error(), ErrExchangeUnreachable.Error()+": "), s.password, "***"))
	}
	return errors.New(strings.ReplaceAll(err.Error(), s.password, "***"))
}

func ewsSchemes(h http.Header) string {
	var schemes []string
	for _, v := range h.Values("Www-Authenticate") {
		scheme, _, _ := strings.Cut(strings.TrimSpace(v), " ")
		if scheme != "" {
			schemes = append(schemes, scheme)
		}
	}
	if len(schemes) == 0 {
		return "no scheme named"
	}
	return strings.Join(schemes, ", ")
}

func ewsContentType(h http.Header) string {
	if ct := h.Get("Content-Type"); ct != "" {
		return ct
	}
	return "no content type"
}

// ewsGetCalendarFolder asks for the caller's own calendar folder, ids only.
const ewsGetCalendarFolder = `<m:GetFolder>` +
	`<m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape>` +
	`<m:FolderIds><t:DistinguishedFolderId Id="calendar"/></m:FolderIds>` +
	`</m:GetFolder>`

// ewsRequest wraps an operation in a SOAP 1.1 envelope for Exchange 2013 and
// later (2016 and 2019 accept it).
func ewsRequest(body string) string {
	return `<?xml version="1.0" encoding="utf-8"?>` +
		`<soap:Envelope xmlns:soap="` + soapEnvelopeNS + `" xmlns:m="` + ewsMessagesNS + `" xmlns:t="` + ewsTypesNS + `">` +
		`<soap:Header><t:RequestServerVersion Version="Exchange2013"/></soap:Header>` +
		`<soap:Body>` + body + `</soap:Body>` +
		`</soap:Envelope>`
}

type ewsEnvelope struct {
	XMLName xml.Name
	Body    struct {
		Fault        *ewsFault    `xml:"http://schemas.xmlsoap.org/soap/envelope/ Fault"`
		GetFolder    *ewsMessages `xml:"http://schemas.microsoft.com/exchange/services/2006/messages GetFolderResponse"`
		ResolveNames *ewsMessages `xml:"http://schemas.microsoft.com/exchange/services/2006/messages ResolveNamesResponse"`
	} `xml:"http://schemas.xmlsoap.org/soap/envelope/ Body"`
}

type ewsFault struct {
	Code         string `xml:"faultcode"`
	String       string `xml:"faultstring"`
	ResponseCode string `xml:"detail>ResponseCode"`
	Message      string `xml:"detail>Message"`
}

type ewsMessages struct {
	GetFolder    []ewsMessage `xml:"ResponseMessages>GetFolderResponseMessage"`
	ResolveNames []ewsMessage `xml:"ResponseMessages>ResolveNamesResponseMessage"`
}

type ewsMessage struct {
	ResponseClass string `xml:"ResponseClass,attr"`
	ResponseCode  string `xml:"http://schemas.microsoft.com/exchange/services/2006/messages ResponseCode"`
	MessageText   string `xml:"http://schemas.microsoft.com/exchange/services/2006/messages MessageText"`
	Folders       struct {
		Calendar []struct {
			FolderID struct {
				ID string `xml:"Id,attr"`
			} `xml:"http://schemas.microsoft.com/exchange/services/2006/types FolderId"`
		} `xml:"http://schemas.microsoft.com/exchange/services/2006/types CalendarFolder"`
	} `xml:"http://schemas.microsoft.com/exchange/services/2006/messages Folders"`
	ResolutionSet struct {
		Resolutions []struct {
			Mailbox struct {
				EmailAddress string `xml:"http://schemas.microsoft.com/exchange/services/2006/types EmailAddress"`
				RoutingType  string `xml:"http://schemas.microsoft.com/exchange/services/2006/types RoutingType"`
			} `xml:"http://schemas.microsoft.com/exchange/services/2006/types Mailbox"`
		} `xml:"http://schemas.microsoft.com/exchange/services/2006/types Resolution"`
	} `xml:"http://schemas.microsoft.com/exchange/services/2006/messages ResolutionSet"`
}

func (m ewsMessage) codeOr(fallback string) string {
	if c := strings.TrimSpace(m.ResponseCode); c != "" {
		return c
	}
	return fallback
}

// carriesCredentials: the Authorization header holds the password's proof —
// Basic credentials, or NTLM's AUTHENTICATE message (type 3) — rather than
// the NEGOTIATE message (type 1) whose 401 is the handshake's normal answer.
func carriesCredentials(h string) bool {
	scheme, token, ok := strings.Cut(h, " ")
	if !ok {
		return false
	}
	switch strings.ToLower(scheme) {
	case "basic":
		return true
	case "ntlm", "negotiate":
		b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(token))
		// NTLMSSP\0 then the message type, little-endian.
		return err == nil && len(b) >= 12 && string(b[:8]) == "NTLMSSP\x00" && b[8] == 3
	}
	return false
}
