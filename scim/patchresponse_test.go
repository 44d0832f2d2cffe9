package scim_test

import (
	"errors"
	"testing"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/apitoken"
	"github.com/usherhq/usher/provision"
	"github.com/usherhq/usher/scim"
	"github.com/usherhq/usher/store"
)

func init() { cases["PatchResponse"] = testPatchResponse }

// testPatchResponse: each provisioning source chooses how its successful
// PATCH requests are answered: 204 without a body (the default, as Entra
// ID expects) or 200 with the whole resource (as Okta documents), for
// users and groups; a request naming attributes gets 200 and the resource
// either way (RFC 7644 §3.5.2). The setting is checked, is the tenant's own
// source's, and is audited.
func testPatchResponse(t *testing.T, e *env) {
	uid := e.want(e.do("POST", "/Users", entraUser("ada@acme.example", "Ada", "Lovelace")), 201)["id"].(string)
	gid := e.want(e.do("POST", "/Groups", obj{"schemas": []any{scim.URNGroup}, "displayName": "Engineering"}), 201)["id"].(string)
	rename := func(given string) obj { return patch(obj{"op": "replace", "path": "name.givenName", "value": given}) }

	// Entra ID's token, made without the setting: 204, no body, an ETag.
	if e.tok.PatchResponse != usher.PatchNoContent {
		t.Fatalf("a new source answers PATCH with %q", e.tok.PatchResponse)
	}
	r := e.do("PATCH", "/Users/"+uid, rename("Augusta"))
	if r.Status != 204 || len(r.Body) != 0 || r.Header.Get("ETag") == "" {
		t.Fatalf("PATCH from a no_content source: %d %q (ETag %q)", r.Status, r.Body, r.Header.Get("ETag"))
	}
	e.want(e.do("PATCH", "/Groups/"+gid, patch(obj{"op": "add", "path": "members", "value": []any{obj{"value": uid}}})), 204)
	// With attributes the answer is 200 and the resource, whatever the source chose.
	m := e.want(e.do("PATCH", "/Users/"+uid+"?attributes=userName", rename("Ada")), 200)
	if m["userName"] != "ada@acme.example" || m["id"] != uid || m["name"] != nil {
		t.Fatalf("PATCH with attributes=userName: %v", m)
	}

	// Okta's token asks for the resource.
	okta, oktaSecret, err := e.tokens.CreateToken(e.ctx, operator, e.tn, apitoken.TokenInput{Name: "Okta", Role: usher.PrincipalSCIM, PatchResponse: usher.PatchResource})
	if err != nil || okta.PatchResponse != usher.PatchResource {
		t.Fatalf("an Okta source: %+v %v", okta, err)
	}
	// Okta changes what it created itself (a source manages what it made).
	base := "/t/acme/scim/v2"
	oid := e.want(e.doAs(oktaSecret, base+"/Users", "POST", entraUser("grace@acme.example", "Grace", "Hopper")), 201)["id"].(string)
	ogid := e.want(e.doAs(oktaSecret, base+"/Groups", "POST", obj{"schemas": []any{scim.URNGroup}, "displayName": "Operations"}), 201)["id"].(string)
	r = e.doAs(oktaSecret, base+"/Users/"+oid, "PATCH", patch(obj{"op": "replace", "value": obj{"active": false, "name.givenName": "Amazing Grace"}}))
	m = e.want(r, 200)
	if m["id"] != oid || m["userName"] != "grace@acme.example" || get(m, "name.givenName") != "Amazing Grace" || get(m, "name.familyName") != "Hopper" ||
		m["active"] != false || get(m, "meta.resourceType") != "User" || r.Header.Get("ETag") != get(m, "meta.version") {
		t.Fatalf("PATCH from a resource source: %v (ETag %q)", m, r.Header.Get("ETag"))
	}
	m = e.want(e.doAs(oktaSecret, base+"/Groups/"+ogid, "PATCH", patch(obj{"op": "replace", "path": "displayName", "value": "Operators"},
		obj{"op": "add", "path": "members", "value": []any{obj{"value": oid}}})), 200)
	if m["displayName"] != "Operators" || get(m, "members.0.value") != oid {
		t.Fatalf("group PATCH from a resource source: %v", m)
	}
	// Entra's token is unaffected by Okta's setting.
	e.want(e.do("PATCH", "/Users/"+uid, rename("Augusta")), 204)

	// The setting changes: Okta's PATCH is answered with 204 from then on.
	no := usher.PatchNoContent
	if tok, err := e.tokens.UpdateSource(e.ctx, operator, e.tn, okta.ID, apitoken.SourceInput{PatchResponse: &no}); err != nil || tok.PatchResponse != no {
		t.Fatalf("change Okta's setting: %+v %v", tok, err)
	}
	e.want(e.doAs(oktaSecret, base+"/Users/"+oid, "PATCH", rename("Grace")), 204)

	// Checked, and another tenant's, a revoked or an admin token is no source here.
	bad := "full"
	var ue *usher.Error
	if _, err := e.tokens.UpdateSource(e.ctx, operator, e.tn, okta.ID, apitoken.SourceInput{PatchResponse: &bad}); !errors.As(err, &ue) ||
		ue.Code != usher.CodeInvalid || ue.Field != "patch_response" {
		t.Fatalf("patch_response %q: %v", bad, err)
	}
	if _, _, err := e.tokens.CreateToken(e.ctx, operator, e.tn, apitoken.TokenInput{Name: "Ops", Role: usher.AdminUser, PatchResponse: usher.PatchResource}); usher.ErrorCode(err) != usher.CodeInvalid {
		t.Fatalf("patch_response on an admin token: %v", err)
	}
	admin, _, err := e.tokens.CreateToken(e.ctx, operator, e.tn, apitoken.TokenInput{Name: "Ops", Role: usher.AdminUser})
	if err != nil {
		t.Fatal(err)
	}
	other, err := e.svc.CreateTenant(e.ctx, operator, provision.TenantInput{Slug: "globex", Name: "Globex"})
	if err != nil {
		t.Fatal(err)
	}
	otherSource, _ := e.scimToken(other, "Okta")
	if err := e.tokens.RevokeToken(e.ctx, operator, e.tn, okta.ID); err != nil {
		t.Fatal(err)
	}
	for what, id := range map[string]string{"another tenant's source": otherSource.ID, "an admin token": admin.ID, "a revoked source": okta.ID, "no token": "nope"} {
		if _, err := e.tokens.UpdateSource(e.ctx, operator, e.tn, id, apitoken.SourceInput{PatchResponse: &no}); usher.ErrorCode(err) != usher.CodeNotFound {
			t.Fatalf("%s: %v", what, err)
		}
	}
	events, _, err := e.st.Read().AuditEvents(e.ctx, e.tn.ID, store.AuditFilter{Action: "token.updated"}, store.ListOptions{})
	if err != nil || len(events) != 1 || events[0].Details["patch_response"] != usher.PatchNoContent {
		t.Fatalf("audit of the change: %+v %v", events, err)
	}
}
