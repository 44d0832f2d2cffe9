package backchannel

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/egress"
	"github.com/usherhq/usher/store"
)

// What tenant administrators see of the back-channel logout deliveries
// to their products, and their retry. Never the logout token (it is made
// anew at each attempt and not kept) nor the address's query: the stored
// error's address is redacted when it is recorded.

// The kinds of a failed delivery (LogoutDelivery.Failure).
const (
	FailAnswered = "answered" // the product answered, not with 2xx: Status says what
	FailTimeout  = "timeout"  // no answer in time
	FailConnect  = "connect"  // no connection, or it broke
	FailHost     = "host"     // the address's host name is not known
	FailTLS      = "tls"      // the product's certificate was not accepted
	FailPrivate  = "private"  // the address is inside usher's own network
	FailSign     = "sign"     // usher could not sign the logout token
	FailGone     = "gone"     // the product was deleted or has no back-channel logout URI
	FailTenant   = "tenant"   // the tenant is deactivated
)

// deliveryError is a failed attempt with its kind, and the status of an
// answer that was not 2xx.
type deliveryError struct {
	kind   string
	status int
	err    error
}

func (e *deliveryError) Error() string { return e.err.Error() }
func (e *deliveryError) Unwrap() error { return e.err }

func failure(kind string, err error) error { return &deliveryError{kind: kind, err: err} }

// failureOf says what kind of failure an HTTP client's error is.
func failureOf(err error) string {
	var dns *net.DNSError
	var cert *tls.CertificateVerificationError
	var unknown x509.UnknownAuthorityError
	var host x509.HostnameError
	var record tls.RecordHeaderError
	var ne net.Error
	switch {
	case errors.Is(err, egress.ErrPrivate):
		return FailPrivate
	case errors.As(err, &dns) && !dns.IsTimeout:
		return FailHost
	case errors.As(err, &cert), errors.As(err, &unknown), errors.As(err, &host), errors.As(err, &record):
		return FailTLS
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return FailTimeout
	}
	return FailConnect
}

// LogoutDelivery is a back-channel logout as administrators see it: to
// which account's sign-out it belongs, and what became of it.
type LogoutDelivery struct {
	ID        string `json:"id"`
	ClientID  string `json:"client_id"`
	AccountID string `json:"account_id"`
	// SID is the sid claim the product was sent (none for an account's end
	// that came through no session).
	SID       string    `json:"sid,omitempty"`
	Reason    string    `json:"reason"`
	State     string    `json:"state"` // queued, delivered or abandoned
	CreatedAt time.Time `json:"created_at"`
	Attempts  int       `json:"attempts"`
	// NextAttemptAt is when a queued delivery is tried (again).
	NextAttemptAt *time.Time `json:"next_attempt_at,omitempty"`
	DeliveredAt   *time.Time `json:"delivered_at,omitempty"`
	AbandonedAt   *time.Time `json:"abandoned_at,omitempty"`
	// What the last failed attempt came to: its kind (answered, timeout,
	// connect, host, tls, private, sign, gone, tenant), the HTTP status of
	// an answer, the error (its address without query) and the same in
	// words for people.
	Failure   string `json:"last_failure,omitempty"`
	Status    int    `json:"last_status,omitempty"`
	LastError string `json:"last_error,omitempty"`
	Problem   string `json:"problem,omitempty"`
	// Retryable: abandoned, or waiting out a backoff after a failure, and
	// not being delivered at this moment.
	Retryable bool `json:"retryable"`
}

func deliveryOf(e store.LogoutEvent, now time.Time) LogoutDelivery {
	d := LogoutDelivery{ID: e.ID, ClientID: e.ClientID, AccountID: e.AccountID, SID: SID(e.TenantID, e.SessionID), Reason: e.Reason, State: e.State(),
		CreatedAt: e.CreatedAt, Attempts: e.Attempts, DeliveredAt: e.DeliveredAt, AbandonedAt: e.AbandonedAt, Failure: e.LastFailure,
		Status: e.LastStatus, LastError: e.LastError}
	if d.State == store.LogoutQueued {
		next := e.NextAt
		d.NextAttemptAt = &next
	}
	if d.State != store.LogoutDelivered && e.LastError != "" {
		d.Problem = problem(e.LastFailure, e.LastStatus)
	}
	backingOff := d.State == store.LogoutQueued && e.Attempts > 0 && e.NextAt.After(now)
	leased := e.LeaseUntil != nil && e.LeaseUntil.After(now)
	d.Retryable = !leased && (d.State == store.LogoutAbandoned || backingOff)
	return d
}

// problem puts a failure into a few words for an administrator.
func problem(kind string, status int) string {
	switch kind {
	case FailAnswered:
		return fmt.Sprintf("The product answered %d %s.", status, http.StatusText(status))
	case FailTimeout:
		return fmt.Sprintf("The product did not answer within %d seconds.", int(logoutTimeout/time.Second))
	case FailHost:
		return "The address's host name was not found."
	case FailTLS:
		return "The product's certificate was not accepted."
	case FailPrivate:
		return "The address is inside usher's own network, which products' addresses may not reach."
	case FailSign:
		return "usher could not sign the logout token."
	case FailGone:
		return "The product was deleted or no longer has a back-channel logout address."
	case FailTenant:
		return "The tenant is deactivated."
	}
	return "usher could not connect to the product's address."
}

// LogoutDeliveries lists the back-channel logouts of tenant's client id,
// newest first; another tenant's client is not found.
func (p *Service) LogoutDeliveries(ctx context.Context, actor usher.Actor, tenant usher.Tenant, id string, f store.LogoutFilter,
	o store.ListOptions) ([]LogoutDelivery, string, error) {
	if err := actor.Require(usher.AdminTenant); err != nil {
		return nil, "", err
	}
	r := p.st.Read()
	if _, _, err := r.Client(ctx, tenant.ID, id); err != nil {
		return nil, "", err
	}
	f.ClientID, o.Newest = id, true
	evs, next, err := r.LogoutDeliveries(ctx, tenant.ID, f, o)
	if err != nil {
		return nil, "", err
	}
	now := p.now()
	out := make([]LogoutDelivery, len(evs))
	for i, e := range evs {
		out[i] = deliveryOf(e, now)
	}
	return out, next, nil
}

// RetryLogoutDelivery makes a back-channel logout of tenant's client,
// abandoned or waiting for its next attempt, due now, and audits it: the
// logout worker tries it at its next pass. A delivered one, or one being
// delivered now, is a conflict, as is a product that no longer has a
// back-channel logout URI.
func (p *Service) RetryLogoutDelivery(ctx context.Context, actor usher.Actor, tenant usher.Tenant, client, event string) (LogoutDelivery, error) {
	if err := actor.Require(usher.AdminTenant); err != nil {
		return LogoutDelivery{}, err
	}
	var e store.LogoutEvent
	err := p.st.Write(ctx, func(tx *store.Tx) error {
		c, _, err := tx.Client(ctx, tenant.ID, client)
		if err != nil {
			return err
		}
		if c.DeletedAt != nil || c.BackchannelLogoutURI == "" {
			return usher.Conflict("client_id", "the product was deleted or has no back-channel logout address: there is nowhere to deliver to")
		}
		was, err := tx.LogoutEvent(ctx, tenant.ID, client, event)
		if err != nil {
			return err
		}
		if e, err = tx.RetryLogoutEvent(ctx, tenant.ID, client, event); err != nil {
			return err
		}
		return tx.InsertAudit(ctx, tenant.ID, actor.Event("client.logout_retried", "client", client,
			map[string]string{"event_id": e.ID, "account_id": e.AccountID, "was": was.State(), "attempts": fmt.Sprint(e.Attempts)}))
	})
	if err != nil {
		return LogoutDelivery{}, err
	}
	return deliveryOf(e, p.now()), nil
}
