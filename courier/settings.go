package courier

import (
	"errors"
	"fmt"
	"io"
	"strings"
)

// Settings are the deployment's delivery settings as text, from the
// environment (SettingsFromEnv) or flags. Empty settings configure no
// channel: messages stay queued and readable through the API.
type Settings struct {
	SMTPURL  string // USHER_SMTP_URL: smtp://user:pass@host:587?from=..., see ParseSMTPURL
	SMTPFrom string // USHER_SMTP_FROM: the sender, overriding from= in the URL

	SMSProvider string // USHER_SMS_PROVIDER: "twilio", "webhook" or "none"; empty picks the one whose settings are given

	TwilioAccountSID string // USHER_TWILIO_ACCOUNT_SID
	TwilioAuthToken  string // USHER_TWILIO_AUTH_TOKEN
	TwilioFrom       string // USHER_TWILIO_FROM: +15551234567, or a messaging service SID MG…
	TwilioBaseURL    string // USHER_TWILIO_BASE_URL [https://api.twilio.com]

	WebhookURL    string // USHER_SMS_WEBHOOK_URL
	WebhookSecret string // USHER_SMS_WEBHOOK_SECRET
}

// SettingsFromEnv reads the USHER_SMTP_*, USHER_SMS_* and USHER_TWILIO_*
// variables. Secrets (passwords in USHER_SMTP_URL, USHER_TWILIO_AUTH_TOKEN,
// USHER_SMS_WEBHOOK_SECRET) belong in the environment, not on the command
// line, where ps shows them.
func SettingsFromEnv(getenv func(string) string) Settings {
	return Settings{
		SMTPURL:          getenv("USHER_SMTP_URL"),
		SMTPFrom:         getenv("USHER_SMTP_FROM"),
		SMSProvider:      getenv("USHER_SMS_PROVIDER"),
		TwilioAccountSID: getenv("USHER_TWILIO_ACCOUNT_SID"),
		TwilioAuthToken:  getenv("USHER_TWILIO_AUTH_TOKEN"),
		TwilioFrom:       getenv("USHER_TWILIO_FROM"),
		TwilioBaseURL:    getenv("USHER_TWILIO_BASE_URL"),
		WebhookURL:       getenv("USHER_SMS_WEBHOOK_URL"),
		WebhookSecret:    getenv("USHER_SMS_WEBHOOK_SECRET"),
	}
}

// Config builds the senders the settings describe.
func (s Settings) Config() (Config, error) {
	var c Config
	if s.SMTPURL != "" {
		sc, err := ParseSMTPURL(s.SMTPURL)
		if err != nil {
			return c, err
		}
		if s.SMTPFrom != "" {
			sc.From = s.SMTPFrom
		}
		ss, err := NewSMTPSender(sc)
		if err != nil {
			return Config{}, err
		}
		c.Email = ss
	} else if s.SMTPFrom != "" {
		return c, errors.New("USHER_SMTP_FROM is set but USHER_SMTP_URL is not: no SMTP server to send through")
	}
	provider := strings.ToLower(strings.TrimSpace(s.SMSProvider))
	twilio, webhook := s.TwilioAccountSID != "", s.WebhookURL != ""
	if provider == "" {
		switch {
		case twilio && webhook:
			return c, errors.New("both Twilio and an SMS webhook are configured: choose one with USHER_SMS_PROVIDER=twilio or webhook")
		case twilio:
			provider = "twilio"
		case webhook:
			provider = "webhook"
		default:
			provider = "none"
		}
	}
	switch provider {
	case "none":
	case "twilio":
		ts, err := NewTwilioSender(TwilioConfig{AccountSID: s.TwilioAccountSID, AuthToken: s.TwilioAuthToken, From: s.TwilioFrom, BaseURL: s.TwilioBaseURL})
		if err != nil {
			return Config{}, err
		}
		c.SMS = ts
	case "webhook":
		ws, err := NewWebhookSender(WebhookConfig{URL: s.WebhookURL, Secret: s.WebhookSecret})
		if err != nil {
			return Config{}, err
		}
		c.SMS = ws
	default:
		return Config{}, fmt.Errorf("USHER_SMS_PROVIDER must be twilio, webhook or none, not %q", s.SMSProvider)
	}
	return c, nil
}

// Close releases what the senders hold (kept SMTP connections).
func (c Config) Close() error {
	var errs []error
	for _, s := range []Sender{c.Email, c.SMS} {
		if cl, ok := s.(io.Closer); ok {
			errs = append(errs, cl.Close())
		}
	}
	return errors.Join(errs...)
}
