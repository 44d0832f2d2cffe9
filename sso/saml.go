package sso

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/beevik/etree"
	"github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/secret"
	"github.com/usherhq/usher/store"
)

// The SAML 2.0 connector: usher is a service provider per connection; the
// checks of a Response are crewjam/saml's, with usher's own on top (one
// assertion only, a tighter clock skew, no transient subject, replays
// refused across replicas through the database).

// serviceProvider is usher at the connection's IdP, made per request: its
// Clock stands at s.now() for this request only.
func (s *Service) serviceProvider(tenant usher.Tenant, c usher.Connection, idp *saml.EntityDescriptor) (*saml.ServiceProvider, error) {
	key, cert, err := s.spKeys(c)
	if err != nil {
		return nil, err
	}
	mu, err := url.Parse(s.MetadataURL(tenant, c))
	if err != nil {
		return nil, err
	}
	acs, err := url.Parse(s.ACSURL(tenant, c))
	if err != nil {
		return nil, err
	}
	// A persistent NameID is the stable subject; when the mapping takes the
	// subject from an attribute, the IdP may send the NameID it likes.
	format := saml.PersistentNameIDFormat
	if _, ok := effective(c).names["subject"]; ok {
		format = saml.UnspecifiedNameIDFormat
	}
	return &saml.ServiceProvider{
		EntityID: mu.String(), Key: key, Certificate: cert, MetadataURL: *mu, AcsURL: *acs, IDPMetadata: idp,
		AuthnNameIDFormat: format, SignatureMethod: dsig.RSASHA256SignatureMethod,
		AssertionConsumerServiceBindings: []string{saml.HTTPPostBinding},
		// An IdP administrator may download the metadata once: no expiry.
		MetadataOmitValidUntil: true,
		Clock:                  dsig.NewFakeClockAt(s.now()),
		RejectSHA1Signatures:   true,
	}, nil
}

// beginSAML sends an AuthnRequest, signed: by the HTTP-Redirect binding if
// the IdP has it, else by HTTP-POST. RelayState is the state. loginHint is
// not sent: a Subject in the AuthnRequest makes some IdPs refuse it.
func (s *Service) beginSAML(ctx context.Context, tenant usher.Tenant, c usher.Connection, q *store.SSORequest, state, loginHint string) (Start, error) {
	idp, err := s.idpMetadata(ctx, c)
	if err != nil {
		return Start{}, err
	}
	sp, err := s.serviceProvider(tenant, c, idp)
	if err != nil {
		return Start{}, err
	}
	if q.Purpose == PurposeTest {
		force := true
		sp.ForceAuthn = &force
	}
	if loc := sp.GetSSOBindingLocation(saml.HTTPRedirectBinding); loc != "" {
		req, err := sp.MakeAuthenticationRequest(loc, saml.HTTPRedirectBinding, saml.HTTPPostBinding)
		if err != nil {
			return Start{}, err
		}
		u, err := req.Redirect(state, sp)
		if err != nil {
			return Start{}, err
		}
		q.RequestID = req.ID
		return Start{URL: u.String()}, nil
	}
	loc := sp.GetSSOBindingLocation(saml.HTTPPostBinding)
	req, err := sp.MakeAuthenticationRequest(loc, saml.HTTPPostBinding, saml.HTTPPostBinding)
	if err != nil {
		return Start{}, err
	}
	doc := etree.NewDocument()
	doc.SetRoot(req.Element())
	b, err := doc.WriteToBytes()
	if err != nil {
		return Start{}, err
	}
	q.RequestID = req.ID
	return Start{Form: &Form{Action: loc, Fields: map[string]string{"SAMLRequest": base64.StdEncoding.EncodeToString(b), "RelayState": state}}}, nil
}

// ACSResult is where a SAML Response posted to the ACS leads: for a
// sign-in usher started, the browser goes to DoneURL (same site, so its
// cookie comes along); an IdP-initiated one (where the connection allows
// it) gives its Answer at once.
type ACSResult struct {
	DoneURL string
	Answer  *Answer
}

// errReplay: the assertion was accepted before.
var errReplay = refused("the assertion was already used: a replay", nil)

// ACS reads a SAML Response posted to the connection's Assertion Consumer
// Service (HTTP-POST binding).
func (s *Service) ACS(ctx context.Context, tenant usher.Tenant, connID string, form url.Values) (ACSResult, error) {
	c, err := s.Connection(ctx, tenant, connID)
	if err != nil {
		return ACSResult{}, err
	}
	if c.Protocol != "saml" {
		return ACSResult{}, ErrDisabled
	}
	raw := form["SAMLResponse"]
	if len(raw) != 1 || raw[0] == "" {
		return ACSResult{}, refused("the form carries no SAMLResponse, or several", nil)
	}
	if len(raw[0]) > maxResponse {
		return ACSResult{}, refused("the SAMLResponse is larger than 256 KB", nil)
	}
	doc, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(raw[0]), ""))
	if err != nil {
		return ACSResult{}, refused("the SAMLResponse is not base64", err)
	}
	// The RelayState names the sign-in usher started; without one that is
	// under way, the response is unsolicited.
	relay := form.Get("RelayState")
	var q store.SSORequest
	solicited := false
	if relay != "" && len(relay) <= 100 {
		q, err = s.st.Read().SSORequest(ctx, tenant.ID, secret.Hash(relay))
		switch {
		case err == nil:
			if q.ConnectionID != c.ID || q.AnsweredAt != nil || q.UsedAt != nil || !q.ExpiresAt.After(s.now()) {
				return ACSResult{}, ErrExpired
			}
			solicited = true
		case !errors.Is(err, usher.ErrNotFound):
			return ACSResult{}, err
		}
	}
	if !solicited && !c.IdPInitiated {
		return ACSResult{}, refused("unsolicited response: no sign-in under way has this RelayState, and the connection does not accept IdP-initiated sign-in", nil)
	}
	if err := oneAssertion(doc); err != nil {
		return ACSResult{}, err
	}
	idp, err := s.idpMetadata(ctx, c)
	if err != nil {
		return ACSResult{}, err
	}
	sp, err := s.serviceProvider(tenant, c, idp)
	if err != nil {
		return ACSResult{}, err
	}
	var ids []string
	if solicited {
		ids = []string{q.RequestID}
	} else {
		// Only a response with no InResponseTo: one made for a request
		// cannot be replayed as unsolicited.
		sp.AllowIDPInitiated = true
		q = store.SSORequest{Purpose: PurposeSignIn}
	}
	a, err := sp.ParseXMLResponse(doc, ids, sp.AcsURL)
	if err != nil {
		var ire *saml.InvalidResponseError
		if errors.As(err, &ire) && ire.PrivateErr != nil {
			err = ire.PrivateErr
		}
		return ACSResult{}, refused(samlDetail(err), err)
	}
	got, expires, err := s.assertionFacts(c, a)
	if err != nil {
		return ACSResult{}, err
	}
	answer, err := s.answer(c, q, got)
	if err != nil {
		return ACSResult{}, err
	}
	enc, err := got.encode()
	if err != nil {
		return ACSResult{}, err
	}
	err = s.st.Write(ctx, func(tx *store.Tx) error {
		if solicited {
			cur, err := tx.SSORequest(ctx, tenant.ID, q.ID)
			if err != nil && !errors.Is(err, usher.ErrNotFound) {
				return err
			}
			if err != nil || cur.AnsweredAt != nil || cur.UsedAt != nil || cur.RequestID != q.RequestID {
				return ErrExpired
			}
		}
		if err := tx.AcceptAssertion(ctx, c.ID, a.ID, expires); errors.Is(err, usher.ErrConflict) {
			return errReplay
		} else if err != nil {
			return err
		}
		if solicited {
			return tx.AnswerSSORequest(ctx, q.ID, enc)
		}
		return nil
	})
	if errors.Is(err, usher.ErrConflict) {
		return ACSResult{}, ErrExpired
	} else if err != nil {
		return ACSResult{}, err
	}
	if !solicited {
		return ACSResult{Answer: &answer}, nil
	}
	return ACSResult{DoneURL: s.connURL(tenant, c.ID, "done") + "?state=" + url.QueryEscape(relay)}, nil
}

// oneAssertion refuses a Response with more than one assertion, signed or
// not: which one a consumer reads is where signature wrapping attacks hide
// (CVE-2022-41912).
func oneAssertion(doc []byte) error {
	d := xml.NewDecoder(bytes.NewReader(doc))
	depth, n := 0, 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		} else if err != nil {
			return refused("the SAMLResponse is not XML", err)
		}
		switch t := tok.(type) {
		case xml.Directive:
			return refused("the SAMLResponse has a DTD or other directive", nil)
		case xml.StartElement:
			depth++
			if depth == 1 && (t.Name.Space != "urn:oasis:names:tc:SAML:2.0:protocol" || t.Name.Local != "Response") {
				return refused("the SAMLResponse is not a SAML 2.0 Response", nil)
			}
			if depth == 2 && t.Name.Space == "urn:oasis:names:tc:SAML:2.0:assertion" && (t.Name.Local == "Assertion" || t.Name.Local == "EncryptedAssertion") {
				n++
			}
		case xml.EndElement:
			depth--
		}
	}
	if n != 1 {
		return refused(fmt.Sprintf("the Response carries %d assertions, not one", n), nil)
	}
	return nil
}

// samlDetail says which of crewjam's checks refused a Response.
func samlDetail(err error) string {
	var status saml.ErrBadStatus
	switch {
	case errors.As(err, &status):
		return "the identity provider refused the sign-in (status " + clip(status.Status, 200) + ")"
	case errors.Is(err, saml.ErrUnsupported) && strings.Contains(err.Error(), "SHA-1"):
		return "the SAML response is signed with SHA-1, which usher refuses"
	case errors.Is(err, saml.ErrCertificateNotValidNow):
		return "the identity provider's signing certificate has expired or is not valid yet"
	case errors.Is(err, saml.ErrInvalidSignature), errors.Is(err, saml.ErrUntrustedCertificate):
		return "the SAML response's signature is not the identity provider's"
	case strings.Contains(err.Error(), "signature element not present"):
		return "the SAML response is not signed"
	case errors.Is(err, saml.ErrAudienceMismatch):
		return "the assertion is meant for another service provider (audience)"
	case errors.Is(err, saml.ErrDestinationMismatch):
		return "the SAML response is meant for another address (destination or recipient)"
	case errors.Is(err, saml.ErrRequestIDMismatch):
		return "the SAML response answers another request (InResponseTo)"
	case errors.Is(err, saml.ErrExpired):
		return "the SAML response has expired"
	case errors.Is(err, saml.ErrNotYetValid):
		return "the SAML response is not valid yet"
	case errors.Is(err, saml.ErrIssuerMismatch):
		return "the SAML response comes from another issuer than the metadata's"
	case errors.Is(err, saml.ErrDecryptionFailed):
		return "the encrypted assertion could not be decrypted with usher's key"
	}
	return "the SAML response did not pass the checks"
}

// assertionFacts checks the assertion's times against usher's clock and
// skew, takes its subject and attributes, and says until when it must be
// remembered as used.
func (s *Service) assertionFacts(c usher.Connection, a *saml.Assertion) (received, time.Time, error) {
	now := s.now()
	if a.ID == "" || a.Subject == nil || a.Conditions == nil {
		return received{}, time.Time{}, refused("the assertion has no ID, subject or conditions", nil)
	}
	if nb := a.Conditions.NotBefore; !nb.IsZero() && now.Add(samlSkew).Before(nb) {
		return received{}, time.Time{}, refused("the assertion is not valid yet (NotBefore "+nb.UTC().Format(time.RFC3339)+")", nil)
	}
	if d := a.Conditions.NotOnOrAfter; !d.IsZero() && !now.Before(d.Add(samlSkew)) {
		return received{}, time.Time{}, refused("the assertion has expired (NotOnOrAfter "+d.UTC().Format(time.RFC3339)+")", nil)
	}
	// Remembered until no check would accept it any more, the library's
	// wider skew included.
	expires := a.IssueInstant.Add(saml.MaxIssueDelay)
	if a.Conditions.NotOnOrAfter.After(expires) {
		expires = a.Conditions.NotOnOrAfter
	}
	bearerOK := false
	for _, sc := range a.Subject.SubjectConfirmations {
		if sc.Method != "urn:oasis:names:tc:SAML:2.0:cm:bearer" || sc.SubjectConfirmationData == nil {
			continue
		}
		d := sc.SubjectConfirmationData.NotOnOrAfter
		bearerOK = bearerOK || now.Before(d.Add(samlSkew))
		if d.After(expires) {
			expires = d
		}
	}
	if !bearerOK {
		return received{}, time.Time{}, refused("the assertion's subject confirmation has expired", nil)
	}
	expires = expires.Add(saml.MaxClockSkew)

	got := received{Claims: map[string][]string{}}
	if id := a.Subject.NameID; id != nil {
		got.Subject = strings.TrimSpace(id.Value)
		if id.Format == string(saml.TransientNameIDFormat) {
			got.Subject = "" // another at each sign-in: never a subject
		}
	}
	if got.Subject == "" {
		if _, ok := effective(c).names["subject"]; !ok {
			return received{}, time.Time{}, refused("the NameID is transient or empty and the mapping names no subject attribute: ask the identity provider for a persistent NameID, or map the subject to an attribute", nil)
		}
	}
	for _, st := range a.AttributeStatements {
		for _, at := range st.Attributes {
			var vals []string
			for _, v := range at.Values {
				vals = append(vals, v.Value)
			}
			for _, n := range []string{at.Name, at.FriendlyName} {
				if n != "" {
					got.Claims[n] = append(got.Claims[n], vals...)
				}
			}
		}
	}
	return got, expires, nil
}

// Done picks up the answer of a SAML sign-in in the browser that started it.
func (s *Service) Done(ctx context.Context, tenant usher.Tenant, connID, state, cookie string) (Answer, error) {
	c, err := s.Connection(ctx, tenant, connID)
	if err != nil {
		return Answer{}, err
	}
	if c.Protocol != "saml" {
		return Answer{}, ErrDisabled
	}
	return s.Resume(ctx, tenant, connID, state, cookie)
}

// Metadata is the connection's service provider metadata.
func (s *Service) Metadata(ctx context.Context, tenant usher.Tenant, connID string) ([]byte, error) {
	c, err := s.Connection(ctx, tenant, connID)
	if err != nil {
		return nil, err
	}
	if c.Protocol != "saml" {
		return nil, ErrDisabled
	}
	sp, err := s.serviceProvider(tenant, c, nil)
	if err != nil {
		return nil, err
	}
	b, err := xml.MarshalIndent(sp.Metadata(), "", "  ")
	if err != nil {
		return nil, err
	}
	return append([]byte(xml.Header), b...), nil
}
