package courier

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/usherhq/usher"
)

// defaultHTTPClient is used by the HTTP senders when none is given: a
// timeout, and no redirects (a POST that is redirected is a
// misconfiguration, not something to follow).
func defaultHTTPClient() *http.Client {
	return &http.Client{
		Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// post sends req and returns the status and up to 64 KiB of the body. A
// transport error names the URL without its query (which may hold a
// token) and is temporary.
func post(client *http.Client, req *http.Request) (int, http.Header, []byte, error) {
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, nil, nil, fmt.Errorf("POST %s: %w", safeURL(req.URL), err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // let the connection be reused
	if err != nil && resp.StatusCode/100 != 2 {
		return 0, nil, nil, fmt.Errorf("POST %s: reading the response: %w", safeURL(req.URL), err)
	}
	return resp.StatusCode, resp.Header, body, nil
}

// safeURL is u without user information, query or fragment.
func safeURL(u *url.URL) string {
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
}

// excerpt is the start of a response body, on one line, for an error.
func excerpt(b []byte) string {
	return truncate(strings.Join(strings.Fields(strings.ToValidUTF8(string(b), "?")), " "), 200)
}

// retryAfterHeader parses a Retry-After header given in seconds.
func retryAfterHeader(h http.Header) (time.Duration, bool) {
	secs, err := strconv.Atoi(strings.TrimSpace(h.Get("Retry-After")))
	if err != nil || secs < 0 {
		return 0, false
	}
	return time.Duration(secs) * time.Second, true
}

// TwilioConfig configures the Twilio sender.
type TwilioConfig struct {
	AccountSID string
	AuthToken  string
	// From is the sender: a phone number in E.164 form, an alphanumeric
	// sender ID, or a Messaging Service SID ("MG" and 32 hex digits), sent
	// as MessagingServiceSid.
	From string
	// BaseURL is the API's address [https://api.twilio.com]; another
	// value reaches a compatible endpoint or a test server.
	BaseURL string
	// HTTPClient [30s timeout, no redirects].
	HTTPClient *http.Client
}

// TwilioSender sends SMS with Twilio's Messages API: POST
// {base}/2010-04-01/Accounts/{AccountSid}/Messages.json with the form
// fields To, From (or MessagingServiceSid) and Body, authenticated with
// HTTP basic auth AccountSid:AuthToken.
//
// A 400 or 422 answer is permanent (Twilio's error code and message are
// kept, e.g. 21211 "invalid 'To' phone number"), except the codes that
// concern the account's own configuration; 401, 403, 404, 429 and 5xx
// answers and network errors are temporary. Twilio has no idempotency key:
// a message sent again after a crash can arrive twice.
type TwilioSender struct {
	cfg      TwilioConfig
	endpoint string
}

// NewTwilioSender checks cfg and returns a sender.
func NewTwilioSender(cfg TwilioConfig) (*TwilioSender, error) {
	if cfg.AccountSID == "" || cfg.AuthToken == "" || cfg.From == "" {
		return nil, fmt.Errorf("twilio: the account SID, the auth token and the sender (a phone number or messaging service SID) are all required")
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = "https://api.twilio.com"
	}
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("twilio: base URL %q is not an http(s) URL", cfg.BaseURL)
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = defaultHTTPClient()
	}
	return &TwilioSender{
		cfg:      cfg,
		endpoint: strings.TrimSuffix(cfg.BaseURL, "/") + "/2010-04-01/Accounts/" + url.PathEscape(cfg.AccountSID) + "/Messages.json",
	}, nil
}

// String describes the sender without credentials.
func (s *TwilioSender) String() string {
	return fmt.Sprintf("twilio %s (account %s, from %s)", s.cfg.BaseURL, s.cfg.AccountSID, s.cfg.From)
}

// TwilioError is an error answer of the Twilio API.
type TwilioError struct {
	Status   int    `json:"status"`
	Code     int    `json:"code"`
	Message  string `json:"message"`
	MoreInfo string `json:"more_info"`
}

func (e *TwilioError) Error() string {
	if e.Code == 0 && e.Message == "" {
		return fmt.Sprintf("twilio: HTTP %d", e.Status)
	}
	return fmt.Sprintf("twilio: HTTP %d, error %d: %s", e.Status, e.Code, e.Message)
}

// twilioConfigCodes are 400 answers about the account's setup rather than
// the message: retried, so that fixing the setup saves the queue.
var twilioConfigCodes = map[int]bool{
	21212: true, // invalid 'From' number
	21606: true, // the 'From' number cannot send messages
}

// isMessagingServiceSID tells a Messaging Service SID ("MG" and 32 hex
// digits) from a phone number or an alphanumeric sender ID.
func isMessagingServiceSID(from string) bool {
	if len(from) != 34 || !strings.HasPrefix(from, "MG") {
		return false
	}
	_, err := hex.DecodeString(from[2:])
	return err == nil
}

// Send posts m to Twilio.
func (s *TwilioSender) Send(ctx context.Context, m usher.Message) error {
	form := url.Values{"To": {m.To}, "Body": {m.Body}}
	if isMessagingServiceSID(s.cfg.From) {
		form.Set("MessagingServiceSid", s.cfg.From)
	} else {
		form.Set("From", s.cfg.From)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("twilio: %w", err)
	}
	req.SetBasicAuth(s.cfg.AccountSID, s.cfg.AuthToken)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "usher")
	status, h, body, err := post(s.cfg.HTTPClient, req)
	if err != nil {
		return fmt.Errorf("twilio: %w", err)
	}
	if status/100 == 2 {
		return nil
	}
	te := &TwilioError{}
	if json.Unmarshal(body, te) != nil || (te.Code == 0 && te.Message == "") {
		te.Message = excerpt(body)
	}
	te.Status = status
	switch {
	case (status == 400 || status == 422) && !twilioConfigCodes[te.Code]:
		return Permanent(te)
	case status == 429 || status == 503:
		if d, ok := retryAfterHeader(h); ok {
			return RetryAfter(te, d)
		}
	}
	return te
}

// WebhookConfig configures the webhook sender.
type WebhookConfig struct {
	URL    string
	Secret string
	// Now is the clock of the signature's timestamp [time.Now].
	Now func() time.Time
	// HTTPClient [30s timeout, no redirects].
	HTTPClient *http.Client
}

// WebhookSender hands SMS to a service of the operator's choosing: it
// POSTs the JSON object
//
//	{"id": "<message id>", "to": "+31612345678", "body": "…",
//	 "tenant_id": "…", "kind": "invitation", "language": "nl"}
//
// with the headers
//
//	Content-Type: application/json
//	Idempotency-Key: <message id>
//	Usher-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>
//
// where v1 is the HMAC-SHA256, keyed with the shared secret, of the
// timestamp, a dot and the exact request body: "<t>.<body>". A receiver
// recomputes it over the raw body, compares in constant time, and rejects
// timestamps more than a few minutes from its clock (replays). The same
// message sent again (after a crash: delivery is at least once) has the
// same Idempotency-Key, which a receiver should use to drop the repeat.
//
// Any 2xx answer is success. 400, 410, 413 and 422 are permanent (the
// receiver refuses this message: an invalid number, say); every other
// answer (401 for a wrong secret, 404, 408, 409, 429, 5xx) and network
// errors are temporary.
type WebhookSender struct {
	cfg WebhookConfig
	u   *url.URL
}

// NewWebhookSender checks cfg and returns a sender.
func NewWebhookSender(cfg WebhookConfig) (*WebhookSender, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("SMS webhook: the URL must be an http(s) URL")
	}
	if len(cfg.Secret) < 16 {
		return nil, fmt.Errorf("SMS webhook: the signing secret must have at least 16 characters")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = defaultHTTPClient()
	}
	return &WebhookSender{cfg: cfg, u: u}, nil
}

// String describes the sender without the secret or the URL's query.
func (s *WebhookSender) String() string { return "webhook " + safeURL(s.u) }

type webhookPayload struct {
	ID       string `json:"id"`
	To       string `json:"to"`
	Body     string `json:"body"`
	TenantID string `json:"tenant_id"`
	Kind     string `json:"kind"`
	Language string `json:"language"`
}

// WebhookSignature returns the Usher-Signature header value for body sent
// at t with secret.
func WebhookSignature(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts))
	mac.Write([]byte("."))
	mac.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac.Sum(nil))
}

// Send posts m to the webhook.
func (s *WebhookSender) Send(ctx context.Context, m usher.Message) error {
	body, err := json.Marshal(webhookPayload{ID: m.ID, To: m.To, Body: m.Body, TenantID: m.TenantID, Kind: m.Kind, Language: m.Language})
	if err != nil {
		return fmt.Errorf("SMS webhook: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("SMS webhook: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "usher")
	req.Header.Set("Idempotency-Key", m.ID)
	req.Header.Set("Usher-Signature", WebhookSignature(s.cfg.Secret, s.cfg.Now(), body))
	status, h, rbody, err := post(s.cfg.HTTPClient, req)
	if err != nil {
		return fmt.Errorf("SMS webhook: %w", err)
	}
	if status/100 == 2 {
		return nil
	}
	err = fmt.Errorf("SMS webhook %s: HTTP %d: %s", safeURL(s.u), status, excerpt(rbody))
	switch status {
	case 400, 410, 413, 422:
		return Permanent(err)
	case 429, 503:
		if d, ok := retryAfterHeader(h); ok {
			return RetryAfter(err, d)
		}
	}
	return err
}
