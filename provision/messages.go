package provision

import (
	"fmt"
	"strings"
	"time"

	"github.com/usherhq/usher"
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

// render writes a message's subject and body. It is deliberately plain:
// per-language, per-tenant templates belong to message delivery.
func (s *Service) render(kind, channel string, d renderData) (usher.Message, error) {
	t, p, link := d.tenant, d.person, d.link
	name := strings.TrimSpace(p.FirstName)
	if name == "" {
		name = "there"
	}
	var subject, action string
	switch {
	case kind == KindWelcome:
		subject = "Welcome to " + t.Name
	case kind == KindPasswordReset:
		subject = "Choose a new password for " + t.Name
	default:
		subject = "You are invited to " + t.Name
	}
	if d.sso {
		action = "Sign in with your company account: " + link
	} else {
		action = "Choose your password to activate your account: " + link
	}
	if channel == usher.ChannelSMS {
		body := t.Name + ": " + action
		if d.code != "" {
			body += fmt.Sprintf(" Code: %s", d.code)
		}
		return usher.Message{Kind: kind, Body: body}, nil
	}
	body := "Hello " + name + ",\n\n" + subject + ".\n\n" + action + "\n\nThis link works once. If it has expired, ask for a new one on the sign-in page.\n"
	return usher.Message{Kind: kind, Subject: subject, Body: body}, nil
}
