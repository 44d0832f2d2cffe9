package store_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/store"
)

// errNone is what a claim that got nothing answers, for race's count.
var errNone = errors.New("claimed nothing")

// testOpenIDLogouts: a session's or an account's end queues one logout
// event per client, account and session, once, in its own tenant only
// (a session's grants are its identity's, in every tenant); of replicas
// claiming at once, exactly one gets each event, and only its owner
// records the outcome.
func testOpenIDLogouts(t *testing.T, e *env) {
	a, b := e.tenant("acme", usher.TemplateStandard), e.tenant("globex", usher.TemplateStandard)
	now := e.clock.Now()
	client := func(tn usher.Tenant, backchannel string) usher.Client {
		c := usher.Client{Name: "Ledger", Type: usher.ClientConfidential, AuthMethod: "client_secret_basic", IDTokenAlg: "ES256",
			RedirectURIs: []string{"https://ledger.example/cb"}, AccessTokenSeconds: 600, IDTokenSeconds: 3600, RefreshTokenSeconds: 86400,
			BackchannelLogoutURI: backchannel}
		e.write(func(tx *store.Tx) error { return tx.InsertClient(e.ctx, tn.ID, &c, "") })
		return c
	}
	ca, quiet, cb := client(a, "https://ledger.example/logout"), client(a, ""), client(b, "https://globex.example/logout")
	grant := func(tn usher.Tenant, c usher.Client, account, session string) {
		g := store.Grant{ID: store.NewID(), TenantID: tn.ID, ClientID: c.ID, AccountID: account, IdentityID: "ident", SessionID: session,
			AuthTime: now, ExpiresAt: now.Add(time.Hour)}
		e.write(func(tx *store.Tx) error { return tx.InsertGrant(e.ctx, &g) })
	}
	grant(a, ca, "acct", "s1")
	grant(a, ca, "acct", "s1") // a second sign-in of the same session: one event
	grant(a, quiet, "acct", "s1")
	grant(a, ca, "acct", "s2")
	grant(b, cb, "acct-b", "s1") // the same session serves globex

	queue := func(scope store.LogoutScope, x, y string) int {
		t.Helper()
		var n int
		e.write(func(tx *store.Tx) error {
			var err error
			n, err = tx.QueueLogouts(e.ctx, scope, x, y, "test")
			return err
		})
		return n
	}
	if n := queue(store.LogoutAccount, b.ID, "acct"); n != 0 {
		t.Fatalf("globex's account end queued %d of acme's logouts", n)
	}
	if n := queue(store.LogoutSession, "ident", "s1"); n != 2 {
		t.Fatalf("ending s1 queued %d events, want acme's Ledger and globex's", n)
	}
	if n := queue(store.LogoutSession, "ident", "s1"); n != 0 {
		t.Fatalf("ending s1 again queued %d", n)
	}
	if n := queue(store.LogoutAccount, a.ID, "acct"); n != 1 {
		t.Fatalf("ending acme's account queued %d, want s2's only", n)
	}
	r := e.st.Read()
	ea, _ := r.LogoutEvents(e.ctx, a.ID, 10)
	eb, _ := r.LogoutEvents(e.ctx, b.ID, 10)
	if len(ea) != 2 || len(eb) != 1 || eb[0].ClientID != cb.ID || eb[0].AccountID != "acct-b" {
		t.Fatalf("events: acme %+v, globex %+v", ea, eb)
	}

	var mu sync.Mutex
	var claimed []store.LogoutEvent
	owners := make([]string, 10)
	ok, none := race(t, 10, errNone, func(i int) error {
		owners[i] = fmt.Sprint("owner-", i)
		var got []store.LogoutEvent
		err := e.st.Write(e.ctx, func(tx *store.Tx) error {
			var err error
			got, err = tx.ClaimLogoutEvents(e.ctx, owners[i], 1, 2, 2, time.Minute)
			return err
		})
		if err == nil && len(got) == 0 {
			return errNone
		}
		if err == nil {
			mu.Lock()
			claimed = append(claimed, got...)
			mu.Unlock()
		}
		return err
	})
	if ok != 3 || none != 7 {
		t.Fatalf("%d claims got an event, %d nothing; want 3 and 7", ok, none)
	}
	seen := map[string]bool{}
	for _, ev := range claimed {
		seen[ev.ID] = true
	}
	if len(seen) != 3 {
		t.Fatalf("3 claims got %d distinct events", len(seen))
	}
	ev := claimed[0]
	ev.Attempts = 1
	err := e.st.Write(e.ctx, func(tx *store.Tx) error { return tx.FinishLogoutEvent(e.ctx, &ev, "someone-else") })
	wantCode(t, err, usher.CodeConflict, "event_id")
	e.write(func(tx *store.Tx) error {
		done := tx.Now()
		ev.DeliveredAt = &done
		return tx.FinishLogoutEvent(e.ctx, &ev, ev.LeaseOwner)
	})
}

// testOpenIDLogoutFairness: a claim takes at most perTenant events of a
// tenant and perClient of a client, earliest due first, whatever the
// batch; deferring a client's events moves only its unleased ones.
func testOpenIDLogoutFairness(t *testing.T, e *env) {
	a, b := e.tenant("acme", usher.TemplateStandard), e.tenant("globex", usher.TemplateStandard)
	now := e.clock.Now()
	var grants []store.Grant
	client := func(tn usher.Tenant, sessions int) usher.Client {
		c := usher.Client{Name: "Ledger", Type: usher.ClientConfidential, AuthMethod: "client_secret_basic", IDTokenAlg: "ES256",
			RedirectURIs: []string{"https://ledger.example/cb"}, AccessTokenSeconds: 600, IDTokenSeconds: 3600, RefreshTokenSeconds: 86400,
			BackchannelLogoutURI: "https://ledger.example/logout"}
		e.write(func(tx *store.Tx) error { return tx.InsertClient(e.ctx, tn.ID, &c, "") })
		for i := range sessions {
			grants = append(grants, store.Grant{ID: store.NewID(), TenantID: tn.ID, ClientID: c.ID, AccountID: "acct", IdentityID: "ident",
				SessionID: fmt.Sprint(tn.Slug, c.ID, i), AuthTime: now, ExpiresAt: now.Add(time.Hour)})
		}
		return c
	}
	// acme: a client with five sessions' events, then two with one each; globex: one.
	big := client(a, 5)
	client(a, 1)
	client(a, 1)
	client(b, 1)
	e.write(func(tx *store.Tx) error {
		for _, g := range grants {
			if err := tx.InsertGrant(e.ctx, &g); err != nil {
				return err
			}
			if _, err := tx.QueueLogouts(e.ctx, store.LogoutSession, "ident", g.SessionID, "test"); err != nil {
				return err
			}
		}
		return nil
	})
	claim := func(owner string) []store.LogoutEvent {
		t.Helper()
		var got []store.LogoutEvent
		e.write(func(tx *store.Tx) error {
			var err error
			got, err = tx.ClaimLogoutEvents(e.ctx, owner, 100, 3, 2, time.Minute)
			return err
		})
		return got
	}
	count := func(evs []store.LogoutEvent) map[string]int {
		n := map[string]int{}
		for _, ev := range evs {
			n[ev.TenantID]++
			n[ev.ClientID]++
		}
		return n
	}
	got := claim("w1")
	if n := count(got); len(got) != 4 || n[a.ID] != 3 || n[b.ID] != 1 || n[big.ID] != 2 {
		t.Fatalf("the first claim took %d events: %v", len(got), n)
	}
	// The big client's three others wait; one leased by w1 is not moved.
	e.write(func(tx *store.Tx) error {
		n, err := tx.DeferClientLogouts(e.ctx, a.ID, big.ID, now.Add(time.Hour))
		if err == nil && n != 3 {
			err = fmt.Errorf("deferred %d events, want the 3 not leased", n)
		}
		return err
	})
	got = claim("w2")
	if n := count(got); len(got) != 1 || n[big.ID] != 0 {
		t.Fatalf("the second claim took %d events: %v", len(got), n)
	}
}
