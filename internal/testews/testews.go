// Package testews is a small Exchange Web Services server for tests: it
// signs people in with Basic and answers the two requests usher's
// credential check makes (GetFolder of the calendar, ResolveNames) the way
// Exchange 2016 does.
package testews

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// Server is a running EWS server; change its accounts' passwords with
// SetPassword.
type Server struct {
	// URL is the EWS address (…/EWS/Exchange.asmx), plain HTTP on loopback.
	URL string

	mu        sync.Mutex
	passwords map[string]string // user name → password
	refusals  int
}

// Start serves users (user name → password) until the test ends.
func Start(t testing.TB, users map[string]string) *Server {
	s := &Server{passwords: map[string]string{}}
	for u, p := range users {
		s.passwords[u] = p
	}
	hs := httptest.NewServer(s)
	t.Cleanup(hs.Close)
	s.URL = hs.URL + "/EWS/Exchange.asmx"
	return s
}

// SetPassword changes a user's password, as when it is changed in the
// directory.
func (s *Server) SetPassword(user, password string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.passwords[user] = password
}

// Refusals counts the sign-ins refused.
func (s *Server) Refusals() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refusals
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	user, pass, ok := r.BasicAuth()
	s.mu.Lock()
	want, known := s.passwords[user]
	good := ok && known && want == pass
	if ok && !good {
		s.refusals++
	}
	s.mu.Unlock()
	if !good {
		w.Header().Set("WWW-Authenticate", `Basic realm="mail.example.test"`)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	switch {
	case bytes.Contains(body, []byte("GetFolder")):
		fmt.Fprintf(w, envelope, getFolderOK)
	case bytes.Contains(body, []byte("ResolveNames")):
		fmt.Fprintf(w, envelope, fmt.Sprintf(resolveNamesOK, user))
	default:
		w.WriteHeader(http.StatusBadRequest)
	}
}

const envelope = `<?xml version="1.0" encoding="utf-8"?>
<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Header><h:ServerVersionInfo MajorVersion="15" MinorVersion="1" MajorBuildNumber="2507" MinorBuildNumber="6" Version="V2017_07_11" xmlns:h="http://schemas.microsoft.com/exchange/services/2006/types"/></s:Header><s:Body>%s</s:Body></s:Envelope>`

const getFolderOK = `<m:GetFolderResponse xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><m:ResponseMessages><m:GetFolderResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode><m:Folders><t:CalendarFolder><t:FolderId Id="AAMkADk0ZjQ1" ChangeKey="AgAAABQAAAD"/></t:CalendarFolder></m:Folders></m:GetFolderResponseMessage></m:ResponseMessages></m:GetFolderResponse>`

const resolveNamesOK = `<m:ResolveNamesResponse xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><m:ResponseMessages><m:ResolveNamesResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode><m:ResolutionSet TotalItemsInView="1" IncludesLastItemInRange="true"><t:Resolution><t:Mailbox><t:Name>Mailbox</t:Name><t:EmailAddress>%s</t:EmailAddress><t:RoutingType>SMTP</t:RoutingType><t:MailboxType>Mailbox</t:MailboxType></t:Mailbox></t:Resolution></m:ResolutionSet></m:ResolveNamesResponseMessage></m:ResponseMessages></m:ResolveNamesResponse>`
