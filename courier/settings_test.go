package courier_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/courier"
)

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func TestSettingsConfigureChannels(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		vars     map[string]string
		channels []string
		describe []string // in Config.String()
	}{
		{"nothing: messages stay queued", nil, nil, []string{"email: not configured", "sms: not configured"}},
		{"smtp", map[string]string{"USHER_SMTP_URL": "smtp://apikey:hunter2@smtp.example.com?from=noreply@acme.example"},
			[]string{usher.ChannelEmail}, []string{"smtp://smtp.example.com:587 (starttls, auth auto, from noreply@acme.example)"}},
		{"smtp from overrides", map[string]string{"USHER_SMTP_URL": "smtps://smtp.example.com", "USHER_SMTP_FROM": "Acme <hello@acme.example>"},
			[]string{usher.ChannelEmail}, []string{"smtps://smtp.example.com:465 (implicit, from hello@acme.example)"}},
		{"twilio inferred", map[string]string{"USHER_TWILIO_ACCOUNT_SID": "AC1", "USHER_TWILIO_AUTH_TOKEN": "hunter2", "USHER_TWILIO_FROM": "+15005550006"},
			[]string{usher.ChannelSMS}, []string{"twilio https://api.twilio.com (account AC1, from +15005550006)"}},
		{"webhook chosen", map[string]string{"USHER_SMS_PROVIDER": "webhook", "USHER_SMS_WEBHOOK_URL": "https://sms.example.com/hook?key=hunter2", "USHER_SMS_WEBHOOK_SECRET": "hunter2hunter2hunter2",
			"USHER_TWILIO_ACCOUNT_SID": "AC1"}, []string{usher.ChannelSMS}, []string{"webhook https://sms.example.com/hook"}},
		{"sms off", map[string]string{"USHER_SMS_PROVIDER": "none", "USHER_SMS_WEBHOOK_URL": "https://sms.example.com/hook"}, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := courier.SettingsFromEnv(env(tc.vars)).Config()
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if !slices.Equal(c.Channels(), tc.channels) {
				t.Errorf("channels %v, want %v", c.Channels(), tc.channels)
			}
			d := c.String()
			for _, want := range tc.describe {
				if !strings.Contains(d, want) {
					t.Errorf("String() = %q, want it to contain %q", d, want)
				}
			}
			if strings.Contains(d, "hunter2") {
				t.Errorf("String() = %q shows a secret", d)
			}
		})
	}
}

func TestSettingsErrors(t *testing.T) {
	t.Parallel()
	for name, vars := range map[string]map[string]string{
		"from without server":  {"USHER_SMTP_FROM": "a@b.example"},
		"smtp without from":    {"USHER_SMTP_URL": "smtp://apikey:hunter2@smtp.example.com"},
		"bad smtp url":         {"USHER_SMTP_URL": "smtp://apikey:hunter2@smtp.example.com?tls=maybe&from=a@b.example"},
		"two sms providers":    {"USHER_TWILIO_ACCOUNT_SID": "AC1", "USHER_SMS_WEBHOOK_URL": "https://sms.example.com/hook"},
		"unknown provider":     {"USHER_SMS_PROVIDER": "carrier-pigeon"},
		"twilio without token": {"USHER_SMS_PROVIDER": "twilio", "USHER_TWILIO_ACCOUNT_SID": "AC1", "USHER_TWILIO_FROM": "+15005550006"},
		"webhook short secret": {"USHER_SMS_WEBHOOK_URL": "https://sms.example.com/hook", "USHER_SMS_WEBHOOK_SECRET": "hunter2"},
	} {
		_, err := courier.SettingsFromEnv(env(vars)).Config()
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: error shows a secret: %v", name, err)
		}
	}
}
