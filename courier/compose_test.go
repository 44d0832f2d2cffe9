package courier_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/catalog"
	"github.com/usherhq/usher/courier"
	"github.com/usherhq/usher/provision"
	"github.com/usherhq/usher/store"
	"github.com/usherhq/usher/store/storetest"
)

// Provisioning stores a message as what it says; the worker writes it out
// with the tenant's templates as they are when it is sent, and keeps the
// text it sent.
func TestWorkerWritesOutMessagesStoredAsData(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, open func(func() time.Time) *store.Store) {
		clock := newClock()
		st := open(clock.Now)
		ctx := context.Background()
		svc := provision.New(st, clock.Now, storetest.Links{})
		op := usher.Actor{Kind: "token", Role: usher.PrincipalOperator}
		tn, err := svc.CreateTenant(ctx, op, provision.TenantInput{Slug: "acme", Name: "Acme Corp"})
		if err != nil {
			t.Fatal(err)
		}
		seats := 5
		p, err := catalog.New(st, svc).CreatePlan(ctx, op, tn, catalog.PlanInput{Key: "std", Name: &tn.Name, Seats: &seats})
		if err != nil {
			t.Fatal(err)
		}
		c, err := svc.CreateAccount(ctx, op, tn, provision.AccountInput{Route: provision.RouteNewUser, PlanID: p.ID,
			Person: &provision.PersonInput{FirstName: "Ada", LastName: "L", Email: "ada@example.com"}})
		if err != nil {
			t.Fatal(err)
		}
		stored, err := st.Read().Message(ctx, tn.ID, c.Messages[0].ID)
		if err != nil || stored.Body != "" || !strings.Contains(stored.Data, "https://acme.example/activate#") {
			t.Fatalf("stored message: %+v, %v", stored, err)
		}
		// The tenant renames itself before the message goes out.
		name := "Acme Industries"
		if tn, err = svc.UpdateTenant(ctx, op, tn.ID, provision.TenantUpdate{Name: &name}); err != nil {
			t.Fatal(err)
		}

		srv := startMailServer(t)
		sender := newSMTPSender(t, "smtp+insecure://"+srv.Addr+"?from=noreply@acme.example", nil)
		o := fastOptions(clock)
		o.Compose = svc.Compose
		stop := run(courier.NewWorker(st, courier.Config{Email: sender}, o))
		waitFor(t, "the invitation sent", 10*time.Second, func() bool { return srv.Count() == 1 })
		stop()

		got := srv.Received()[0]
		if got.To != "ada@example.com" || !strings.Contains(got.Subject, "Acme Industries") ||
			!strings.Contains(got.Body, "https://acme.example/activate#") || !strings.Contains(got.Body, "Ada") {
			t.Fatalf("received: subject %q, body %q", got.Subject, got.Body)
		}
		sent, err := st.Read().Message(ctx, tn.ID, c.Messages[0].ID)
		if err != nil || sent.State != usher.MessageSent || sent.Data != "" || sent.Subject != got.Subject ||
			sent.Body != strings.TrimRight(got.Body, "\n") && sent.Body != got.Body || !strings.Contains(sent.HTML, "https://acme.example/activate#") {
			t.Fatalf("the sent message keeps the text it was sent with: %+v (received %q), %v", sent, got.Body, err)
		}
	})
}

// A worker that cannot write messages out abandons them instead of sending
// them empty.
func TestWorkerWithoutComposeAbandonsMessagesStoredAsData(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, open func(func() time.Time) *store.Store) {
		clock := newClock()
		st := open(clock.Now)
		queue(t, st, []usher.Message{{Kind: "invitation", Channel: usher.ChannelEmail, Language: "en", To: "bo@example.com", Data: `{"first_name":"Bo"}`}})
		srv := startMailServer(t)
		sender := newSMTPSender(t, "smtp+insecure://"+srv.Addr+"?from=noreply@acme.example", nil)
		stop := run(courier.NewWorker(st, courier.Config{Email: sender}, fastOptions(clock)))
		waitFor(t, "the message abandoned", 10*time.Second, func() bool { return countStates(t, st)[usher.MessageAbandoned] == 1 })
		stop()
		for _, m := range messages(t, st) {
			if !strings.Contains(m.LastError, "no Compose") || srv.Count() != 0 {
				t.Fatalf("message %+v; %d sent", m, srv.Count())
			}
		}
	})
}
