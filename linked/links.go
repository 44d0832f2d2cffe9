package linked

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/store"
)

// LinkInput links an account to its account in an external system.
type LinkInput struct {
	AccountID        string `json:"account_id"`
	ExternalSystemID string `json:"external_system_id"`
	// Login is the account in the external system, usually the work email.
	Login string `json:"login"`
}

// Link links an account to its login in an external system and sends the
// person the message to authorize it, in the link's transaction. User
// administrators.
func (s *Service) Link(ctx context.Context, actor usher.Actor, tenant usher.Tenant, in LinkInput) (usher.Link, error) {
	if err := actor.Require(usher.AdminUser); err != nil {
		return usher.Link{}, err
	}
	login, err := usher.CleanText("login", in.Login, 320)
	if err != nil {
		return usher.Link{}, err
	}
	if login == "" {
		return usher.Link{}, usher.Invalid("login", "is required: the account in the external system, usually the work email")
	}
	r := s.st.Read()
	a, err := r.Account(ctx, tenant.ID, in.AccountID)
	if errors.Is(err, usher.ErrNotFound) || (err == nil && a.State == usher.StateDeactivated) {
		return usher.Link{}, usher.Unknown("account_id", "account")
	} else if err != nil {
		return usher.Link{}, err
	}
	x, err := activeSystem(ctx, r, tenant.ID, in.ExternalSystemID)
	if err != nil {
		return usher.Link{}, err
	}
	l := store.LinkRecord{Link: usher.Link{ID: store.NewID(), AccountID: a.ID, ExternalSystemID: x.ID, Login: login, State: usher.LinkPending}}
	out, err := s.render(ctx, tenant, a, KindAuthorize, x, l.ID)
	if err != nil {
		return usher.Link{}, err
	}
	err = s.st.Write(ctx, func(tx *store.Tx) error {
		now := tx.Now()
		l.NotifiedAt = &now
		if err := tx.InsertLink(ctx, tenant.ID, &l); err != nil {
			return err
		}
		if err := changed(ctx, tx, l, ""); err != nil {
			return err
		}
		if _, err := out.Queue(ctx, tx, tenant.ID); err != nil {
			return err
		}
		return audit(ctx, tx, tenant.ID, actor, "link.created", "link", l.ID,
			map[string]string{"account_id": a.ID, "external_system_id": x.ID, "login": login})
	})
	return l.Link, err
}

// render has provision write a link's message.
func (s *Service) render(ctx context.Context, tenant usher.Tenant, a usher.Account, kind string, x usher.ExternalSystem, linkID string) (Outbox, error) {
	if s.messages == nil {
		return nil, errors.New("linked: no Messages configured to write to the person")
	}
	return s.messages(ctx, tenant, a, kind, x.Name, x.Kind == usher.ExternalExchange, s.LinkURL(tenant, linkID))
}

// LinkRow is the outcome of one input of LinkMany.
type LinkRow struct {
	Link usher.Link `json:"link"`
	Err  error      `json:"-"`
}

// LinkMany makes many links, each on its own: one row per input, in the
// inputs' order; a refused input holds none of the others back.
func (s *Service) LinkMany(ctx context.Context, actor usher.Actor, tenant usher.Tenant, in []LinkInput) []LinkRow {
	out := make([]LinkRow, len(in))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(8, len(in)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				out[i].Link, out[i].Err = s.Link(ctx, actor, tenant, in[i])
			}
		}()
	}
	for i := range in {
		next <- i
	}
	close(next)
	wg.Wait()
	return out
}

// Suggest lists the tenant's accounts without a live link to the system,
// each with its email as the login it likely has there.
func (s *Service) Suggest(ctx context.Context, actor usher.Actor, tenant usher.Tenant, systemID string) ([]store.LinkSuggestion, error) {
	if err := actor.Require(usher.AdminUser); err != nil {
		return nil, err
	}
	r := s.st.Read()
	if _, err := activeSystem(ctx, r, tenant.ID, systemID); err != nil {
		return nil, err
	}
	return r.LinkSuggestions(ctx, tenant.ID, systemID)
}

// Links lists tenant's links.
func (s *Service) Links(ctx context.Context, tenant usher.Tenant, f store.LinkFilter, o store.ListOptions) ([]usher.Link, string, error) {
	recs, next, err := s.st.Read().Links(ctx, tenant.ID, f, o)
	out := make([]usher.Link, len(recs))
	for i, r := range recs {
		out[i] = r.Link
	}
	return out, next, err
}

// GetLink returns one of tenant's links.
func (s *Service) GetLink(ctx context.Context, tenant usher.Tenant, id string) (usher.Link, error) {
	r, err := s.st.Read().Link(ctx, tenant.ID, id)
	return r.Link, err
}

// Unlink ends a link on an administrator's word: its tokens are revoked at
// the provider where it has a revocation endpoint, and erased. User
// administrators.
func (s *Service) Unlink(ctx context.Context, actor usher.Actor, tenant usher.Tenant, id string) (usher.Link, error) {
	if err := actor.Require(usher.AdminUser); err != nil {
		return usher.Link{}, err
	}
	return s.end(ctx, actor, tenant, id, "", usher.LinkUnlinked, "link.unlinked")
}

// Revoke ends a link on its person's word (accountID: the person signed
// in); another person's link is not found.
func (s *Service) Revoke(ctx context.Context, actor usher.Actor, tenant usher.Tenant, accountID, id string) (usher.Link, error) {
	return s.end(ctx, actor, tenant, id, accountID, usher.LinkRevoked, "link.revoked")
}

func (s *Service) end(ctx context.Context, actor usher.Actor, tenant usher.Tenant, id, accountID, state, action string) (usher.Link, error) {
	var l store.LinkRecord
	var x usher.ExternalSystem
	err := s.st.Write(ctx, func(tx *store.Tx) error {
		var err error
		if l, err = tx.Link(ctx, tenant.ID, id); err != nil {
			return err
		}
		if accountID != "" && l.AccountID != accountID {
			return usher.NotFound("link_id", "link")
		}
		if !live(l.State) {
			return usher.Conflict("state", "the link is already %s", l.State)
		}
		if x, err = tx.ExternalSystem(ctx, tenant.ID, l.ExternalSystemID); err != nil {
			return err
		}
		was := l
		l.State, l.AccessToken, l.RefreshToken, l.Password, l.ExpiresAt, l.NextAt = state, "", "", "", nil, nil
		if err := tx.UpdateLink(ctx, tenant.ID, &l, ""); err != nil {
			return err
		}
		if err := changed(ctx, tx, l, was.State); err != nil {
			return err
		}
		l.AccessToken, l.RefreshToken = was.AccessToken, was.RefreshToken // for the revocation below
		return audit(ctx, tx, tenant.ID, actor, action, "link", l.ID, map[string]string{"from": was.State})
	})
	if err != nil {
		return usher.Link{}, err
	}
	// After the commit: the link is ended whatever the provider says.
	s.revokeAtProvider(ctx, x, l)
	l.AccessToken, l.RefreshToken = "", ""
	return l.Link, nil
}

// tokenMargin: an access token this close to its expiry is refreshed
// before it is handed out, or by the worker.
const tokenMargin = 5 * time.Minute

// Token returns a fresh access token of an authorized link for a product,
// refreshing it first when it is about to expire. The refresh token never
// leaves usher. It is not logged.
func (s *Service) Token(ctx context.Context, tenant usher.Tenant, id string) (string, time.Time, error) {
	for attempt := 0; ; attempt++ {
		l, err := s.st.Read().Link(ctx, tenant.ID, id)
		if err != nil {
			return "", time.Time{}, err
		}
		if attempt == 0 && l.AccessToken == "" {
			// Exchange links never hold one; an OAuth link in use always does.
			x, err := s.st.Read().ExternalSystem(ctx, tenant.ID, l.ExternalSystemID)
			if err != nil {
				return "", time.Time{}, err
			}
			if x.Kind == usher.ExternalExchange {
				return "", time.Time{}, errExchangeToken(x.Name)
			}
		}
		if l.State != usher.LinkAuthorized {
			return "", time.Time{}, usher.Conflict("state", "the link is %s, not authorized", l.State)
		}
		if attempt == 0 {
			// A suspended account's links hand out nothing meanwhile.
			if a, err := s.st.Read().Account(ctx, tenant.ID, l.AccountID); err != nil {
				return "", time.Time{}, err
			} else if a.State == usher.StateSuspended || a.State == usher.StateDeactivated {
				return "", time.Time{}, usher.Conflict("state", "the link's account is %s", a.State)
			}
		}
		if l.ExpiresAt == nil || l.ExpiresAt.After(s.now().Add(tokenMargin)) {
			var exp time.Time // zero: the provider gave no expiry
			if l.ExpiresAt != nil {
				exp = *l.ExpiresAt
			}
			tok, err := s.box.Reveal(l.AccessToken, accessPurpose(tenant.ID, l.ID), "link "+l.ID+"'s access token")
			return tok, exp, err
		}
		// Refresh under the link's lease, so that the worker or another
		// request does not refresh it at the same moment.
		var leased bool
		if err := s.st.Write(ctx, func(tx *store.Tx) error {
			var err error
			leased, err = tx.LeaseLink(ctx, tenant.ID, id, s.owner, time.Minute)
			return err
		}); err != nil {
			return "", time.Time{}, err
		}
		if !leased {
			if attempt >= 20 {
				return "", time.Time{}, usher.Conflict("link_id", "the link is being refreshed; try again")
			}
			select {
			case <-ctx.Done():
				return "", time.Time{}, ctx.Err()
			case <-time.After(250 * time.Millisecond):
			}
			continue
		}
		l, err = s.st.Read().Link(ctx, tenant.ID, id)
		if err != nil {
			return "", time.Time{}, err
		}
		if l.LeaseOwner != s.owner || l.State != usher.LinkAuthorized {
			continue // ended or taken meanwhile: read it again
		}
		if l.ExpiresAt == nil || l.ExpiresAt.After(s.now().Add(tokenMargin)) {
			// Refreshed by whoever held the lease before us: hand that out.
			if err := s.st.Write(ctx, func(tx *store.Tx) error { return tx.ReleaseLink(ctx, tenant.ID, id, s.owner) }); err != nil {
				return "", time.Time{}, err
			}
			continue
		}
		// Not cut short by the product's request going away: once the
		// provider rotated the refresh token, the new one must be kept.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		err = s.refreshLeased(rctx, l, s.owner)
		cancel()
		if err != nil {
			return "", time.Time{}, err
		}
		// Once: what the refresh gave is handed out, however short its life.
		if l, err = s.st.Read().Link(ctx, tenant.ID, id); err != nil {
			return "", time.Time{}, err
		}
		if l.State != usher.LinkAuthorized {
			return "", time.Time{}, usher.Conflict("state", "the link is %s, not authorized", l.State)
		}
		var exp time.Time // zero: the provider gave no expiry
		if l.ExpiresAt != nil {
			exp = *l.ExpiresAt
		}
		tok, err := s.box.Reveal(l.AccessToken, accessPurpose(tenant.ID, l.ID), "link "+l.ID+"'s access token")
		return tok, exp, err
	}
}

// AccountEnded ends, in the transaction that deactivates an account, its
// live links: their tokens and passwords are erased at once, so that a
// product cannot go on reading a former employee's calendar
// (provision.OnAccountEnded). A suspended account keeps its links, which
// hand out nothing until it is active again (Token).
func (s *Service) AccountEnded(ctx context.Context, tx *store.Tx, tenant usher.Tenant, a usher.Account) error {
	if a.State != usher.StateDeactivated {
		return nil
	}
	actor := usher.Actor{Kind: usher.ActorSystem}
	for _, st := range []string{usher.LinkPending, usher.LinkAuthorized, usher.LinkReauthorize} {
		links, _, err := tx.Links(ctx, tenant.ID, store.LinkFilter{AccountID: a.ID, State: st}, store.ListOptions{Limit: 500})
		if err != nil {
			return err
		}
		for _, l := range links {
			was := l.State
			l.State, l.AccessToken, l.RefreshToken, l.Password, l.ExpiresAt, l.NextAt = usher.LinkUnlinked, "", "", "", nil, nil
			if err := tx.UpdateLink(ctx, tenant.ID, &l, ""); err != nil {
				return err
			}
			if err := changed(ctx, tx, l, was); err != nil {
				return err
			}
			if err := audit(ctx, tx, tenant.ID, actor, "link.unlinked", "link", l.ID, map[string]string{"from": was, "why": "the account was deactivated"}); err != nil {
				return err
			}
		}
	}
	return nil
}
