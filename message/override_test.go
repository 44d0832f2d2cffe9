package message

import (
	"errors"
	"strings"
	"testing"
)

func TestOverrideUsed(t *testing.T) {
	o := Override{
		Subject: "Hi {{.FirstName}}, join {{.Product}}\n",
		Text:    "Dear {{.FirstName}},\n\nGo here: {{.Link}}\n{{if not .SSO}}Valid {{.ExpiresIn}}.{{end}}\n",
		HTML:    `<!DOCTYPE html><html lang="{{.Lang}}"><body><p>Dear {{.FirstName}}</p><a href="{{.Link}}" style="color:{{.ButtonColor}}">Go</a></body></html>`,
		SMS:     "{{.Product}}\n{{.Code}}\n{{.Link}}",
	}
	if err := CheckOverride(KindInvitation, o); err != nil {
		t.Fatal(err)
	}
	d := testData(false, "123456")
	d.FirstName = "<b>Anna</b>"
	r, err := Render(KindInvitation, "nl", "", d, map[string]Override{OverrideKey(KindInvitation, "nl"): o})
	if err != nil {
		t.Fatal(err)
	}
	if r.Subject != "Hi <b>Anna</b>, join Acme" {
		t.Errorf("subject %q", r.Subject)
	}
	if r.Text != "Dear <b>Anna</b>,\n\nGo here: "+testLink+"\nValid 7 dagen.\n" {
		t.Errorf("text %q", r.Text)
	}
	if r.HTML != `<!DOCTYPE html><html lang="nl"><body><p>Dear &lt;b&gt;Anna&lt;/b&gt;</p><a href="`+testLink+`" style="color:#0b7285">Go</a></body></html>` {
		t.Errorf("html %s", r.HTML)
	}
	if r.SMS != "Acme 123456 "+testLink {
		t.Errorf("sms %q", r.SMS)
	}

	// Another language or kind is not overridden.
	r, _ = Render(KindInvitation, "de", "", d, map[string]Override{OverrideKey(KindInvitation, "nl"): o})
	if !strings.Contains(r.Subject, "eingeladen") {
		t.Errorf("de subject %q", r.Subject)
	}
	r, _ = Render(KindWelcome, "nl", "", d, map[string]Override{OverrideKey(KindInvitation, "nl"): o})
	if !strings.Contains(r.Subject, "Welkom") {
		t.Errorf("welcome subject %q", r.Subject)
	}
}

func TestOverrideMissingPartsUseBuiltIn(t *testing.T) {
	overrides := map[string]Override{OverrideKey(KindWelcome, "de"): {Subject: "Servus {{.FirstName}}", SMS: "   "}}
	r, err := Render(KindWelcome, "de", "", testData(false, ""), overrides)
	if err != nil {
		t.Fatal(err)
	}
	builtin, _ := Render(KindWelcome, "de", "", testData(false, ""), nil)
	if r.Subject != "Servus Anna" {
		t.Errorf("subject %q", r.Subject)
	}
	if r.Text != builtin.Text || r.HTML != builtin.HTML || r.SMS != builtin.SMS {
		t.Error("parts without an override differ from the built-in")
	}
}

// TestOverrideOtherLanguage: a tenant may add a language usher does not
// have; what it leaves out comes from the fallback language.
func TestOverrideOtherLanguage(t *testing.T) {
	overrides := map[string]Override{
		OverrideKey(KindInvitation, "pt"): {Subject: "Convite para {{.Product}}", SMS: "{{.Product}}: ative a sua conta: {{.Link}}"},
		OverrideKey(KindWelcome, "it"):    {},
	}
	if got := Language(KindInvitation, "pt", "nl", overrides); got != "pt" {
		t.Errorf("Language = %q", got)
	}
	if got := Language(KindInvitation, "pt-PT", "nl", overrides); got != "pt" {
		t.Errorf("Language(pt-PT) = %q", got)
	}
	if got := Language(KindWelcome, "pt", "nl", overrides); got != "nl" {
		t.Errorf("Language of another kind = %q", got)
	}
	if got := Language(KindWelcome, "it", "", overrides); got != "en" {
		t.Errorf("an empty override counts: %q", got)
	}
	r, err := Render(KindInvitation, "pt", "nl", testData(false, ""), overrides)
	if err != nil {
		t.Fatal(err)
	}
	if r.Subject != "Convite para Acme" || r.SMS != "Acme: ative a sua conta: "+testLink {
		t.Errorf("override not used: %q %q", r.Subject, r.SMS)
	}
	if !strings.Contains(r.Text, "uitgenodigd") || !strings.Contains(r.HTML, `<html lang="nl"`) {
		t.Error("the parts left out are not the fallback's")
	}
}

// TestBrokenOverrideAtRender: an override that fails when rendering (it
// was never checked) does not stop the message.
func TestBrokenOverrideAtRender(t *testing.T) {
	overrides := map[string]Override{OverrideKey(KindInvitation, "en"): {
		Subject: "{{.Nope}}",
		Text:    "Hello {{.FirstName}} {{.Link}}",
		HTML:    "{{if}}",
	}}
	r, err := Render(KindInvitation, "en", "", testData(false, ""), overrides)
	var oe *OverrideError
	if !errors.As(err, &oe) {
		t.Fatalf("err = %v, want an *OverrideError", err)
	}
	if oe.Part != PartSubject || oe.Kind != KindInvitation || oe.Lang != "en" || !strings.Contains(err.Error(), "Nope") {
		t.Errorf("error %+v: %v", oe, err)
	}
	builtin, _ := Render(KindInvitation, "en", "", testData(false, ""), nil)
	if r.Subject != builtin.Subject || r.HTML != builtin.HTML || r.SMS != builtin.SMS {
		t.Error("the failing parts were not rendered from the built-in")
	}
	if r.Text != "Hello Anna "+testLink {
		t.Errorf("the working part was not used: %q", r.Text)
	}
}

func TestCheckOverride(t *testing.T) {
	big := strings.Repeat("x", MaxOverrideSize) + "{{.Link}}"
	for _, c := range []struct {
		name string
		kind string
		o    Override
		part string // "" when the override is fine
		want string // in the error
	}{
		{"empty", KindInvitation, Override{}, "", ""},
		{"blank", KindInvitation, Override{Subject: " \n "}, "", ""},
		{"fine", KindOneTimePassword, Override{
			Subject: "{{.Product}}: one-time password set",
			Text:    "Hello{{with .FirstName}} {{.}}{{end}},\nAsk your administrator. {{.Link}}\n{{with .Branding.SupportEmail}}Help: {{.}}{{end}}",
			HTML:    `<p lang="{{.Lang}}">{{if .Logo}}<img src="{{.Logo}}" alt="{{.Product}}">{{end}}<a href="{{.Link}}">{{.Link}}</a></p>`,
			SMS:     `{{printf "%s: %s" .Product .Link}}`,
		}, "", ""},
		{"every kind", KindPasswordReset, Override{SMS: "{{.Link}}"}, "", ""},
		{"unknown kind", "reminder", Override{Subject: "x"}, "", `unknown kind "reminder"`},
		{"parse error", KindInvitation, Override{Text: "Hello {{if .SSO}}"}, PartText, "unexpected EOF"},
		{"unknown function", KindInvitation, Override{Subject: "{{upper .FirstName}}"}, PartSubject, `function "upper" not defined`},
		{"unknown field", KindInvitation, Override{HTML: `<a href="{{.Link}}">{{.Nope}}</a>`}, PartHTML, "unknown field .Nope"},
		{"unknown field in a branch not taken", KindWelcome, Override{SMS: "{{.Link}}{{if .SSO}}{{else if .Code}}{{.Passwd}}{{end}}"}, PartSMS, "unknown field .Passwd"},
		{"unknown nested field", KindWelcome, Override{Subject: "{{.Branding.Nope}}"}, PartSubject, "unknown field .Nope"},
		{"unknown field in with", KindWelcome, Override{Subject: "{{with .Branding}}{{.Colour}}{{end}}"}, PartSubject, "unknown field .Colour"},
		{"unknown field through a variable", KindWelcome, Override{Subject: "{{$.Nope}}"}, PartSubject, "unknown field .Nope"},
		{"execution error", KindActivation, Override{SMS: "{{.Link}} {{index .Code 99}}"}, PartSMS, "index out of range"},
		{"field of a string", KindActivation, Override{Subject: "{{.Link.Color}}"}, PartSubject, "can't evaluate field Color"},
		{"html context error", KindInvitation, Override{HTML: `<a href="{{.Link}}>go</a>`}, PartHTML, "html"},
		{"too long", KindInvitation, Override{Text: big}, PartText, "20 KB"},
		{"define", KindInvitation, Override{Text: `{{define "x"}}hi{{end}}{{.Link}}`}, PartText, "{{define}}"},
		{"block", KindInvitation, Override{Text: `{{block "x" .}}{{.Link}}{{end}}`}, PartText, "not allowed"},
		{"template", KindInvitation, Override{Text: `{{template "x" .}}{{.Link}}`}, PartText, "{{template}} is not allowed"},
		{"range", KindInvitation, Override{SMS: `{{range 1000000}}{{range 1000000}}{{end}}{{end}}{{.Link}}`}, PartSMS, "{{range}} is not allowed"},
		{"huge output", KindInvitation, Override{Text: `{{.Link}}{{printf "%0900000d" 0}}`}, PartText, "longer than"},
		{"no link in the text", KindInvitation, Override{Text: "Hello {{.FirstName}}"}, PartText, "must include the link"},
		{"link only for SSO", KindInvitation, Override{HTML: `{{if .SSO}}<a href="{{.Link}}">go</a>{{end}}<p>hi</p>`}, PartHTML, "must include the link"},
		{"renders nothing", KindInvitation, Override{Subject: "{{if .SSO}}Sign in{{end}}"}, PartSubject, "renders nothing"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := CheckOverride(c.kind, c.o)
			if c.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", c.want)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q lacks %q", err, c.want)
			}
			if c.part == "" {
				return
			}
			var oe *OverrideError
			if !errors.As(err, &oe) || oe.Part != c.part || oe.Kind != c.kind {
				t.Fatalf("error %v is not an *OverrideError for the %s part", err, c.part)
			}
			if !strings.Contains(err.Error(), c.part+" template") {
				t.Errorf("error %q does not name the part", err)
			}
		})
	}
}

func TestCheckOverrideNamesEveryBrokenPart(t *testing.T) {
	err := CheckOverride(KindWelcome, Override{Subject: "{{.Nope}}", Text: "fine {{.Link}}", SMS: "{{if}}"})
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	if !strings.Contains(msg, "subject template") || !strings.Contains(msg, "sms template") || strings.Contains(msg, "text template") {
		t.Errorf("error: %s", msg)
	}
}

func TestOverrideCacheIsBounded(t *testing.T) {
	for i := 0; i < compiledCacheSize+10; i++ {
		if _, err := compile(PartSubject, "n"+strings.Repeat("x", i)+"{{.Link}}"); err != nil {
			t.Fatal(err)
		}
	}
	compiledCache.Lock()
	n := len(compiledCache.m)
	compiledCache.Unlock()
	if n > compiledCacheSize {
		t.Errorf("%d cached", n)
	}
	// A broken template stays broken when cached.
	for i := 0; i < 2; i++ {
		if _, err := compile(PartText, "{{if}}"); err == nil {
			t.Fatal("no error")
		}
	}
}
