package linked

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/egress"
	"github.com/usherhq/usher/internal/passes"
	"github.com/usherhq/usher/store"
)

// refreshLeased refreshes a link owner holds the lease of and records the
// outcome, giving the lease up: new tokens (a rotated refresh token kept),
// a retry later, or, when the provider refuses for good, the link asking
// its person again.
func (s *Service) refreshLeased(ctx context.Context, l store.LinkRecord, owner string) error {
	x, err := s.st.Read().ExternalSystem(ctx, l.TenantID, l.ExternalSystemID)
	if err != nil {
		return err
	}
	if x.DeactivatedAt != nil {
		// Switched off: nobody is asked, and the link waits a day to see
		// whether it was switched back on.
		return s.st.Write(ctx, func(tx *store.Tx) error {
			next := tx.Now().Add(24 * time.Hour)
			l.NextAt = &next
			return tx.UpdateLink(ctx, l.TenantID, &l, owner)
		})
	}
	if x.Kind == usher.ExternalExchange {
		// No tokens: the kept credentials are checked again instead.
		return s.recheckExchange(ctx, l, x, owner)
	}
	tok, granted, err := s.refresh(ctx, l, x)
	var ref *refusal
	switch {
	case err == nil:
		// Once the provider rotated the refresh token, the new one must be
		// kept: not cut short by the worker's shutdown, and tried again over
		// a blip of the database (the old one is dead at the provider).
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		keep := func(tx *store.Tx) error {
			s.keepTokens(&l, tok, tx.Now())
			l.Scopes, l.Attempts, l.LastError = granted, 0, ""
			return tx.UpdateLink(wctx, l.TenantID, &l, owner)
		}
		err := s.st.Write(wctx, keep)
		for attempt := 1; err != nil && attempt < 3 && !errors.Is(err, usher.ErrConflict) && !errors.Is(err, usher.ErrNotFound); attempt++ {
			select {
			case <-wctx.Done():
				return errors.Join(err, wctx.Err())
			case <-time.After(time.Duration(attempt) * 250 * time.Millisecond):
			}
			err = s.st.Write(wctx, keep)
		}
		return err
	case errors.As(err, &ref):
		if rerr := s.reauthorize(ctx, l, ref.reason, owner); rerr != nil {
			return rerr
		}
		return usher.Conflict("state", "the link needs its person to authorize it again: %s", ref.reason)
	default:
		l.Attempts++
		l.LastError = clip(err.Error(), 500)
		s.log.Info("linked: a refresh failed, will retry", "link_id", l.ID, "tenant_id", l.TenantID, "attempt", l.Attempts, "err", l.LastError)
		werr := s.st.Write(ctx, func(tx *store.Tx) error {
			next := tx.Now().Add(backoff(l.Attempts))
			l.NextAt = &next
			return tx.UpdateLink(ctx, l.TenantID, &l, owner)
		})
		return errors.Join(&usher.Error{Code: usher.CodeConflict, Field: "link_id", Message: "the provider could not refresh the token now; try again later", Err: err}, werr)
	}
}

// backoff is the wait after failed attempt n (egress.Backoff, shared with
// the OpenID provider's logout tokens).
func backoff(n int) time.Duration { return egress.Backoff(n) }

// refresh asks the provider for new tokens with the link's refresh token.
func (s *Service) refresh(ctx context.Context, l store.LinkRecord, x usher.ExternalSystem) (*oauth2.Token, []string, error) {
	if x.Kind == usher.ExternalExchange {
		return nil, nil, errors.New("an Exchange link has no tokens to refresh")
	}
	rt, err := s.box.Reveal(l.RefreshToken, refreshPurpose(l.TenantID, l.ID), "link "+l.ID+"'s refresh token")
	if err != nil {
		return nil, nil, err
	}
	if rt == "" {
		return nil, nil, &refusal{reason: "usher holds no refresh token for the link"}
	}
	e, err := s.endpoints(ctx, x)
	if err != nil {
		return nil, nil, err
	}
	cs, err := s.clientSecret(x)
	if err != nil {
		return nil, nil, err
	}
	rctx, cancel := context.WithTimeout(oidc.ClientContext(ctx, s.client), 30*time.Second)
	defer cancel()
	cfg := &oauth2.Config{ClientID: e.x.ClientID, ClientSecret: cs, Endpoint: e.auth, Scopes: e.x.Scopes}
	tok, err := cfg.TokenSource(rctx, &oauth2.Token{RefreshToken: rt}).Token()
	if err != nil {
		return nil, nil, classify(err)
	}
	granted := grantedScopes(tok, l.Scopes)
	if miss := missingScopes(e.x.Scopes, granted); len(miss) > 0 {
		return nil, nil, &refusal{reason: "the granted scopes no longer include " + strings.Join(miss, ", ")}
	}
	return tok, granted, nil
}

// reauthorize moves a link to "needs re-authorization", erases its tokens
// (or Exchange password) and sends its person the message, in one
// transaction with the audit event; a reminder follows after the system's
// reminder days.
func (s *Service) reauthorize(ctx context.Context, l store.LinkRecord, reason, owner string) error {
	tenant, a, x, err := s.context(ctx, l)
	if err != nil {
		return err
	}
	out, err := s.render(ctx, tenant, a, KindReauthorize, x, l.ID)
	if err != nil {
		return err
	}
	s.log.Warn("linked: the provider refused a link's refresh; its person is asked to authorize again", "link_id", l.ID, "tenant_id", l.TenantID, "reason", reason)
	return s.st.Write(ctx, func(tx *store.Tx) error {
		now := tx.Now()
		was := l.State
		l.State, l.AccessToken, l.RefreshToken, l.Password, l.ExpiresAt, l.LastError, l.Attempts = usher.LinkReauthorize, "", "", "", nil, clip(reason, 500), 0
		l.NotifiedAt, l.RemindedAt, l.NextAt = &now, nil, reminderAt(x, now)
		if err := tx.UpdateLink(ctx, l.TenantID, &l, owner); err != nil {
			return err
		}
		if err := changed(ctx, tx, l, was); err != nil {
			return err
		}
		if _, err := out.Queue(ctx, tx, l.TenantID); err != nil {
			return err
		}
		return audit(ctx, tx, l.TenantID, usher.System, "link.reauthorize", "link", l.ID, map[string]string{"from": was, "reason": clip(reason, 300)})
	})
}

func reminderAt(x usher.ExternalSystem, now time.Time) *time.Time {
	if x.ReminderDays <= 0 {
		return nil
	}
	t := now.Add(time.Duration(x.ReminderDays) * 24 * time.Hour)
	return &t
}

// remind sends a link still waiting for its person the message again.
func (s *Service) remind(ctx context.Context, l store.LinkRecord, owner string) error {
	tenant, a, x, err := s.context(ctx, l)
	if err != nil {
		return err
	}
	if x.DeactivatedAt != nil || a.State == usher.StateDeactivated {
		return s.st.Write(ctx, func(tx *store.Tx) error {
			l.NextAt = nil // nobody to remind of anything
			return tx.UpdateLink(ctx, l.TenantID, &l, owner)
		})
	}
	out, err := s.render(ctx, tenant, a, KindReauthorize, x, l.ID)
	if err != nil {
		return err
	}
	return s.st.Write(ctx, func(tx *store.Tx) error {
		now := tx.Now()
		l.RemindedAt, l.NextAt = &now, reminderAt(x, now)
		if err := tx.UpdateLink(ctx, l.TenantID, &l, owner); err != nil {
			return err
		}
		if _, err := out.Queue(ctx, tx, l.TenantID); err != nil {
			return err
		}
		return audit(ctx, tx, l.TenantID, usher.System, "link.reminded", "link", l.ID, nil)
	})
}

func (s *Service) context(ctx context.Context, l store.LinkRecord) (usher.Tenant, usher.Account, usher.ExternalSystem, error) {
	r := s.st.Read()
	tenant, err := r.Tenant(ctx, l.TenantID)
	if err != nil {
		return tenant, usher.Account{}, usher.ExternalSystem{}, err
	}
	a, err := r.Account(ctx, l.TenantID, l.AccountID)
	if err != nil {
		return tenant, a, usher.ExternalSystem{}, err
	}
	x, err := r.ExternalSystem(ctx, l.TenantID, l.ExternalSystemID)
	return tenant, a, x, err
}

// WorkerOptions tune a Worker; zero values take the defaults in brackets.
type WorkerOptions struct {
	Poll  time.Duration // between passes [30s]
	Lease time.Duration // how long a claimed link is this worker's [2m]
	Batch int           // links (and webhook events) claimed at a time [16]
	Log   *slog.Logger  // [the service's]
}

// Worker refreshes links ahead of expiry and before idle grants lapse,
// reminds people of links waiting for them, and delivers the events of
// links' changes to the tenants' webhooks. Run one per replica: links and
// events are leased through the database, so each is refreshed or
// delivered by one worker at a time.
type Worker struct {
	s      *Service
	o      WorkerOptions
	owner  string
	pruned time.Time // when old events were last removed
}

// NewWorker returns a worker over s's links.
func NewWorker(s *Service, o WorkerOptions) *Worker {
	if o.Poll <= 0 {
		o.Poll = 30 * time.Second
	}
	if o.Lease <= 0 {
		o.Lease = 2 * time.Minute
	}
	if o.Batch <= 0 {
		o.Batch = 16
	}
	if o.Log == nil {
		o.Log = s.log
	}
	return &Worker{s: s, o: o, owner: "worker-" + store.NewID()}
}

// Run works until ctx ends.
func (w *Worker) Run(ctx context.Context) {
	passes.Run(ctx, w.o.Poll, w.o.Log, "linked: worker", func(ctx context.Context) (bool, error) {
		n, err := w.RunOnce(ctx)
		return n >= w.o.Batch, err
	})
}

// RunOnce claims the links due now (up to Batch), refreshes or reminds
// each, then the webhook events due (up to Batch) and delivers each, and
// returns how many of either it claimed.
func (w *Worker) RunOnce(ctx context.Context) (int, error) {
	n, err := w.links(ctx)
	m, eerr := w.events(ctx)
	return max(n, m), errors.Join(err, eerr)
}

func (w *Worker) links(ctx context.Context) (int, error) {
	var due []store.LinkRecord
	err := w.s.st.Write(ctx, func(tx *store.Tx) error {
		var err error
		due, err = tx.ClaimLinks(ctx, w.owner, w.o.Batch, w.o.Lease)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("claim links: %w", err)
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for _, l := range due {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			// Ends well within the lease, so no other worker takes it meanwhile.
			lctx, cancel := context.WithTimeout(ctx, w.o.Lease*3/4)
			defer cancel()
			var err error
			if l.State == usher.LinkReauthorize {
				err = w.s.remind(lctx, l, w.owner)
			} else {
				err = w.s.refreshLeased(lctx, l, w.owner)
			}
			if err != nil && usher.ErrorCode(err) == usher.CodeInternal {
				w.o.Log.Error("linked: link not refreshed", "link_id", l.ID, "tenant_id", l.TenantID, "err", err)
				w.release(l)
			}
		}()
	}
	wg.Wait()
	return len(due), nil
}

// release gives a link back after a failure that recorded nothing, due
// again only after a growing wait: a link that keeps failing (a broken
// message template, say) must not be taken again on every pass.
func (w *Worker) release(l store.LinkRecord) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = w.s.st.Write(ctx, func(tx *store.Tx) error {
		cur, err := tx.Link(ctx, l.TenantID, l.ID)
		if err != nil || cur.LeaseOwner != w.owner {
			return tx.ReleaseLink(ctx, l.TenantID, l.ID, w.owner)
		}
		cur.Attempts++
		next := tx.Now().Add(backoff(cur.Attempts))
		cur.NextAt = &next
		return tx.UpdateLink(ctx, l.TenantID, &cur, w.owner)
	})
}

// events delivers the webhook events due now, up to Batch, and now and
// then removes those delivered or abandoned long ago.
func (w *Worker) events(ctx context.Context) (int, error) {
	var due []store.LinkEvent
	err := w.s.st.Write(ctx, func(tx *store.Tx) error {
		if now := tx.Now(); now.Sub(w.pruned) > time.Hour {
			if err := tx.PruneLinkEvents(ctx, now.Add(-eventKeep)); err != nil {
				return err
			}
			w.pruned = now
		}
		var err error
		due, err = tx.ClaimLinkEvents(ctx, w.owner, w.o.Batch, w.o.Lease)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("claim link events: %w", err)
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for _, e := range due {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			lctx, cancel := context.WithTimeout(ctx, w.o.Lease*3/4)
			defer cancel()
			if err := w.s.deliver(lctx, e, w.owner); err != nil {
				w.o.Log.Error("linked: webhook event not delivered", "event_id", e.ID, "link_id", e.LinkID, "tenant_id", e.TenantID, "err", err)
				rctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				_ = w.s.st.Write(rctx, func(tx *store.Tx) error { return tx.ReleaseLinkEvent(rctx, e.ID, w.owner) })
			}
		}()
	}
	wg.Wait()
	return len(due), nil
}
