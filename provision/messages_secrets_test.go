package provision

import (
	"strings"
	"testing"

	"github.com/usherhq/usher"
)

// Activation links and codes are bearer credentials: administrators read
// them only where no channel delivers them (the embedded default).
func TestAdministratorsSeeNoLiveSecretsOfDeliveredMessages(t *testing.T) {
	tn := usher.Tenant{ID: "t1", Slug: "acme", Name: "Acme", Settings: usher.TenantSettings{DefaultLanguage: "en", Languages: []string{"en"}}}
	const link, code = "https://acme.example/t/acme/activate/s3cr3t-link-value", "482913"
	data := `{"first_name":"Ann","link":"` + link + `","code":"` + code + `","code_minutes":10,"expires_hours":168}`
	msgs := func() []usher.Message {
		return []usher.Message{
			{ID: "m1", TenantID: tn.ID, Kind: KindInvitation, Channel: usher.ChannelEmail, Language: "en", Data: data},
			{ID: "m2", TenantID: tn.ID, Kind: KindInvitation, Channel: usher.ChannelSMS, Language: "en", Data: data},
		}
	}
	s := &Service{}
	open, err := s.ComposeAll(tn, msgs())
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range open {
		if !strings.Contains(m.Body, "s3cr3t-link-value") {
			t.Fatalf("no channel delivers %s, yet its link is hidden: %q", m.Channel, m.Body)
		}
	}
	if !strings.Contains(open[1].Body, code) {
		t.Fatalf("the SMS code is hidden without a channel: %q", open[1].Body)
	}

	s.HideSecretsSentBy(func(ch string) bool { return ch == usher.ChannelEmail })
	got, err := s.ComposeAll(tn, msgs())
	if err != nil {
		t.Fatal(err)
	}
	email, sms := got[0], got[1]
	for _, part := range []string{email.Subject, email.Body, email.HTML} {
		if strings.Contains(part, "s3cr3t-link-value") {
			t.Fatalf("an email a channel delivered shows its live link to administrators: %q", part)
		}
	}
	if !strings.Contains(email.Body, "/activate/"+hidden) {
		t.Fatalf("the email no longer says where its link led: %q", email.Body)
	}
	if !strings.Contains(sms.Body, "s3cr3t-link-value") || !strings.Contains(sms.Body, code) {
		t.Fatalf("SMS is not delivered here, so its secret should show: %q", sms.Body)
	}

	s.HideSecretsSentBy(func(string) bool { return true })
	got, _ = s.ComposeAll(tn, msgs())
	if strings.Contains(got[1].Body, code) || strings.Contains(got[1].Body, "s3cr3t-link-value") {
		t.Fatalf("a delivered SMS shows its code or link: %q", got[1].Body)
	}
}
