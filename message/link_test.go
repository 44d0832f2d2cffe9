package message

import (
	"strings"
	"testing"
)

// TestLinkMessages: the requests to authorize and to reconnect a linked
// external account name the system in every part, in every language; they
// say nothing of expiry or single use (the page they open does not wear
// out); Exchange on-premises asks for the credentials instead.
func TestLinkMessages(t *testing.T) {
	once := map[string][]string{
		"en": {"once", "expires in", "valid"},
		"nl": {"één keer", "verloopt", "verlopen?"},
		"de": {"einmal", "gültig"},
		"fr": {"une seule fois", "usage unique", "valable"},
		"sv": {"en gång", "gäller"},
		"nb": {"én gang", "gyldig"},
	}
	texts := map[string]string{}
	for _, kind := range []string{KindLinkAuthorize, KindLinkReauthorize} {
		for _, lang := range Languages() {
			var consent, exchange Rendered
			for _, ex := range []bool{false, true} {
				d := testData(false, "")
				d.Exchange = ex
				r, err := Render(kind, lang, "", d, nil)
				if err != nil {
					t.Fatal(err)
				}
				for part, s := range map[string]string{"subject": r.Subject, "text": r.Text, "html": r.HTML, "sms": r.SMS} {
					if !strings.Contains(s, "Google Workspace") {
						t.Errorf("%s.%s exchange=%v: the %s does not name the system: %s", kind, lang, ex, part, s)
					}
				}
				days := unitWords[lang].hoursOrDays(d.ExpiresHours)
				for _, w := range append(once[lang], days) {
					if strings.Contains(r.Text, w) || strings.Contains(r.SMS, w) {
						t.Errorf("%s.%s exchange=%v speaks of expiry or single use (%q):\n%s\n%s", kind, lang, ex, w, r.Text, r.SMS)
					}
				}
				if ex {
					exchange = r
				} else {
					consent = r
				}
			}
			if consent.Text == exchange.Text || consent.HTML == exchange.HTML {
				t.Errorf("%s.%s: the Exchange message says the same as the consent one", kind, lang)
			}
			if kind == KindLinkReauthorize && consent.SMS == exchange.SMS {
				t.Errorf("%s.%s: the Exchange SMS says the same as the consent one", kind, lang)
			}
			if other, ok := texts[consent.Text]; ok {
				t.Errorf("%s.%s is the same as %s", kind, lang, other)
			}
			texts[consent.Text] = kind + "." + lang
			if lang == "en" {
				continue
			}
			all := consent.Subject + consent.Text + consent.HTML + consent.SMS + exchange.Text + exchange.SMS
			for _, w := range []string{"Sign in", "Connect your", "Reconnect your", "synchroniz", "calendar", "password", " the "} {
				if strings.Contains(all, w) {
					t.Errorf("%s.%s contains English %q", kind, lang, w)
				}
			}
		}
	}

	d := testData(false, "")
	r, _ := Render(KindLinkAuthorize, "en", "", d, nil)
	if r.Subject != "Acme asks you to connect your Google Workspace account" {
		t.Errorf("subject %q", r.Subject)
	}
	for _, want := range []string{
		"Acme Corp has linked your Acme account to your Google Workspace account, so that Acme can synchronize your calendar.",
		"Sign in to Acme, then allow access to your Google Workspace account:\n" + testLink + "\n",
	} {
		if !strings.Contains(r.Text, want) {
			t.Errorf("the request to authorize lacks %q:\n%s", want, r.Text)
		}
	}
	if !strings.Contains(r.HTML, ">Connect your account</a>") {
		t.Errorf("the button:\n%s", r.HTML)
	}
	r, _ = Render(KindLinkReauthorize, "en", "", d, nil)
	if r.Subject != "Reconnect your Google Workspace account" {
		t.Errorf("subject %q", r.Subject)
	}
	for _, want := range []string{"stopped working", "access was withdrawn, your password changed or your permission expired", "allow access to your Google Workspace account again to reactivate synchronization"} {
		if !strings.Contains(r.Text, want) {
			t.Errorf("the request to reconnect lacks %q:\n%s", want, r.Text)
		}
	}
	if r.SMS != "Acme: Your Google Workspace calendar no longer syncs. Reconnect your account: "+testLink {
		t.Errorf("SMS %q", r.SMS)
	}
	d.SystemName, d.Exchange = "Contoso Exchange", true
	r, _ = Render(KindLinkReauthorize, "en", "", d, nil)
	if !strings.Contains(r.Text, "re-enter your Contoso Exchange user name and password") || strings.Contains(r.Text, "allow access") {
		t.Errorf("the Exchange request to reconnect does not ask for the credentials:\n%s", r.Text)
	}
	if r.SMS != "Acme: Your Contoso Exchange calendar no longer syncs. Re-enter your password: "+testLink {
		t.Errorf("SMS %q", r.SMS)
	}
	r, _ = Render(KindLinkAuthorize, "en", "", d, nil)
	if !strings.Contains(r.Text, "enter your Contoso Exchange user name and password") {
		t.Errorf("the Exchange request to authorize does not ask for the credentials:\n%s", r.Text)
	}

	// A link message names its system; the others need none.
	d = testData(false, "")
	d.SystemName = "  "
	for _, kind := range []string{KindLinkAuthorize, KindLinkReauthorize} {
		if err := Check(kind, d); err == nil || !strings.Contains(err.Error(), "Data.SystemName") {
			t.Errorf("%s without a system: %v", kind, err)
		}
	}
	if err := Check(KindInvitation, d); err != nil {
		t.Error(err)
	}
}

// TestLinkOverrides: a tenant may override the link messages like any
// other, with .SystemName and .Exchange.
func TestLinkOverrides(t *testing.T) {
	o := Override{
		Subject: "{{.SystemName}}",
		Text:    "{{if .Exchange}}Credentials for {{.SystemName}}{{else}}Consent for {{.SystemName}}{{end}}: {{.Link}}",
		SMS:     "{{.SystemName}} {{.Link}}",
	}
	for _, kind := range []string{KindLinkAuthorize, KindLinkReauthorize} {
		if err := CheckOverride(kind, o); err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		d := testData(false, "")
		d.Exchange = true
		r, err := Render(kind, "de", "", d, map[string]Override{OverrideKey(kind, "de"): o})
		if err != nil {
			t.Fatal(err)
		}
		if r.Subject != "Google Workspace" || r.Text != "Credentials for Google Workspace: "+testLink || r.SMS != "Google Workspace "+testLink {
			t.Errorf("%s override: %+v", kind, r)
		}
		if !strings.Contains(r.HTML, `<html lang="de"`) || !strings.Contains(r.HTML, "Google Workspace") {
			t.Errorf("%s: the HTML is not the built-in German one", kind)
		}
	}
}
