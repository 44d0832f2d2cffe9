package sso

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"encoding/xml"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/provision"
	"github.com/usherhq/usher/secret"
	"github.com/usherhq/usher/store"
	"github.com/usherhq/usher/store/storetest"
)

// The SAML tests run a crewjam IdentityProvider in process for the real
// round trip, and craft Responses with crewjam's schema types signed by
// goxmldsig for the refusals: each check is shown refusing its own fault.

type opener func(t testing.TB, now func() time.Time) *store.Store

var (
	samlOperator = usher.Actor{Kind: "operator", ID: "op", Role: usher.PrincipalOperator}
	samlAdmin    = usher.Actor{Kind: "token", ID: "ta", Role: usher.AdminTenant}
)

// testKeys are the IdP's key and another one, made once: RSA key
// generation is the slow part of these tests.
var testKeys = sync.OnceValue(func() [2]keyPair { return [2]keyPair{newKeyPair("idp.example"), newKeyPair("evil.example")} })

type keyPair struct {
	key  *rsa.PrivateKey
	cert *x509.Certificate
}

func newKeyPair(cn string) keyPair {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	tpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-24 * time.Hour), NotAfter: time.Now().AddDate(1, 0, 0)}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return keyPair{key, cert}
}

type samlEnv struct {
	t     testing.TB
	ctx   context.Context
	st    *store.Store
	clock *storetest.Clock
	svc   *Service
	prov  *provision.Service
	tn    usher.Tenant
	conn  usher.Connection
	idp   *saml.IdentityProvider
}

func mustURL(s string) url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return *u
}

// newSAMLEnv: a tenant "corp" with a SAML connection to the in-process
// IdP, its metadata pasted; edit changes the connection before it is saved.
func newSAMLEnv(t testing.TB, open opener, edit func(*usher.Connection)) *samlEnv {
	clock := storetest.NewClock(time.Now().UTC().Truncate(time.Second))
	st := open(t, clock.Now)
	box, err := secret.NewBox(bytes.Repeat([]byte{9}, secret.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	e := &samlEnv{t: t, ctx: context.Background(), st: st, clock: clock}
	e.svc = New(st, box, func(tn usher.Tenant) string { return "https://" + tn.Slug + ".example" }, clock.Now, nil)
	e.prov = provision.New(st, clock.Now, storetest.Links{})
	e.prov.CheckConnectionsWith(e.svc.Prepare)
	if e.tn, err = e.prov.CreateTenant(e.ctx, samlOperator, provision.TenantInput{Slug: "corp", Name: "Corp"}); err != nil {
		t.Fatal(err)
	}
	k := testKeys()[0]
	e.idp = &saml.IdentityProvider{Key: k.key, Certificate: k.cert, SignatureMethod: dsig.RSASHA256SignatureMethod,
		MetadataURL: mustURL("https://idp.example/metadata"), SSOURL: mustURL("https://idp.example/sso"),
		ServiceProviderProvider: e, WantAuthnRequestsSigned: true}
	md, err := xml.Marshal(e.idp.Metadata())
	if err != nil {
		t.Fatal(err)
	}
	c := usher.Connection{Name: "Corp SAML", Protocol: "saml", Domains: []string{"corp.example"}, MetadataXML: string(md),
		Mapping: usher.AttributeMapping{Groups: "eduPersonAffiliation"}}
	if edit != nil {
		edit(&c)
	}
	saved, err := e.prov.SaveConnection(e.ctx, samlAdmin, e.tn, "", provision.ConnectionInput{Connection: c})
	if err != nil {
		t.Fatal(err)
	}
	if e.conn, err = st.Read().Connection(e.ctx, e.tn.ID, saved.ID); err != nil {
		t.Fatal(err)
	}
	return e
}

// GetServiceProvider gives the IdP usher's metadata, as its administrator
// would have it on file.
func (e *samlEnv) GetServiceProvider(r *http.Request, id string) (*saml.EntityDescriptor, error) {
	b, err := e.svc.Metadata(e.ctx, e.tn, e.conn.ID)
	if err != nil {
		return nil, err
	}
	var ed saml.EntityDescriptor
	if err := xml.Unmarshal(b, &ed); err != nil {
		return nil, err
	}
	if ed.EntityID != id {
		return nil, os.ErrNotExist
	}
	return &ed, nil
}

// begin starts a sign-in and returns its state and AuthnRequest ID.
func (e *samlEnv) begin() (Start, store.SSORequest) {
	e.t.Helper()
	start, err := e.svc.Begin(e.ctx, e.tn, e.conn, Begin{Purpose: PurposeSignIn, Next: "/apps"})
	if err != nil {
		e.t.Fatal(err)
	}
	q, err := e.st.Read().SSORequest(e.ctx, e.tn.ID, secret.Hash(start.State))
	if err != nil || q.RequestID == "" {
		e.t.Fatalf("the request: %+v %v", q, err)
	}
	return start, q
}

// spec is a Response to craft; the defaults are a good one.
type spec struct {
	inResponseTo           string
	audience, recipient    string
	destination, issuer    string
	nameID, format         string
	issued                 time.Time
	ttl                    time.Duration
	attrs                  map[string][]string
	signAssertion, signMsg bool
	signer                 keyPair
	method                 string
	extraAssertion         bool // a second, unsigned assertion beside the first
	tamper                 bool // change an attribute after signing
}

func (e *samlEnv) spec(inResponseTo string) spec {
	return spec{inResponseTo: inResponseTo, audience: e.svc.MetadataURL(e.tn, e.conn), recipient: e.svc.ACSURL(e.tn, e.conn),
		destination: e.svc.ACSURL(e.tn, e.conn), issuer: e.idp.MetadataURL.String(), nameID: "u-1001", format: string(saml.PersistentNameIDFormat),
		issued: e.clock.Now(), ttl: 5 * time.Minute, signAssertion: true, signer: testKeys()[0], method: dsig.RSASHA256SignatureMethod,
		attrs: map[string][]string{"mail": {"ada@corp.example"}, "givenName": {"Ada"}, "sn": {"Lovelace"}, "eduPersonAffiliation": {"staff", "eng"}}}
}

func sign(t testing.TB, el *etree.Element, s spec) *etree.Element {
	t.Helper()
	ctx := dsig.NewDefaultSigningContext(dsig.TLSCertKeyStore(tls.Certificate{Certificate: [][]byte{s.signer.cert.Raw}, PrivateKey: s.signer.key}))
	ctx.Canonicalizer = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
	if err := ctx.SetSignatureMethod(s.method); err != nil {
		t.Fatal(err)
	}
	signed, err := ctx.SignEnveloped(el)
	if err != nil {
		t.Fatal(err)
	}
	return signed.ChildElements()[len(signed.ChildElements())-1]
}

func (e *samlEnv) assertion(s spec, id string) *saml.Assertion {
	a := &saml.Assertion{ID: id, IssueInstant: s.issued, Version: "2.0", Issuer: saml.Issuer{Value: s.issuer},
		Subject: &saml.Subject{NameID: &saml.NameID{Format: s.format, Value: s.nameID},
			SubjectConfirmations: []saml.SubjectConfirmation{{Method: "urn:oasis:names:tc:SAML:2.0:cm:bearer",
				SubjectConfirmationData: &saml.SubjectConfirmationData{InResponseTo: s.inResponseTo, NotOnOrAfter: s.issued.Add(s.ttl), Recipient: s.recipient}}}},
		Conditions: &saml.Conditions{NotBefore: s.issued.Add(-time.Minute), NotOnOrAfter: s.issued.Add(s.ttl),
			AudienceRestrictions: []saml.AudienceRestriction{{Audience: saml.Audience{Value: s.audience}}}},
		AuthnStatements: []saml.AuthnStatement{{AuthnInstant: s.issued, SessionIndex: "s-1",
			AuthnContext: saml.AuthnContext{AuthnContextClassRef: &saml.AuthnContextClassRef{Value: "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"}}}},
	}
	var st saml.AttributeStatement
	for n, vs := range s.attrs {
		at := saml.Attribute{Name: n, NameFormat: "urn:oasis:names:tc:SAML:2.0:attrname-format:basic"}
		for _, v := range vs {
			at.Values = append(at.Values, saml.AttributeValue{Type: "xs:string", Value: v})
		}
		st.Attributes = append(st.Attributes, at)
	}
	a.AttributeStatements = []saml.AttributeStatement{st}
	return a
}

// craft builds, signs and encodes a Response as s says.
func (e *samlEnv) craft(s spec) string {
	e.t.Helper()
	a := e.assertion(s, "a-"+rand.Text())
	if s.signAssertion {
		a.Signature = sign(e.t, a.Element(), s)
	}
	ael := a.Element()
	if s.tamper {
		ael.FindElement(".//AttributeValue").SetText("mallory@evil.example")
	}
	els := []*etree.Element{ael}
	if s.extraAssertion {
		b := e.assertion(s, "a-"+rand.Text())
		b.Subject.NameID.Value = "admin"
		els = append([]*etree.Element{b.Element()}, els...)
	}
	r := &saml.Response{ID: "r-" + rand.Text(), InResponseTo: s.inResponseTo, Version: "2.0", IssueInstant: s.issued,
		Destination: s.destination, Issuer: &saml.Issuer{Value: s.issuer}, Status: saml.Status{StatusCode: saml.StatusCode{Value: saml.StatusSuccess}}}
	build := func() *etree.Element {
		el := r.Element()
		for _, x := range els {
			el.AddChild(x.Copy())
		}
		return el
	}
	if s.signMsg {
		r.Signature = sign(e.t, build(), s)
	}
	doc := etree.NewDocument()
	doc.SetRoot(build())
	b, err := doc.WriteToBytes()
	if err != nil {
		e.t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

func form(resp, relay string) url.Values {
	v := url.Values{"SAMLResponse": {resp}}
	if relay != "" {
		v.Set("RelayState", relay)
	}
	return v
}

// wantRefused fails unless err is a ProviderError whose Detail holds detail.
func wantRefused(t testing.TB, err error, detail string) {
	t.Helper()
	var pe *ProviderError
	if !errors.As(err, &pe) || !strings.Contains(pe.Detail, detail) {
		t.Fatalf("got %v, want a refusal saying %q", err, detail)
	}
}

func checkAnswer(t testing.TB, a Answer, subject string) {
	t.Helper()
	u := a.User
	if u.Subject != subject || u.Email != "ada@corp.example" || u.FirstName != "Ada" || u.LastName != "Lovelace" ||
		strings.Join(u.Groups, ",") != "staff,eng" {
		t.Fatalf("answer: %+v", u)
	}
}

// idpResponse has the in-process IdP answer the AuthnRequest usher sent:
// the IdP checks the request (its signature by usher's certificate from
// the SP metadata, destination, ACS), then signs and encrypts an assertion.
func (e *samlEnv) idpResponse(start Start) url.Values {
	e.t.Helper()
	var r *http.Request
	if start.Form != nil {
		if start.Form.Action != "https://idp.example/sso" || start.Form.Fields["RelayState"] != start.State {
			e.t.Fatalf("the form: %+v", start.Form)
		}
		v := url.Values{}
		for k, x := range start.Form.Fields {
			v.Set(k, x)
		}
		r, _ = http.NewRequest(http.MethodPost, start.Form.Action, strings.NewReader(v.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		u, _ := url.Parse(start.URL)
		if u.Query().Get("SigAlg") != dsig.RSASHA256SignatureMethod || u.Query().Get("Signature") == "" || u.Query().Get("RelayState") != start.State {
			e.t.Fatalf("the redirect is not signed with RSA-SHA256 or lacks the state: %s", start.URL)
		}
		r, _ = http.NewRequest(http.MethodGet, start.URL, nil)
	}
	e.idp.Clock = dsig.NewFakeClockAt(e.clock.Now())
	req, err := saml.NewIdpAuthnRequest(e.idp, r)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := req.Validate(); err != nil {
		e.t.Fatalf("the IdP refused usher's AuthnRequest: %v", err)
	}
	if req.Request.NameIDPolicy == nil || *req.Request.NameIDPolicy.Format != string(saml.PersistentNameIDFormat) {
		e.t.Fatalf("NameIDPolicy: %+v", req.Request.NameIDPolicy)
	}
	sess := &saml.Session{ID: "sess-1", NameID: "u-2002", NameIDFormat: string(saml.PersistentNameIDFormat), UserEmail: "ada@corp.example",
		UserGivenName: "Ada", UserSurname: "Lovelace", Groups: []string{"staff", "eng"}, CreateTime: e.clock.Now(), ExpireTime: e.clock.Now().Add(time.Hour)}
	if err := (saml.DefaultAssertionMaker{}).MakeAssertion(req, sess); err != nil {
		e.t.Fatal(err)
	}
	f, err := req.PostBinding()
	if err != nil {
		e.t.Fatal(err)
	}
	if f.URL != e.svc.ACSURL(e.tn, e.conn) {
		e.t.Fatalf("posted to %s", f.URL)
	}
	return form(f.SAMLResponse, f.RelayState)
}

func sqliteOnly(t testing.TB, now func() time.Time) *store.Store { return storetest.OpenSQLite(t, now) }

// TestSAMLSignIn: the whole SP-initiated round trip with a real IdP, whose
// assertion comes encrypted to usher's certificate: the request signed by
// the Redirect binding, the ACS, the same-site Done in the browser that
// started it, and the answer mapped; the state is then spent.
func TestSAMLSignIn(t *testing.T) {
	e := newSAMLEnv(t, sqliteOnly, nil)
	start, q := e.begin()
	f := e.idpResponse(start)
	raw, _ := base64.StdEncoding.DecodeString(f.Get("SAMLResponse"))
	if !bytes.Contains(raw, []byte("EncryptedAssertion")) || bytes.Contains(raw, []byte("ada@corp.example")) {
		t.Fatal("the IdP did not encrypt the assertion")
	}
	res, err := e.svc.ACS(e.ctx, e.tn, e.conn.ID, f)
	if err != nil {
		t.Fatal(err)
	}
	want := "https://corp.example/sso/" + e.conn.ID + "/done?state=" + url.QueryEscape(start.State)
	if res.Answer != nil || res.DoneURL != want {
		t.Fatalf("ACS: %+v, want DoneURL %s", res, want)
	}
	got, _ := e.st.Read().SSORequest(e.ctx, e.tn.ID, q.ID)
	if got.AnsweredAt == nil || got.UsedAt != nil {
		t.Fatalf("the request after the ACS: %+v", got)
	}
	a, err := e.svc.Done(e.ctx, e.tn, e.conn.ID, start.State, start.State)
	if err != nil {
		t.Fatal(err)
	}
	checkAnswer(t, a, "u-2002")
	if a.Purpose != PurposeSignIn || a.Next != "/apps" || a.Connection.ID != e.conn.ID || a.Claims["urn:oid:2.5.4.42"][0] != "Ada" {
		t.Fatalf("answer: %+v", a)
	}
	if _, err := e.svc.Done(e.ctx, e.tn, e.conn.ID, start.State, start.State); err != ErrExpired {
		t.Fatalf("Done twice: %v", err)
	}
}

// TestSAMLSignedAssertion: an unsigned Response carrying a signed
// assertion, and a signed Response carrying an unsigned one, are both
// accepted; attributes are found by Name.
func TestSAMLSignedAssertion(t *testing.T) {
	e := newSAMLEnv(t, sqliteOnly, nil)
	for _, signMsg := range []bool{false, true} {
		start, q := e.begin()
		s := e.spec(q.RequestID)
		s.signAssertion, s.signMsg = !signMsg, signMsg
		if _, err := e.svc.ACS(e.ctx, e.tn, e.conn.ID, form(e.craft(s), start.State)); err != nil {
			t.Fatalf("signed response %v: %v", signMsg, err)
		}
		a, err := e.svc.Done(e.ctx, e.tn, e.conn.ID, start.State, start.State)
		if err != nil {
			t.Fatal(err)
		}
		checkAnswer(t, a, "u-1001")
	}
}

// TestSAMLRefusals: each crafted fault is refused by its own check, and a
// refused response leaves the sign-in unanswered.
func TestSAMLRefusals(t *testing.T) {
	e := newSAMLEnv(t, sqliteOnly, nil)
	cases := []struct {
		name   string
		edit   func(*spec)
		detail string
	}{
		{"unsigned", func(s *spec) { s.signAssertion = false }, "not signed"},
		{"signed by another key", func(s *spec) { s.signer = testKeys()[1] }, "signature is not the identity provider's"},
		{"tampered after signing", func(s *spec) { s.tamper = true }, "signature is not the identity provider's"},
		{"signed assertion beside an unsigned one", func(s *spec) { s.extraAssertion = true }, "2 assertions, not one"},
		{"signed response with several assertions", func(s *spec) { s.extraAssertion, s.signMsg = true, true }, "2 assertions, not one"},
		{"wrong audience", func(s *spec) { s.audience = "https://other.example/sp" }, "audience"},
		{"wrong recipient", func(s *spec) { s.recipient = "https://other.example/acs" }, "destination or recipient"},
		{"wrong destination", func(s *spec) { s.destination = "https://other.example/acs" }, "destination or recipient"},
		{"another issuer", func(s *spec) { s.issuer = "https://evil.example" }, "another issuer"},
		{"another request", func(s *spec) { s.inResponseTo = "id-other" }, "another request"},
		{"SHA-1 signature", func(s *spec) { s.method = dsig.RSASHA1SignatureMethod }, "SHA-1"},
		// Past usher's 90 s skew though within crewjam's 180 s.
		{"expired beyond the skew", func(s *spec) { s.ttl = -100 * time.Second }, "expired"},
		{"transient NameID", func(s *spec) { s.format = string(saml.TransientNameIDFormat) }, "transient"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			start, q := e.begin()
			s := e.spec(q.RequestID)
			c.edit(&s)
			_, err := e.svc.ACS(e.ctx, e.tn, e.conn.ID, form(e.craft(s), start.State))
			wantRefused(t, err, c.detail)
			if got, _ := e.st.Read().SSORequest(e.ctx, e.tn.ID, q.ID); got.AnsweredAt != nil {
				t.Fatal("a refused response answered the sign-in")
			}
			if _, err := e.svc.Done(e.ctx, e.tn, e.conn.ID, start.State, start.State); err != ErrExpired {
				t.Fatalf("Done after a refusal: %v", err)
			}
		})
	}
	// Within the skew an assertion just past NotOnOrAfter still passes.
	start, q := e.begin()
	s := e.spec(q.RequestID)
	s.ttl = -60 * time.Second
	if _, err := e.svc.ACS(e.ctx, e.tn, e.conn.ID, form(e.craft(s), start.State)); err != nil {
		t.Fatalf("within the skew: %v", err)
	}
}

// TestSAMLExpired: a good response posted after its NotOnOrAfter and the
// skew have passed is refused.
func TestSAMLExpired(t *testing.T) {
	e := newSAMLEnv(t, sqliteOnly, nil)
	start, q := e.begin()
	resp := e.craft(e.spec(q.RequestID))
	e.clock.Advance(5*time.Minute + samlSkew + time.Second)
	_, err := e.svc.ACS(e.ctx, e.tn, e.conn.ID, form(resp, start.State))
	wantRefused(t, err, "expired")
}

// TestSAMLReplay, on SQLite and PostgreSQL: a response posted again is
// refused, SP-initiated (its sign-in is answered) and IdP-initiated (the
// assertion is in the database's replay cache), also when posted at once
// from several places.
func TestSAMLReplay(t *testing.T) {
	for name, open := range map[string]opener{"sqlite": sqliteOnly, "postgres": storetest.OpenPostgres} {
		t.Run(name, func(t *testing.T) {
			e := newSAMLEnv(t, open, func(c *usher.Connection) { c.IdPInitiated = true })
			start, q := e.begin()
			f := form(e.craft(e.spec(q.RequestID)), start.State)
			if _, err := e.svc.ACS(e.ctx, e.tn, e.conn.ID, f); err != nil {
				t.Fatal(err)
			}
			if _, err := e.svc.ACS(e.ctx, e.tn, e.conn.ID, f); err != ErrExpired {
				t.Fatalf("SP-initiated, posted again: %v", err)
			}
			// Without its RelayState the same assertion is refused too: it
			// answers a request, so it is not unsolicited.
			f.Del("RelayState")
			_, err := e.svc.ACS(e.ctx, e.tn, e.conn.ID, f)
			wantRefused(t, err, "another request")

			unsolicited := form(e.craft(e.spec("")), "")
			if _, err := e.svc.ACS(e.ctx, e.tn, e.conn.ID, unsolicited); err != nil {
				t.Fatal(err)
			}
			_, err = e.svc.ACS(e.ctx, e.tn, e.conn.ID, unsolicited)
			if err != errReplay {
				t.Fatalf("IdP-initiated, posted again: %v", err)
			}
			race := form(e.craft(e.spec("")), "")
			ok, refusedN := storetest.Race(t, 4, errReplay, func(int) error {
				_, err := e.svc.ACS(e.ctx, e.tn, e.conn.ID, race)
				return err
			})
			if ok != 1 || refusedN != 3 {
				t.Fatalf("posted 4 times at once: %d accepted, %d refused", ok, refusedN)
			}
		})
	}
}

// TestSAMLUnsolicited: an IdP-initiated response is refused unless the
// connection accepts them; then it gives its answer at once.
func TestSAMLUnsolicited(t *testing.T) {
	e := newSAMLEnv(t, sqliteOnly, nil)
	_, err := e.svc.ACS(e.ctx, e.tn, e.conn.ID, form(e.craft(e.spec("")), "https://app.example/"))
	wantRefused(t, err, "unsolicited")

	on := newSAMLEnv(t, sqliteOnly, func(c *usher.Connection) { c.IdPInitiated = true })
	res, err := on.svc.ACS(on.ctx, on.tn, on.conn.ID, form(on.craft(on.spec("")), "https://app.example/"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Answer == nil || res.DoneURL != "" || res.Answer.Purpose != PurposeSignIn || res.Answer.Next != "" {
		t.Fatalf("IdP-initiated: %+v", res)
	}
	checkAnswer(t, *res.Answer, "u-1001")
}

// TestSAMLDoneElsewhere: the answer is picked up only in the browser that
// started the sign-in, and only once the IdP has answered.
func TestSAMLDoneElsewhere(t *testing.T) {
	e := newSAMLEnv(t, sqliteOnly, nil)
	start, q := e.begin()
	if _, err := e.svc.Done(e.ctx, e.tn, e.conn.ID, start.State, start.State); err != ErrExpired {
		t.Fatalf("Done before the IdP answered: %v", err)
	}
	if _, err := e.svc.ACS(e.ctx, e.tn, e.conn.ID, form(e.craft(e.spec(q.RequestID)), start.State)); err != nil {
		t.Fatal(err)
	}
	other, _ := secret.New()
	for _, cookie := range []string{"", other} {
		if _, err := e.svc.Done(e.ctx, e.tn, e.conn.ID, start.State, cookie); err != ErrBrowser {
			t.Fatalf("Done with cookie %q: %v", cookie, err)
		}
	}
	if _, err := e.svc.Done(e.ctx, e.tn, e.conn.ID, start.State, start.State); err != nil {
		t.Fatalf("then in the right browser: %v", err)
	}
}

// TestSAMLOversize: a SAMLResponse over 256 KB is refused before decoding.
func TestSAMLOversize(t *testing.T) {
	e := newSAMLEnv(t, sqliteOnly, nil)
	start, _ := e.begin()
	_, err := e.svc.ACS(e.ctx, e.tn, e.conn.ID, form(strings.Repeat("A", maxResponse+4), start.State))
	wantRefused(t, err, "256 KB")
}

// TestSAMLMetadata: the SP metadata names the entity, the ACS and the
// connection's certificate, and asks for signed assertions.
func TestSAMLMetadata(t *testing.T) {
	e := newSAMLEnv(t, sqliteOnly, nil)
	b, err := e.svc.Metadata(e.ctx, e.tn, e.conn.ID)
	if err != nil {
		t.Fatal(err)
	}
	var ed saml.EntityDescriptor
	if err := xml.Unmarshal(b, &ed); err != nil {
		t.Fatal(err)
	}
	if ed.EntityID != "https://corp.example/sso/"+e.conn.ID+"/metadata" || len(ed.SPSSODescriptors) != 1 {
		t.Fatalf("entity: %s", b)
	}
	d := ed.SPSSODescriptors[0]
	if len(d.AssertionConsumerServices) != 1 || d.AssertionConsumerServices[0].Location != "https://corp.example/sso/"+e.conn.ID+"/acs" ||
		d.AssertionConsumerServices[0].Binding != saml.HTTPPostBinding {
		t.Fatalf("ACS: %+v", d.AssertionConsumerServices)
	}
	if !*d.AuthnRequestsSigned || !*d.WantAssertionsSigned || len(d.NameIDFormats) != 1 || d.NameIDFormats[0] != saml.PersistentNameIDFormat {
		t.Fatalf("flags: %s", b)
	}
	blk, _ := pem.Decode([]byte(e.conn.SPCertificate))
	uses := map[string]bool{}
	for _, k := range d.KeyDescriptors {
		if k.KeyInfo.X509Data.X509Certificates[0].Data != base64.StdEncoding.EncodeToString(blk.Bytes) {
			t.Fatalf("%s key is not the connection's certificate", k.Use)
		}
		uses[k.Use] = true
	}
	if !uses["signing"] || !uses["encryption"] {
		t.Fatalf("key uses: %v", uses)
	}
	if _, err := e.svc.Metadata(e.ctx, e.tn, "nope"); err != ErrDisabled {
		t.Fatalf("unknown connection: %v", err)
	}
}

// TestSAMLPrepare: the key and certificate are made once, sealed, and kept
// when the connection is saved again; pasted metadata is checked.
func TestSAMLPrepare(t *testing.T) {
	e := newSAMLEnv(t, sqliteOnly, nil)
	c := e.conn
	if !secret.Sealed(c.SPKey) || strings.Contains(c.SPKey, "PRIVATE") || !strings.HasPrefix(c.SPCertificate, "-----BEGIN CERTIFICATE-----") {
		t.Fatalf("kept as %.40q / %.40q", c.SPKey, c.SPCertificate)
	}
	blk, _ := pem.Decode([]byte(c.SPCertificate))
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil || cert.Subject.CommonName != "usher Corp SAML" || cert.NotAfter.Sub(cert.NotBefore) < 9*365*24*time.Hour {
		t.Fatalf("certificate: %v %v", cert.Subject, err)
	}
	if _, _, err := e.svc.spKeys(c); err != nil {
		t.Fatal(err)
	}
	c.Name = "Corp SSO"
	if _, err := e.prov.SaveConnection(e.ctx, samlAdmin, e.tn, c.ID, provision.ConnectionInput{Connection: c}); err != nil {
		t.Fatal(err)
	}
	again, _ := e.st.Read().Connection(e.ctx, e.tn.ID, c.ID)
	if again.SPKey != c.SPKey || again.SPCertificate != c.SPCertificate || again.Name != "Corp SSO" {
		t.Fatal("the key changed on update")
	}
	// Bound to its connection.
	other := again
	other.ID = "another"
	if _, _, err := e.svc.spKeys(other); err == nil {
		t.Fatal("the sealed key opened for another connection")
	}
	// Without a box the PEM is kept as is, and read back.
	plain := &Service{now: time.Now}
	pc := usher.Connection{ID: "c1", TenantID: "t1", Name: "x"}
	if err := plain.prepareSAML(e.ctx, e.tn, &pc); err != nil || !strings.Contains(pc.SPKey, "PRIVATE KEY") {
		t.Fatalf("without a box: %v", err)
	}
	if _, _, err := plain.spKeys(pc); err != nil {
		t.Fatal(err)
	}

	spMeta, _ := e.svc.Metadata(e.ctx, e.tn, c.ID)
	noCert := strings.NewReplacer("<KeyDescriptor", "<Ignored", "</KeyDescriptor>", "</Ignored>").Replace(c.MetadataXML)
	bad := map[string]string{
		"not XML":          "<<<",
		"SP metadata":      string(spMeta),
		"no signing key":   noCert,
		"no SSO service":   strings.ReplaceAll(c.MetadataXML, "SingleSignOnService", "ArtifactResolutionService"),
		"two IdPs":         `<EntitiesDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata">` + strip(c.MetadataXML) + strip(c.MetadataXML) + `</EntitiesDescriptor>`,
		"larger than 1 MB": c.MetadataXML + "<!--" + strings.Repeat("x", maxMetadata) + "-->",
	}
	for name, x := range bad {
		in := again
		in.MetadataXML = x
		_, err := e.prov.SaveConnection(e.ctx, samlAdmin, e.tn, c.ID, provision.ConnectionInput{Connection: in})
		var ue *usher.Error
		if !errors.As(err, &ue) || ue.Field != "metadata_xml" {
			t.Errorf("%s: %v", name, err)
		}
	}
	// One IdP in an EntitiesDescriptor is fine.
	in := again
	in.MetadataXML = `<EntitiesDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata">` + strip(c.MetadataXML) + `</EntitiesDescriptor>`
	if _, err := e.prov.SaveConnection(e.ctx, samlAdmin, e.tn, c.ID, provision.ConnectionInput{Connection: in}); err != nil {
		t.Fatal(err)
	}
}

// strip drops an XML declaration.
func strip(x string) string {
	if strings.HasPrefix(x, "<?xml") {
		return x[strings.Index(x, "?>")+2:]
	}
	return x
}

// TestSAMLMetadataURL: metadata from a URL is fetched once an hour; when a
// refresh fails the last good copy serves; metadata over 1 MB is refused.
func TestSAMLMetadataURL(t *testing.T) {
	var mu sync.Mutex
	hits, fail := 0, false
	var md []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if r.URL.Path == "/big" {
			w.Write(bytes.Repeat([]byte(" "), maxMetadata+1))
			return
		}
		hits++
		if fail {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		w.Write(md)
	}))
	defer srv.Close()
	e := newSAMLEnv(t, sqliteOnly, func(c *usher.Connection) { c.MetadataURL, c.MetadataXML = srv.URL+"/md", "" })
	md, _ = xml.Marshal(e.idp.Metadata())
	want := func(n int) {
		t.Helper()
		start, _ := e.begin()
		if !strings.HasPrefix(start.URL, "https://idp.example/sso?") {
			t.Fatalf("start: %+v", start)
		}
		mu.Lock()
		defer mu.Unlock()
		if hits != n {
			t.Fatalf("%d fetches, want %d", hits, n)
		}
	}
	want(1)
	want(1)
	e.clock.Advance(metadataTTL + time.Second)
	want(2)
	mu.Lock()
	fail = true
	mu.Unlock()
	e.clock.Advance(metadataTTL + time.Second)
	want(3) // the refresh failed; the last good copy served
	want(3) // and is not asked again at once
	e.clock.Advance(metadataRetry + time.Second)
	want(4)
	// A copy older than metadataStale is no longer trusted.
	e.clock.Advance(metadataStale)
	if _, err := e.svc.Begin(e.ctx, e.tn, e.conn, Begin{Purpose: PurposeSignIn}); err == nil {
		t.Fatal("metadata unreachable for a day still trusted")
	}

	big := e.conn
	big.ID, big.MetadataURL = "big", srv.URL+"/big"
	_, err := e.svc.Begin(e.ctx, e.tn, big, Begin{Purpose: PurposeSignIn})
	wantRefused(t, err, "could not be read")
}

// BenchmarkSAMLACS: a SAML callback to its answer (ACS and Done), one at a
// time; each op's sign-in and signed response are made off the clock.
func BenchmarkSAMLACS(b *testing.B) {
	for name, open := range map[string]opener{"sqlite": sqliteOnly, "postgres": storetest.OpenPostgres} {
		b.Run(name, func(b *testing.B) {
			if name == "postgres" && storetest.PostgresURL() == "" {
				b.Skip("USHER_TEST_POSTGRES_URL is not set")
			}
			e := newSAMLEnv(b, open, nil)
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				start, q := e.begin()
				f := form(e.craft(e.spec(q.RequestID)), start.State)
				b.StartTimer()
				if _, err := e.svc.ACS(e.ctx, e.tn, e.conn.ID, f); err != nil {
					b.Fatal(err)
				}
				if _, err := e.svc.Done(e.ctx, e.tn, e.conn.ID, start.State, start.State); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "signins/s")
		})
	}
}

// TestSAMLPostBinding: an IdP without the Redirect binding gets the
// AuthnRequest by an auto-submitted form, signed inside the XML.
func TestSAMLPostBinding(t *testing.T) {
	e := newSAMLEnv(t, sqliteOnly, func(c *usher.Connection) {
		c.MetadataXML = strings.ReplaceAll(c.MetadataXML, saml.HTTPRedirectBinding, saml.HTTPArtifactBinding)
	})
	start, _ := e.begin()
	if start.URL != "" || start.Form == nil {
		t.Fatalf("start: %+v", start)
	}
	req, _ := base64.StdEncoding.DecodeString(start.Form.Fields["SAMLRequest"])
	if !bytes.Contains(req, []byte(dsig.RSASHA256SignatureMethod)) {
		t.Fatalf("the AuthnRequest is not signed: %s", req)
	}
	if _, err := e.svc.ACS(e.ctx, e.tn, e.conn.ID, e.idpResponse(start)); err != nil {
		t.Fatal(err)
	}
	a, err := e.svc.Done(e.ctx, e.tn, e.conn.ID, start.State, start.State)
	if err != nil {
		t.Fatal(err)
	}
	checkAnswer(t, a, "u-2002")
}

// TestSAMLSubjectAttribute: with the subject mapped to an attribute, a
// transient NameID is fine (and the request asks for no NameID format).
func TestSAMLSubjectAttribute(t *testing.T) {
	e := newSAMLEnv(t, sqliteOnly, func(c *usher.Connection) { c.Mapping.Subject = "employeeNumber" })
	start, q := e.begin()
	u, _ := url.Parse(start.URL)
	r, _ := http.NewRequest(http.MethodGet, u.String(), nil)
	ir, err := saml.NewIdpAuthnRequest(e.idp, r)
	if err != nil || ir.Validate() != nil || ir.Request.NameIDPolicy.Format != nil && *ir.Request.NameIDPolicy.Format != "" {
		t.Fatalf("NameIDPolicy: %+v %v", ir.Request.NameIDPolicy, err)
	}
	s := e.spec(q.RequestID)
	s.format, s.nameID = string(saml.TransientNameIDFormat), "_t1"
	s.attrs["employeeNumber"] = []string{"E-77"}
	if _, err := e.svc.ACS(e.ctx, e.tn, e.conn.ID, form(e.craft(s), start.State)); err != nil {
		t.Fatal(err)
	}
	a, err := e.svc.Done(e.ctx, e.tn, e.conn.ID, start.State, start.State)
	if err != nil {
		t.Fatal(err)
	}
	checkAnswer(t, a, "E-77")
}
