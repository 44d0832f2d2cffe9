package web

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/linked"
)

// TestConsoleLinkWebhook: on the Linked accounts page a tenant
// administrator sets the webhook for link events (the address's problem
// next to its field), sees its signing secret once, makes a new one, sees
// the latest events, and removes it; a user administrator sees it
// read-only.
func TestConsoleLinkWebhook(t *testing.T) {
	onEachDatabaseWorld(t, func(t *testing.T, w *signinWorld) {
		ctx := context.Background()
		b := w.admin(t, w.tenant, usher.AdminTenant, "boss@example.com")
		ua := w.admin(t, w.tenant, usher.AdminUser, "ua@example.com")
		ann := w.activeUser(t, w.tenant, "Ann", "ann@example.com", "ann-usher-password-1")
		secretRE := regexp.MustCompile(`<code id="webhook-secret">([^<]+)</code>`)

		wantPage(t, b.get("/t/acme/admin/linked"), 200, "Webhook for link changes", "No webhook yet")
		wantPage(t, b.post("/t/acme/admin/linked/webhook/save", "webhook_url", "http://hooks.acme.example/usher"), 422, `id="webhook_url-error"`)
		p := b.post("/t/acme/admin/linked/webhook/save", "webhook_url", "https://hooks.acme.example/usher")
		wantPage(t, p, 200, "shown this once", `value="https://hooks.acme.example/usher"`)
		m := secretRE.FindStringSubmatch(p.body)
		if m == nil || !strings.HasPrefix(m[1], "whsec_") {
			t.Fatalf("no secret on the page that made it:\n%s", p.body)
		}
		first := m[1]
		p = b.get("/t/acme/admin/linked")
		wantPage(t, p, 200, "A signing secret is kept and never shown again", "Make a new signing secret")
		if strings.Contains(p.body, first) {
			t.Fatal("the page shows the secret again")
		}
		wantPage(t, b.post("/t/acme/admin/linked/webhook/save", "webhook_url", "https://hooks.acme.example/v2"), 200, "address is saved", `value="https://hooks.acme.example/v2"`)

		// A user administrator: read-only, and refused.
		p = ua.get("/t/acme/admin/linked")
		wantPage(t, p, 200, "Read-only: tenant administrators set the webhook")
		if strings.Contains(p.body, "Make a new signing secret") {
			t.Fatal("a user administrator is offered to rotate the secret")
		}
		wantPage(t, ua.post("/t/acme/admin/linked/webhook/rotate"), 403)

		p = b.post("/t/acme/admin/linked/webhook/rotate")
		wantPage(t, p, 200, "new signing secret")
		if m = secretRE.FindStringSubmatch(p.body); m == nil || m[1] == first {
			t.Fatalf("no new secret after rotation:\n%s", p.body)
		}

		// A link's change: listed among the latest events.
		svc := w.srv.cfg.Linked
		x, err := svc.SaveExternalSystem(ctx, usher.Actor{Kind: usher.ActorToken, ID: "ta", Role: usher.AdminTenant}, w.tenant, "",
			linked.ExternalSystemInput{ExternalSystem: usher.ExternalSystem{Name: "Acme calendar", Kind: usher.ExternalGoogle, ClientID: "c", ClientSecret: "s"}})
		if err != nil {
			t.Fatal(err)
		}
		l, err := svc.Link(ctx, usher.Actor{Kind: usher.ActorToken, ID: "ua", Role: usher.AdminUser}, w.tenant, linked.LinkInput{AccountID: ann.ID, ExternalSystemID: x.ID, Login: "ann@example.com"})
		if err != nil {
			t.Fatal(err)
		}
		wantPage(t, ua.get("/t/acme/admin/linked"), 200, "Latest events", l.ID, "new → pending", "waiting")

		wantPage(t, b.post("/t/acme/admin/linked/webhook/delete"), 200, "The webhook is removed", "No webhook yet", "abandoned", "the webhook was removed")
	})
}
