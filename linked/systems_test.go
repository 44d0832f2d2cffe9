package linked_test

import (
	"errors"
	"testing"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/linked"
	"github.com/usherhq/usher/secret"
	"github.com/usherhq/usher/store"
	"github.com/usherhq/usher/store/storetest"
)

// TestExternalSystemsAndLinks: validation with field errors, presets, the
// write-only sealed client secret, suggestions, many links at once, and an
// administrator's unlink.
func TestExternalSystemsAndLinks(t *testing.T) {
	each(t, func(t *testing.T, open opener) {
		e := newEnv(t, open)
		save := func(id string, x usher.ExternalSystem) (usher.ExternalSystem, error) {
			return e.svc.SaveExternalSystem(e.ctx, tenantAdm, e.tenant, id, linked.ExternalSystemInput{ExternalSystem: x})
		}
		_, err := e.svc.SaveExternalSystem(e.ctx, userAdm, e.tenant, "", linked.ExternalSystemInput{ExternalSystem: usher.ExternalSystem{Name: "G", Kind: usher.ExternalGoogle, ClientID: "c"}})
		storetest.WantCode(t, err, usher.CodeForbidden, "")
		for _, c := range []struct {
			x     usher.ExternalSystem
			field string
		}{
			{usher.ExternalSystem{Name: "X", Kind: "caldav", ClientID: "c"}, "kind"},
			{usher.ExternalSystem{Kind: usher.ExternalGoogle, ClientID: "c"}, "name"},
			{usher.ExternalSystem{Name: "G", Kind: usher.ExternalGoogle}, "client_id"},
			{usher.ExternalSystem{Name: "O", Kind: usher.ExternalOAuth2, ClientID: "c", Scopes: []string{"x"}}, "issuer"},
			{usher.ExternalSystem{Name: "O", Kind: usher.ExternalOAuth2, ClientID: "c", Issuer: "http://idp.example.com", Scopes: []string{"x"}}, "issuer"},
			{usher.ExternalSystem{Name: "E", Kind: usher.ExternalExchange}, "ews_url"},
			{usher.ExternalSystem{Name: "G", Kind: usher.ExternalGoogle, ClientID: "c", ReminderDays: -1}, "reminder_days"},
		} {
			_, err := save("", c.x)
			var es usher.Errors
			if errors.As(err, &es) {
				err = es[0]
			}
			storetest.WantCode(t, err, usher.CodeInvalid, c.field)
		}

		g, err := save("", usher.ExternalSystem{Name: "Google Workspace", Kind: usher.ExternalGoogle, ClientID: "g-client", ClientSecret: "g-secret", ReminderDays: 7})
		if err != nil {
			t.Fatal(err)
		}
		if g.ClientSecret != "" {
			t.Fatal("the client secret was shown")
		}
		kept, err := e.st.Read().ExternalSystem(e.ctx, e.tenant.ID, g.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !secret.Sealed(kept.ClientSecret) || e.reveal(kept.ClientSecret, "external-system-client-secret/"+e.tenant.ID+"/"+g.ID) != "g-secret" {
			t.Fatal("the client secret is not kept sealed")
		}
		// Absent, the secret is kept; the kind does not change.
		if _, err := save(g.ID, usher.ExternalSystem{Name: "Google", Kind: usher.ExternalGoogle, ClientID: "g-client"}); err != nil {
			t.Fatal(err)
		}
		if again, _ := e.st.Read().ExternalSystem(e.ctx, e.tenant.ID, g.ID); again.ClientSecret != kept.ClientSecret {
			t.Fatal("saving without a secret lost it")
		}
		_, err = save(g.ID, usher.ExternalSystem{Name: "Google", Kind: usher.ExternalMicrosoft, ClientID: "g-client"})
		storetest.WantCode(t, err, usher.CodeInvalid, "kind")
		ex, err := save("", usher.ExternalSystem{Name: "Exchange", Kind: usher.ExternalExchange, EWSURL: "https://mail.example.com/EWS/Exchange.asmx"})
		if err != nil {
			t.Fatal(err)
		}
		if e.audited("external_system.created", g.ID) != 1 || e.audited("external_system.updated", g.ID) != 1 {
			t.Fatal("external system changes not audited")
		}

		// Suggestions by email, and many links at once.
		ann, bob := e.account("ann@example.com"), e.account("bob@example.com")
		sug, err := e.svc.Suggest(e.ctx, userAdm, e.tenant, g.ID)
		if err != nil || len(sug) != 2 || sug[0].Login != "ann@example.com" || sug[1].AccountID != bob.ID {
			t.Fatalf("suggestions: %+v, %v", sug, err)
		}
		rows := e.svc.LinkMany(e.ctx, userAdm, e.tenant, []linked.LinkInput{
			{AccountID: ann.ID, ExternalSystemID: g.ID, Login: sug[0].Login},
			{AccountID: bob.ID, ExternalSystemID: g.ID, Login: sug[1].Login},
			{AccountID: ann.ID, ExternalSystemID: g.ID, Login: "again@example.com"},
			{AccountID: ann.ID, ExternalSystemID: "nope", Login: "ann@example.com"},
		})
		// Rows run at once: of Ann's two links to Google, one wins, the
		// other is the conflict, whichever came second.
		annWon, annLost := rows[0].Err, rows[2].Err
		if annWon != nil {
			annWon, annLost = annLost, annWon
		}
		if annWon != nil || rows[1].Err != nil || usher.ErrorCode(annLost) != usher.CodeConflict || usher.ErrorCode(rows[3].Err) != usher.CodeInvalid {
			t.Fatalf("link many: %v / %v / %v / %v", rows[0].Err, rows[1].Err, rows[2].Err, rows[3].Err)
		}
		if sug, _ := e.svc.Suggest(e.ctx, userAdm, e.tenant, g.ID); len(sug) != 0 {
			t.Fatalf("linked accounts still suggested: %+v", sug)
		}
		if _, err := e.svc.Link(e.ctx, userAdm, e.tenant, linked.LinkInput{AccountID: ann.ID, ExternalSystemID: ex.ID, Login: "ANN"}); err != nil {
			t.Fatal(err)
		}
		pending, _, err := e.svc.Links(e.ctx, e.tenant, store.LinkFilter{State: usher.LinkPending, ExternalSystemID: g.ID}, store.ListOptions{})
		if err != nil || len(pending) != 2 {
			t.Fatalf("pending links of Google: %d, %v", len(pending), err)
		}
		// An Exchange link has no provider to go to.
		exl, _, _ := e.svc.Links(e.ctx, e.tenant, store.LinkFilter{ExternalSystemID: ex.ID}, store.ListOptions{})
		_, err = e.svc.Begin(e.ctx, e.tenant, exl[0].ID, ann.ID)
		storetest.WantCode(t, err, usher.CodeInvalid, "external_system_id")

		// An administrator unlinks; the link is history and the account
		// is suggested again.
		ul, err := e.svc.Unlink(e.ctx, userAdm, e.tenant, rows[1].Link.ID)
		if err != nil || ul.State != usher.LinkUnlinked || e.audited("link.unlinked", ul.ID) != 1 {
			t.Fatalf("unlink: %+v, %v", ul, err)
		}
		_, err = e.svc.Unlink(e.ctx, userAdm, e.tenant, rows[1].Link.ID)
		storetest.WantCode(t, err, usher.CodeConflict, "state")
		if sug, _ := e.svc.Suggest(e.ctx, userAdm, e.tenant, g.ID); len(sug) != 1 || sug[0].AccountID != bob.ID {
			t.Fatalf("after unlinking: %+v", sug)
		}
	})
}
