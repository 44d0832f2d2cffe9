// Package courier delivers the outbox: the emails and SMS that the rest of
// usher queues (store.Tx.QueueMessage) in the same transaction as the change
// that causes them.
//
// A Worker claims due messages with a lease (store.Tx.ClaimMessages), hands
// each to the Sender of its channel, and records the outcome: sent, retried
// later with exponential backoff, or abandoned after a permanent failure or
// too many attempts. Any number of replicas may run a Worker on one
// database: the lease guarantees that two of them never hold the same
// message at once.
//
// Delivery is at least once. If a process dies after a message was handed
// to the mail server or SMS provider but before the outcome was recorded,
// the lease runs out and the message is sent again. The repeat is made
// harmless where the receiving side allows: an email carries the same
// Message-ID header every time (derived from the message id), which lets
// mail systems and clients that deduplicate by Message-ID drop the second
// copy; the signed webhook carries the message id as Idempotency-Key. Twilio's Messages API has no
// idempotency key, so such an SMS can arrive twice.
//
// A channel without a Sender (nothing configured: the embedded default) is
// left alone: its messages stay queued, where administrators read them
// through the API, and are never abandoned for lack of a sender.
package courier

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/usherhq/usher"
)

// Sender hands one message to a delivery service. Send returns nil once the
// service has accepted the message. An error wrapped with Permanent means
// that retrying cannot help (the recipient does not exist, the number is
// not a phone number); any other error is retried later. A Sender must be
// safe for concurrent use.
type Sender interface {
	Send(ctx context.Context, m usher.Message) error
}

// ErrPermanent matches, with errors.Is, every error made by Permanent.
var ErrPermanent = errors.New("permanent failure")

// Permanent marks err as a failure that retrying cannot fix: the worker
// abandons the message at once.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err}
}

type permanentError struct{ err error }

func (e *permanentError) Error() string        { return e.err.Error() }
func (e *permanentError) Unwrap() error        { return e.err }
func (e *permanentError) Is(target error) bool { return target == ErrPermanent }

// IsPermanent reports whether err was marked with Permanent.
func IsPermanent(err error) bool { return errors.Is(err, ErrPermanent) }

// RetryAfter marks a temporary failure with the wait the service asked for
// (an HTTP Retry-After header, for instance). The worker waits at least d
// before the next attempt, and at most its maximum backoff.
func RetryAfter(err error, d time.Duration) error {
	if err == nil {
		return nil
	}
	return &retryAfterError{err: err, after: d}
}

type retryAfterError struct {
	err   error
	after time.Duration
}

func (e *retryAfterError) Error() string { return e.err.Error() }
func (e *retryAfterError) Unwrap() error { return e.err }

// retryAfter returns the wait requested by a RetryAfter error in err's chain.
func retryAfter(err error) (time.Duration, bool) {
	var ra *retryAfterError
	if errors.As(err, &ra) {
		return ra.after, true
	}
	return 0, false
}

// Config is the set of senders, one per channel. A nil Sender means the
// channel is not configured: its messages stay queued.
type Config struct {
	Email Sender
	SMS   Sender
}

// Sender returns the sender of channel, or nil when the channel is not
// configured.
func (c Config) Sender(channel string) Sender {
	switch channel {
	case usher.ChannelEmail:
		return c.Email
	case usher.ChannelSMS:
		return c.SMS
	}
	return nil
}

// Channels lists the configured channels.
func (c Config) Channels() []string {
	var out []string
	if c.Email != nil {
		out = append(out, usher.ChannelEmail)
	}
	if c.SMS != nil {
		out = append(out, usher.ChannelSMS)
	}
	return out
}

// String describes the configuration for a startup log line, without
// secrets: "email: smtp://mail.example.com:587 (starttls), sms: not
// configured (messages stay queued)".
func (c Config) String() string {
	describe := func(name string, s Sender) string {
		switch d := s.(type) {
		case nil:
			return name + ": not configured (messages stay queued)"
		case fmt.Stringer:
			return name + ": " + d.String()
		}
		return name + ": configured"
	}
	return describe(usher.ChannelEmail, c.Email) + ", " + describe(usher.ChannelSMS, c.SMS)
}

// maxErrorLen bounds the error text stored with a message.
const maxErrorLen = 500

// errorText makes s the text stored as a message's last error: one line,
// at most maxErrorLen bytes. Senders never put secrets in their errors;
// this only keeps the column small and readable.
func errorText(s string) string {
	return truncate(strings.Join(strings.Fields(s), " "), maxErrorLen)
}

// truncate cuts s to at most n bytes at a character boundary, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
