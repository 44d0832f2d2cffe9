// Identifiers and free text as every way in and every lookup read them:
// pure functions, so signin, SCIM, SSO and imports normalize alike without
// importing provision.

package usher

import (
	"net/mail"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// NormalizeEmail trims and lowercases an email address and checks its form.
func NormalizeEmail(field, s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return "", nil
	}
	if len(s) > 254 {
		return "", Invalid(field, "is longer than 254 characters")
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return "", Invalid(field, "%q is not an email address", s)
	}
	local, domain, _ := strings.Cut(s, "@")
	if local == "" || !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") {
		return "", Invalid(field, "%q is not an email address", s)
	}
	return s, nil
}

// NormalizePhone accepts international numbers with spaces, dashes, dots
// or parentheses and returns them as E.164 (+ and 8 to 15 digits).
func NormalizePhone(field, s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == '+' && i == 0:
			b.WriteRune(r)
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == ' ' || r == '-' || r == '.' || r == '(' || r == ')':
		default:
			return "", Invalid(field, "%q is not a phone number: write it in international form, like +31 6 1234 5678", s)
		}
	}
	out := b.String()
	if strings.HasPrefix(out, "00") {
		out = "+" + out[2:]
	}
	if !strings.HasPrefix(out, "+") {
		return "", Invalid(field, "%q has no country code: write it in international form, like +31 6 1234 5678", s)
	}
	if n := len(out) - 1; n < 8 || n > 15 {
		return "", Invalid(field, "%q has %d digits; an international number has 8 to 15", s, n)
	}
	return out, nil
}

// CheckUsername allows letters, digits and . _ - (3 to 64 characters). It
// refuses what could be read as an email or a phone number, since all three
// share the sign-in box.
func CheckUsername(field, s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	if n := utf8.RuneCountInString(s); n < 3 || n > 64 {
		return "", Invalid(field, "must be 3 to 64 characters long")
	}
	digits := true
	for _, r := range s {
		if !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '.' || r == '_' || r == '-') {
			return "", Invalid(field, "may hold only letters, digits and . _ - (found %q)", r)
		}
		if !unicode.IsDigit(r) {
			digits = false
		}
	}
	if digits {
		return "", Invalid(field, "must not be all digits, so that it cannot be mistaken for a phone number")
	}
	return s, nil
}

// CleanText trims a free-text field and checks its length and characters.
func CleanText(field, s string, maxLen int) (string, error) {
	s = strings.TrimSpace(s)
	if !utf8.ValidString(s) {
		return "", Invalid(field, "is not valid UTF-8")
	}
	if utf8.RuneCountInString(s) > maxLen {
		return "", Invalid(field, "is longer than %d characters", maxLen)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return "", Invalid(field, "contains a control character")
		}
	}
	return s, nil
}

// CheckKey validates a machine key: lowercase letters, digits, - and _, 1 to 64.
func CheckKey(field, s string) (string, error) {
	if s == "" {
		return "", Invalid(field, "is required")
	}
	if len(s) > 64 {
		return "", Invalid(field, "is longer than 64 characters")
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return "", Invalid(field, "may hold only lowercase letters, digits, - and _ (found %q)", r)
		}
	}
	return s, nil
}

// CheckSlug validates a tenant slug: it becomes a DNS label.
func CheckSlug(s string) (string, error) {
	if len(s) < 2 || len(s) > 63 {
		return "", Invalid("slug", "must be 2 to 63 characters long")
	}
	for i, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' && i > 0 && i < len(s)-1) {
			return "", Invalid("slug", "may hold only lowercase letters, digits and inner hyphens (found %q)", r)
		}
	}
	switch s {
	case "www", "api", "admin", "console", "static", "scim", "oidc":
		return "", Invalid("slug", "%q is reserved", s)
	}
	return s, nil
}

// EmailDomain returns the part after the @.
func EmailDomain(email string) string {
	_, d, _ := strings.Cut(email, "@")
	return d
}

// NormalizeLogin brings a typed identifier to its stored form: emails and
// usernames lowercased, phone numbers to E.164.
func NormalizeLogin(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	if strings.HasPrefix(s, "+") || strings.HasPrefix(s, "00") {
		if p, err := NormalizePhone("login", s); err == nil {
			return p
		}
	}
	return strings.ToLower(s)
}

// IsEmail reports whether a normalized login is an email address (rather
// than a username or a phone number).
func IsEmail(login string) bool {
	local, domain, ok := strings.Cut(login, "@")
	return ok && local != "" && domain != ""
}

// maxURL bounds an address in the settings or a connection.
const maxURL = 2048

// CheckURL validates an address usher fetches or links to: https, or http
// to a loopback host (localhost, 127.0.0.1, ::1) for tests on one machine,
// as the session cookies allow; no control characters, no user or password,
// at most 2048 characters. bare also refuses a query and a fragment (an
// OpenID Connect issuer has neither).
func CheckURL(field, s string, bare bool) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	if len(s) > maxURL {
		return "", Invalid(field, "is longer than %d characters", maxURL)
	}
	if strings.ContainsFunc(s, unicode.IsControl) || strings.ContainsAny(s, " <>\"") {
		return "", Invalid(field, "holds a space, a control character or one of < > \"")
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return "", Invalid(field, "%q is not an absolute URL like https://login.example.com", s)
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && (u.Hostname() == "localhost" || u.Hostname() == "127.0.0.1" || u.Hostname() == "::1"):
	default:
		return "", Invalid(field, "must be an https:// address (http:// only to localhost)")
	}
	if u.User != nil {
		return "", Invalid(field, "must not hold a user name or password")
	}
	if bare && (u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(s, "#")) {
		return "", Invalid(field, "must not have a query or a fragment")
	}
	return s, nil
}
