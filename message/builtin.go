package message

import (
	"embed"
	"fmt"
	htmltemplate "html/template"
	"math"
	"net/url"
	"strconv"
	"strings"
	"sync"
	texttemplate "text/template"
)

// The built-in templates: layout.txt.tmpl and layout.html.tmpl lay out the
// text and HTML bodies; each <lang>.tmpl defines the words, shared pieces
// first and then, for every kind, the pieces below as "<kind>.<piece>".
//
//go:embed templates/*.tmpl
var files embed.FS

// pieces every language defines for every kind.
var pieces = []string{"subject", "intro", "instruction", "action", "note", "outro", "sms"}

// shared pieces every language defines once.
var shared = []string{"greeting", "copyhint", "help", "footer"}

// builtinSet is the built-in templates of one kind and language. Its text
// set defines "subject", "text" and "sms"; its HTML set defines "html".
type builtinSet struct {
	text *texttemplate.Template
	html *htmltemplate.Template
}

func (s *builtinSet) run(part string, v *fields) (string, error) {
	var b limited
	var err error
	if part == PartHTML {
		err = s.html.ExecuteTemplate(&b, "html", v)
	} else {
		err = s.text.ExecuteTemplate(&b, part, v)
	}
	if err != nil {
		return "", err
	}
	switch part {
	case PartText:
		return tidyText(b.String()), nil
	case PartSubject, PartSMS:
		return oneLine(b.String()), nil
	}
	return b.String(), nil
}

var (
	loadOnce sync.Once
	loaded   map[string]*builtinSet // by OverrideKey(kind, lang)
	loadErr  error
)

// load parses the built-in templates the first time it is called.
func load() (map[string]*builtinSet, error) {
	loadOnce.Do(func() { loaded, loadErr = build() })
	return loaded, loadErr
}

func build() (map[string]*builtinSet, error) {
	textLayout, err := files.ReadFile("templates/layout.txt.tmpl")
	if err != nil {
		return nil, err
	}
	htmlLayout, err := files.ReadFile("templates/layout.html.tmpl")
	if err != nil {
		return nil, err
	}
	sets := make(map[string]*builtinSet, len(languages)*len(kinds))
	for _, lang := range languages {
		words, err := files.ReadFile("templates/" + lang + ".tmpl")
		if err != nil {
			return nil, err
		}
		tt := texttemplate.New(lang)
		ht := htmltemplate.New(lang)
		for _, src := range []string{string(textLayout), string(words)} {
			if _, err := tt.Parse(src); err != nil {
				return nil, fmt.Errorf("message: built-in templates of %s: %w", lang, err)
			}
		}
		for _, src := range []string{string(htmlLayout), string(words)} {
			if _, err := ht.Parse(src); err != nil {
				return nil, fmt.Errorf("message: built-in templates of %s: %w", lang, err)
			}
		}
		for _, name := range shared {
			if tt.Lookup(name) == nil {
				return nil, fmt.Errorf("message: built-in templates of %s: %q is not defined", lang, name)
			}
		}
		for _, kind := range kinds {
			alias := aliases(kind)
			kt, err := tt.Clone()
			if err == nil {
				_, err = kt.Parse(alias)
			}
			if err != nil {
				return nil, fmt.Errorf("message: built-in templates of %s.%s: %w", kind, lang, err)
			}
			kh, err := ht.Clone()
			if err == nil {
				_, err = kh.Parse(alias)
			}
			if err != nil {
				return nil, fmt.Errorf("message: built-in templates of %s.%s: %w", kind, lang, err)
			}
			for _, p := range pieces {
				if tt.Lookup(kind+"."+p) == nil {
					return nil, fmt.Errorf("message: built-in templates of %s: %q is not defined", lang, kind+"."+p)
				}
			}
			sets[OverrideKey(kind, lang)] = &builtinSet{text: kt, html: kh}
		}
	}
	return sets, nil
}

// aliases defines each piece's plain name as the kind's piece, so that the
// layouts need not know the kind: "intro" runs "invitation.intro".
func aliases(kind string) string {
	var b strings.Builder
	for _, p := range pieces {
		fmt.Fprintf(&b, "{{define %q}}{{template %q .}}{{end}}", p, kind+"."+p)
	}
	return b.String()
}

// fields is what templates run on: the fields of Data, copied rather than
// embedded because text/template finds promoted fields slowly, and helpers.
// The package documentation lists them for tenants.
type fields struct {
	TenantName   string
	Branding     Branding
	FirstName    string
	Link         string
	Code         string
	CodeMinutes  int
	ExpiresHours int
	SSO          bool
	SSOName      string
	SystemName   string
	Exchange     bool

	Lang            string
	Product         string
	ExpiresIn       string
	CodeExpiresIn   string
	ButtonColor     string
	ButtonTextColor string
	Logo            string
}

// newFields prepares d for a message in lang, with durations in the words
// of unitsLang (a built-in language).
func newFields(d Data, lang, unitsLang string) *fields {
	d.TenantName = strings.TrimSpace(d.TenantName)
	d.FirstName = strings.TrimSpace(d.FirstName)
	d.Link = strings.TrimSpace(d.Link)
	d.Code = strings.TrimSpace(d.Code)
	d.SSOName = strings.TrimSpace(d.SSOName)
	d.SystemName = strings.TrimSpace(d.SystemName)
	d.Branding.ProductName = strings.TrimSpace(d.Branding.ProductName)
	d.Branding.SupportEmail = strings.TrimSpace(d.Branding.SupportEmail)
	if d.ExpiresHours <= 0 {
		d.ExpiresHours = defaultExpiresHours
	}
	v := &fields{
		TenantName: d.TenantName, Branding: d.Branding, FirstName: d.FirstName, Link: d.Link,
		Code: d.Code, CodeMinutes: d.CodeMinutes, ExpiresHours: d.ExpiresHours, SSO: d.SSO, SSOName: d.SSOName,
		SystemName: d.SystemName, Exchange: d.Exchange,
		Lang: lang, Product: d.Branding.ProductName,
	}
	if v.Product == "" {
		v.Product = d.TenantName
	}
	if d.TenantName == "" {
		v.TenantName = v.Product
	}
	w, ok := unitWords[unitsLang]
	if !ok {
		w = unitWords["en"]
	}
	v.ExpiresIn = w.hoursOrDays(d.ExpiresHours)
	if d.CodeMinutes > 0 {
		v.CodeExpiresIn = strconv.Itoa(d.CodeMinutes) + " " + w.min
	}
	v.ButtonColor, v.ButtonTextColor = buttonColors(d.Branding.Color)
	v.Logo = logoURL(d.Branding.LogoURL)
	return v
}

// defaultExpiresHours is what ExpiresHours 0 means: provision's default
// activation TTL.
const defaultExpiresHours = 7 * 24

type units struct{ hour, hours, day, days, min string }

var unitWords = map[string]units{
	"en": {"hour", "hours", "day", "days", "min"},
	"nl": {"uur", "uur", "dag", "dagen", "min"},
	"de": {"Stunde", "Stunden", "Tag", "Tage", "Min."},
	"fr": {"heure", "heures", "jour", "jours", "min"},
	"sv": {"timme", "timmar", "dag", "dagar", "min"},
	"nb": {"time", "timer", "dag", "dager", "min"},
}

// hoursOrDays says h hours in words: whole days as days, and from three
// days on rounded to the nearest day; else hours.
func (w units) hoursOrDays(h int) string {
	n, one, many := h, w.hour, w.hours
	if h%24 == 0 || h >= 72 {
		n, one, many = int(math.Round(float64(h)/24)), w.day, w.days
	}
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// DefaultColor is the button color when the tenant's is not a valid #rrggbb.
const DefaultColor = "#2563eb"

// ValidColor reports whether c is a #rrggbb color.
func ValidColor(c string) bool {
	if len(c) != 7 || c[0] != '#' {
		return false
	}
	for _, r := range c[1:] {
		if !('0' <= r && r <= '9' || 'a' <= r && r <= 'f' || 'A' <= r && r <= 'F') {
			return false
		}
	}
	return true
}

// buttonColors returns the button's background, the tenant's color when
// valid, and the text color with the better contrast on it: white when it
// reaches WCAG's 4.5:1, else black (which then always does).
func buttonColors(c string) (bg, fg string) {
	c = strings.ToLower(strings.TrimSpace(c))
	if !ValidColor(c) {
		c = DefaultColor
	}
	if contrastWithWhite(c) >= 4.5 {
		return c, "#ffffff"
	}
	return c, "#000000"
}

// ContrastWithWhite is the WCAG contrast ratio of a valid color (see
// ValidColor) with white, from 1 to 21.
func ContrastWithWhite(c string) float64 { return contrastWithWhite(c) }

func contrastWithWhite(c string) float64 {
	lin := func(hex string) float64 {
		n, _ := strconv.ParseUint(hex, 16, 8)
		v := float64(n) / 255
		if v <= 0.04045 {
			return v / 12.92
		}
		return math.Pow((v+0.055)/1.055, 2.4)
	}
	l := 0.2126*lin(c[1:3]) + 0.7152*lin(c[3:5]) + 0.0722*lin(c[5:7])
	return 1.05 / (l + 0.05)
}

// logoURL returns s if it is an absolute http(s) URL, else "".
func logoURL(s string) string {
	if !webURL(s) {
		return ""
	}
	return strings.TrimSpace(s)
}

// webURL reports whether s is an absolute http(s) URL.
func webURL(s string) bool {
	u, err := url.Parse(strings.TrimSpace(s))
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}
