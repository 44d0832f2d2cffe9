package web

import (
	"bytes"
	"strings"
	"testing"

	"github.com/usherhq/usher/linked"
)

// TestLinkWebhookAPI: tenant administrators set the webhook for link
// events; its secret is answered when made and when rotated, never by a
// read or a later change, and never logged; user administrators read it;
// another tenant's is not found.
func TestLinkWebhookAPI(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, e *apiEnv) {
		w := setUp(t, e)
		ta, ua, gua := w.tenantAdmin.Secret, w.userAdmin.Secret, w.globexUserAdm.Secret
		hook := v1 + "/tenants/acme/link-webhook"

		wantProblem(t, e.call(t, "GET", hook, ua, nil), 404, "not_found", "")
		wantProblem(t, e.call(t, "PUT", hook, ua, obj{"url": "https://hooks.acme.example/usher"}), 403, "forbidden", "")
		wantProblem(t, e.call(t, "PUT", hook, ta, obj{"url": "http://hooks.acme.example/usher"}), 422, "invalid", "url")
		wantProblem(t, e.call(t, "POST", hook+"/secret", ta, nil), 404, "not_found", "")

		made := put[linked.Webhook](t, e, ta, hook, obj{"url": "https://hooks.acme.example/usher"})
		if !strings.HasPrefix(made.Secret, "whsec_") || !made.HasSecret || made.URL != "https://hooks.acme.example/usher" {
			t.Fatalf("made: %+v", made)
		}
		changed := e.call(t, "PUT", hook, ta, obj{"url": "https://hooks.acme.example/v2"})
		if got := ok[linked.Webhook](t, changed, 200); got.Secret != "" || !got.HasSecret || got.URL != "https://hooks.acme.example/v2" {
			t.Fatalf("changed: %s", changed)
		}
		read := e.call(t, "GET", hook, ua, nil)
		if got := ok[linked.Webhook](t, read, 200); got.Secret != "" || !got.HasSecret || bytes.Contains(read.Body, []byte(made.Secret)) {
			t.Fatalf("read: %s", read)
		}
		wantProblem(t, e.call(t, "POST", hook+"/secret", ua, nil), 403, "forbidden", "")
		rot := post[linked.Webhook](t, e, ta, hook+"/secret", nil, 200)
		if rot.Secret == "" || rot.Secret == made.Secret {
			t.Fatalf("rotated: %+v", rot)
		}
		if read := e.call(t, "GET", hook, ua, nil); bytes.Contains(read.Body, []byte(rot.Secret)) {
			t.Fatalf("read after rotation: %s", read)
		}

		// Another tenant's: its own is not found; acme's is not its to read.
		wantProblem(t, e.call(t, "GET", v1+"/tenants/globex/link-webhook", gua, nil), 404, "not_found", "")
		if r := e.call(t, "GET", hook, gua, nil); r.Status == 200 || bytes.Contains(r.Body, []byte("hooks.acme.example")) {
			t.Fatalf("globex read acme's webhook: %s", r)
		}
		if r := e.call(t, "POST", hook+"/secret", gua, nil); r.Status == 200 {
			t.Fatalf("globex rotated acme's secret: %s", r)
		}

		if r := e.call(t, "DELETE", hook, ta, nil); r.Status != 204 {
			t.Fatalf("delete: %s", r)
		}
		wantProblem(t, e.call(t, "GET", hook, ua, nil), 404, "not_found", "")
		for _, s := range []string{made.Secret, rot.Secret} {
			if strings.Contains(e.log.String(), s) {
				t.Fatal("a webhook secret is in the log")
			}
		}
	})
}
