package message

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"
)

const testLink = "https://acme.example/a/AbCdEf12"

func testData(sso bool, code string) Data {
	d := Data{
		TenantName:   "Acme Corp",
		Branding:     Branding{ProductName: "Acme", Color: "#0b7285", LogoURL: "https://acme.example/logo.png", SupportEmail: "help@acme.example"},
		FirstName:    "Anna",
		Link:         testLink,
		ExpiresHours: 7 * 24,
		SSO:          sso,
		SystemName:   "Google Workspace", // for the link messages; the others ignore it
	}
	if code != "" {
		d.Code, d.CodeMinutes = code, 10
	}
	if sso {
		d.SSOName = "Contoso Entra ID"
	}
	return d
}

// each calls f for every kind, language, SSO or password, with and
// without an SMS code, and for the link messages with and without
// Exchange.
func each(t *testing.T, f func(t *testing.T, kind, lang string, d Data, r Rendered)) {
	t.Helper()
	for _, kind := range Kinds() {
		exchange := []bool{false}
		if linkKind(kind) {
			exchange = []bool{false, true}
		}
		for _, lang := range Languages() {
			for _, sso := range []bool{false, true} {
				for _, code := range []string{"", "123456"} {
					for _, ex := range exchange {
						name := fmt.Sprintf("%s/%s/sso=%v/code=%q", kind, lang, sso, code)
						if ex {
							name += "/exchange"
						}
						t.Run(name, func(t *testing.T) {
							d := testData(sso, code)
							d.Exchange = ex
							r, err := Render(kind, lang, "", d, nil)
							if err != nil {
								t.Fatal(err)
							}
							f(t, kind, lang, d, r)
						})
					}
				}
			}
		}
	}
}

func TestEveryKindAndLanguage(t *testing.T) {
	each(t, func(t *testing.T, kind, lang string, d Data, r Rendered) {
		for part, s := range map[string]string{"subject": r.Subject, "text": r.Text, "html": r.HTML, "sms": r.SMS} {
			if strings.TrimSpace(s) == "" {
				t.Fatalf("%s is empty", part)
			}
			for _, bad := range []string{"{{", "}}", "<no value>", "ZgotmplZ", "%!"} {
				if strings.Contains(s, bad) {
					t.Errorf("%s contains %q:\n%s", part, bad, s)
				}
			}
			if !utf8.ValidString(s) {
				t.Errorf("%s is not UTF-8", part)
			}
		}
		for part, s := range map[string]string{"subject": r.Subject, "sms": r.SMS} {
			if strings.ContainsAny(s, "\r\n\t") || s != strings.TrimSpace(s) {
				t.Errorf("%s is not one trimmed line: %q", part, s)
			}
		}
		for part, s := range map[string]string{"text": r.Text, "html": r.HTML, "sms": r.SMS} {
			if !strings.Contains(s, d.Link) {
				t.Errorf("%s lacks the link:\n%s", part, s)
			}
		}
		if d.Code != "" && !strings.Contains(r.SMS, d.Code) {
			t.Errorf("the SMS lacks the code: %s", r.SMS)
		}
		if !strings.Contains(r.Text, "Anna") || !strings.Contains(r.HTML, "Anna") {
			t.Error("the greeting lacks the first name")
		}
		if !strings.Contains(r.Text, "help@acme.example") || !strings.Contains(r.HTML, "help@acme.example") {
			t.Error("the support address is missing")
		}
		if !strings.Contains(r.Text, "Acme Corp") {
			t.Error("the text does not name the tenant")
		}
		if strings.Contains(r.Text, "\n\n\n") || !strings.HasSuffix(r.Text, "\n") || strings.HasPrefix(r.Text, "\n") {
			t.Errorf("the text is not tidy: %q", r.Text)
		}
		for _, want := range []string{
			`<html lang="` + lang + `"`, `<meta charset="utf-8">`, `name="viewport"`, "max-width:560px",
			`<img src="https://acme.example/logo.png" alt="Acme"`,
			`<a href="` + d.Link + `"`, ">" + d.Link + "</a>", "background-color:#0b7285;",
			"</html>",
		} {
			if !strings.Contains(r.HTML, want) {
				t.Errorf("the HTML lacks %s", want)
			}
		}
		if d.SSO && kind != KindOneTimePassword && kind != KindIdentityJoined && !linkKind(kind) && !strings.Contains(r.Text, d.SSOName) {
			t.Errorf("the SSO text does not name the connection:\n%s", r.Text)
		}
	})
}

// gsm7 is the GSM 03.38 basic alphabet; gsm7ext characters take two.
const (
	gsm7    = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
	gsm7ext = "^{}\\[~]|€"
)

// TestSMSFitsOneMessage: with a short link every SMS is one GSM 7-bit
// message: no character that forces UCS-2, at most 160 septets.
func TestSMSFitsOneMessage(t *testing.T) {
	each(t, func(t *testing.T, kind, lang string, d Data, r Rendered) {
		n := 0
		for _, c := range r.SMS {
			switch {
			case strings.ContainsRune(gsm7, c):
				n++
			case strings.ContainsRune(gsm7ext, c):
				n += 2
			default:
				t.Errorf("%q is not in the GSM 7-bit alphabet: %s", c, r.SMS)
			}
		}
		if n > 160 {
			t.Errorf("%d characters: %s", n, r.SMS)
		}
	})
}

func TestCodeInSMS(t *testing.T) {
	r, err := Render(KindInvitation, "en", "", testData(false, "123456"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(r.SMS, "Your Acme code: 123456 (valid 10 min). ") {
		t.Errorf("SMS: %s", r.SMS)
	}
	if strings.Contains(r.Text, "123456") || strings.Contains(r.HTML, "123456") {
		t.Error("the SMS code is in the email")
	}
	r, err = Render(KindInvitation, "en", "", testData(false, ""), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(r.SMS, "Acme: You're invited. ") || strings.Contains(r.SMS, "code") {
		t.Errorf("SMS: %s", r.SMS)
	}
}

func TestLanguageFallback(t *testing.T) {
	for _, c := range []struct {
		lang, fallback, want string
	}{
		{"nl", "", "nl"},
		{"pt", "nl", "nl"},
		{"pt", "", "en"},
		{"pt", "xx", "en"},
		{"", "", "en"},
		{"", "de", "de"},
		{"de", "fr", "de"},
		{"nl-BE", "", "nl"},
		{"NL_be", "", "nl"},
		{"fr-CA", "de", "fr"},
		{"nb-NO", "", "nb"},
		{"no", "", "nb"},
		{"pt-BR", "sv-FI", "sv"},
	} {
		if got := Language(KindInvitation, c.lang, c.fallback, nil); got != c.want {
			t.Errorf("Language(%q, %q) = %q, want %q", c.lang, c.fallback, got, c.want)
		}
		r, err := Render(KindInvitation, c.lang, c.fallback, testData(false, ""), nil)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(r.HTML, `<html lang="`+c.want+`"`) {
			t.Errorf("Render(%q, %q) is not in %s", c.lang, c.fallback, c.want)
		}
		want, _ := Render(KindInvitation, c.want, "", testData(false, ""), nil)
		if r != want {
			t.Errorf("Render(%q, %q) differs from Render(%q)", c.lang, c.fallback, c.want)
		}
	}
}

// TestTranslated is a golden-ish check that each language's invitation is
// in that language: words of it in, tell-tale English words out.
func TestTranslated(t *testing.T) {
	words := map[string][]string{
		"en": {"invited", "Choose your password", "expires in 7 days"},
		"nl": {"uitgenodigd", "wachtwoord", "7 dagen geldig", "Hallo Anna,"},
		"de": {"eingeladen", "Passwort", "7 Tage gültig", "Hallo Anna,"},
		"fr": {"rejoindre", "mot de passe", "valable 7 jours", "Bonjour Anna,"},
		"sv": {"inbjuden", "lösenord", "gäller i 7 dagar", "Hej Anna!"},
		"nb": {"invitert", "passord", "gyldig i 7 dager", "Hei Anna!"},
	}
	for _, lang := range Languages() {
		r, err := Render(KindInvitation, lang, "", testData(false, ""), nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range words[lang] {
			if !strings.Contains(r.Text, w) {
				t.Errorf("%s invitation lacks %q:\n%s", lang, w, r.Text)
			}
		}
		if lang == "en" {
			continue
		}
		all := r.Subject + r.Text + r.HTML + r.SMS
		for _, w := range []string{"password", "invited", " the ", "Hello", "link works", "Sign in"} {
			if strings.Contains(all, w) {
				t.Errorf("%s invitation contains English %q", lang, w)
			}
		}
	}
	// Each language's words differ from every other's.
	seen := map[string]string{}
	for _, lang := range Languages() {
		r, _ := Render(KindWelcome, lang, "", testData(false, ""), nil)
		if other, ok := seen[r.Text]; ok {
			t.Errorf("%s and %s welcome texts are the same", lang, other)
		}
		seen[r.Text] = lang
	}
}

func TestHTMLEscaping(t *testing.T) {
	d := testData(false, "")
	d.FirstName = `<script>alert("x")</script>`
	d.TenantName = `Tom & Jerry's <b>Inc</b>`
	d.Branding.ProductName = `<i>Acme</i>`
	r, err := Render(KindInvitation, "en", "", d, nil)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(r.HTML, "<script") || strings.Contains(r.HTML, "<b>") || strings.Contains(r.HTML, "<i>") {
		t.Errorf("HTML is not escaped:\n%s", r.HTML)
	}
	for _, want := range []string{"&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;", "Tom &amp; Jerry&#39;s &lt;b&gt;Inc&lt;/b&gt;", `alt="&lt;i&gt;Acme&lt;/i&gt;"`} {
		if !strings.Contains(r.HTML, want) {
			t.Errorf("HTML lacks %s", want)
		}
	}
	// Plain text and SMS are not HTML: they carry the characters as they are.
	if !strings.Contains(r.Text, `Hello <script>alert("x")</script>,`) || !strings.Contains(r.SMS, "<i>Acme</i>: ") {
		t.Errorf("text or SMS was escaped:\n%s\n%s", r.Text, r.SMS)
	}

	d = testData(false, "")
	d.Link = "https://acme.example/t/acme/activate?x=1&y=2#AbC"
	r, err = Render(KindInvitation, "en", "", d, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(r.HTML, `href="https://acme.example/t/acme/activate?x=1&amp;y=2#AbC"`) || !strings.Contains(r.HTML, ">https://acme.example/t/acme/activate?x=1&amp;y=2#AbC</a>") {
		t.Errorf("link not escaped as expected:\n%s", r.HTML)
	}
	if !strings.Contains(r.Text, "\n"+d.Link+"\n") || !strings.HasSuffix(r.SMS, d.Link) {
		t.Error("text or SMS does not carry the link as it is")
	}

	for _, link := range []string{"javascript:alert(1)", "/relative", "acme.example/a/b", "mailto:x@example.com"} {
		d.Link = link
		if _, err := Render(KindInvitation, "en", "", d, nil); err == nil {
			t.Errorf("link %q: no error", link)
		}
	}
}

func TestSSOWording(t *testing.T) {
	for _, kind := range []string{KindInvitation, KindWelcome, KindActivation, KindPasswordReset} {
		for _, lang := range Languages() {
			pw, err := Render(kind, lang, "", testData(false, ""), nil)
			if err != nil {
				t.Fatal(err)
			}
			sso, err := Render(kind, lang, "", testData(true, ""), nil)
			if err != nil {
				t.Fatal(err)
			}
			if pw.Text == sso.Text || pw.SMS == sso.SMS || pw.HTML == sso.HTML {
				t.Errorf("%s.%s: SSO and password wording are the same", kind, lang)
			}
			// The password message says how long the link lasts; the SSO
			// one, whose link is the sign-in page, does not.
			days := unitWords[lang].hoursOrDays(168)
			if !strings.Contains(pw.Text, days) || !strings.Contains(pw.SMS, days) {
				t.Errorf("%s.%s: the password message does not say %q", kind, lang, days)
			}
			if strings.Contains(sso.Text, days) || strings.Contains(sso.SMS, days) {
				t.Errorf("%s.%s: the SSO message says %q", kind, lang, days)
			}
		}
	}
	pw, _ := Render(KindInvitation, "en", "", testData(false, ""), nil)
	sso, _ := Render(KindInvitation, "en", "", testData(true, ""), nil)
	if !strings.Contains(pw.Text, "Choose your password") || !strings.Contains(pw.Text, "works only once") {
		t.Errorf("password wording:\n%s", pw.Text)
	}
	if !strings.Contains(sso.Text, "Sign in with your company account (Contoso Entra ID):") || strings.Contains(strings.ToLower(sso.Text), "choose your password") {
		t.Errorf("SSO wording:\n%s", sso.Text)
	}
	if !strings.Contains(sso.SMS, "Sign in with your company account") {
		t.Errorf("SSO SMS: %s", sso.SMS)
	}
	d := testData(true, "")
	d.SSOName = ""
	r, _ := Render(KindInvitation, "en", "", d, nil)
	if !strings.Contains(r.Text, "Sign in with your company account:") {
		t.Errorf("SSO wording without a connection name:\n%s", r.Text)
	}
}

func TestExpiry(t *testing.T) {
	for _, c := range []struct {
		lang  string
		hours int
		want  string
	}{
		{"en", 0, "7 days"},
		{"en", -5, "7 days"},
		{"en", 1, "1 hour"},
		{"en", 12, "12 hours"},
		{"en", 24, "1 day"},
		{"en", 36, "36 hours"},
		{"en", 48, "2 days"},
		{"en", 72, "3 days"},
		{"en", 167, "7 days"},
		{"nl", 36, "36 uur"},
		{"nl", 48, "2 dagen"},
		{"de", 24, "1 Tag"},
		{"de", 1, "1 Stunde"},
		{"fr", 72, "3 jours"},
		{"sv", 2, "2 timmar"},
		{"nb", 168, "7 dager"},
	} {
		d := testData(false, "")
		d.ExpiresHours = c.hours
		r, err := Render(KindInvitation, c.lang, "", d, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(r.Text, " "+c.want) {
			t.Errorf("%s, %d hours: want %q in\n%s", c.lang, c.hours, c.want, r.Text)
		}
	}
}

func TestOneTimePassword(t *testing.T) {
	for _, lang := range Languages() {
		d := testData(false, "")
		d.ExpiresHours = 72
		r, err := Render(KindOneTimePassword, lang, "", d, nil)
		if err != nil {
			t.Fatal(err)
		}
		days := unitWords[lang].hoursOrDays(72)
		if !strings.Contains(r.Text, "Acme Corp") || !strings.Contains(r.Text, days) {
			t.Errorf("%s: the one-time password notice does not say whom to ask or how long it lasts:\n%s", lang, r.Text)
		}
	}
	r, _ := Render(KindOneTimePassword, "en", "", testData(false, ""), nil)
	for _, want := range []string{"one-time password", "does not contain the password", "ask your administrator at Acme Corp"} {
		if !strings.Contains(r.Text, want) {
			t.Errorf("the notice lacks %q:\n%s", want, r.Text)
		}
	}
}

// TestDataHasNoPassword guards the promise that no message carries a
// password: templates cannot print what Data does not hold.
func TestDataHasNoPassword(t *testing.T) {
	var check func(reflect.Type)
	check = func(tp reflect.Type) {
		for i := 0; i < tp.NumField(); i++ {
			f := tp.Field(i)
			if n := strings.ToLower(f.Name); strings.Contains(n, "password") || strings.Contains(n, "secret") || strings.Contains(n, "otp") {
				t.Errorf("the template data has a field %s", f.Name)
			}
			if f.Type.Kind() == reflect.Struct {
				check(f.Type)
			}
		}
	}
	check(reflect.TypeOf(fields{}))
}

// TestFieldsHaveAllOfData: templates see every field of Data.
func TestFieldsHaveAllOfData(t *testing.T) {
	d := Data{
		TenantName: "T", Branding: Branding{ProductName: "P", Color: "#010203", LogoURL: "https://l.example/", SupportEmail: "s@example.com"},
		FirstName: "F", Link: "https://x.example/", Code: "1", CodeMinutes: 2, ExpiresHours: 3, SSO: true, SSOName: "S",
		SystemName: "G", Exchange: true,
	}
	v := reflect.ValueOf(*newFields(d, "en", "en"))
	dv := reflect.ValueOf(d)
	for i := 0; i < dv.NumField(); i++ {
		name := dv.Type().Field(i).Name
		f := v.FieldByName(name)
		if !f.IsValid() || f.Type() != dv.Field(i).Type() || !reflect.DeepEqual(f.Interface(), dv.Field(i).Interface()) {
			t.Errorf("templates do not see Data.%s", name)
		}
	}
}

func TestBranding(t *testing.T) {
	for _, c := range []struct {
		color, bg, fg string
	}{
		{"#0B7285", "#0b7285", "#ffffff"},
		{"#ffff00", "#ffff00", "#000000"}, // yellow: black reads, white does not
		{"#ffffff", "#ffffff", "#000000"},
		{"#000000", "#000000", "#ffffff"},
		{"", DefaultColor, "#ffffff"},
		{"red", DefaultColor, "#ffffff"},
		{"#12345", DefaultColor, "#ffffff"},
		{"#1234567", DefaultColor, "#ffffff"},
		{"#gggggg", DefaultColor, "#ffffff"},
		{"#000;background:url(x)", DefaultColor, "#ffffff"},
	} {
		d := testData(false, "")
		d.Branding.Color = c.color
		r, err := Render(KindInvitation, "en", "", d, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(r.HTML, "background-color:"+c.bg+";color:"+c.fg+";") {
			t.Errorf("color %q: want button %s on %s", c.color, c.fg, c.bg)
		}
		if bg, fg := buttonColors(c.color); contrast(bg, fg) < 4.5 {
			t.Errorf("color %q: contrast %.2f", c.color, contrast(bg, fg))
		}
	}
	// Every possible grey gets a readable text color.
	for v := 0; v < 256; v++ {
		c := fmt.Sprintf("#%02x%02x%02x", v, v, v)
		if bg, fg := buttonColors(c); contrast(bg, fg) < 4.5 {
			t.Errorf("%s: contrast %.2f", c, contrast(bg, fg))
		}
	}

	d := testData(false, "")
	d.Branding.LogoURL = "javascript:alert(1)"
	r, _ := Render(KindInvitation, "en", "", d, nil)
	if strings.Contains(r.HTML, "<img") || strings.Contains(r.HTML, "javascript") {
		t.Error("a javascript: logo reached the HTML")
	}
	if !strings.Contains(r.HTML, ">Acme</p>") {
		t.Error("without a logo the product name is not shown")
	}
	d.Branding = Branding{}
	r, _ = Render(KindWelcome, "en", "", d, nil)
	if r.Subject != "Welcome to Acme Corp" || strings.Contains(r.Text, "Questions?") {
		t.Errorf("without branding: %q\n%s", r.Subject, r.Text)
	}
	d.TenantName, d.Branding.ProductName = "", "Acme App"
	r, _ = Render(KindWelcome, "en", "", d, nil)
	if r.Subject != "Welcome to Acme App" || !strings.Contains(r.Text, "Sent on behalf of Acme App.") {
		t.Errorf("without a tenant name: %q\n%s", r.Subject, r.Text)
	}
	d = testData(false, "")
	d.FirstName = "  "
	r, _ = Render(KindWelcome, "en", "", d, nil)
	if !strings.HasPrefix(r.Text, "Hello,\n") {
		t.Errorf("greeting without a first name: %q", r.Text)
	}
}

func contrast(a, b string) float64 {
	la, lb := 1.05/contrastWithWhite(a)-0.05, 1.05/contrastWithWhite(b)-0.05
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

func TestOneLine(t *testing.T) {
	d := testData(false, "")
	d.Branding.ProductName = "Acme\r\nBcc: victim@example.com\u2028X\tY"
	r, err := Render(KindWelcome, "en", "", d, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Subject != "Welcome to Acme Bcc: victim@example.com X Y" {
		t.Errorf("subject %q", r.Subject)
	}
	if strings.ContainsAny(r.SMS, "\r\n\t\u2028") {
		t.Errorf("SMS %q", r.SMS)
	}
	for in, want := range map[string]string{
		"":              "",
		"  a  b  ":      "a b",
		"a\n\nb":        "a b",
		"a\x00b":        "a b",
		"\u0085a\u2029": "a",
		"é ü":           "é ü",
	} {
		if got := oneLine(in); got != want {
			t.Errorf("oneLine(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRenderErrors(t *testing.T) {
	if _, err := Render("nope", "en", "", testData(false, ""), nil); err == nil || !strings.Contains(err.Error(), `unknown kind "nope"`) {
		t.Errorf("unknown kind: %v", err)
	}
	d := testData(false, "")
	d.Link = " "
	if _, err := Render(KindInvitation, "en", "", d, nil); err == nil || !strings.Contains(err.Error(), "Data.Link") {
		t.Errorf("no link: %v", err)
	}
	d = testData(false, "")
	d.TenantName, d.Branding.ProductName = "", ""
	if _, err := Render(KindInvitation, "en", "", d, nil); err == nil {
		t.Error("no name: no error")
	}
}

// TestBuiltinsDefineTheSame: every language defines the same templates, so
// none lacks a piece another has.
func TestBuiltinsDefineTheSame(t *testing.T) {
	sets, err := load()
	if err != nil {
		t.Fatal(err)
	}
	names := func(lang string) string {
		var n []string
		for _, tp := range sets[OverrideKey(KindInvitation, lang)].text.Templates() {
			if tp.Name() != lang {
				n = append(n, tp.Name())
			}
		}
		sort.Strings(n)
		return strings.Join(n, " ")
	}
	want := names("en")
	for _, lang := range Languages() {
		if got := names(lang); got != want {
			t.Errorf("%s defines\n%s\nen defines\n%s", lang, got, want)
		}
	}
	if len(sets) != len(kinds)*len(languages) {
		t.Errorf("%d sets", len(sets))
	}
	for _, lang := range Languages() {
		if _, ok := unitWords[lang]; !ok {
			t.Errorf("no words for durations in %s", lang)
		}
	}
}

func TestLanguagesAndKindsAreCopies(t *testing.T) {
	l := Languages()
	l[0] = "xx"
	if Languages()[0] != "en" || strings.Join(Languages(), ",") != "en,nl,de,fr,sv,nb" {
		t.Error("Languages is not a copy")
	}
	k := Kinds()
	k[0] = "xx"
	if Kinds()[0] != KindInvitation {
		t.Error("Kinds is not a copy")
	}
}

func TestConcurrentRender(t *testing.T) {
	overrides := map[string]Override{OverrideKey(KindWelcome, "nl"): {Subject: "Hoi {{.FirstName}}", HTML: `<p><a href="{{.Link}}">{{.FirstName}}</a></p>`}}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for j := 0; j < 20; j++ {
				kind := kinds[(i+j)%len(kinds)]
				lang := languages[(i*j)%len(languages)]
				if _, err := Render(kind, lang, "en", testData(j%2 == 0, "123456"), overrides); err != nil {
					errs <- err
					return
				}
				if _, err := Render(KindWelcome, "nl", "", testData(false, ""), overrides); err != nil {
					errs <- err
					return
				}
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func BenchmarkRender(b *testing.B) {
	d := testData(false, "123456")
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := Render(KindInvitation, "nl", "en", d, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRenderOverride(b *testing.B) {
	d := testData(false, "123456")
	overrides := map[string]Override{OverrideKey(KindInvitation, "nl"): {
		Subject: "Welkom bij {{.Product}}, {{.FirstName}}",
		Text:    "Hallo {{.FirstName}},\n\nKies je wachtwoord: {{.Link}}\n",
		HTML:    `<p>Hallo {{.FirstName}},</p><p><a href="{{.Link}}">Kies je wachtwoord</a></p>`,
		SMS:     "{{.Product}}: {{.Link}}",
	}}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		r, err := Render(KindInvitation, "nl", "en", d, overrides)
		if err != nil {
			b.Fatal(err)
		}
		if r.SMS != "Acme: "+testLink {
			b.Fatal(r.SMS)
		}
	}
}

func BenchmarkRenderParallel(b *testing.B) {
	d := testData(true, "")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := Render(KindWelcome, "de", "en", d, nil); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
