package store_test

import (
	"testing"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/store"
)

func testSignupLinkConcurrent(t *testing.T, e *env) {
	tn := e.tenant("acme", "")
	const maxUses, attempts = 5, 20
	l := e.signupLink(tn, usher.SignupLink{MaxUses: maxUses})
	okN, usedUp := race(t, attempts, usher.ErrSignupLinkUsedUp, func(int) error { return e.useLink(tn, l.ID) })
	if okN != maxUses || usedUp != attempts-maxUses {
		t.Fatalf("%d uses succeeded, %d refused; want %d and %d", okN, usedUp, maxUses, attempts-maxUses)
	}
	if got := e.readLink(tn, l.ID); got.Uses != maxUses || got.Status != usher.SignupUsedUp {
		t.Fatalf("stored: %+v", got)
	}
	evs, _, _ := e.st.Read().AuditEvents(e.ctx, tn.ID, store.AuditFilter{Action: "test.registered"}, store.ListOptions{})
	if len(evs) != maxUses {
		t.Fatalf("%d registrations committed, want %d", len(evs), maxUses)
	}
}
