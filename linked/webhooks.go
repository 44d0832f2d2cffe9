package linked

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/courier"
	"github.com/usherhq/usher/secret"
	"github.com/usherhq/usher/store"
)

// Webhook is a tenant's webhook for link events as administrators see it.
type Webhook struct {
	URL       string `json:"url"`
	HasSecret bool   `json:"has_secret"`
	// Secret signs the deliveries. It is in the answer that made or
	// rotated it, and never again.
	Secret    string    `json:"secret,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// WebhookInput sets the address of a tenant's webhook for link events.
type WebhookInput struct {
	// URL receives the events: https, or http to localhost.
	URL string `json:"url"`
}

func webhookSecretPurpose(tenantID string) string { return "link-webhook-secret/" + tenantID }

func newWebhookSecret() string {
	s, _ := secret.New()
	return "whsec_" + s
}

func webhookOf(w store.LinkWebhook) Webhook {
	return Webhook{URL: w.URL, HasSecret: w.Secret != "", CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt}
}

// Webhook returns tenant's webhook for link events, without its secret.
// User administrators.
func (s *Service) Webhook(ctx context.Context, actor usher.Actor, tenant usher.Tenant) (Webhook, error) {
	if err := actor.Require(usher.AdminUser); err != nil {
		return Webhook{}, err
	}
	w, err := s.st.Read().LinkWebhook(ctx, tenant.ID)
	if err != nil {
		return Webhook{}, err
	}
	return webhookOf(w), nil
}

// SaveWebhook sets the address of tenant's webhook for link events. The
// first time, usher makes its signing secret and answers it, once; later
// the secret is kept. Tenant administrators.
func (s *Service) SaveWebhook(ctx context.Context, actor usher.Actor, tenant usher.Tenant, in WebhookInput) (Webhook, error) {
	if err := actor.Require(usher.AdminTenant); err != nil {
		return Webhook{}, err
	}
	u, err := usher.CheckURL("url", in.URL, false)
	if err != nil {
		return Webhook{}, err
	}
	if u == "" {
		return Webhook{}, usher.Invalid("url", "is required: the address that receives the link events")
	}
	var out Webhook
	err = s.st.Write(ctx, func(tx *store.Tx) error {
		w, err := tx.LinkWebhook(ctx, tenant.ID)
		made := errors.Is(err, usher.ErrNotFound)
		if err != nil && !made {
			return err
		}
		action, plain := "link_webhook.updated", ""
		if made {
			action, plain = "link_webhook.created", newWebhookSecret()
			w = store.LinkWebhook{TenantID: tenant.ID, Secret: s.box.Keep(plain, webhookSecretPurpose(tenant.ID))}
		}
		w.URL = u
		if err := tx.SaveLinkWebhook(ctx, &w); err != nil {
			return err
		}
		out = webhookOf(w)
		out.Secret = plain
		return audit(ctx, tx, tenant.ID, actor, action, "link_webhook", tenant.ID, map[string]string{"url": u})
	})
	return out, err
}

// RotateWebhookSecret replaces the signing secret of tenant's webhook for
// link events and answers the new one, once: deliveries from now on are
// signed with it. Tenant administrators.
func (s *Service) RotateWebhookSecret(ctx context.Context, actor usher.Actor, tenant usher.Tenant) (Webhook, error) {
	if err := actor.Require(usher.AdminTenant); err != nil {
		return Webhook{}, err
	}
	var out Webhook
	err := s.st.Write(ctx, func(tx *store.Tx) error {
		w, err := tx.LinkWebhook(ctx, tenant.ID)
		if err != nil {
			return err
		}
		plain := newWebhookSecret()
		w.Secret = s.box.Keep(plain, webhookSecretPurpose(tenant.ID))
		if err := tx.SaveLinkWebhook(ctx, &w); err != nil {
			return err
		}
		out = webhookOf(w)
		out.Secret = plain
		return audit(ctx, tx, tenant.ID, actor, "link_webhook.secret_rotated", "link_webhook", tenant.ID, nil)
	})
	return out, err
}

// DeleteWebhook removes tenant's webhook for link events: no more events
// are written, and those not yet delivered are abandoned. Tenant
// administrators.
func (s *Service) DeleteWebhook(ctx context.Context, actor usher.Actor, tenant usher.Tenant) error {
	if err := actor.Require(usher.AdminTenant); err != nil {
		return err
	}
	return s.st.Write(ctx, func(tx *store.Tx) error {
		w, err := tx.LinkWebhook(ctx, tenant.ID)
		if err != nil {
			return err
		}
		if err := tx.DeleteLinkWebhook(ctx, tenant.ID); err != nil {
			return err
		}
		return audit(ctx, tx, tenant.ID, actor, "link_webhook.deleted", "link_webhook", tenant.ID, map[string]string{"url": w.URL})
	})
}

// WebhookDeliveries lists tenant's latest link events with their delivery,
// newest first, at most n. User administrators.
func (s *Service) WebhookDeliveries(ctx context.Context, actor usher.Actor, tenant usher.Tenant, n int) ([]store.LinkEvent, error) {
	if err := actor.Require(usher.AdminUser); err != nil {
		return nil, err
	}
	return s.st.Read().LinkEvents(ctx, tenant.ID, n)
}

// changed records a link's change of state for the tenant's webhook, in
// the transaction that wrote the link (after it, so that the link's row
// is locked): nothing when the state is the same, or when the tenant has
// no webhook.
func changed(ctx context.Context, tx *store.Tx, l store.LinkRecord, from string) error {
	if from == l.State {
		return nil
	}
	_, err := tx.AddLinkEvent(ctx, l.TenantID, l.ID, store.LinkEventStateChanged, from, l.State)
	return err
}

// EventPayload is the body of a webhook delivery.
type EventPayload struct {
	ID     string    `json:"id"`
	Type   string    `json:"type"`
	Tenant string    `json:"tenant"` // the tenant's slug
	Link   EventLink `json:"link"`
	// From is the state before, null for a new link.
	From *string   `json:"from"`
	To   string    `json:"to"`
	At   time.Time `json:"at"`
}

// EventLink is the link an event is about; State is the event's To.
type EventLink struct {
	ID               string `json:"id"`
	AccountID        string `json:"account_id"`
	ExternalSystemID string `json:"external_system_id"`
	Login            string `json:"login"`
	State            string `json:"state"`
}

// Delivery of link events.
const (
	eventTimeout  = 15 * time.Second // one attempt
	eventDeadline = 24 * time.Hour   // after this, a failed event is abandoned
	eventKeep     = 30 * 24 * time.Hour
)

// deliver posts a leased event to its tenant's webhook and records the
// outcome, giving the lease up: delivered on a 2xx answer; else another
// attempt after the backoff, or, a day after the change, abandoned.
func (s *Service) deliver(ctx context.Context, e store.LinkEvent, owner string) error {
	r := s.st.Read()
	w, err := r.LinkWebhook(ctx, e.TenantID)
	if errors.Is(err, usher.ErrNotFound) {
		return s.finish(ctx, e, owner, errors.New("the tenant has no webhook for link events"), true)
	} else if err != nil {
		return err
	}
	tenant, err := r.Tenant(ctx, e.TenantID)
	if err != nil {
		return err
	}
	l, err := r.Link(ctx, e.TenantID, e.LinkID)
	if err != nil {
		return err
	}
	key, err := s.box.Reveal(w.Secret, webhookSecretPurpose(e.TenantID), "the link webhook's secret")
	if err != nil {
		// Not this attempt's fault but not going away: retried with the
		// backoff until a new secret is made, then abandoned.
		return s.finish(ctx, e, owner, errors.New("the webhook's secret cannot be opened (was the key changed?); make a new one"), false)
	}
	p := EventPayload{ID: e.ID, Type: e.Type, Tenant: tenant.Slug, To: e.To, At: e.At,
		Link: EventLink{ID: l.ID, AccountID: l.AccountID, ExternalSystemID: l.ExternalSystemID, Login: l.Login, State: e.To}}
	if e.From != "" {
		p.From = &e.From
	}
	body, err := json.Marshal(p)
	if err != nil {
		return err
	}
	return s.finish(ctx, e, owner, s.post(ctx, w.URL, key, e.ID, body), false)
}

// post sends one delivery; nil is a 2xx answer.
func (s *Service) post(ctx context.Context, url, key, id string, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, eventTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "usher")
	req.Header.Set("Usher-Event-Id", id)
	req.Header.Set("Usher-Signature", courier.WebhookSignature(key, s.now(), body))
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("the webhook answered %s", resp.Status)
	}
	return nil
}

// finish records an attempt's outcome (failed nil: delivered).
func (s *Service) finish(ctx context.Context, e store.LinkEvent, owner string, failed error, abandon bool) error {
	return s.st.Write(ctx, func(tx *store.Tx) error {
		e := e // the write may run again: count this attempt once
		now := tx.Now()
		e.Attempts++
		if failed == nil {
			e.DeliveredAt, e.LastError = &now, ""
			return tx.FinishLinkEvent(ctx, &e, owner)
		}
		e.LastError = clip(failed.Error(), 500)
		if !abandon && now.Sub(e.At) < eventDeadline {
			e.NextAt = now.Add(backoff(e.Attempts))
			s.log.Info("linked: a webhook delivery failed, will retry", "event_id", e.ID, "link_id", e.LinkID, "tenant_id", e.TenantID,
				"attempt", e.Attempts, "err", e.LastError)
			return tx.FinishLinkEvent(ctx, &e, owner)
		}
		e.AbandonedAt = &now
		s.log.Warn("linked: a webhook delivery is abandoned", "event_id", e.ID, "link_id", e.LinkID, "tenant_id", e.TenantID,
			"attempts", e.Attempts, "err", e.LastError)
		if err := tx.FinishLinkEvent(ctx, &e, owner); err != nil {
			return err
		}
		return audit(ctx, tx, e.TenantID, usher.System, "link_event.abandoned", "link", e.LinkID,
			map[string]string{"event_id": e.ID, "to": e.To, "attempts": fmt.Sprint(e.Attempts), "error": clip(e.LastError, 300)})
	})
}
