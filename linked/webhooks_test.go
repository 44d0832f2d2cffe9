package linked_test

import (
	"crypto/hmac"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/courier"
	"github.com/usherhq/usher/internal/testews"
	"github.com/usherhq/usher/linked"
	"github.com/usherhq/usher/provision"
	"github.com/usherhq/usher/store/storetest"
)

// receiver is a product's webhook endpoint: it checks each delivery's
// signature with the tenant's secret and records the events it accepts.
type receiver struct {
	t      *testing.T
	mu     sync.Mutex
	secret string
	fail   int // answer this many of the next deliveries with 500
	got    []linked.EventPayload
	tries  map[string]int // deliveries seen per event id
	bad    []string       // what failed the checks
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	sig := r.Header.Get("Usher-Signature")
	ts, _, _ := strings.Cut(strings.TrimPrefix(sig, "t="), ",")
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || !hmac.Equal([]byte(sig), []byte(courier.WebhookSignature(rc.secret, time.Unix(unix, 0), body))) {
		rc.bad = append(rc.bad, "signature "+sig)
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		rc.bad = append(rc.bad, "content type "+ct)
	}
	var p linked.EventPayload
	if err := json.Unmarshal(body, &p); err != nil || p.ID != r.Header.Get("Usher-Event-Id") {
		rc.bad = append(rc.bad, "body "+string(body))
	}
	rc.tries[p.ID]++
	if rc.fail > 0 {
		rc.fail--
		http.Error(w, "down", http.StatusInternalServerError)
		return
	}
	rc.got = append(rc.got, p)
	w.WriteHeader(http.StatusNoContent)
}

func (rc *receiver) events() []linked.EventPayload {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.bad) > 0 {
		rc.t.Fatalf("deliveries failed the checks: %v", rc.bad)
	}
	return append([]linked.EventPayload(nil), rc.got...)
}

func (rc *receiver) set(f func(*receiver)) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	f(rc)
}

func from(p linked.EventPayload) string {
	if p.From == nil {
		return "null"
	}
	return *p.From
}

// drain runs the worker until it claims nothing.
func drain(t *testing.T, e *env, w *linked.Worker) {
	t.Helper()
	for range 20 {
		n, err := w.RunOnce(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
	t.Fatal("the worker did not run out of work")
}

// TestLinkWebhooks: a tenant administrator sets a webhook; each change of
// a link's state is delivered to it, signed with the tenant's secret, in
// order, retried after a failure, once even with two workers; rotating
// the secret changes the signature; without a webhook nothing is written;
// the secret is never shown but once, nor logged.
func TestLinkWebhooks(t *testing.T) {
	each(t, func(t *testing.T, open opener) {
		e := newEnv(t, open)
		rc := &receiver{t: t, tries: map[string]int{}}
		srv := httptest.NewServer(rc)
		defer srv.Close()
		ann, bob := e.account("ann@example.com"), e.account("bob@example.com")
		w := linked.NewWorker(e.svc, linked.WorkerOptions{})

		// No webhook: no events.
		_, err := e.svc.Webhook(e.ctx, userAdm, e.tenant)
		storetest.WantCode(t, err, usher.CodeNotFound, "")
		early, err := e.svc.Link(e.ctx, userAdm, e.tenant, linked.LinkInput{AccountID: bob.ID, ExternalSystemID: e.system.ID, Login: "bob@example.com"})
		if err != nil {
			t.Fatal(err)
		}
		if evs, err := e.svc.WebhookDeliveries(e.ctx, userAdm, e.tenant, 50); err != nil || len(evs) != 0 {
			t.Fatalf("events without a webhook: %v %v", evs, err)
		}

		// Tenant administrators set it; the secret is in that answer only.
		_, err = e.svc.SaveWebhook(e.ctx, userAdm, e.tenant, linked.WebhookInput{URL: srv.URL})
		storetest.WantCode(t, err, usher.CodeForbidden, "")
		_, err = e.svc.SaveWebhook(e.ctx, tenantAdm, e.tenant, linked.WebhookInput{URL: "http://example.com/hook"})
		storetest.WantCode(t, err, usher.CodeInvalid, "url")
		made, err := e.svc.SaveWebhook(e.ctx, tenantAdm, e.tenant, linked.WebhookInput{URL: srv.URL + "/hook"})
		if err != nil {
			t.Fatal(err)
		}
		first := made.Secret
		if first == "" || !made.HasSecret || e.audited("link_webhook.created", e.tenant.ID) != 1 {
			t.Fatalf("made: %+v", made)
		}
		rc.set(func(rc *receiver) { rc.secret = first })
		again, err := e.svc.SaveWebhook(e.ctx, tenantAdm, e.tenant, linked.WebhookInput{URL: srv.URL})
		if err != nil || again.Secret != "" || !again.HasSecret || again.URL != srv.URL {
			t.Fatalf("saved again: %+v %v", again, err)
		}
		read, err := e.svc.Webhook(e.ctx, userAdm, e.tenant)
		if b, _ := json.Marshal(read); err != nil || strings.Contains(string(b), first) || !read.HasSecret {
			t.Fatalf("read: %s %v", b, err)
		}
		if rec, err := e.st.Read().LinkWebhook(e.ctx, e.tenant.ID); err != nil || strings.Contains(rec.Secret, first) {
			t.Fatal("the secret is not kept sealed")
		}

		// Another tenant's settings are not found.
		other, err := e.prov.CreateTenant(e.ctx, operator, provision.TenantInput{Slug: "other", Name: "Other"})
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.svc.Webhook(e.ctx, userAdm, other)
		storetest.WantCode(t, err, usher.CodeNotFound, "")
		_, err = e.svc.RotateWebhookSecret(e.ctx, tenantAdm, other)
		storetest.WantCode(t, err, usher.CodeNotFound, "")
		storetest.WantCode(t, e.svc.DeleteWebhook(e.ctx, tenantAdm, other), usher.CodeNotFound, "")

		// Link, authorize at Dex, revoke: three events, in order.
		l, err := e.svc.Link(e.ctx, userAdm, e.tenant, linked.LinkInput{AccountID: ann.ID, ExternalSystemID: e.system.ID, Login: "ann@example.com"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.authorize(l, "ann@example.com", "ann-password"); err != nil {
			t.Fatal(err)
		}
		drain(t, e, w)
		// Another program uses the refresh token: Dex refuses usher's, the
		// worker's refresh moves the link to reauthorize.
		rec := e.record(l.ID)
		e.refreshOutside(e.reveal(rec.RefreshToken, "link-refresh-token/"+e.tenant.ID+"/"+l.ID))
		e.clock.Advance(rec.NextAt.Sub(e.clock.Now()) + time.Second)
		drain(t, e, w)
		if rec = e.record(l.ID); rec.State != usher.LinkReauthorize {
			t.Fatalf("after the refused refresh: %s", rec.State)
		}
		if _, err := e.svc.Revoke(e.ctx, usher.Actor{Kind: usher.ActorAccount, ID: ann.ID}, e.tenant, ann.ID, l.ID); err != nil {
			t.Fatal(err)
		}
		drain(t, e, w)
		got := rc.events()
		want := []string{"null>pending", "pending>authorized", "authorized>reauthorize", "reauthorize>revoked"}
		if len(got) != len(want) {
			t.Fatalf("got %d events: %+v", len(got), got)
		}
		for i, p := range got {
			if from(p)+">"+p.To != want[i] || p.Type != "link.state_changed" || p.Tenant != "acme" || p.Link.ID != l.ID ||
				p.Link.AccountID != ann.ID || p.Link.ExternalSystemID != e.system.ID || p.Link.Login != "ann@example.com" || p.Link.State != p.To {
				t.Fatalf("event %d: %+v", i, p)
			}
		}

		// A 500, then a 200 a minute later: delivered once.
		rc.set(func(rc *receiver) { rc.fail = 1 })
		if _, err := e.svc.Unlink(e.ctx, userAdm, e.tenant, early.ID); err != nil {
			t.Fatal(err)
		}
		drain(t, e, w)
		if n := len(rc.events()); n != 4 {
			t.Fatalf("a failed delivery counted: %d", n)
		}
		e.clock.Advance(61 * time.Second)
		drain(t, e, w)
		got = rc.events()
		if len(got) != 5 || got[4].Link.ID != early.ID || from(got[4]) != "pending" || got[4].To != "unlinked" || rc.tries[got[4].ID] != 2 {
			t.Fatalf("after the retry: %+v (tries %v)", got, rc.tries)
		}
		evs, err := e.svc.WebhookDeliveries(e.ctx, userAdm, e.tenant, 50)
		if err != nil || len(evs) != 5 || evs[0].ID != got[4].ID || evs[0].Attempts != 2 || evs[0].DeliveredAt == nil {
			t.Fatalf("deliveries: %+v %v", evs, err)
		}

		// Rotating the secret: the next deliveries are signed with the new one.
		_, err = e.svc.RotateWebhookSecret(e.ctx, userAdm, e.tenant)
		storetest.WantCode(t, err, usher.CodeForbidden, "")
		rot, err := e.svc.RotateWebhookSecret(e.ctx, tenantAdm, e.tenant)
		if err != nil || rot.Secret == "" || rot.Secret == first || e.audited("link_webhook.secret_rotated", e.tenant.ID) != 1 {
			t.Fatalf("rotated: %+v %v", rot, err)
		}
		// Still the old one at the receiver: refused, retried later.
		l2, err := e.svc.Link(e.ctx, userAdm, e.tenant, linked.LinkInput{AccountID: ann.ID, ExternalSystemID: e.system.ID, Login: "ann@example.com"})
		if err != nil {
			t.Fatal(err)
		}
		drain(t, e, w)
		rc.set(func(rc *receiver) {
			if len(rc.bad) != 1 || len(rc.got) != 5 {
				t.Fatalf("a delivery signed with the new secret passed the old one's check: %v", rc.bad)
			}
			rc.bad, rc.secret = nil, rot.Secret
		})
		e.clock.Advance(61 * time.Second)
		drain(t, e, w)
		if got = rc.events(); len(got) != 6 || got[5].Link.ID != l2.ID || got[5].To != "pending" {
			t.Fatalf("after rotation: %+v", got)
		}

		// Two workers at once: each event delivered exactly once.
		for i := range 12 {
			a := e.account("p" + strconv.Itoa(i) + "@example.com")
			if _, err := e.svc.Link(e.ctx, userAdm, e.tenant, linked.LinkInput{AccountID: a.ID, ExternalSystemID: e.system.ID, Login: a.ID}); err != nil {
				t.Fatal(err)
			}
		}
		w1 := linked.NewWorker(e.svc, linked.WorkerOptions{Batch: 3})
		w2 := linked.NewWorker(e.svc, linked.WorkerOptions{Batch: 3})
		var wg sync.WaitGroup
		for _, wk := range []*linked.Worker{w1, w2} {
			wg.Go(func() {
				for range 10 {
					if _, err := wk.RunOnce(e.ctx); err != nil {
						t.Error(err)
					}
				}
			})
		}
		wg.Wait()
		got = rc.events()
		if len(got) != 18 {
			t.Fatalf("two workers delivered %d of 18", len(got))
		}
		seen := map[string]bool{}
		for _, p := range got[6:] {
			if seen[p.ID] || rc.tries[p.ID] != 1 {
				t.Fatalf("event %s delivered twice", p.ID)
			}
			seen[p.ID] = true
		}

		// A receiver that keeps failing: retried with growing waits, then,
		// a day after the change, abandoned.
		rc.set(func(rc *receiver) { rc.fail = 1000 })
		if _, err := e.svc.Unlink(e.ctx, userAdm, e.tenant, l2.ID); err != nil {
			t.Fatal(err)
		}
		for range 30 {
			drain(t, e, w)
			e.clock.Advance(time.Hour)
		}
		evs, _ = e.svc.WebhookDeliveries(e.ctx, userAdm, e.tenant, 1)
		if len(evs) != 1 || evs[0].AbandonedAt == nil || evs[0].DeliveredAt != nil || evs[0].Attempts < 20 || evs[0].Attempts > 30 ||
			e.audited("link_event.abandoned", l2.ID) != 1 {
			t.Fatalf("not abandoned: %+v", evs)
		}

		// Removed: no more events.
		if err := e.svc.DeleteWebhook(e.ctx, tenantAdm, e.tenant); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Link(e.ctx, userAdm, e.tenant, linked.LinkInput{AccountID: ann.ID, ExternalSystemID: e.system.ID, Login: "ann@example.com"}); err != nil {
			t.Fatal(err)
		}
		if evs, _ := e.svc.WebhookDeliveries(e.ctx, userAdm, e.tenant, 1); evs[0].LinkID != l2.ID {
			t.Fatal("an event was written without a webhook")
		}

		for _, s := range []string{first, rot.Secret} {
			if strings.Contains(e.logs.String(), s) {
				t.Fatal("a webhook secret is in the log")
			}
		}
	})
}

// TestLinkWebhookExchange: an Exchange link's changes write their events
// too — made, authorized with the person's credentials (not a refused
// attempt), unlinked by an administrator — each from the state before.
func TestLinkWebhookExchange(t *testing.T) {
	each(t, func(t *testing.T, open opener) {
		e := newEnv(t, open)
		ews := testews.Start(t, map[string]string{exchangeUser: exchangePassword})
		x := e.exchangeSystem(ews.URL)
		ann := e.account("ann@example.com")
		if _, err := e.svc.SaveWebhook(e.ctx, tenantAdm, e.tenant, linked.WebhookInput{URL: "https://hooks.acme.example/usher"}); err != nil {
			t.Fatal(err)
		}
		l, err := e.svc.Link(e.ctx, userAdm, e.tenant, linked.LinkInput{AccountID: ann.ID, ExternalSystemID: x.ID, Login: "ann@corp.example"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.AuthorizeExchange(e.ctx, e.tenant, l.ID, ann.ID, exchangeUser, "not-the-password"); err == nil {
			t.Fatal("a wrong password was accepted")
		}
		if _, err := e.svc.AuthorizeExchange(e.ctx, e.tenant, l.ID, ann.ID, exchangeUser, exchangePassword); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Unlink(e.ctx, userAdm, e.tenant, l.ID); err != nil {
			t.Fatal(err)
		}
		evs, err := e.svc.WebhookDeliveries(e.ctx, userAdm, e.tenant, 50)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for i := len(evs) - 1; i >= 0; i-- {
			if evs[i].LinkID != l.ID || evs[i].Seq != len(got)+1 || evs[i].Type != "link.state_changed" {
				t.Fatalf("event %+v", evs[i])
			}
			got = append(got, evs[i].From+">"+evs[i].To)
		}
		if strings.Join(got, " ") != ">pending pending>authorized authorized>unlinked" {
			t.Fatalf("events: %v", got)
		}
	})
}
