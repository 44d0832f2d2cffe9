package message_test

import (
	"fmt"

	"github.com/usherhq/usher/message"
)

func ExampleRender() {
	d := message.Data{
		TenantName:   "Acme Corp",
		Branding:     message.Branding{ProductName: "Acme", Color: "#0b7285"},
		FirstName:    "Anna",
		Link:         "https://acme.example/t/acme/activate#secret",
		Code:         "123456",
		CodeMinutes:  10,
		ExpiresHours: 168,
	}
	overrides := map[string]message.Override{
		message.OverrideKey(message.KindInvitation, "nl"): {Subject: "Welkom bij {{.Product}}, {{.FirstName}}!"},
	}
	r, err := message.Render(message.KindInvitation, "nl-BE", "en", d, overrides)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(r.Subject)
	fmt.Println(r.SMS)
	// Output:
	// Welkom bij Acme, Anna!
	// Je Acme-code: 123456 (geldig 10 min). Je bent uitgenodigd. Kies je wachtwoord (link 7 dagen geldig, werkt één keer): https://acme.example/t/acme/activate#secret
}

func ExampleCheckOverride() {
	err := message.CheckOverride(message.KindWelcome, message.Override{
		Subject: "Welcome, {{.FirstName}}",
		SMS:     "{{.Product}}: {{.Nope}} {{.Link}}",
	})
	fmt.Println(err)
	// Output:
	// message: sms template of welcome: sms:1:16: unknown field .Nope; the fields are .Branding.Color, .Branding.LogoURL, .Branding.ProductName, .Branding.SupportEmail, .ButtonColor, .ButtonTextColor, .Code, .CodeExpiresIn, .CodeMinutes, .Exchange, .ExpiresHours, .ExpiresIn, .FirstName, .Lang, .Link, .Logo, .Product, .SSO, .SSOName, .SystemName, .TenantName
}
