// Package linked keeps the links between a tenant's people and their own
// accounts in external systems (a calendar a product synchronizes with,
// seed 001): the external systems a tenant configures, the links an
// administrator makes, the person's authorization (OAuth 2.0 code flow with
// PKCE and offline access), the tokens sealed at rest, and the background
// refresh that keeps grants from lapsing and asks the person again when
// the provider refuses for good. Messages to the person are provision's:
// linked hands it what to say and queues it in its own transaction.
package linked

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/discovery"
	"github.com/usherhq/usher/provision"
	"github.com/usherhq/usher/secret"
	"github.com/usherhq/usher/store"
)

// Message kinds linked sends.
const (
	KindAuthorize   = "link_authorize"   // a new link: authorize it
	KindReauthorize = "link_reauthorize" // the provider refused: authorize again (and its reminders)
)

// Outbox is rendered messages waiting to be queued in a transaction:
// provision.Outbox.
type Outbox interface {
	Queue(ctx context.Context, tx *store.Tx, tenantID string) ([]usher.Message, error)
}

// Messages renders a link's message for the person, outside any
// transaction: provision.Service.LinkMessages. link is the page the person
// opens.
type Messages func(ctx context.Context, tenant usher.Tenant, a usher.Account, kind, systemName string, exchange bool, link string) (Outbox, error)

// Deps is what a Service needs.
type Deps struct {
	Store *store.Store
	// Box seals client secrets and tokens; nil keeps them as they are
	// (tests and stores without a key).
	Box *secret.Box
	// Now is the clock [time.Now]; use the store's.
	Now func() time.Time
	// Client talks to the external systems [10s timeout].
	Client *http.Client
	// Base is a tenant's public address; a link's page is Base + "/links/<id>".
	Base     func(usher.Tenant) string
	Messages Messages
	Log      *slog.Logger
}

// Service keeps external systems and links.
type Service struct {
	st        *store.Store
	box       *secret.Box
	now       func() time.Time
	client    *http.Client
	base      func(usher.Tenant) string
	messages  Messages
	log       *slog.Logger
	providers *discovery.Cache
	owner     string // this replica's lease owner for Token's refreshes
}

// New returns a Service.
func New(d Deps) *Service {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Client == nil {
		d.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	return &Service{st: d.Store, box: d.Box, now: d.Now, client: d.Client, base: d.Base, messages: d.Messages, log: d.Log,
		providers: discovery.New(d.Client, d.Now), owner: "token-" + store.NewID()}
}

// LinkURL is the page where the person authorizes a link.
func (s *Service) LinkURL(tenant usher.Tenant, linkID string) string {
	return strings.TrimSuffix(s.base(tenant), "/") + "/links/" + url.PathEscape(linkID)
}

// CallbackURL is where the providers send people back: the redirect URI
// to register with each OAuth external system.
func (s *Service) CallbackURL(tenant usher.Tenant) string {
	return strings.TrimSuffix(s.base(tenant), "/") + "/links/callback"
}

// Purposes bind sealed values to their row.
// Reseal seals anew with box's current key every secret of linked
// accounts (external systems' client secrets, links' tokens and Exchange
// passwords, link webhooks' secrets) sealed with an older one, or kept
// plain from before a key was configured, and returns how many it changed.
// A secret changed meanwhile (a refresh) is left as the change made it.
func Reseal(ctx context.Context, st *store.Store, box *secret.Box) (int, error) {
	if box == nil {
		return 0, nil
	}
	return st.ResealKept(ctx, []string{"external_systems", "links", "link_webhooks"}, func(k store.Kept) (string, bool, error) {
		var purpose string
		switch k.Field {
		case "client_secret":
			purpose = clientSecretPurpose(k.TenantID, k.ID)
		case "access_token":
			purpose = accessPurpose(k.TenantID, k.ID)
		case "refresh_token":
			purpose = refreshPurpose(k.TenantID, k.ID)
		case "password":
			purpose = exchangePasswordPurpose(k.TenantID, k.ID)
		case "secret":
			purpose = webhookSecretPurpose(k.TenantID)
		default:
			return "", false, fmt.Errorf("no purpose for %s.%s", k.Table, k.Field)
		}
		return box.Reseal(k.Value, purpose)
	}, func(tx *store.Tx, k store.Kept, v string) (bool, error) { return tx.ResealLinkedSecret(ctx, k, v) })
}

func clientSecretPurpose(tenantID, systemID string) string {
	return "external-system-client-secret/" + tenantID + "/" + systemID
}

func accessPurpose(tenantID, linkID string) string {
	return "link-access-token/" + tenantID + "/" + linkID
}
func refreshPurpose(tenantID, linkID string) string {
	return "link-refresh-token/" + tenantID + "/" + linkID
}

func audit(ctx context.Context, tx *store.Tx, tenantID string, a usher.Actor, action, kind, id string, details map[string]string) error {
	return tx.InsertAudit(ctx, tenantID, a.Event(action, kind, id, details))
}

// live reports a state the link still counts in.
func live(state string) bool {
	return state == usher.LinkPending || state == usher.LinkAuthorized || state == usher.LinkReauthorize
}

// MessagesOf is provision's rendering of link messages, as Deps.Messages.
func MessagesOf(p *provision.Service) Messages {
	return func(ctx context.Context, tenant usher.Tenant, a usher.Account, kind, systemName string, exchange bool, link string) (Outbox, error) {
		return p.LinkMessages(ctx, tenant, a, kind, systemName, exchange, link)
	}
}
