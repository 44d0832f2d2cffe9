// Package backchannel owns the OpenID Connect provider's back-channel
// logout (OpenID Connect Back-Channel Logout 1.0): the sid claim that names
// a session, the logout tokens of the outbox the provider fills when
// sessions end, their leased delivery worker with its retries, and what
// tenant administrators see of the deliveries and their retry.
package backchannel

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/egress"
	"github.com/usherhq/usher/internal/passes"
	"github.com/usherhq/usher/openid/keys"
	"github.com/usherhq/usher/store"
)

// Logout at the products when a person's usher session ends: the sid
// claim that names the session, the outbox of back-channel logout tokens
// and its worker.

// Service delivers the logout tokens of every tenant's clients.
type Service struct {
	log    *slog.Logger
	st     *store.Store
	keys   *keys.Service
	now    func() time.Time
	issuer func(usher.Tenant) string
	// http posts logout tokens.
	http *http.Client
}

// New returns the deliveries of st's logout events, their tokens signed
// with ks for issuer, posted with client (give the guarded egress client).
func New(log *slog.Logger, st *store.Store, ks *keys.Service, now func() time.Time, issuer func(usher.Tenant) string, client *http.Client) *Service {
	return &Service{log: log, st: st, keys: ks, now: now, issuer: issuer, http: client}
}

// backchannelEvent is the logout token's one event.
const backchannelEvent = "http://schemas.openid.net/event/backchannel-logout"

// Delivery of logout tokens.
const (
	logoutTokenTTL = 2 * time.Minute // a token is made anew at each attempt
	logoutTimeout  = 5 * time.Second // one attempt: a receiver answers at once
	logoutDeadline = 24 * time.Hour  // after this, a failing delivery is abandoned
	// A pass claims at most this many events of a tenant, and of a client:
	// one tenant's many events cannot take every slot of a pass.
	logoutPerTenant = 4
	logoutPerClient = 2
)

// SID is the sid claim of a session in a tenant: stable for the session,
// different per tenant (each is its own issuer), and opaque: it is a hash
// of the session row's id, which is no secret and lets nobody use the
// session; the cookie's secret is never part of it.
func SID(tenantID, sessionID string) string {
	if sessionID == "" {
		return ""
	}
	h := sha256.Sum256([]byte("usher sid\x00" + tenantID + "\x00" + sessionID))
	return base64.RawURLEncoding.EncodeToString(h[:16])
}

// logoutToken signs the logout token of e for client c of tenant tn.
func (p *Service) logoutToken(ctx context.Context, tn usher.Tenant, c usher.Client, e store.LogoutEvent) (string, error) {
	ring, err := p.keys.Ring(ctx, tn.ID)
	if err != nil {
		return "", err
	}
	alg := c.IDTokenAlg
	if alg == "" {
		alg = keys.ES256
	}
	now := p.now()
	k, err := ring.Signer(alg, now)
	if err != nil {
		return "", err
	}
	claims := map[string]any{"iss": strings.TrimSuffix(p.issuer(tn), "/"), "aud": []string{c.ID}, "iat": now.Unix(),
		"exp": now.Add(logoutTokenTTL).Unix(), "jti": e.ID, "sub": e.AccountID, "events": map[string]any{backchannelEvent: map[string]any{}}}
	if s := SID(e.TenantID, e.SessionID); s != "" {
		claims["sid"] = s
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	sig, err := k.Logout.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("openid: sign logout token: %w", err)
	}
	return sig.CompactSerialize()
}

// deliverLogout posts a leased logout event's token to its client's
// back-channel logout URI and records the outcome, giving the lease up.
func (p *Service) deliverLogout(ctx context.Context, e store.LogoutEvent, owner string) error {
	r := p.st.Read()
	tn, err := r.Tenant(ctx, e.TenantID)
	if err != nil {
		return err
	}
	c, _, err := r.Client(ctx, e.TenantID, e.ClientID)
	switch {
	case errors.Is(err, usher.ErrNotFound) || (err == nil && (c.DeletedAt != nil || c.BackchannelLogoutURI == "")):
		return p.finishLogout(ctx, e, owner, failure(FailGone, errors.New("the client was deleted or no longer has a back-channel logout URI")), true)
	case err != nil:
		return err
	case tn.DeactivatedAt != nil:
		return p.finishLogout(ctx, e, owner, failure(FailTenant, errors.New("the tenant is deactivated")), true)
	}
	tok, err := p.logoutToken(ctx, tn, c, e)
	if err != nil {
		// Counted as an attempt, so that a lasting failure waits its backoff
		// and is abandoned in the end rather than tried at every pass.
		p.log.ErrorContext(ctx, "openid: sign a logout token", "event_id", e.ID, "tenant_id", e.TenantID, "err", err)
		return p.finishLogout(ctx, e, owner, failure(FailSign, fmt.Errorf("usher could not sign the logout token: %w", err)), false)
	}
	return p.finishLogout(ctx, e, owner, p.postLogout(ctx, c.BackchannelLogoutURI, tok), false)
}

// postLogout sends one logout token; nil is a 2xx answer (the spec's 200,
// or 204 which some receivers answer).
func (p *Service) postLogout(ctx context.Context, uri, token string) error {
	ctx, cancel := context.WithTimeout(ctx, logoutTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, uri, strings.NewReader(url.Values{"logout_token": {token}}.Encode()))
	if err != nil {
		return failure(FailConnect, egress.RedactURL(err))
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", "usher")
	resp, err := p.http.Do(req)
	if err != nil {
		err = egress.RedactURL(err)
		return failure(failureOf(err), err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return &deliveryError{kind: FailAnswered, status: resp.StatusCode, err: fmt.Errorf("the back-channel logout URI answered %s", resp.Status)}
	}
	return nil
}

// unreachable reports whether a delivery failed without an answer: no
// connection, or none in time (the HTTP client's errors are *url.Error;
// an answer that is not 2xx is not one).
func unreachable(err error) bool {
	var ue *url.Error
	return errors.As(err, &ue)
}

// finishLogout records an attempt's outcome (failed nil: delivered):
// another attempt after the backoff, or, a day after the session ended,
// abandoned and audited.
func (p *Service) finishLogout(ctx context.Context, e store.LogoutEvent, owner string, failed error, abandon bool) error {
	return p.st.Write(ctx, func(tx *store.Tx) error {
		e := e // the write may run again: count this attempt once
		now := tx.Now()
		e.Attempts++
		if failed == nil {
			e.DeliveredAt, e.LastError, e.LastStatus, e.LastFailure = &now, "", 0, ""
			return tx.FinishLogoutEvent(ctx, &e, owner)
		}
		e.LastError, e.LastStatus, e.LastFailure = clip(failed.Error(), 500), 0, FailConnect
		var de *deliveryError
		if errors.As(failed, &de) {
			e.LastStatus, e.LastFailure = de.status, de.kind
		}
		if !abandon && now.Sub(e.CreatedAt) < logoutDeadline {
			e.NextAt = now.Add(egress.Backoff(e.Attempts))
			p.log.Info("openid: a back-channel logout failed, will retry", "event_id", e.ID, "client_id", e.ClientID, "tenant_id", e.TenantID,
				"attempt", e.Attempts, "err", e.LastError)
			if err := tx.FinishLogoutEvent(ctx, &e, owner); err != nil {
				return err
			}
			if unreachable(failed) {
				// The address did not answer: the client's other events wait
				// as long, rather than each waiting out a timeout in a slot.
				_, err := tx.DeferClientLogouts(ctx, e.TenantID, e.ClientID, e.NextAt)
				return err
			}
			return nil
		}
		e.AbandonedAt = &now
		p.log.Warn("openid: a back-channel logout is abandoned", "event_id", e.ID, "client_id", e.ClientID, "tenant_id", e.TenantID,
			"attempts", e.Attempts, "err", e.LastError)
		if err := tx.FinishLogoutEvent(ctx, &e, owner); err != nil {
			return err
		}
		return tx.InsertAudit(ctx, e.TenantID, usher.System.Event("client.logout_abandoned", "client", e.ClientID,
			map[string]string{"event_id": e.ID, "account_id": e.AccountID, "reason": e.Reason, "attempts": fmt.Sprint(e.Attempts),
				"error": clip(e.LastError, 300)}))
	})
}

// LogoutWorkerOptions tune a LogoutWorker; zero values take the defaults
// in brackets.
type LogoutWorkerOptions struct {
	Poll  time.Duration // between passes [2s]
	Lease time.Duration // how long a claimed event is this worker's [1m]
	Batch int           // events claimed at a time [16]
	Log   *slog.Logger  // [the service's]
}

// LogoutWorker delivers the logout tokens of ended sessions to the
// clients' back-channel logout URIs. Run one per replica: events are
// leased through the database, so each is sent by one worker at a time.
type LogoutWorker struct {
	p     *Service
	o     LogoutWorkerOptions
	owner string
}

// NewLogoutWorker returns a worker over p's logout events.
func NewLogoutWorker(p *Service, o LogoutWorkerOptions) *LogoutWorker {
	if o.Poll <= 0 {
		o.Poll = 2 * time.Second
	}
	if o.Lease <= 0 {
		o.Lease = time.Minute
	}
	if o.Batch <= 0 {
		o.Batch = 16
	}
	if o.Log == nil {
		o.Log = p.log
	}
	return &LogoutWorker{p: p, o: o, owner: "logout-" + store.NewID()}
}

// Run works until ctx ends.
func (w *LogoutWorker) Run(ctx context.Context) {
	passes.Run(ctx, w.o.Poll, w.o.Log, "openid: logout worker", func(ctx context.Context) (bool, error) {
		n, err := w.RunOnce(ctx)
		return n >= w.o.Batch, err
	})
}

// RunOnce claims the logout events due now (up to Batch, and a few per
// tenant and per client), delivers each, and returns how many it claimed.
func (w *LogoutWorker) RunOnce(ctx context.Context) (int, error) {
	var due []store.LogoutEvent
	err := w.p.st.Write(ctx, func(tx *store.Tx) error {
		var err error
		due, err = tx.ClaimLogoutEvents(ctx, w.owner, w.o.Batch, logoutPerTenant, logoutPerClient, w.o.Lease)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("claim logout events: %w", err)
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for _, e := range due {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			// Ends well within the lease, so no other worker takes it meanwhile.
			lctx, cancel := context.WithTimeout(ctx, w.o.Lease*3/4)
			defer cancel()
			if err := w.p.deliverLogout(lctx, e, w.owner); err != nil {
				w.o.Log.Error("openid: logout token not delivered", "event_id", e.ID, "client_id", e.ClientID, "tenant_id", e.TenantID, "err", err)
				rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
				defer cancel()
				_ = w.p.st.Write(rctx, func(tx *store.Tx) error { return tx.ReleaseLogoutEvent(rctx, e.ID, w.owner) })
			}
		}()
	}
	wg.Wait()
	return len(due), nil
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
