package provision_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/provision"
	"github.com/usherhq/usher/store"
)

// testLinkMessages: the request to authorize a linked external account is
// rendered outside the transaction and queued in the caller's; Compose
// writes it out in the account's language, with the system's name and the
// link, on every channel the tenant enables; a rolled-back transaction
// queues nothing; the tenant's overrides apply.
func testLinkMessages(t *testing.T, e *env) {
	tn := e.tenant("acme", "")
	tn = e.withDefaultPlan(tn, e.plan(tn, "std", 10))
	st := tn.Settings
	st.SMSEnabled = true
	tn, err := e.svc.UpdateTenant(e.ctx, tenantAdm, tn.ID, provision.TenantUpdate{Settings: &st})
	if err != nil {
		t.Fatal(err)
	}
	c, err := e.svc.CreateAccount(e.ctx, userAdm, tn, provision.AccountInput{Route: provision.RouteNewUser, Phone: "+31612345678",
		Person: &provision.PersonInput{FirstName: "Lotte", LastName: "Linked", Email: "lotte@example.com", Language: "nl"}})
	if err != nil {
		t.Fatal(err)
	}
	a := c.Account
	link := "https://acme.example/t/acme/links/L1"
	linkMsgs := func() []usher.Message {
		t.Helper()
		all, _, err := e.st.Read().Messages(e.ctx, tn.ID, store.MessageFilter{AccountID: a.ID}, store.ListOptions{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		var out []usher.Message
		for _, m := range all {
			if strings.HasPrefix(m.Kind, "link_") {
				out = append(out, m)
			}
		}
		return out
	}

	o, err := e.svc.LinkMessages(e.ctx, tn, a, provision.KindLinkAuthorize, "Google Workspace", false, link)
	if err != nil {
		t.Fatal(err)
	}
	var queued []usher.Message
	err = e.st.Write(e.ctx, func(tx *store.Tx) error {
		var err error
		queued, err = o.Queue(e.ctx, tx, tn.ID)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	stored := linkMsgs()
	if len(queued) != 2 || len(stored) != 2 || stored[0].Channel == stored[1].Channel {
		t.Fatalf("one message per channel: queued %+v, stored %+v", queued, stored)
	}
	for _, m := range stored {
		if m.Kind != provision.KindLinkAuthorize || m.Language != "nl" || m.Body != "" || m.Data == "" || m.State != usher.MessageQueued {
			t.Fatalf("stored as what it says: %+v", m)
		}
	}
	for _, m := range e.written(stored) {
		switch m.Channel {
		case usher.ChannelEmail:
			if m.To != "lotte@example.com" || !strings.Contains(m.Subject, "Google Workspace") || !strings.Contains(m.Subject, "koppelen") ||
				!strings.Contains(m.Body, "Hallo Lotte,") || !strings.Contains(m.Body, "\n"+link+"\n") || !strings.Contains(m.HTML, `href="`+link+`"`) ||
				!strings.Contains(m.Body, "Verstuurd namens "+tn.Name) {
				t.Fatalf("the email written out:\n%s\n%s", m.Subject, m.Body)
			}
		case usher.ChannelSMS:
			if m.To != "+31612345678" || !strings.Contains(m.Body, "Google Workspace") || !strings.HasSuffix(m.Body, link) {
				t.Fatalf("the SMS written out: %q", m.Body)
			}
		}
	}

	// Rendered again (a reminder), it is a new message.
	e.clock.Advance(time.Hour)
	o2, err := e.svc.LinkMessages(e.ctx, tn, a, provision.KindLinkAuthorize, "Google Workspace", false, link)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.st.Write(e.ctx, func(tx *store.Tx) error { _, err := o2.Queue(e.ctx, tx, tn.ID); return err }); err != nil {
		t.Fatal(err)
	}
	if n := len(linkMsgs()); n != 4 {
		t.Fatalf("the reminder: %d link messages, want 4", n)
	}

	// A transaction that fails queues nothing.
	o3, err := e.svc.LinkMessages(e.ctx, tn, a, provision.KindLinkReauthorize, "Contoso Exchange", true, link)
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err = e.st.Write(e.ctx, func(tx *store.Tx) error {
		if msgs, err := o3.Queue(e.ctx, tx, tn.ID); err != nil || len(msgs) != 2 {
			t.Errorf("queued %d: %v", len(msgs), err)
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("the failed transaction: %v", err)
	}
	if n := len(linkMsgs()); n != 4 {
		t.Fatalf("a rolled-back transaction left messages: %d link messages, want 4", n)
	}
	// The same outbox queued in a transaction that commits: Exchange asks
	// for the credentials again.
	if err := e.st.Write(e.ctx, func(tx *store.Tx) error { _, err := o3.Queue(e.ctx, tx, tn.ID); return err }); err != nil {
		t.Fatal(err)
	}
	var re []usher.Message
	for _, m := range linkMsgs() {
		if m.Kind == provision.KindLinkReauthorize && m.Channel == usher.ChannelEmail {
			re = append(re, m)
		}
	}
	if len(re) != 1 {
		t.Fatalf("reauthorize emails: %+v", re)
	}
	if m := e.written(re)[0]; !strings.Contains(m.Subject, "Contoso Exchange") || !strings.Contains(m.Body, "gebruikersnaam en wachtwoord voor Contoso Exchange opnieuw in") {
		t.Fatalf("the Exchange request to reconnect:\n%s\n%s", m.Subject, m.Body)
	}

	// Refused before anything is queued: another kind, no system, a link
	// that is no web address.
	for _, c := range []struct{ kind, system, link string }{
		{provision.KindInvitation, "Google Workspace", link},
		{provision.KindLinkAuthorize, " ", link},
		{provision.KindLinkAuthorize, "Google Workspace", "/t/acme/links/L1"},
	} {
		if _, err := e.svc.LinkMessages(e.ctx, tn, a, c.kind, c.system, false, c.link); err == nil {
			t.Errorf("%s %q %q: no error", c.kind, c.system, c.link)
		}
	}

	// The tenant's override of a link message is checked when saved and
	// used when the message is written out.
	st = tn.Settings
	st.Templates = map[string]usher.TemplateOverride{"link_authorize.nl": {Subject: "Koppel {{.SystemName}} aan {{.Product}}"}}
	tn, err = e.svc.UpdateTenant(e.ctx, tenantAdm, tn.ID, provision.TenantUpdate{Settings: &st})
	if err != nil {
		t.Fatal(err)
	}
	st.Templates = map[string]usher.TemplateOverride{"link_reauthorize.nl": {Text: "{{.Nope}} {{.Link}}"}}
	if _, err := e.svc.UpdateTenant(e.ctx, tenantAdm, tn.ID, provision.TenantUpdate{Settings: &st}); err == nil {
		t.Error("a broken override of link_reauthorize was saved")
	}
	for _, m := range e.written(linkMsgs()) {
		if m.Kind == provision.KindLinkAuthorize && m.Channel == usher.ChannelEmail && m.Subject != "Koppel Google Workspace aan "+tn.Name {
			t.Fatalf("the override's subject: %q", m.Subject)
		}
	}

	// Without a channel, there is nothing to queue.
	st = tn.Settings
	st.EmailEnabled, st.SMSEnabled = false, false
	if tn, err = e.svc.UpdateTenant(e.ctx, tenantAdm, tn.ID, provision.TenantUpdate{Settings: &st}); err != nil {
		t.Fatal(err)
	}
	o4, err := e.svc.LinkMessages(e.ctx, tn, a, provision.KindLinkAuthorize, "Google Workspace", false, link)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.st.Write(e.ctx, func(tx *store.Tx) error {
		msgs, err := o4.Queue(e.ctx, tx, tn.ID)
		if len(msgs) != 0 {
			t.Errorf("queued without a channel: %+v", msgs)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
}
