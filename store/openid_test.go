package store_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/store"
)

// testOpenID: the OpenID Connect provider's rows are invisible to another
// tenant, and a code or a refresh token is used exactly once however many
// uses race.
func testOpenID(t *testing.T, e *env) {
	a, b := e.tenant("acme", usher.TemplateStandard), e.tenant("globex", usher.TemplateStandard)
	c := usher.Client{Name: "Ledger", Type: usher.ClientConfidential, AuthMethod: "client_secret_basic", IDTokenAlg: "ES256",
		RedirectURIs: []string{"https://ledger.example/cb"}, AccessTokenSeconds: 600, IDTokenSeconds: 3600, RefreshTokenSeconds: 86400}
	now := e.clock.Now()
	a = e.withDefaultPlan(a, e.plan(a, "std", 5))
	ada, err := e.newUser(a, "Ada", "ada@acme.example")
	if err != nil {
		t.Fatal(err)
	}
	site := e.org(a, "Plant", e.org(a, "Customer", "").ID)
	ar := store.AuthRequest{ID: store.NewID(), TenantID: a.ID, Data: `{}`, ExpiresAt: now.Add(time.Hour)}
	g := store.Grant{ID: store.NewID(), TenantID: a.ID, AccountID: ada.Account.ID, IdentityID: "ident", SessionID: "sess", AuthTime: now, ExpiresAt: now.Add(time.Hour)}
	rt := store.RefreshToken{Hash: "rt-hash", TenantID: a.ID, GrantID: g.ID, ExpiresAt: now.Add(time.Hour)}
	e.write(func(tx *store.Tx) error {
		if err := tx.InsertClient(e.ctx, a.ID, &c, "secret-hash"); err != nil {
			return err
		}
		ar.ClientID, g.ClientID = c.ID, c.ID
		if err := tx.InsertAuthRequest(e.ctx, &ar); err != nil {
			return err
		}
		if err := tx.SignInAuthRequest(e.ctx, a.ID, ar.ID, ada.Account.ID, "ident", "sess", now); err != nil {
			return err
		}
		if err := tx.SetRelationship(e.ctx, a.ID, site.ID, ada.Person.ID, []string{"Technical", "Billing"}); err != nil {
			return err
		}
		if err := tx.SaveCode(e.ctx, a.ID, ar.ID, "code-hash", now.Add(time.Minute)); err != nil {
			return err
		}
		if err := tx.InsertGrant(e.ctx, &g); err != nil {
			return err
		}
		return tx.InsertRefreshToken(e.ctx, &rt)
	})
	r := e.st.Read()
	if _, _, err := r.Client(e.ctx, b.ID, c.ID); err == nil {
		t.Fatal("another tenant reads the client")
	}
	if list, _, _ := r.Clients(e.ctx, b.ID, false, store.ListOptions{}); len(list) != 0 {
		t.Fatal("another tenant lists the client")
	}
	if _, _, err := r.AuthRequestByCodeWithSubject(e.ctx, b.ID, "code-hash"); !errors.Is(err, usher.ErrNotFound) {
		t.Fatalf("another tenant finds the code: %v", err)
	}
	// The code comes with its account's claims, contact roles included.
	if got, s, err := r.AuthRequestByCodeWithSubject(e.ctx, a.ID, "code-hash"); err != nil || got.ID != ar.ID || got.ClientID != c.ID ||
		got.SessionID != "sess" || got.CodeExpiry == nil || s.Account.ID != ada.Account.ID || s.Person.FirstName != "Ada" ||
		len(s.Roles) != 1 || s.Roles[0].SiteID != site.ID || s.Roles[0].Site != "Plant" || strings.Join(s.Roles[0].Roles, ",") != "Billing,Technical" {
		t.Fatalf("code with its subject: %+v %+v %v", got, s, err)
	}
	if s, err := r.OpenIDSubject(e.ctx, a.ID, ada.Account.ID, false); err != nil || len(s.Roles) != 0 || s.Account.Email != "ada@acme.example" {
		t.Fatalf("subject without roles: %+v %v", s, err)
	}
	if _, err := r.OpenIDSubject(e.ctx, b.ID, ada.Account.ID, true); !errors.Is(err, usher.ErrNotFound) {
		t.Fatalf("another tenant reads the subject: %v", err)
	}
	if _, err := r.RefreshTokenByHash(e.ctx, b.ID, "rt-hash"); err == nil {
		t.Fatal("another tenant finds the refresh token")
	}
	if _, err := r.Grant(e.ctx, b.ID, g.ID); err == nil {
		t.Fatal("another tenant reads the grant")
	}
	if _, _, _, err := r.RefreshTokenWithSubject(e.ctx, b.ID, "rt-hash"); !errors.Is(err, usher.ErrNotFound) {
		t.Fatalf("another tenant finds the refresh token with its grant: %v", err)
	}
	// The refresh token comes with its grant and its account's claims.
	if gotRT, gotG, s, err := r.RefreshTokenWithSubject(e.ctx, a.ID, "rt-hash"); err != nil || gotRT.GrantID != g.ID || gotG.ID != g.ID ||
		gotG.SessionID != "sess" || gotG.ClientID != c.ID || !gotG.ExpiresAt.Equal(g.ExpiresAt) || gotRT.UsedAt != nil ||
		s.Account.ID != ada.Account.ID || s.Person.FirstName != "Ada" || len(s.Roles) != 1 || s.Roles[0].Site != "Plant" {
		t.Fatalf("refresh token with its grant and subject: %+v %+v %+v %v", gotRT, gotG, s, err)
	}
	e.write(func(tx *store.Tx) error {
		if n, err := tx.RevokeAccountGrants(e.ctx, b.ID, ada.Account.ID, "test"); err != nil || n != 0 {
			t.Fatalf("another tenant revoked %d grants (%v)", n, err)
		}
		return nil
	})
	// On PostgreSQL the use is checked with the transaction's next round
	// trip: the write as a whole is refused.
	if err := e.st.Write(e.ctx, func(tx *store.Tx) error { return tx.UseCode(e.ctx, b.ID, ar.ID, "x") }); !errors.Is(err, usher.ErrConflict) {
		t.Fatalf("another tenant used the code: %v", err)
	}

	ok, refused := race(t, 10, usher.ErrConflict, func(int) error {
		return e.st.Write(e.ctx, func(tx *store.Tx) error { return tx.UseCode(e.ctx, a.ID, ar.ID, "grant") })
	})
	if ok != 1 || refused != 9 {
		t.Fatalf("a code used %d times, refused %d", ok, refused)
	}
	ok, refused = race(t, 10, usher.ErrConflict, func(int) error {
		return e.st.Write(e.ctx, func(tx *store.Tx) error { return tx.UseRefreshToken(e.ctx, a.ID, "rt-hash") })
	})
	if ok != 1 || refused != 9 {
		t.Fatalf("a refresh token used %d times, refused %d", ok, refused)
	}
}
