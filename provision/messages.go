package provision

import (
	"errors"
	"math"
	"time"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/message"
)

// renderData is what a message says.
type renderData struct {
	tenant  usher.Tenant
	person  usher.Person
	account usher.Account
	link    string
	code    string
	sso     bool
	ssoName string
	expires time.Duration
}

// overrides converts a tenant's template overrides to package message's.
func overrides(t usher.Tenant) map[string]message.Override {
	if len(t.Settings.Templates) == 0 {
		return nil
	}
	out := make(map[string]message.Override, len(t.Settings.Templates))
	for k, o := range t.Settings.Templates {
		out[k] = message.Override{Subject: o.Subject, Text: o.Text, HTML: o.HTML, SMS: o.SMS}
	}
	return out
}

// render writes a message in the account's language (then the tenant's),
// with the tenant's branding and templates. A tenant template that fails
// falls back to the built-in part rather than failing the change.
func (s *Service) render(kind, channel string, d renderData) (usher.Message, error) {
	b := d.tenant.Settings.Branding
	data := message.Data{
		TenantName: d.tenant.Name,
		Branding:   message.Branding{ProductName: b.ProductName, Color: b.Color, LogoURL: b.LogoURL, SupportEmail: b.SupportEmail},
		FirstName:  d.person.FirstName,
		Link:       d.link,
		Code:       d.code,
		SSO:        d.sso,
		SSOName:    d.ssoName,
	}
	if d.code != "" {
		data.CodeMinutes = int(CodeTTL / time.Minute)
	}
	data.ExpiresHours = int(math.Round(d.expires.Hours()))
	ov := overrides(d.tenant)
	r, err := message.Render(kind, d.account.Language, d.tenant.Settings.DefaultLanguage, data, ov)
	var oe *message.OverrideError
	if err != nil && !errors.As(err, &oe) {
		return usher.Message{}, err
	}
	m := usher.Message{Kind: kind, Language: message.Language(kind, d.account.Language, d.tenant.Settings.DefaultLanguage, ov)}
	if channel == usher.ChannelSMS {
		m.Body = r.SMS
	} else {
		m.Subject, m.Body, m.HTML = r.Subject, r.Text, r.HTML
	}
	return m, nil
}
