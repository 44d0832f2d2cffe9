package provision

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
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
	// systemName and exchange: the external system a link message is
	// about, and whether it takes credentials (Exchange on-premises).
	systemName string
	exchange   bool
}

// says is what a message says, stored with it as JSON (usher.Message.Data)
// and written out with the tenant's branding and templates when the message
// is sent or read. Storing the inputs rather than the text keeps a new
// account's transaction small: an invitation's text and HTML are ≈ 6 KB.
type says struct {
	FirstName    string `json:"first_name,omitempty"`
	Link         string `json:"link,omitempty"`
	Code         string `json:"code,omitempty"`
	CodeMinutes  int    `json:"code_minutes,omitempty"`
	SSO          bool   `json:"sso,omitempty"`
	SSOName      string `json:"sso_name,omitempty"`
	ExpiresHours int    `json:"expires_hours,omitempty"`
	SystemName   string `json:"system_name,omitempty"`
	Exchange     bool   `json:"exchange,omitempty"`
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

// render makes a message in the account's language (then the tenant's),
// holding what it says; Compose writes it out.
func (s *Service) render(kind, channel string, d renderData) (usher.Message, error) {
	v := says{FirstName: d.person.FirstName, Link: d.link, Code: d.code, SSO: d.sso, SSOName: d.ssoName,
		ExpiresHours: int(math.Round(d.expires.Hours())), SystemName: d.systemName, Exchange: d.exchange}
	if d.code != "" {
		v.CodeMinutes = int(CodeTTL / time.Minute)
	}
	// What would stop it being written out refuses the change now, not
	// when the message is sent.
	if err := message.Check(kind, v.data(d.tenant)); err != nil {
		return usher.Message{}, err
	}
	data, err := json.Marshal(v)
	if err != nil {
		return usher.Message{}, err
	}
	lang := message.Language(kind, d.account.Language, d.tenant.Settings.DefaultLanguage, overrides(d.tenant))
	return usher.Message{Kind: kind, Channel: channel, Language: lang, Data: string(data)}, nil
}

// data is what package message renders for v in tenant t.
func (v says) data(t usher.Tenant) message.Data {
	b := t.Settings.Branding
	return message.Data{
		TenantName:   t.Name,
		Branding:     message.Branding{ProductName: b.ProductName, Color: b.Color, LogoURL: b.LogoURL, SupportEmail: b.SupportEmail},
		FirstName:    v.FirstName,
		Link:         v.Link,
		Code:         v.Code,
		CodeMinutes:  v.CodeMinutes,
		SSO:          v.SSO,
		SSOName:      v.SSOName,
		ExpiresHours: v.ExpiresHours,
		SystemName:   v.SystemName,
		Exchange:     v.Exchange,
	}
}

// Compose writes out a message stored as what it says, with its tenant's
// branding and templates as they are now; other messages are returned as
// they are. A tenant template that fails falls back to the built-in part.
func (s *Service) Compose(ctx context.Context, m usher.Message) (usher.Message, error) {
	if m.Data == "" {
		return m, nil
	}
	t, err := s.st.Read().Tenant(ctx, m.TenantID)
	if err != nil {
		return m, fmt.Errorf("compose message %s: %w", m.ID, err)
	}
	return compose(t, m)
}

// HideSecretsSentBy tells which channels really deliver messages (an SMTP
// server, an SMS provider). Activation links and codes are bearer
// credentials: an administrator reading a message such a channel delivers
// sees that it went out, not the live secret. Where no channel exists (the
// embedded default), reading the message is the way to try usher, and the
// secret stays visible.
func (s *Service) HideSecretsSentBy(delivers func(channel string) bool) { s.delivers = delivers }

// ComposeAll is Compose for messages of tenant t, for administrators to
// read: a message that cannot be written out keeps an empty text and says
// why in its last_error, and the others are written out all the same.
func (s *Service) ComposeAll(t usher.Tenant, msgs []usher.Message) ([]usher.Message, error) {
	for i, m := range msgs {
		if m.Data == "" {
			continue
		}
		if m.TenantID != t.ID {
			return nil, fmt.Errorf("compose message %s: not of tenant %s", m.ID, t.ID)
		}
		if s.delivers != nil && s.delivers(m.Channel) {
			m.Data = hideSecrets(m.Data)
		}
		c, err := compose(t, m)
		if err != nil {
			c = m
			c.Data, c.LastError = "", "cannot be written out: "+err.Error()
		}
		msgs[i] = c
	}
	return msgs, nil
}

// ErrUnwritable marks a message that can never be written out (what it
// says is unreadable, or its templates refuse it): sending it again will
// not help.
var ErrUnwritable = errors.New("the message cannot be written out")

func compose(t usher.Tenant, m usher.Message) (usher.Message, error) {
	var v says
	if err := json.Unmarshal([]byte(m.Data), &v); err != nil {
		return m, fmt.Errorf("compose message %s: read what it says: %w: %w", m.ID, ErrUnwritable, err)
	}
	ov := overrides(t)
	r, err := message.Render(m.Kind, m.Language, t.Settings.DefaultLanguage, v.data(t), ov)
	var oe *message.OverrideError
	if err != nil && !errors.As(err, &oe) {
		return m, fmt.Errorf("compose message %s: %w: %w", m.ID, ErrUnwritable, err)
	}
	// The language it is written in now (a tenant may have dropped an
	// override since).
	m.Language = message.Language(m.Kind, m.Language, t.Settings.DefaultLanguage, ov)
	if m.Channel == usher.ChannelSMS {
		m.Body = r.SMS
	} else {
		m.Subject, m.Body, m.HTML = r.Subject, r.Text, r.HTML
	}
	m.Data = ""
	return m, nil
}

// hidden stands for a secret in a message an administrator reads.
const hidden = "hidden"

// hideSecrets masks the secret of an activation link (its last segment)
// and a code in what a message says; a link to a page without a secret
// (the sign-in page) stays.
func hideSecrets(data string) string {
	var v says
	if json.Unmarshal([]byte(data), &v) != nil {
		return data // compose reports it
	}
	if v.Link != "" && !v.SSO && strings.Contains(v.Link, "/activate/") {
		v.Link = v.Link[:strings.LastIndex(v.Link, "/")+1] + hidden
	}
	if v.Code != "" {
		v.Code = strings.Repeat("•", len(v.Code))
	}
	b, err := json.Marshal(v)
	if err != nil {
		return data
	}
	return string(b)
}
