// Package message renders the messages usher sends (invitations, welcomes,
// new activation links, password resets, one-time-password notices, and the
// requests to authorize or reconnect a linked external account) per
// kind and language, with the tenant's branding, and lets a tenant override
// any part of them.
//
// Every kind has four parts: a subject, a plain-text email body, an HTML
// email body and an SMS text. The built-in templates are embedded in the
// binary for the languages Languages lists. A tenant's Override replaces
// any of the four parts for a kind and language; an empty part falls back
// to the built-in one.
//
// # Template data
//
// Built-in and override templates run on the same value. It has every field
// of Data (.TenantName, .FirstName, .Link, .Code, .CodeMinutes,
// .ExpiresHours, .SSO, .SSOName, .SystemName, .Exchange,
// .Branding.ProductName, .Branding.Color, .Branding.LogoURL,
// .Branding.SupportEmail) and these helpers:
//
//	.Lang            the language of the message, e.g. "nl"
//	.Product         Branding.ProductName, or TenantName when that is empty
//	.ExpiresIn       ExpiresHours in words in the language: "7 days", "36 uur"
//	.CodeExpiresIn   CodeMinutes in words, short: "10 min"; empty without CodeMinutes
//	.ButtonColor     Branding.Color when it is a valid #rrggbb, else the default
//	.ButtonTextColor #ffffff or #000000, whichever reads on .ButtonColor
//	.Logo            Branding.LogoURL when it is an http(s) URL, else empty
//
// Subjects, plain text and SMS use text/template; HTML uses html/template,
// so data is escaped for its context there. Subjects and SMS texts come out
// on one line: line breaks and other control characters become spaces.
//
// Override templates may use the actions of text/template except
// {{template}}, {{define}}, {{block}} and {{range}}: a message needs none of
// them, and without them a template cannot loop or recurse. What a part
// renders is capped at 256 KB. CheckOverride validates an override before it
// is saved.
//
// No message ever carries a password: Data has no field for one.
package message
