package provision

import (
	"strings"

	"github.com/usherhq/usher"
)

// render writes a message's subject and body. It is deliberately plain:
// per-language, per-tenant templates belong to message delivery.
func render(kind, channel string, t usher.Tenant, p usher.Person, a usher.Account, link string) usher.Message {
	name := strings.TrimSpace(p.FirstName)
	if name == "" {
		name = "there"
	}
	var subject, action string
	switch {
	case kind == "welcome":
		subject = "Welcome to " + t.Name
	default:
		subject = "You are invited to " + t.Name
	}
	if a.AuthSystem == usher.AuthConnection {
		action = "Sign in with your company account: " + link
	} else {
		action = "Choose your password to activate your account: " + link
	}
	if channel == usher.ChannelSMS {
		return usher.Message{Kind: kind, Body: t.Name + ": " + action}
	}
	body := "Hello " + name + ",\n\n" + subject + ".\n\n" + action + "\n\nThis link works once. If it has expired, ask for a new one on the sign-in page.\n"
	return usher.Message{Kind: kind, Subject: subject, Body: body}
}
