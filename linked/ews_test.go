package linked

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf16"

	"golang.org/x/crypto/md4"
)

const (
	ewsTestUser     = "jane@corp.example.test"
	ewsTestPassword = "S3cret-pässword!"
	ewsTestSMTP     = "jane.doe@corp.example.test"
	ewsTestSOAPCT   = "text/xml; charset=utf-8"
)

// fakeExchange answers EWS's SOAP the way Exchange 2016 does, for the two
// operations the check uses.
type fakeExchange struct {
	t        *testing.T
	mode     string // "ok", "nomailbox", "busy", "echo", "html", "slow", "bearer", "drop", "forbidden"
	ntlm     bool   // offer NTLM/Negotiate instead of Basic
	user     string // the NTLM user name (without domain) or the Basic login
	domain   string // the NTLM domain
	password string

	mu       sync.Mutex
	requests []ewsSeen
	ntlmConn string // the connection the NTLM negotiate message came on
}

type ewsSeen struct {
	path, action, contentType, operation string
	body                                 []byte
}

func (f *fakeExchange) seen() []ewsSeen {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]ewsSeen(nil), f.requests...)
}

func (f *fakeExchange) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch f.mode {
	case "html":
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, "<!DOCTYPE html><html><head><title>Outlook</title></head><body>Sign in</body></html>")
		return
	case "slow":
		io.Copy(io.Discard, r.Body) // lets the server notice the client giving up
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
		return
	case "drop":
		// 401 to the anonymous request, then the connection dies under the
		// one with credentials.
		if r.Header.Get("Authorization") == "" {
			w.Header().Set("WWW-Authenticate", `Basic realm="mail.corp.example.test"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			conn.Close()
		}
		return
	case "forbidden":
		if _, _, ok := r.BasicAuth(); ok {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusForbidden)
			io.WriteString(w, "<html><body>403 - Forbidden: Access is denied.</body></html>")
			return
		}
	case "bearer":
		w.Header().Set("WWW-Authenticate", `Bearer authorization_uri="https://login.example.test"`)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		f.t.Errorf("reading the request: %v", err)
		return
	}
	if r.Method != http.MethodPost {
		f.t.Errorf("method %s, want POST", r.Method)
	}
	if !f.authenticated(w, r) {
		return
	}
	op, err := ewsParseRequest(body)
	f.mu.Lock()
	f.requests = append(f.requests, ewsSeen{path: r.URL.Path, action: r.Header.Get("SOAPAction"),
		contentType: r.Header.Get("Content-Type"), operation: op, body: body})
	f.mu.Unlock()
	if err != nil {
		f.t.Errorf("the request is not the expected SOAP: %v\n%s", err, body)
		ewsWriteFault(w, "ErrorSchemaValidation", "The request failed schema validation.")
		return
	}
	switch op {
	case "GetFolder":
		switch f.mode {
		case "nomailbox":
			ewsWriteError(w, "GetFolder", "ErrorNonExistentMailbox", "The SMTP address has no mailbox associated with it.")
		case "echo":
			ewsWriteError(w, "GetFolder", "ErrorAccessDenied", "Access is denied for "+f.password+".")
		case "busy":
			ewsWriteFault(w, "ErrorServerBusy", "The server cannot service this request right now. Try again later.")
		default:
			ewsWrite(w, http.StatusOK, ewsGetFolderOK)
		}
	case "ResolveNames":
		ewsWrite(w, http.StatusOK, fmt.Sprintf(ewsResolveNamesOK, ewsTestSMTP))
	}
}

// authenticated checks Basic or NTLMv2 credentials and answers 401 itself.
func (f *fakeExchange) authenticated(w http.ResponseWriter, r *http.Request) bool {
	if !f.ntlm {
		user, pass, ok := r.BasicAuth()
		if ok && user == f.user && pass == f.password {
			return true
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="mail.corp.example.test"`)
		w.WriteHeader(http.StatusUnauthorized)
		return false
	}
	if r.ProtoMajor != 1 {
		// IIS refuses Windows authentication over HTTP/2.
		f.t.Errorf("NTLM over %s", r.Proto)
		w.WriteHeader(http.StatusBadRequest)
		return false
	}
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	msg, _ := base64.StdEncoding.DecodeString(token)
	if (scheme != "NTLM" && scheme != "Negotiate") || len(msg) < 12 || !bytes.HasPrefix(msg, []byte("NTLMSSP\x00")) {
		w.Header().Add("WWW-Authenticate", "Negotiate")
		w.Header().Add("WWW-Authenticate", "NTLM")
		w.WriteHeader(http.StatusUnauthorized)
		return false
	}
	switch binary.LittleEndian.Uint32(msg[8:12]) {
	case 1: // negotiate: answer with a challenge
		f.mu.Lock()
		f.ntlmConn = r.RemoteAddr
		f.mu.Unlock()
		w.Header().Set("WWW-Authenticate", scheme+" "+base64.StdEncoding.EncodeToString(ntlmTestChallenge[:]))
		w.WriteHeader(http.StatusUnauthorized)
		return false
	case 3:
		f.mu.Lock()
		sameConn := f.ntlmConn == r.RemoteAddr
		f.mu.Unlock()
		if !sameConn {
			f.t.Errorf("the NTLM handshake moved to another connection")
		} else if ntlmTestVerify(msg, f.user, f.domain, f.password) {
			return true
		}
	}
	w.Header().Add("WWW-Authenticate", "Negotiate")
	w.Header().Add("WWW-Authenticate", "NTLM")
	w.WriteHeader(http.StatusUnauthorized)
	return false
}

// ntlmTestChallenge is an NTLM CHALLENGE message: Unicode, NTLM, a fixed
// server challenge and an empty target info list.
var ntlmTestChallenge = func() [52]byte {
	var m [52]byte
	copy(m[:], "NTLMSSP\x00")
	binary.LittleEndian.PutUint32(m[8:], 2)
	binary.LittleEndian.PutUint32(m[16:], 48)                    // target name: empty, at 48
	binary.LittleEndian.PutUint32(m[20:], 0x00000001|0x00000200) // Unicode, NTLM
	copy(m[24:32], "chllenge")
	binary.LittleEndian.PutUint16(m[40:], 4) // target info: MsvAvEOL only
	binary.LittleEndian.PutUint16(m[42:], 4)
	binary.LittleEndian.PutUint32(m[44:], 48)
	return m
}()

// ntlmTestVerify checks an AUTHENTICATE message's NTLMv2 response the way a
// domain controller does.
func ntlmTestVerify(msg []byte, user, domain, password string) bool {
	field := func(at int) []byte {
		if len(msg) < at+8 {
			return nil
		}
		n := int(binary.LittleEndian.Uint16(msg[at:]))
		off := int(binary.LittleEndian.Uint32(msg[at+4:]))
		if off+n > len(msg) {
			return nil
		}
		return msg[off : off+n]
	}
	nt, gotDomain, gotUser := field(20), field(28), field(36)
	if len(nt) <= 16 || !bytes.Equal(gotUser, utf16le(user)) || !bytes.Equal(gotDomain, utf16le(domain)) {
		return false
	}
	h := md4.New()
	h.Write(utf16le(password))
	owf := hmacMD5(h.Sum(nil), utf16le(strings.ToUpper(user)+domain))
	proof := hmacMD5(owf, append(append([]byte(nil), ntlmTestChallenge[24:32]...), nt[16:]...))
	return hmac.Equal(proof, nt[:16])
}

func hmacMD5(key, data []byte) []byte {
	m := hmac.New(md5.New, key)
	m.Write(data)
	return m.Sum(nil)
}

func utf16le(s string) []byte {
	var b []byte
	for _, u := range utf16.Encode([]rune(s)) {
		b = binary.LittleEndian.AppendUint16(b, u)
	}
	return b
}

// ewsParseRequest checks the SOAP envelope and returns its operation.
func ewsParseRequest(body []byte) (string, error) {
	var env struct {
		XMLName xml.Name `xml:"http://schemas.xmlsoap.org/soap/envelope/ Envelope"`
		Header  struct {
			Version struct {
				Version string `xml:"Version,attr"`
			} `xml:"http://schemas.microsoft.com/exchange/services/2006/types RequestServerVersion"`
		} `xml:"http://schemas.xmlsoap.org/soap/envelope/ Header"`
		Body struct {
			GetFolder *struct {
				Shape struct {
					BaseShape string `xml:"http://schemas.microsoft.com/exchange/services/2006/types BaseShape"`
				} `xml:"http://schemas.microsoft.com/exchange/services/2006/messages FolderShape"`
				IDs struct {
					Folder struct {
						ID string `xml:"Id,attr"`
					} `xml:"http://schemas.microsoft.com/exchange/services/2006/types DistinguishedFolderId"`
				} `xml:"http://schemas.microsoft.com/exchange/services/2006/messages FolderIds"`
			} `xml:"http://schemas.microsoft.com/exchange/services/2006/messages GetFolder"`
			ResolveNames *struct {
				Entry string `xml:"http://schemas.microsoft.com/exchange/services/2006/messages UnresolvedEntry"`
			} `xml:"http://schemas.microsoft.com/exchange/services/2006/messages ResolveNames"`
		} `xml:"http://schemas.xmlsoap.org/soap/envelope/ Body"`
	}
	if err := xml.Unmarshal(body, &env); err != nil {
		return "", err
	}
	if env.Header.Version.Version != "Exchange2013" {
		return "", fmt.Errorf("RequestServerVersion %q", env.Header.Version.Version)
	}
	switch {
	case env.Body.GetFolder != nil:
		g := env.Body.GetFolder
		if g.Shape.BaseShape != "IdOnly" || g.IDs.Folder.ID != "calendar" {
			return "GetFolder", fmt.Errorf("GetFolder of %+v", *g)
		}
		return "GetFolder", nil
	case env.Body.ResolveNames != nil:
		if env.Body.ResolveNames.Entry == "" {
			return "ResolveNames", errors.New("ResolveNames without an entry")
		}
		return "ResolveNames", nil
	}
	return "", errors.New("no known operation in the body")
}

const ewsTestEnvelope = `<?xml version="1.0" encoding="utf-8"?>
<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Header><h:ServerVersionInfo MajorVersion="15" MinorVersion="1" MajorBuildNumber="2507" MinorBuildNumber="6" Version="V2017_07_11" xmlns:h="http://schemas.microsoft.com/exchange/services/2006/types" xmlns="http://schemas.microsoft.com/exchange/services/2006/types" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"/></s:Header><s:Body xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema">%s</s:Body></s:Envelope>`

const ewsGetFolderOK = `<m:GetFolderResponse xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><m:ResponseMessages><m:GetFolderResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode><m:Folders><t:CalendarFolder><t:FolderId Id="AAMkADk0ZjQ1YWQ3LWNhZTMtNDQ3Mi1hN2VmLTk3YjU0ZDg0ZGM0ZQAuAAAAAAC0" ChangeKey="AgAAABQAAAD"/></t:CalendarFolder></m:Folders></m:GetFolderResponseMessage></m:ResponseMessages></m:GetFolderResponse>`

const ewsResolveNamesOK = `<m:ResolveNamesResponse xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><m:ResponseMessages><m:ResolveNamesResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode><m:ResolutionSet TotalItemsInView="1" IncludesLastItemInRange="true"><t:Resolution><t:Mailbox><t:Name>Jane Doe</t:Name><t:EmailAddress>%s</t:EmailAddress><t:RoutingType>SMTP</t:RoutingType><t:MailboxType>Mailbox</t:MailboxType></t:Mailbox></t:Resolution></m:ResolutionSet></m:ResolveNamesResponseMessage></m:ResponseMessages></m:ResolveNamesResponse>`

func ewsWrite(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", ewsTestSOAPCT)
	w.WriteHeader(status)
	fmt.Fprintf(w, ewsTestEnvelope, body)
}

func ewsWriteError(w http.ResponseWriter, op, code, text string) {
	var esc bytes.Buffer
	xml.EscapeText(&esc, []byte(text))
	ewsWrite(w, http.StatusOK, fmt.Sprintf(`<m:%[1]sResponse xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><m:ResponseMessages><m:%[1]sResponseMessage ResponseClass="Error"><m:MessageText>%[3]s</m:MessageText><m:ResponseCode>%[2]s</m:ResponseCode><m:DescriptiveLinkKey>0</m:DescriptiveLinkKey><m:Folders/></m:%[1]sResponseMessage></m:ResponseMessages></m:%[1]sResponse>`, op, code, esc.String()))
}

// ewsWriteFault answers like Exchange's throttling and schema errors: HTTP 500
// with a SOAP fault whose detail names the response code.
func ewsWriteFault(w http.ResponseWriter, code, text string) {
	ewsWrite(w, http.StatusInternalServerError, fmt.Sprintf(`<s:Fault><faultcode xmlns:a="http://schemas.microsoft.com/exchange/services/2006/types">a:%[1]s</faultcode><faultstring xml:lang="en-US">%[2]s</faultstring><detail><e:ResponseCode xmlns:e="http://schemas.microsoft.com/exchange/services/2006/errors">%[1]s</e:ResponseCode><e:Message xmlns:e="http://schemas.microsoft.com/exchange/services/2006/errors">%[2]s</e:Message><t:MessageXml xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><t:Value Name="BackOffMilliseconds">5000</t:Value></t:MessageXml></detail></s:Fault>`, code, text))
}

func ewsTLSServer(t *testing.T, f *fakeExchange) (*httptest.Server, *http.Client) {
	t.Helper()
	f.t = t
	srv := httptest.NewTLSServer(f)
	t.Cleanup(srv.Close)
	c := srv.Client()
	c.Timeout = 5 * time.Second
	return srv, c
}

func ewsNoPassword(t *testing.T, err error) {
	t.Helper()
	if err != nil && strings.Contains(err.Error(), ewsTestPassword) {
		t.Fatalf("the error holds the password: %v", err)
	}
}

func TestCheckExchangeBasicOverTLS(t *testing.T) {
	f := &fakeExchange{mode: "ok", user: ewsTestUser, password: ewsTestPassword}
	srv, c := ewsTLSServer(t, f)

	acct, err := CheckExchange(context.Background(), c, srv.URL, ewsTestUser, ewsTestPassword)
	if err != nil {
		t.Fatalf("CheckExchange: %v", err)
	}
	if acct.Login != ewsTestUser || acct.PrimarySMTP != ewsTestSMTP {
		t.Fatalf("account %+v", acct)
	}
	seen := f.seen()
	if len(seen) != 2 || seen[0].operation != "GetFolder" || seen[1].operation != "ResolveNames" {
		t.Fatalf("requests %+v", seen)
	}
	for _, s := range seen {
		if s.path != "/EWS/Exchange.asmx" {
			t.Errorf("path %q, want the usual EWS path", s.path)
		}
		if want := `"http://schemas.microsoft.com/exchange/services/2006/messages/` + s.operation + `"`; s.action != want {
			t.Errorf("SOAPAction %s, want %s", s.action, want)
		}
		if s.contentType != ewsTestSOAPCT {
			t.Errorf("Content-Type %q", s.contentType)
		}
		if bytes.Contains(s.body, []byte(ewsTestPassword)) {
			t.Errorf("the SOAP body holds the password")
		}
	}
}

func TestCheckExchangeWrongPassword(t *testing.T) {
	f := &fakeExchange{mode: "ok", user: ewsTestUser, password: "another one"}
	srv, c := ewsTLSServer(t, f)
	_, err := CheckExchange(context.Background(), c, srv.URL+"/EWS/Exchange.asmx", ewsTestUser, ewsTestPassword)
	if !errors.Is(err, ErrExchangeCredentials) {
		t.Fatalf("err %v, want ErrExchangeCredentials", err)
	}
	ewsNoPassword(t, err)
	if len(f.seen()) != 0 {
		t.Fatalf("the server served a request with the wrong password")
	}
}

func TestCheckExchangeNTLM(t *testing.T) {
	f := &fakeExchange{mode: "ok", ntlm: true, user: "jane", domain: "CORP", password: ewsTestPassword, t: t}
	srv := httptest.NewUnstartedServer(f)
	srv.EnableHTTP2 = true // as IIS offers it; the check must keep to HTTP/1.1
	srv.StartTLS()
	defer srv.Close()
	c := srv.Client()
	acct, err := CheckExchange(context.Background(), c, srv.URL, `CORP\jane`, ewsTestPassword)
	if err != nil {
		t.Fatalf("CheckExchange over NTLM: %v", err)
	}
	if acct.Login != `CORP\jane` || acct.PrimarySMTP != ewsTestSMTP {
		t.Fatalf("account %+v", acct)
	}
	if !bytes.Contains(f.seen()[1].body, []byte("<m:UnresolvedEntry>jane</m:UnresolvedEntry>")) {
		t.Fatalf("ResolveNames was not asked for the user name without its domain:\n%s", f.seen()[1].body)
	}

	_, err = CheckExchange(context.Background(), c, srv.URL, `CORP\jane`, "wrong")
	if !errors.Is(err, ErrExchangeCredentials) {
		t.Fatalf("wrong NTLM password: err %v, want ErrExchangeCredentials", err)
	}
}

func TestCheckExchangeRefusals(t *testing.T) {
	for _, tc := range []struct {
		mode, code string
		transient  bool
	}{
		{"nomailbox", "ErrorNonExistentMailbox", false},
		{"echo", "ErrorAccessDenied", false},
		{"busy", "ErrorServerBusy", true},
		{"forbidden", "Forbidden", false},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			f := &fakeExchange{mode: tc.mode, user: ewsTestUser, password: ewsTestPassword}
			srv, c := ewsTLSServer(t, f)
			_, err := CheckExchange(context.Background(), c, srv.URL, ewsTestUser, ewsTestPassword)
			var ee *ExchangeError
			if !errors.As(err, &ee) || ee.Code != tc.code {
				t.Fatalf("err %v, want ExchangeError %s", err, tc.code)
			}
			if ee.Transient() != tc.transient || errors.Is(err, ErrExchangeUnreachable) != tc.transient {
				t.Fatalf("%s: transient %v, want %v", tc.code, ee.Transient(), tc.transient)
			}
			if errors.Is(err, ErrExchangeCredentials) {
				t.Fatalf("%s read as wrong credentials", tc.code)
			}
			if ee.Message == "" {
				t.Fatalf("no message from the server in %v", err)
			}
			if tc.mode == "echo" && !strings.Contains(ee.Message, "***") {
				t.Fatalf("the echoed password was not masked: %v", err)
			}
			t.Logf("%s: %v", tc.mode, err)
			ewsNoPassword(t, err)
		})
	}
}

func TestCheckExchangeNotEWS(t *testing.T) {
	for _, mode := range []string{"html", "bearer", "drop"} {
		t.Run(mode, func(t *testing.T) {
			f := &fakeExchange{mode: mode, user: ewsTestUser, password: ewsTestPassword}
			srv, c := ewsTLSServer(t, f)
			_, err := CheckExchange(context.Background(), c, srv.URL, ewsTestUser, ewsTestPassword)
			if !errors.Is(err, ErrExchangeUnreachable) || errors.Is(err, ErrExchangeCredentials) {
				t.Fatalf("err %v, want ErrExchangeUnreachable", err)
			}
			ewsNoPassword(t, err)
			t.Logf("%s: %v", mode, err)
		})
	}
}

func TestCheckExchangeTimeout(t *testing.T) {
	f := &fakeExchange{mode: "slow"}
	srv, c := ewsTLSServer(t, f)
	c.Timeout = 300 * time.Millisecond
	start := time.Now()
	_, err := CheckExchange(context.Background(), c, srv.URL, ewsTestUser, ewsTestPassword)
	if !errors.Is(err, ErrExchangeUnreachable) {
		t.Fatalf("err %v, want ErrExchangeUnreachable", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("the check took %v with a 300ms timeout", d)
	}
	ewsNoPassword(t, err)
}

func TestCheckExchangeUntrustedCertificate(t *testing.T) {
	f := &fakeExchange{mode: "ok", user: ewsTestUser, password: ewsTestPassword}
	srv, _ := ewsTLSServer(t, f)
	// The default client does not trust the test server's certificate.
	_, err := CheckExchange(context.Background(), nil, srv.URL, ewsTestUser, ewsTestPassword)
	if !errors.Is(err, ErrExchangeUnreachable) || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("err %v, want ErrExchangeUnreachable naming the certificate", err)
	}
	if len(f.seen()) != 0 {
		t.Fatalf("credentials went to an untrusted server")
	}
}

func TestCheckExchangeLoopbackHTTP(t *testing.T) {
	f := &fakeExchange{mode: "ok", user: ewsTestUser, password: ewsTestPassword, t: t}
	srv := httptest.NewServer(f)
	defer srv.Close()
	acct, err := CheckExchange(context.Background(), srv.Client(), srv.URL+"/EWS/Exchange.asmx", ewsTestUser, ewsTestPassword)
	if err != nil || acct.PrimarySMTP != ewsTestSMTP {
		t.Fatalf("over loopback http: %+v, %v", acct, err)
	}
}

func TestCheckExchangeRefusesPlainHTTP(t *testing.T) {
	for _, u := range []string{
		"http://mail.corp.example.test/EWS/Exchange.asmx",
		"http://192.0.2.10/EWS/Exchange.asmx",
		"ftp://mail.corp.example.test/EWS/Exchange.asmx",
		"https://jane:" + ewsTestPassword + "@mail.corp.example.test/EWS/Exchange.asmx",
		"mail.corp.example.test",
	} {
		_, err := CheckExchange(context.Background(), nil, u, ewsTestUser, ewsTestPassword)
		if err == nil || errors.Is(err, ErrExchangeUnreachable) || errors.Is(err, ErrExchangeCredentials) {
			t.Errorf("%s: err %v, want the address refused before any request", u, err)
		}
		if err != nil && strings.Contains(err.Error(), ewsTestPassword) {
			t.Errorf("%s: the error holds the password: %v", u, err)
		}
	}
}

func TestCheckExchangeResponseSizeBound(t *testing.T) {
	big := make([]byte, 2<<20)
	rand.Read(big)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", ewsTestSOAPCT)
		fmt.Fprintf(w, ewsTestEnvelope, base64.StdEncoding.EncodeToString(big))
	}))
	defer srv.Close()
	_, err := CheckExchange(context.Background(), srv.Client(), srv.URL, ewsTestUser, ewsTestPassword)
	if !errors.Is(err, ErrExchangeUnreachable) || !strings.Contains(err.Error(), "larger") {
		t.Fatalf("err %v, want the answer refused for its size", err)
	}
}
