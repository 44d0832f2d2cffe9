package message

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
)

// Kinds of message.
const (
	// KindInvitation: an administrator or a way in created an account.
	KindInvitation = "invitation"
	// KindWelcome: a contact was related to a site for the first time.
	KindWelcome = "welcome"
	// KindActivation: a new activation message was asked for (a resend, or
	// "send me a new link"); the links sent before no longer work.
	KindActivation = "activation"
	// KindPasswordReset: an active account is sent a link to choose a new
	// password.
	KindPasswordReset = "password_reset"
	// KindOneTimePassword: an administrator set a one-time password. The
	// message says one was set and whom to ask for it; it never contains it.
	KindOneTimePassword = "one_time_password_set"
	// KindRegistration: a person registered themselves (or through a
	// sign-up link) and confirms their address by activating.
	KindRegistration = "registration"
	// KindIdentityJoined: an account in another tenant now signs in with
	// the person's existing identity; they are told, in case it was not them.
	KindIdentityJoined = "identity_joined"
	// KindLinkAuthorize: an administrator linked the account to the
	// person's account in an external (calendar) system; the person is
	// asked to authorize the access, so the product can synchronize. Data
	// names the system (SystemName) and, for Exchange on-premises, asks for
	// the person's credentials instead of their consent (Exchange).
	KindLinkAuthorize = "link_authorize"
	// KindLinkReauthorize: the connection to the person's account in an
	// external system stopped working (access withdrawn, password changed,
	// consent expired); they are asked to (re)activate synchronization.
	KindLinkReauthorize = "link_reauthorize"
)

// Parts of a message, as named in errors.
const (
	PartSubject = "subject"
	PartText    = "text"
	PartHTML    = "html"
	PartSMS     = "sms"
)

// Branding is how a tenant's messages look.
type Branding struct {
	ProductName  string // shown instead of the tenant's name when set
	Color        string // #rrggbb, for the HTML button
	LogoURL      string // http(s) URL of the logo in the HTML email
	SupportEmail string // where to ask questions, when set
}

// Data is what a message says. It deliberately has no field for a password.
type Data struct {
	TenantName   string
	Branding     Branding
	FirstName    string
	Link         string // activation link or sign-in link; required
	Code         string // short numeric code for SMS, may be empty
	CodeMinutes  int    // how long the code is valid
	ExpiresHours int    // how long the link is valid; 0 means 7 days
	// SSO: the account signs in with the company's SSO, so the message says
	// "sign in with your company account" instead of "choose your password".
	SSO     bool
	SSOName string // the connection's name, e.g. "Contoso Entra ID"
	// SystemName is the external system a link message is about, e.g.
	// "Google Workspace"; required for KindLinkAuthorize and
	// KindLinkReauthorize.
	SystemName string
	// Exchange: the external system takes the person's user name and
	// password (Exchange on-premises), so a link message asks them to enter
	// their credentials rather than to allow access.
	Exchange bool
}

// Rendered is a message ready to send: Subject, Text and HTML for an email,
// SMS for a text message.
type Rendered struct {
	Subject, Text, HTML, SMS string
}

// Override is a tenant's templates for one kind and language. An empty part
// uses the built-in template.
type Override struct {
	Subject, Text, HTML, SMS string
}

func (o Override) part(p string) string {
	switch p {
	case PartSubject:
		return o.Subject
	case PartText:
		return o.Text
	case PartHTML:
		return o.HTML
	default:
		return o.SMS
	}
}

func (o Override) empty() bool {
	for _, p := range parts {
		if strings.TrimSpace(o.part(p)) != "" {
			return false
		}
	}
	return true
}

// OverrideError is a tenant override that does not work: it does not parse,
// fails to run, or uses what it may not.
type OverrideError struct {
	Kind string
	Lang string // empty from CheckOverride
	Part string // PartSubject, PartText, PartHTML or PartSMS
	Err  error
}

func (e *OverrideError) Error() string {
	where := e.Kind
	if e.Lang != "" {
		where += "." + e.Lang
	}
	return fmt.Sprintf("message: %s template of %s: %v", e.Part, where, e.Err)
}

func (e *OverrideError) Unwrap() error { return e.Err }

var (
	languages = []string{"en", "nl", "de", "fr", "sv", "nb"}
	kinds     = []string{KindInvitation, KindWelcome, KindActivation, KindPasswordReset, KindOneTimePassword, KindRegistration, KindIdentityJoined, KindLinkAuthorize, KindLinkReauthorize}
	parts     = []string{PartSubject, PartText, PartHTML, PartSMS}
)

// Languages lists the built-in languages: en, nl, de, fr, sv, nb.
func Languages() []string { return append([]string(nil), languages...) }

// Kinds lists the kinds of message.
func Kinds() []string { return append([]string(nil), kinds...) }

// OverrideKey is the key of an override in the map Render takes.
func OverrideKey(kind, lang string) string { return kind + "." + lang }

func builtIn(lang string) bool {
	for _, l := range languages {
		if l == lang {
			return true
		}
	}
	return false
}

func knownKind(kind string) bool {
	for _, k := range kinds {
		if k == kind {
			return true
		}
	}
	return false
}

// linkKind reports whether kind is about a linked external account.
func linkKind(kind string) bool {
	return kind == KindLinkAuthorize || kind == KindLinkReauthorize
}

// candidates lists the forms of a language tag to try, most specific first:
// "nl_BE" gives "nl_BE", "nl-be", "nl"; "no" (Norwegian) also gives "nb".
func candidates(tag string) []string {
	tag = strings.TrimSpace(tag)
	if tag == "" {
		return nil
	}
	out := []string{tag}
	add := func(s string) {
		for _, c := range out {
			if c == s {
				return
			}
		}
		out = append(out, s)
	}
	low := strings.ToLower(strings.ReplaceAll(tag, "_", "-"))
	add(low)
	base := low
	if i := strings.IndexByte(low, '-'); i > 0 {
		base = low[:i]
		add(base)
	}
	if base == "no" {
		add("nb")
	}
	return out
}

// resolve picks the message's language and the built-in language that
// supplies the parts an override leaves out.
func resolve(kind, lang, fallback string, overrides map[string]Override) (chosen, base string) {
	chain := append(candidates(lang), candidates(fallback)...)
	chain = append(chain, "en")
	for i, c := range chain {
		o, ok := overrides[OverrideKey(kind, c)]
		if (ok && !o.empty()) || builtIn(c) {
			for _, b := range chain[i:] {
				if builtIn(b) {
					return c, b
				}
			}
		}
	}
	return "en", "en" // not reached: the chain ends with "en"
}

// Language reports the language Render uses for these arguments: lang if
// it is built in or overridden for kind, else fallback, else "en". Set it
// as the message's language.
func Language(kind, lang, fallback string, overrides map[string]Override) string {
	chosen, _ := resolve(kind, lang, fallback, overrides)
	return chosen
}

// Check reports what would stop Render for kind and d whatever the
// templates: an unknown kind, a link that is not an absolute http(s) URL,
// no tenant or product name, a link message without SystemName. A message stored to be rendered later is
// checked so when it is made.
func Check(kind string, d Data) error {
	if !knownKind(kind) {
		return fmt.Errorf("message: unknown kind %q", kind)
	}
	if !webURL(d.Link) {
		return errors.New("message: Data.Link must be an absolute http(s) URL")
	}
	if strings.TrimSpace(d.TenantName) == "" && strings.TrimSpace(d.Branding.ProductName) == "" {
		return errors.New("message: Data.TenantName or Data.Branding.ProductName is required")
	}
	if linkKind(kind) && strings.TrimSpace(d.SystemName) == "" {
		return fmt.Errorf("message: Data.SystemName is required for %s", kind)
	}
	return nil
}

// Render renders a message of kind in lang, with fallback as the language
// to use when lang is neither built in nor overridden, and "en" after that.
// overrides are the tenant's templates keyed by OverrideKey(kind, lang); it
// may be nil.
//
// An override that fails here (CheckOverride should have caught it) does
// not stop the message: its part is rendered from the built-in template and
// Render returns the complete Rendered together with an *OverrideError, so
// the caller can send the message and log the error. Any other error leaves
// Rendered empty.
func Render(kind, lang, fallback string, d Data, overrides map[string]Override) (Rendered, error) {
	if err := Check(kind, d); err != nil {
		return Rendered{}, err
	}
	sets, err := load()
	if err != nil {
		return Rendered{}, err
	}
	chosen, base := resolve(kind, lang, fallback, overrides)
	set := sets[OverrideKey(kind, base)]
	bv := newFields(d, base, base)
	ov := newFields(d, chosen, base)
	o := overrides[OverrideKey(kind, chosen)]

	var r Rendered
	var oerr error
	for _, p := range parts {
		var out string
		if src := o.part(p); strings.TrimSpace(src) != "" {
			out, err = runOverride(p, src, ov)
			if err != nil {
				if oerr == nil {
					oerr = &OverrideError{Kind: kind, Lang: chosen, Part: p, Err: err}
				}
				out = ""
			}
		}
		if out == "" {
			out, err = set.run(p, bv)
			if err != nil {
				return Rendered{}, fmt.Errorf("message: built-in %s template of %s.%s: %w", p, kind, base, err)
			}
		}
		switch p {
		case PartSubject:
			r.Subject = out
		case PartText:
			r.Text = out
		case PartHTML:
			r.HTML = out
		case PartSMS:
			r.SMS = out
		}
	}
	return r, oerr
}

// maxOutput bounds what one part may render to.
const maxOutput = 256 << 10

var errTooLong = fmt.Errorf("the output is longer than %d KB", maxOutput>>10)

// limited is a buffer that refuses to grow past maxOutput, which stops a
// template's execution.
type limited struct{ bytes.Buffer }

func (l *limited) Write(p []byte) (int, error) {
	if l.Len()+len(p) > maxOutput {
		return 0, errTooLong
	}
	return l.Buffer.Write(p)
}

// oneLine makes a subject or SMS a single line: every run of white space
// and control characters becomes one space.
func oneLine(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == ' ' || r == '\u2028' || r == '\u2029' {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	return b.String()
}

// tidyText trims trailing blanks on each line, keeps at most one empty line
// in a row, and ends the text with one newline.
func tidyText(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	lines := strings.Split(s, "\n")
	var b strings.Builder
	b.Grow(len(s))
	blank := 0
	for _, l := range lines {
		l = strings.TrimRight(l, " \t")
		if l == "" {
			blank++
			continue
		}
		if b.Len() > 0 {
			b.WriteString("\n")
			if blank > 0 {
				b.WriteString("\n")
			}
		}
		blank = 0
		b.WriteString(l)
	}
	b.WriteString("\n")
	return b.String()
}
