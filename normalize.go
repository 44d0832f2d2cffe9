// Identifiers and free text as every way in and every lookup read them:
// pure functions, so signin, SCIM, SSO and imports normalize alike without
// importing provision.

package usher

import (
	"fmt"
	"net/mail"
	"net/url"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// fold brings typed text to the one form identifiers are kept and looked
// up in: without invisible characters (zero-width spaces and joiners, bidi
// controls, soft hyphens, variation selectors), then NFKC, so that the
// full-width "ａ" and other compatibility forms are the plain letters.
// Two strings that look the same this way are the same login.
func fold(s string) string {
	if printableASCII(s) {
		return s // no invisible character, and NFKC leaves ASCII as it is
	}
	s = strings.Map(func(r rune) rune {
		if invisible(r) {
			return -1
		}
		return r
	}, s)
	return norm.NFKC.String(s)
}

// printableASCII reports whether s holds only ASCII from space to tilde,
// as most names and addresses do.
func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// invisible reports a character that is not seen where it stands.
func invisible(r rune) bool {
	return unicode.Is(unicode.Cf, r) || unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r) || unicode.Is(unicode.Variation_Selector, r)
}

// NormalizeEmail folds (see fold), trims and lowercases an email address
// and checks its form: a domain of dotted names (no IP address, no
// underscore, no hyphen at either end of a name), and letters of one
// script in the local part and in each name of the domain, since
// "аdmin" with a Cyrillic а is another address that reads the same.
func NormalizeEmail(field, s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(fold(s)))
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
	i := strings.LastIndex(s, "@")
	local, domain := s[:i], s[i+1:]
	if local == "" {
		return "", Invalid(field, "%q is not an email address", s)
	}
	if err := checkDomain(domain); err != "" {
		return "", Invalid(field, "%q is not an email address: %s", s, err)
	}
	if a, b := mixedScripts(local); a != "" {
		return "", Invalid(field, "%q mixes %s and %s letters, as addresses made to look like others do; write it in one script", s, a, b)
	}
	return s, nil
}

// checkDomain says what is wrong with an email's domain, or "".
func checkDomain(d string) string {
	labels := strings.Split(d, ".")
	if strings.HasPrefix(d, "[") || len(labels) < 2 {
		return "its domain must be a name like example.com, not an IP address"
	}
	for _, l := range labels {
		if l == "" || utf8.RuneCountInString(l) > 63 {
			return "each part of its domain between dots must be 1 to 63 characters long"
		}
		if l[0] == '-' || l[len(l)-1] == '-' {
			return fmt.Sprintf("the part %q of its domain begins or ends with a hyphen", l)
		}
		for _, r := range l {
			if !(unicode.IsLetter(r) || unicode.Is(unicode.Mn, r) || r >= '0' && r <= '9' || r == '-') {
				return fmt.Sprintf("its domain may hold only letters, digits, hyphens and dots (found %q)", r)
			}
		}
		if a, b := mixedScripts(l); a != "" {
			return fmt.Sprintf("the part %q of its domain mixes %s and %s letters, as domains made to look like others do", l, a, b)
		}
	}
	if strings.Trim(labels[len(labels)-1], "0123456789") == "" {
		return "its domain must be a name like example.com, not an IP address"
	}
	return ""
}

// scriptSets are the scripts that may be mixed in one word: Latin with
// Japanese, Chinese or Korean writing (Unicode's "highly restrictive"
// level of UTS #39). Any other mix is a look-alike's mark.
var scriptSets = [][]string{{"Latin", "Han", "Hiragana", "Katakana"}, {"Latin", "Han", "Bopomofo"}, {"Latin", "Han", "Hangul"}}

// mixedScripts returns two scripts whose letters s mixes beyond
// scriptSets, or "" when it writes in one. Digits, punctuation and
// combining marks belong to every script.
func mixedScripts(s string) (string, string) {
	var seen []string
	for _, r := range s {
		if r < 0x80 && !unicode.IsLetter(r) {
			continue
		}
		if sc := scriptOf(r); sc != "" && !slices.Contains(seen, sc) {
			seen = append(seen, sc)
		}
	}
	if len(seen) < 2 {
		return "", ""
	}
	for _, set := range scriptSets {
		if !slices.ContainsFunc(seen, func(sc string) bool { return !slices.Contains(set, sc) }) {
			return "", ""
		}
	}
	return seen[0], seen[1]
}

// scriptOf is the script of a letter, "" for characters common to all.
func scriptOf(r rune) string {
	if r < 0x80 {
		return "Latin"
	}
	if unicode.Is(unicode.Common, r) || unicode.Is(unicode.Inherited, r) {
		return ""
	}
	for name, t := range unicode.Scripts {
		if unicode.Is(t, r) {
			return name
		}
	}
	return ""
}

// NormalizePhone accepts international numbers with spaces, dashes, dots
// or parentheses and returns them as E.164 (+ and 8 to 15 digits).
func NormalizePhone(field, s string) (string, error) {
	s = strings.TrimSpace(fold(s))
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

// CheckUsername folds a username (see fold) and allows letters of one
// script, digits and . _ - (3 to 64 characters). It refuses what could be
// read as an email or a phone number, since all three share the sign-in
// box.
func CheckUsername(field, s string) (string, error) {
	s = strings.TrimSpace(fold(s))
	if s == "" {
		return "", nil
	}
	if n := utf8.RuneCountInString(s); n < 3 || n > 64 {
		return "", Invalid(field, "must be 3 to 64 characters long")
	}
	digits := true
	for _, r := range s {
		if !(unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r) || r == '.' || r == '_' || r == '-') {
			return "", Invalid(field, "may hold only letters, digits and . _ - (found %q)", r)
		}
		if !unicode.IsDigit(r) {
			digits = false
		}
	}
	if digits {
		return "", Invalid(field, "must not be all digits, so that it cannot be mistaken for a phone number")
	}
	if a, b := mixedScripts(s); a != "" {
		return "", Invalid(field, "%q mixes %s and %s letters, as names made to look like others do; write it in one script", s, a, b)
	}
	return s, nil
}

// CleanText trims a free-text field and checks its length and characters:
// no control characters, and none of the invisible ones that make text
// read otherwise than it is stored (bidi overrides, zero-width spaces).
// A zero-width joiner or non-joiner inside a word stays: Persian and Indic
// names and emoji need them.
func CleanText(field, s string, maxLen int) (string, error) {
	s = strings.TrimSpace(s)
	if !utf8.ValidString(s) {
		return "", Invalid(field, "is not valid UTF-8")
	}
	if utf8.RuneCountInString(s) > maxLen {
		return "", Invalid(field, "is longer than %d characters", maxLen)
	}
	rs := []rune(s)
	for i, r := range rs {
		switch {
		case unicode.IsControl(r):
			return "", Invalid(field, "contains a control character")
		case bidiControl(r):
			return "", Invalid(field, "contains an invisible character that changes the direction of text (U+%04X)", r)
		case r == '\u200c' || r == '\u200d':
			if i == 0 || i == len(rs)-1 || !wordRune(rs[i-1]) || !wordRune(rs[i+1]) {
				return "", Invalid(field, "contains a zero-width joiner outside a word (U+%04X)", r)
			}
		case invisible(r) && !unicode.Is(unicode.Variation_Selector, r):
			return "", Invalid(field, "contains an invisible character (U+%04X)", r)
		}
	}
	return s, nil
}

// bidiControl reports the marks, embeddings, overrides and isolates that
// reorder text on screen.
func bidiControl(r rune) bool {
	return r == '\u061c' || r == '\u200e' || r == '\u200f' || r >= '\u202a' && r <= '\u202e' || r >= '\u2066' && r <= '\u2069'
}

func wordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsMark(r) || unicode.Is(unicode.So, r)
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

// NormalizeLogin brings a typed identifier to its stored form, as the
// normalizers above do: folded (see fold), emails and usernames
// lowercased, phone numbers to E.164. A person who types the full-width
// form of their address finds their account.
func NormalizeLogin(s string) string {
	s = strings.TrimSpace(fold(s))
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
