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

// testOpenIDLogoutDeliveries: a tenant's logout events are listed newest
// first, a page at a time, of one client and one state, with what their
// last failure was; another tenant's are not found. A retry makes an
// abandoned or waiting event due now, and refuses a delivered one or one
// being delivered.
func testOpenIDLogoutDeliveries(t *testing.T, e *env) {
	a, b := e.tenant("acme", usher.TemplateStandard), e.tenant("globex", usher.TemplateStandard)
	now := e.clock.Now()
	client := func(tn usher.Tenant, sessions int) usher.Client {
		c := usher.Client{Name: "Ledger", Type: usher.ClientConfidential, AuthMethod: "client_secret_basic", IDTokenAlg: "ES256",
			RedirectURIs: []string{"https://ledger.example/cb"}, AccessTokenSeconds: 600, IDTokenSeconds: 3600, RefreshTokenSeconds: 86400,
			BackchannelLogoutURI: "https://ledger.example/logout"}
		e.write(func(tx *store.Tx) error {
			if err := tx.InsertClient(e.ctx, tn.ID, &c, ""); err != nil {
				return err
			}
			for i := range sessions {
				g := store.Grant{ID: store.NewID(), TenantID: tn.ID, ClientID: c.ID, AccountID: fmt.Sprint("acct-", i), IdentityID: "ident",
					SessionID: fmt.Sprint(tn.Slug, c.ID, i), AuthTime: now, ExpiresAt: now.Add(time.Hour)}
				if err := tx.InsertGrant(e.ctx, &g); err != nil {
					return err
				}
				if _, err := tx.QueueLogouts(e.ctx, store.LogoutSession, "ident", g.SessionID, "signed out"); err != nil {
					return err
				}
			}
			return nil
		})
		return c
	}
	ca, other, cb := client(a, 4), client(a, 1), client(b, 1)
	list := func(tn usher.Tenant, f store.LogoutFilter, o store.ListOptions) ([]store.LogoutEvent, string) {
		t.Helper()
		evs, next, err := e.st.Read().LogoutDeliveries(e.ctx, tn.ID, f, o)
		if err != nil {
			t.Fatal(err)
		}
		return evs, next
	}
	all, _ := list(a, store.LogoutFilter{ClientID: ca.ID}, store.ListOptions{Newest: true})
	if len(all) != 4 {
		t.Fatalf("acme's Ledger has %d events, want 4", len(all))
	}
	for i := 1; i < len(all); i++ {
		if all[i-1].ID <= all[i].ID {
			t.Fatalf("not newest first: %s before %s", all[i-1].ID, all[i].ID)
		}
	}
	// Paged two at a time, the pages make the whole list, in order.
	first, next := list(a, store.LogoutFilter{ClientID: ca.ID}, store.ListOptions{Newest: true, Limit: 2})
	second, last := list(a, store.LogoutFilter{ClientID: ca.ID}, store.ListOptions{Newest: true, Limit: 2, After: next})
	if len(first) != 2 || len(second) != 2 || last != "" || first[0].ID != all[0].ID || second[1].ID != all[3].ID {
		t.Fatalf("pages %d, %d (then %q), want 2 and 2 of the whole list", len(first), len(second), last)
	}
	if evs, _ := list(a, store.LogoutFilter{}, store.ListOptions{}); len(evs) != 5 {
		t.Fatalf("acme has %d events, want 5", len(evs))
	}
	if evs, _ := list(b, store.LogoutFilter{ClientID: ca.ID}, store.ListOptions{}); len(evs) != 0 {
		t.Fatalf("globex lists %d of acme's events", len(evs))
	}
	if _, err := e.st.Read().LogoutEvent(e.ctx, b.ID, ca.ID, all[0].ID); !errors.Is(err, usher.ErrNotFound) {
		t.Fatalf("globex reads acme's event: %v", err)
	}
	if _, err := e.st.Read().LogoutEvent(e.ctx, a.ID, other.ID, all[0].ID); !errors.Is(err, usher.ErrNotFound) {
		t.Fatalf("an event read as another client's: %v", err)
	}

	// Claimed and finished: one delivered, one abandoned after a 503,
	// one waiting for its next attempt after a timeout; one left queued.
	var claimed []store.LogoutEvent
	e.write(func(tx *store.Tx) error {
		var err error
		claimed, err = tx.ClaimLogoutEvents(e.ctx, "w", 100, 100, 100, time.Minute)
		return err
	})
	byID := map[string]store.LogoutEvent{}
	for _, ev := range claimed {
		byID[ev.ID] = ev
	}
	done, gone, wait, left := byID[all[0].ID], byID[all[1].ID], byID[all[2].ID], all[3]
	if _, ok := byID[left.ID]; !ok || done.ID == "" || gone.ID == "" || wait.ID == "" || len(claimed) != 6 {
		t.Fatalf("claimed %d events", len(claimed))
	}
	e.write(func(tx *store.Tx) error {
		at := tx.Now()
		done.Attempts, done.DeliveredAt = 1, &at
		gone.Attempts, gone.AbandonedAt, gone.LastError, gone.LastStatus, gone.LastFailure = 9, &at, "the back-channel logout URI answered 503", 503, "answered"
		wait.Attempts, wait.NextAt, wait.LastError, wait.LastFailure = 2, at.Add(time.Hour), "timeout", "timeout"
		for _, ev := range []*store.LogoutEvent{&done, &gone, &wait} {
			if err := tx.FinishLogoutEvent(e.ctx, ev, "w"); err != nil {
				return err
			}
		}
		return nil
	})
	state := func(s string) []store.LogoutEvent {
		evs, _ := list(a, store.LogoutFilter{ClientID: ca.ID, State: s}, store.ListOptions{Newest: true})
		return evs
	}
	if d, ab, q := state(store.LogoutDelivered), state(store.LogoutAbandoned), state(store.LogoutQueued); len(d) != 1 || d[0].ID != done.ID ||
		len(ab) != 1 || ab[0].ID != gone.ID || len(q) != 2 || q[0].ID != wait.ID || q[1].ID != left.ID {
		t.Fatalf("by state: delivered %d, abandoned %d, queued %d", len(d), len(ab), len(q))
	}
	if _, _, err := e.st.Read().LogoutDeliveries(e.ctx, a.ID, store.LogoutFilter{State: "lost"}, store.ListOptions{}); usher.ErrorCode(err) != usher.CodeInvalid {
		t.Fatalf("an unknown state: %v", err)
	}
	got := state(store.LogoutAbandoned)[0]
	if got.State() != store.LogoutAbandoned || got.Attempts != 9 || got.LastStatus != 503 || got.LastFailure != "answered" || got.LastError == "" {
		t.Fatalf("the abandoned event reads %+v", got)
	}

	retry := func(tn usher.Tenant, c usher.Client, id string) (store.LogoutEvent, error) {
		var ev store.LogoutEvent
		err := e.st.Write(e.ctx, func(tx *store.Tx) error {
			var err error
			ev, err = tx.RetryLogoutEvent(e.ctx, tn.ID, c.ID, id)
			return err
		})
		return ev, err
	}
	_, err := retry(a, ca, done.ID)
	wantCode(t, err, usher.CodeConflict, "event_id")
	_, err = retry(b, cb, gone.ID)
	wantCode(t, err, usher.CodeNotFound, "event_id")
	_, err = retry(a, ca, left.ID) // still leased by w
	wantCode(t, err, usher.CodeConflict, "event_id")
	e.clock.Advance(time.Minute)
	for _, id := range []string{gone.ID, wait.ID} {
		ev, err := retry(a, ca, id)
		if err != nil {
			t.Fatal(err)
		}
		if ev.State() != store.LogoutQueued || !ev.NextAt.Equal(e.clock.Now()) {
			t.Fatalf("retried: %s, next at %v, want queued and due now", ev.State(), ev.NextAt)
		}
	}
	// Both are claimed again at once, with their attempts and last failure kept.
	e.write(func(tx *store.Tx) error {
		var err error
		claimed, err = tx.ClaimLogoutEvents(e.ctx, "w2", 100, 100, 100, time.Minute)
		return err
	})
	ids := map[string]store.LogoutEvent{}
	for _, ev := range claimed {
		ids[ev.ID] = ev
	}
	if ev, ok := ids[gone.ID]; !ok || ev.Attempts != 9 || ev.LastStatus != 503 || ev.AbandonedAt != nil {
		t.Fatalf("the retried abandoned event was not claimed as it was: %+v", ev)
	}
	if _, ok := ids[wait.ID]; !ok {
		t.Fatal("the retried waiting event was not claimed")
	}
}
