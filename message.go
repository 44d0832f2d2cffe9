package usher

import "time"

// Message channels and states.
const (
	ChannelEmail = "email"
	ChannelSMS   = "sms"

	MessageQueued    = "queued"
	MessageSent      = "sent"
	MessageAbandoned = "abandoned"
)

// Message is an email or SMS queued in the transaction that causes it.
type Message struct {
	ID        string `json:"id"`
	TenantID  string `json:"-"`
	Kind      string `json:"kind"` // "invitation", "welcome", ...
	Channel   string `json:"channel"`
	To        string `json:"to"`
	AccountID string `json:"account_id,omitempty"`
	Language  string `json:"language"`
	Subject   string `json:"subject,omitempty"`
	Body      string `json:"body"`           // plain text (email) or the SMS
	HTML      string `json:"html,omitempty"` // email only
	// Data is what the message says, as its template's inputs (JSON): a
	// message is stored so and written out with the tenant's templates
	// when it is sent or read (provision.Service.Compose), so a creation
	// does not render and store kilobytes of text. Empty once written out.
	Data        string     `json:"-"`
	State       string     `json:"state"`
	Attempts    int        `json:"attempts"`
	LastError   string     `json:"last_error,omitempty"`
	DedupeKey   string     `json:"-"`
	CreatedAt   time.Time  `json:"created_at"`
	NextAttempt time.Time  `json:"next_attempt_at"`
	SentAt      *time.Time `json:"sent_at,omitempty"`
}
