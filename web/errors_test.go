package web

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/usherhq/usher/secret"
	"github.com/usherhq/usher/web/api"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/provision"
)

// badCase is a request the API must refuse with a problem, changing nothing.
type badCase struct {
	name                 string
	method, path, token  string
	body                 any
	headers              []string
	status               int
	code, field          string
	errFields            []string // the fields of "errors", when there are several problems
	orField              []string // other fields the problem may name first (the order is not defined)
	detailHas, detailNot string
}

// TestAPIBadInput sends bad requests of every kind and checks each answer
// is the right problem and that nothing changed, with a snapshot of both
// tenants (objects and audit log) taken through the API.
func TestAPIBadInput(t *testing.T) {
	onEachDatabase(t, testBadInput)
}

func testBadInput(t *testing.T, e *apiEnv) {
	w := setUp(t, e)
	op, ua, ta := e.op, w.userAdmin.Secret, w.tenantAdmin.Secret
	acme, globex := v1+"/tenants/acme", v1+"/tenants/globex"

	// Objects the bad requests aim at, made before the snapshot.
	zed := post[provision.Created](t, e, ua, acme+"/accounts", obj{"first_name": "Zed", "last_name": "Zero", "email": "zed@example.com",
		"username": "zed.zero", "phone": "+46 70 123 45 67", "plan_id": w.tiny.ID}, 201)
	contact := post[usher.Person](t, e, ua, acme+"/persons", obj{"organization_id": w.partner.ID, "first_name": "Carl", "last_name": "C", "email": "carl@partner.example"}, 201)
	conn := post[usher.Connection](t, e, ta, acme+"/connections", obj{"name": "Okta", "protocol": "oidc", "client_id": "usher", "issuer": "https://okta.example", "domains": []string{"corp.example"}}, 201)
	globexConn := post[usher.Connection](t, e, op, globex+"/connections", obj{"name": "Azure", "protocol": "saml", "metadata_url": "https://idp.example/m"}, 201)
	globexGroup := post[usher.Attribute](t, e, op, globex+"/groups", obj{"key": "g", "name": "G"}, 201)
	gil, gilAcct := w.globexPerson, w.globexAccount.Account
	gilMsg := w.globexAccount.Messages[0]
	newPerson := obj{"first_name": "Ann", "last_name": "Other"}
	const oneMiB = 1 << 20 // the documented limit, not the constant under test
	big := strings.Repeat("a", oneMiB)
	longName := strings.Repeat("x", 321)

	cases := []badCase{
		// Malformed JSON.
		{name: "truncated JSON", method: "POST", path: acme + "/persons", token: ua, body: rawBody(`{"first_name": "Ann",`), status: 400, code: "malformed"},
		{name: "missing comma", method: "POST", path: acme + "/persons", token: ua, body: rawBody(`{"first_name": "Ann" "last_name": "B"}`), status: 400, code: "malformed"},
		{name: "empty body", method: "POST", path: acme + "/persons", token: ua, body: rawBody(``), status: 400, code: "malformed"},
		{name: "an array", method: "POST", path: acme + "/persons", token: ua, body: rawBody(`[{"first_name": "Ann", "last_name": "B"}]`), status: 400, code: "malformed"},
		{name: "a string", method: "POST", path: acme + "/organizations", token: ua, body: rawBody(`"Partner"`), status: 400, code: "malformed"},
		{name: "not JSON", method: "PATCH", path: acme + "/persons/" + contact.ID, token: ua, body: rawBody("first_name=Ann"), status: 400, code: "malformed"},
		{name: "invalid UTF-8 outside strings", method: "POST", path: acme + "/persons", token: ua, body: rawBody("\xff{}"), status: 400, code: "malformed"},
		// Unknown fields.
		{name: "misspelt field", method: "POST", path: acme + "/persons", token: ua, body: obj{"first_name": "Ann", "last_name": "B", "emial": "ann@example.com"}, status: 422, code: "invalid", field: "emial"},
		{name: "password on a new user", method: "POST", path: acme + "/accounts", token: ua, body: obj{"first_name": "Ann", "last_name": "B", "email": "ann@example.com", "password": "x"}, status: 422, code: "invalid", field: "password"},
		{name: "read-only field", method: "PATCH", path: acme + "/accounts/" + zed.Account.ID, token: ua, body: obj{"username": "zed.two", "id": "x"}, status: 422, code: "invalid", field: "id"},
		{name: "organization of a person", method: "PATCH", path: acme + "/persons/" + contact.ID, token: ua, body: obj{"organization_id": w.internal.ID}, status: 422, code: "invalid", field: "organization_id"},
		{name: "unknown role field", method: "POST", path: acme + "/roles", token: ta, body: obj{"key": "r", "name": "R", "permissions": []string{"all"}}, status: 422, code: "invalid", field: "permissions"},
		// Wrong types.
		{name: "seats as a string", method: "POST", path: acme + "/plans", token: op, body: rawBody(`{"key": "gold", "name": "Gold", "seats": "10"}`), status: 422, code: "invalid", field: "seats", detailHas: "number"},
		{name: "seats as a fraction", method: "PATCH", path: acme + "/plans/" + w.std.ID, token: op, body: rawBody(`{"seats": 1.5}`), status: 422, code: "invalid", field: "seats"},
		{name: "seats beyond int64", method: "PATCH", path: acme + "/plans/" + w.std.ID, token: op, body: rawBody(`{"seats": 1e100}`), status: 422, code: "invalid", field: "seats"},
		{name: "name as a number", method: "POST", path: acme + "/persons", token: ua, body: rawBody(`{"first_name": 5, "last_name": "B"}`), status: 422, code: "invalid", field: "first_name"},
		{name: "groups as a string", method: "PATCH", path: acme + "/accounts/" + zed.Account.ID, token: ua, body: obj{"group_ids": "g"}, status: 422, code: "invalid", field: "group_ids"},
		{name: "groups of numbers", method: "PATCH", path: acme + "/accounts/" + zed.Account.ID, token: ua, body: rawBody(`{"group_ids": [1]}`), status: 422, code: "invalid", field: "group_ids"},
		{name: "nested wrong type", method: "PATCH", path: acme, token: ta, body: rawBody(`{"settings": {"languages": "en"}}`), status: 422, code: "invalid", field: "settings.languages"},
		{name: "key as a number", method: "POST", path: acme + "/roles", token: ta, body: rawBody(`{"key": 1, "name": "R"}`), status: 422, code: "invalid", field: "key"},
		{name: "roles as an object", method: "PUT", path: acme + "/organizations/" + w.site.ID + "/relationships/" + contact.ID, token: ua, body: rawBody(`{"roles": {"Primary": true}}`), status: 422, code: "invalid", field: "roles"},
		{name: "deactivated as a string", method: "PATCH", path: acme + "/organizations/" + w.partner.ID, token: ua, body: rawBody(`{"deactivated": "yes"}`), status: 422, code: "invalid", field: "deactivated"},
		// Values out of range, checked by the service.
		{name: "negative seats", method: "PATCH", path: acme + "/plans/" + w.std.ID, token: op, body: obj{"seats": -1}, status: 422, code: "invalid", field: "seats"},
		{name: "too many seats", method: "POST", path: acme + "/plans", token: op, body: obj{"key": "huge", "name": "Huge", "seats": 1_000_001}, status: 422, code: "invalid", field: "seats"},
		{name: "bad email", method: "POST", path: acme + "/persons", token: ua, body: obj{"first_name": "Ann", "last_name": "B", "email": "ann at example"}, status: 422, code: "invalid", field: "email"},
		{name: "bad phone", method: "POST", path: acme + "/accounts", token: ua, body: obj{"first_name": "Ann", "last_name": "B", "phone": "0612345678", "username": "ann.b"}, status: 422, code: "invalid", field: "phone"},
		{name: "language not the tenant's", method: "POST", path: acme + "/accounts", token: ua, body: obj{"first_name": "Ann", "last_name": "B", "email": "ann@example.com", "language": "xx"}, status: 422, code: "invalid", field: "language"},
		{name: "unknown auth system", method: "POST", path: acme + "/persons/" + contact.ID + "/account", token: ua, body: obj{"auth_system": "magic"}, status: 422, code: "invalid", field: "auth_system"},
		{name: "bad settings", method: "PATCH", path: acme, token: ta, body: obj{"settings": obj{"languages": []string{"en"}, "default_language": "en", "registration": "off",
			"contact_roles": []string{"Primary"}, "activation_ttl_hours": 0, "required_fields": []string{"shoe_size"}}}, status: 422, code: "invalid",
			field: "settings.required_fields[0]", errFields: []string{"settings.required_fields[0]", "settings.activation_ttl_hours"}},
		{name: "reserved slug", method: "POST", path: v1 + "/tenants", token: op, body: obj{"slug": "admin", "name": "Admin"}, status: 422, code: "invalid", field: "slug"},
		{name: "token expiry in the past", method: "POST", path: acme + "/tokens", token: ta, body: obj{"name": "old", "role": usher.AdminUser, "expires_at": "2001-01-01T00:00:00Z"}, status: 422, code: "invalid", field: "expires_at"},
		// Too large.
		{name: "body over 1 MiB", method: "POST", path: acme + "/persons", token: ua, body: rawBody(`{"first_name": "` + big + `", "last_name": "B"}`), status: 413, code: "too_large"},
		{name: "padding over 1 MiB after the object", method: "POST", path: acme + "/persons", token: ua, body: rawBody(`{"first_name": "Ann", "last_name": "B"}` + strings.Repeat(" ", oneMiB)), status: 413, code: "too_large"},
		// Content type.
		{name: "text/plain", method: "POST", path: acme + "/persons", token: ua, body: newPerson, headers: []string{"Content-Type", "text/plain"}, status: 415, code: "unsupported_media_type", field: "Content-Type"},
		{name: "a form", method: "POST", path: acme + "/persons", token: ua, body: newPerson, headers: []string{"Content-Type", "application/x-www-form-urlencoded"}, status: 415, code: "unsupported_media_type", field: "Content-Type"},
		{name: "an unparsable content type", method: "PATCH", path: acme + "/persons/" + contact.ID, token: ua, body: obj{"first_name": "X"}, headers: []string{"Content-Type", "application/json; charset"}, status: 415, code: "unsupported_media_type", field: "Content-Type"},
		// Trailing data.
		{name: "two objects", method: "POST", path: acme + "/persons", token: ua, body: rawBody(`{"first_name": "Ann", "last_name": "B"} {"first_name": "Bo", "last_name": "B"}`), status: 400, code: "malformed"},
		{name: "a stray bracket", method: "POST", path: acme + "/persons", token: ua, body: rawBody(`{"first_name": "Ann", "last_name": "B"}]`), status: 400, code: "malformed"},
		{name: "garbage after the object", method: "POST", path: acme + "/organizations", token: ua, body: rawBody(`{"name": "X"}garbage`), status: 400, code: "malformed"},
		{name: "a second value on the next line", method: "PUT", path: acme + "/organizations/" + w.site.ID + "/relationships/" + contact.ID, token: ua, body: rawBody("{\"roles\": [\"Primary\"]}\nnull"), status: 400, code: "malformed"},
		// Missing required fields: all problems at once.
		{name: "empty person", method: "POST", path: acme + "/persons", token: ua, body: obj{}, status: 422, code: "invalid", field: "first_name", errFields: []string{"first_name", "last_name"}},
		{name: "new user without a login", method: "POST", path: acme + "/accounts", token: ua, body: newPerson, status: 422, code: "invalid", field: "email"},
		{name: "tenant without a name", method: "POST", path: v1 + "/tenants", token: op, body: obj{"slug": "x"}, status: 422, code: "invalid", field: "slug", errFields: []string{"slug", "name"}},
		{name: "plan without seats", method: "POST", path: acme + "/plans", token: op, body: obj{"key": "gold", "name": "Gold"}, status: 422, code: "invalid", field: "seats"},
		{name: "role without a key", method: "POST", path: acme + "/roles", token: ta, body: obj{"name": "Role"}, status: 422, code: "invalid", field: "key"},
		{name: "organization without a name", method: "POST", path: acme + "/organizations", token: ua, body: obj{}, status: 422, code: "invalid", field: "name"},
		{name: "token without a name", method: "POST", path: acme + "/tokens", token: ta, body: obj{"role": usher.AdminUser}, status: 422, code: "invalid", field: "name"},
		{name: "relationship without roles", method: "PUT", path: acme + "/organizations/" + w.site.ID + "/relationships/" + contact.ID, token: ua, body: obj{}, status: 422, code: "invalid", field: "roles"},
		{name: "OIDC connection without issuer", method: "POST", path: acme + "/connections", token: ta, body: obj{"name": "X", "protocol": "oidc"}, status: 422, code: "invalid", field: "issuer"},
		// Duplicate identifiers.
		{name: "taken slug", method: "POST", path: v1 + "/tenants", token: op, body: obj{"slug": "acme", "name": "Acme again"}, status: 409, code: "conflict", field: "slug"},
		{name: "taken role key", method: "POST", path: acme + "/roles", token: ta, body: obj{"key": "main", "name": "Again"}, status: 409, code: "conflict", field: "key"},
		{name: "taken plan key", method: "POST", path: acme + "/plans", token: op, body: obj{"key": "std", "name": "Again", "seats": 1}, status: 409, code: "conflict", field: "key"},
		{name: "taken email", method: "POST", path: acme + "/accounts", token: ua, body: obj{"first_name": "Ann", "last_name": "B", "email": "ZED@example.com"}, status: 409, code: "conflict", field: "email"},
		{name: "taken username", method: "POST", path: acme + "/accounts", token: ua, body: obj{"first_name": "Ann", "last_name": "B", "email": "ann@example.com", "username": "Zed.Zero"}, status: 409, code: "conflict", field: "username"},
		{name: "taken phone", method: "POST", path: acme + "/accounts", token: ua, body: obj{"first_name": "Ann", "last_name": "B", "email": "ann@example.com", "phone": "0046701234567"}, status: 409, code: "conflict", field: "phone"},
		{name: "contact email taken in the organization", method: "POST", path: acme + "/persons", token: ua, body: obj{"organization_id": w.partner.ID, "first_name": "Carla", "last_name": "C", "email": "carl@partner.example"}, status: 409, code: "conflict", field: "email"},
		{name: "domain of another connection", method: "POST", path: acme + "/connections", token: ta, body: obj{"name": "Other", "protocol": "oidc", "client_id": "usher", "issuer": "https://x.example", "domains": []string{"x.example", "CORP.example"}}, status: 409, code: "conflict", field: "domains[1]"},
		// A full plan.
		{name: "full plan", method: "POST", path: acme + "/accounts", token: ua, body: obj{"first_name": "Ann", "last_name": "B", "email": "ann@example.com", "plan_id": w.tiny.ID}, status: 409, code: "seats_exhausted", field: "plan_id", detailHas: "no free seat"},
		{name: "full plan, for a person", method: "POST", path: acme + "/persons/" + contact.ID + "/account", token: ua, body: obj{"plan_id": w.tiny.ID}, status: 409, code: "seats_exhausted", field: "plan_id"},
		{name: "fewer seats than used", method: "PATCH", path: acme + "/plans/" + w.tiny.ID, token: op, body: obj{"seats": 0}, status: 409, code: "conflict", field: "seats"},
		// Query parameters.
		{name: "unknown parameter", method: "GET", path: acme + "/persons?first_name=Ann", token: ua, status: 422, code: "invalid", field: "first_name"},
		{name: "two unknown parameters", method: "GET", path: acme + "/accounts?foo=1&bar=2", token: ua, status: 422, code: "invalid", field: "foo", orField: []string{"bar"}, errFields: []string{"foo", "bar"}},
		{name: "parameter of another list", method: "GET", path: acme + "/roles?name=x", token: ua, status: 422, code: "invalid", field: "name"},
		{name: "parameter of a list on a list without parameters", method: "GET", path: v1 + "/tenants?state=active", token: op, status: 422, code: "invalid", field: "state"},
		{name: "limit 0", method: "GET", path: acme + "/persons?limit=0", token: ua, status: 422, code: "invalid", field: "limit"},
		{name: "limit 501", method: "GET", path: acme + "/audit-events?limit=501", token: ua, status: 422, code: "invalid", field: "limit"},
		{name: "negative limit", method: "GET", path: acme + "/plans?limit=-1", token: ua, status: 422, code: "invalid", field: "limit"},
		{name: "limit not a number", method: "GET", path: acme + "/messages?limit=ten", token: ua, status: 422, code: "invalid", field: "limit"},
		{name: "limit twice", method: "GET", path: acme + "/persons?limit=1&limit=2", token: ua, status: 422, code: "invalid", field: "limit"},
		{name: "unknown state", method: "GET", path: acme + "/accounts?state=happy", token: ua, status: 422, code: "invalid", field: "state"},
		{name: "active not a boolean", method: "GET", path: acme + "/persons?active=yes", token: ua, status: 422, code: "invalid", field: "active"},
		{name: "unknown kind", method: "GET", path: acme + "/organizations?kind=partner", token: ua, status: 422, code: "invalid", field: "kind"},
		{name: "unknown channel", method: "GET", path: acme + "/messages?channel=fax", token: ua, status: 422, code: "invalid", field: "channel"},
		{name: "value too long", method: "GET", path: acme + "/persons?name=" + longName, token: ua, status: 422, code: "invalid", field: "name"},
		{name: "identity without email", method: "GET", path: v1 + "/identities", token: op, status: 422, code: "invalid", field: "email"},
		// Credentials.
		{name: "no token", method: "GET", path: acme + "/persons", status: 401, code: "unauthorized", field: "Authorization"},
		{name: "no token, write", method: "POST", path: acme + "/persons", body: newPerson, status: 401, code: "unauthorized", field: "Authorization"},
		{name: "wrong token", method: "POST", path: acme + "/persons", token: "ush_not-a-real-token", body: newPerson, status: 401, code: "unauthorized", field: "Authorization"},
		{name: "basic auth", method: "GET", path: v1 + "/tenants", headers: []string{"Authorization", "Basic b3A6c2VjcmV0"}, status: 401, code: "unauthorized", field: "Authorization"},
		{name: "bearer without a token", method: "GET", path: v1 + "/tenants", headers: []string{"Authorization", "Bearer "}, status: 401, code: "unauthorized", field: "Authorization"},
		{name: "bearer with blanks", method: "GET", path: v1 + "/tenants", headers: []string{"Authorization", "Bearer    "}, status: 401, code: "unauthorized", field: "Authorization"},
		{name: "token without scheme", method: "GET", path: v1 + "/tenants", headers: []string{"Authorization", operatorSecret}, status: 401, code: "unauthorized", field: "Authorization"},
		{name: "token hash instead of token", method: "GET", path: v1 + "/tenants", token: secret.Hash(operatorSecret), status: 401, code: "unauthorized", field: "Authorization"},
		// A user administrator doing a tenant administrator's (or an operator's) work.
		{name: "ua creates a role", method: "POST", path: acme + "/roles", token: ua, body: obj{"key": "boss", "name": "Boss"}, status: 403, code: "forbidden"},
		{name: "ua renames a group", method: "PATCH", path: acme + "/groups/" + w.attrs[usher.KindGroup].ID, token: ua, body: obj{"name": "Mine"}, status: 403, code: "forbidden"},
		{name: "ua deactivates a department", method: "DELETE", path: acme + "/departments/" + w.attrs[usher.KindDepartment].ID, token: ua, status: 403, code: "forbidden"},
		{name: "ua lists tokens", method: "GET", path: acme + "/tokens", token: ua, status: 403, code: "forbidden"},
		{name: "ua makes a token", method: "POST", path: acme + "/tokens", token: ua, body: obj{"name": "more", "role": usher.AdminUser}, status: 403, code: "forbidden"},
		{name: "ua revokes a token", method: "DELETE", path: acme + "/tokens/" + w.tenantAdmin.ID, token: ua, status: 403, code: "forbidden"},
		{name: "ua changes settings", method: "PATCH", path: acme, token: ua, body: obj{"name": "Mine"}, status: 403, code: "forbidden"},
		{name: "ua adds a connection", method: "POST", path: acme + "/connections", token: ua, body: obj{"name": "X", "protocol": "oidc", "client_id": "usher", "issuer": "https://x.example"}, status: 403, code: "forbidden"},
		{name: "ua replaces a connection", method: "PUT", path: acme + "/connections/" + conn.ID, token: ua, body: writable(conn), status: 403, code: "forbidden"},
		{name: "ua deactivates a connection", method: "DELETE", path: acme + "/connections/" + conn.ID, token: ua, status: 403, code: "forbidden"},
		{name: "ua makes a user administrator", method: "PATCH", path: acme + "/accounts/" + zed.Account.ID, token: ua, body: obj{"admin_role": usher.AdminUser}, status: 403, code: "forbidden"},
		{name: "ua creates a user administrator", method: "POST", path: acme + "/accounts", token: ua, body: obj{"first_name": "Ann", "last_name": "B", "email": "ann@example.com", "admin_role": usher.AdminUser}, status: 403, code: "forbidden"},
		{name: "ua sets seats", method: "PATCH", path: acme + "/plans/" + w.std.ID, token: ua, body: obj{"seats": 100}, status: 403, code: "forbidden"},
		{name: "ta sets seats", method: "PATCH", path: acme + "/plans/" + w.std.ID, token: ta, body: obj{"seats": 100}, status: 403, code: "forbidden"},
		{name: "ta creates a plan", method: "POST", path: acme + "/plans", token: ta, body: obj{"key": "free", "name": "Free", "seats": 100}, status: 403, code: "forbidden"},
		{name: "ta makes a tenant administrator token", method: "POST", path: acme + "/tokens", token: ta, body: obj{"name": "me too", "role": usher.AdminTenant}, status: 403, code: "forbidden"},
		{name: "ta grants tenant administrator", method: "PATCH", path: acme + "/accounts/" + zed.Account.ID, token: ta, body: obj{"admin_role": usher.AdminTenant}, status: 403, code: "forbidden"},
		{name: "ta deactivates the tenant", method: "PATCH", path: acme, token: ta, body: obj{"deactivated": true}, status: 403, code: "forbidden"},
		{name: "ta lists tenants", method: "GET", path: v1 + "/tenants", token: ta, status: 403, code: "forbidden"},
		{name: "ta creates a tenant", method: "POST", path: v1 + "/tenants", token: ta, body: obj{"slug": "mine", "name": "Mine"}, status: 403, code: "forbidden"},
		{name: "ta lists operator tokens", method: "GET", path: v1 + "/tokens", token: ta, status: 403, code: "forbidden"},
		{name: "ta makes an operator token", method: "POST", path: v1 + "/tokens", token: ta, body: obj{"name": "root", "role": usher.PrincipalOperator}, status: 403, code: "forbidden"},
		{name: "ta revokes the operator's token", method: "DELETE", path: v1 + "/tokens/bootstrap-operator", token: ta, status: 403, code: "forbidden"},
		{name: "ta looks up an identity", method: "GET", path: v1 + "/identities?email=gil@globex.example", token: ta, status: 403, code: "forbidden"},
		// Another tenant is not found.
		{name: "other tenant", method: "GET", path: globex, token: ua, status: 404, code: "not_found", field: "tenant"},
		{name: "other tenant's persons", method: "GET", path: globex + "/persons", token: ua, status: 404, code: "not_found", field: "tenant"},
		{name: "create in other tenant", method: "POST", path: globex + "/persons", token: ua, body: newPerson, status: 404, code: "not_found", field: "tenant"},
		{name: "create user in other tenant", method: "POST", path: globex + "/accounts", token: ta, body: obj{"first_name": "Ann", "last_name": "B", "email": "ann@example.com"}, status: 404, code: "not_found", field: "tenant"},
		{name: "change other tenant's account", method: "PATCH", path: globex + "/accounts/" + gilAcct.ID, token: ua, body: obj{"username": "gil.g"}, status: 404, code: "not_found", field: "tenant"},
		{name: "deactivate other tenant's person", method: "DELETE", path: globex + "/persons/" + gil.ID, token: ta, status: 404, code: "not_found", field: "tenant"},
		{name: "change other tenant's settings", method: "PATCH", path: globex, token: ta, body: obj{"name": "Mine"}, status: 404, code: "not_found", field: "tenant"},
		{name: "other tenant's tokens", method: "GET", path: globex + "/tokens", token: ta, status: 404, code: "not_found", field: "tenant"},
		{name: "token in other tenant", method: "POST", path: globex + "/tokens", token: ta, body: obj{"name": "spy", "role": usher.AdminUser}, status: 404, code: "not_found", field: "tenant"},
		{name: "other tenant's audit log", method: "GET", path: globex + "/audit-events", token: ua, status: 404, code: "not_found", field: "tenant"},
		{name: "other tenant's messages", method: "GET", path: globex + "/messages/" + gilMsg.ID, token: ua, status: 404, code: "not_found", field: "tenant"},
		// Another tenant's objects are not found either.
		{name: "B's person", method: "GET", path: acme + "/persons/" + gil.ID, token: ua, status: 404, code: "not_found", field: "person_id"},
		{name: "B's person, changed", method: "PATCH", path: acme + "/persons/" + gil.ID, token: ua, body: obj{"first_name": "X"}, status: 404, code: "not_found", field: "person_id"},
		{name: "B's person, deactivated", method: "DELETE", path: acme + "/persons/" + gil.ID, token: op, status: 404, code: "not_found", field: "person_id"},
		{name: "B's person, account of", method: "GET", path: acme + "/persons/" + gil.ID + "/account", token: ua, status: 404, code: "not_found", field: "person_id"},
		{name: "B's person, new account", method: "POST", path: acme + "/persons/" + gil.ID + "/account", token: ua, body: obj{}, status: 404, code: "not_found", field: "person_id"},
		{name: "B's person, relationships", method: "GET", path: acme + "/persons/" + gil.ID + "/relationships", token: ua, status: 404, code: "not_found", field: "person_id"},
		{name: "B's person, related", method: "PUT", path: acme + "/organizations/" + w.site.ID + "/relationships/" + gil.ID, token: ua, body: obj{"roles": []string{"Primary"}}, status: 404, code: "not_found", field: "person_id"},
		{name: "B's account", method: "GET", path: acme + "/accounts/" + gilAcct.ID, token: ua, status: 404, code: "not_found", field: "account_id"},
		{name: "B's account, changed", method: "PATCH", path: acme + "/accounts/" + gilAcct.ID, token: op, body: obj{"username": "gil.g"}, status: 404, code: "not_found", field: "account_id"},
		{name: "B's account, deactivated", method: "DELETE", path: acme + "/accounts/" + gilAcct.ID, token: ua, status: 404, code: "not_found", field: "account_id"},
		{name: "B's account, resent", method: "POST", path: acme + "/accounts/" + gilAcct.ID + "/resend-activation", token: ua, status: 404, code: "not_found", field: "account_id"},
		{name: "B's account, revoked", method: "POST", path: acme + "/accounts/" + gilAcct.ID + "/revoke-invitation", token: ua, status: 404, code: "not_found", field: "account_id"},
		{name: "B's account, one-time password", method: "POST", path: acme + "/accounts/" + gilAcct.ID + "/one-time-password", token: ua, status: 404, code: "not_found", field: "account_id"},
		{name: "B's account, reset", method: "POST", path: acme + "/accounts/" + gilAcct.ID + "/reset-password", token: ua, status: 404, code: "not_found", field: "account_id"},
		{name: "B's site", method: "GET", path: acme + "/organizations/" + w.globexSite.ID, token: ua, status: 404, code: "not_found", field: "organization_id"},
		{name: "B's site, renamed", method: "PATCH", path: acme + "/organizations/" + w.globexSite.ID, token: ua, body: obj{"name": "X"}, status: 404, code: "not_found", field: "organization_id"},
		{name: "B's site, deactivated", method: "DELETE", path: acme + "/organizations/" + w.globexSite.ID, token: op, status: 404, code: "not_found", field: "organization_id"},
		{name: "B's site, contacts", method: "GET", path: acme + "/organizations/" + w.globexSite.ID + "/relationships", token: ua, status: 404, code: "not_found", field: "organization_id"},
		{name: "B's site, related", method: "PUT", path: acme + "/organizations/" + w.globexSite.ID + "/relationships/" + contact.ID, token: ua, body: obj{"roles": []string{"Primary"}}, status: 404, code: "not_found", field: "site_id"},
		{name: "B's site as parent", method: "POST", path: acme + "/organizations", token: ua, body: obj{"name": "Sub", "parent_id": w.globexSite.ID}, status: 422, code: "invalid", field: "parent_id"},
		{name: "B's organization for a person", method: "POST", path: acme + "/persons", token: ua, body: obj{"first_name": "Ann", "last_name": "B", "organization_id": w.globexInternal.ID}, status: 422, code: "invalid", field: "organization_id"},
		{name: "B's plan", method: "GET", path: acme + "/plans/" + w.globexPlan.ID, token: op, status: 404, code: "not_found", field: "plan_id"},
		{name: "B's plan, changed", method: "PATCH", path: acme + "/plans/" + w.globexPlan.ID, token: op, body: obj{"seats": 50}, status: 404, code: "not_found", field: "plan_id"},
		{name: "B's plan, deactivated", method: "DELETE", path: acme + "/plans/" + w.globexPlan.ID, token: op, status: 404, code: "not_found", field: "plan_id"},
		{name: "B's plan for a new user", method: "POST", path: acme + "/accounts", token: ua, body: obj{"first_name": "Ann", "last_name": "B", "email": "ann@example.com", "plan_id": w.globexPlan.ID}, status: 422, code: "invalid", field: "plan_id"},
		{name: "B's plan for an account", method: "PATCH", path: acme + "/accounts/" + zed.Account.ID, token: ua, body: obj{"plan_id": w.globexPlan.ID}, status: 422, code: "invalid", field: "plan_id"},
		{name: "B's plan as default", method: "PATCH", path: acme, token: ta, body: obj{"settings": withDefaultPlan(w.acme.Settings, w.globexPlan.ID)}, status: 422, code: "invalid", field: "settings.default_plan_id"},
		{name: "B's role", method: "GET", path: acme + "/roles/" + w.globexRole.ID, token: ua, status: 404, code: "not_found", field: "id"},
		{name: "B's role, renamed", method: "PATCH", path: acme + "/roles/" + w.globexRole.ID, token: op, body: obj{"name": "X"}, status: 404, code: "not_found", field: "id"},
		{name: "B's role, deactivated", method: "DELETE", path: acme + "/roles/" + w.globexRole.ID, token: op, status: 404, code: "not_found", field: "id"},
		{name: "B's role for a new user", method: "POST", path: acme + "/accounts", token: ua, body: obj{"first_name": "Ann", "last_name": "B", "email": "ann@example.com", "role_id": w.globexRole.ID}, status: 422, code: "invalid", field: "role_id"},
		{name: "B's group for an account", method: "PATCH", path: acme + "/accounts/" + zed.Account.ID, token: ua, body: obj{"group_ids": []string{globexGroup.ID}}, status: 422, code: "invalid", field: "group_ids[0]"},
		{name: "B's role as a department", method: "POST", path: acme + "/persons", token: ua, body: obj{"first_name": "Ann", "last_name": "B", "department_id": w.globexRole.ID}, status: 422, code: "invalid", field: "department_id"},
		{name: "A's role as a department", method: "POST", path: acme + "/persons", token: ua, body: obj{"first_name": "Ann", "last_name": "B", "department_id": w.attrs[usher.KindRole].ID}, status: 422, code: "invalid", field: "department_id"},
		{name: "A's role read as a group", method: "GET", path: acme + "/groups/" + w.attrs[usher.KindRole].ID, token: ua, status: 404, code: "not_found", field: "id"},
		{name: "B's connection", method: "GET", path: acme + "/connections/" + globexConn.ID, token: ua, status: 404, code: "not_found", field: "connection_id"},
		{name: "B's connection, replaced", method: "PUT", path: acme + "/connections/" + globexConn.ID, token: op, body: writable(globexConn), status: 404, code: "not_found", field: "connection_id"},
		{name: "B's connection, deactivated", method: "DELETE", path: acme + "/connections/" + globexConn.ID, token: op, status: 404, code: "not_found", field: "connection_id"},
		{name: "B's connection for an account", method: "POST", path: acme + "/accounts", token: ua, body: obj{"first_name": "Ann", "last_name": "B", "email": "ann@example.com", "connection_id": globexConn.ID}, status: 422, code: "invalid", field: "connection_id"},
		{name: "B's message", method: "GET", path: acme + "/messages/" + gilMsg.ID, token: ua, status: 404, code: "not_found", field: "message_id"},
		{name: "B's token, revoked", method: "DELETE", path: acme + "/tokens/" + w.globexUserAdm.ID, token: ta, status: 404, code: "not_found", field: "token_id"},
		{name: "a tenant token revoked as an operator token", method: "DELETE", path: v1 + "/tokens/" + w.userAdmin.ID, token: op, status: 404, code: "not_found", field: "token_id"},
		{name: "B's audit events are not A's", method: "GET", path: acme + "/audit-events?target_id=" + gil.ID, token: ua, status: 0},
		// Unknown operations.
		{name: "unknown path", method: "GET", path: v1 + "/nope", token: op, status: 404, code: "not_found", field: "path", detailHas: "there is no API operation GET /api/v1/nope"},
		{name: "unknown version", method: "GET", path: "/api/v2/tenants", token: op, status: 404, code: "not_found", field: "path"},
		{name: "unknown path without a token", method: "POST", path: v1 + "/nope", body: obj{}, status: 404, code: "not_found", field: "path"},
		{name: "method not served", method: "PUT", path: v1 + "/tenants", token: op, body: obj{"slug": "x", "name": "X"}, status: 404, code: "not_found", field: "path", detailHas: "PUT /api/v1/tenants"},
		{name: "DELETE of a tenant", method: "DELETE", path: acme, token: op, status: 404, code: "not_found", field: "path"},
		{name: "sub-resource that does not exist", method: "GET", path: acme + "/persons/" + contact.ID + "/secrets", token: op, status: 404, code: "not_found", field: "path"},
		{name: "unknown tenant", method: "GET", path: v1 + "/tenants/nobody/persons", token: op, status: 404, code: "not_found", field: "tenant"},
		{name: "unknown person", method: "GET", path: acme + "/persons/00000000-0000-0000-0000-000000000000", token: op, status: 404, code: "not_found", field: "person_id"},
	}

	base := e.snapshot(t, "acme", "globex")
	for _, c := range cases {
		t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) {
			r := e.call(t, c.method, c.path, c.token, c.body, c.headers...)
			if c.status == 0 {
				// Not an error, but it must find nothing.
				if got := ok[api.Page[usher.AuditEvent]](t, r, 200); len(got.Items) != 0 {
					t.Fatalf("found another tenant's events: %+v", got)
				}
			} else {
				field := c.field
				if len(c.orField) > 0 {
					var p api.Problem
					_ = json.Unmarshal(r.Body, &p)
					for _, f := range c.orField {
						if p.Field == f {
							field = f
						}
					}
				}
				p := wantProblem(t, r, c.status, c.code, field)
				if c.detailHas != "" && !strings.Contains(p.Detail, c.detailHas) {
					t.Errorf("detail %q lacks %q", p.Detail, c.detailHas)
				}
				if len(c.errFields) > 0 {
					var got []string
					for _, pe := range p.Errors {
						got = append(got, pe.Field)
					}
					for _, f := range c.errFields {
						if !strings.Contains(","+strings.Join(got, ",")+",", ","+f+",") {
							t.Errorf("errors %v lack %q", got, f)
						}
					}
				} else if len(p.Errors) > 0 {
					t.Errorf("one problem, but errors lists %+v", p.Errors)
				}
				if strings.Contains(p.Detail, "sql") || strings.Contains(p.Detail, "SQL") || strings.Contains(p.Detail, "pgx") {
					t.Errorf("the detail shows the database: %q", p.Detail)
				}
			}
			if c.method != "GET" {
				// (A read changes nothing; skipping its snapshot keeps the test fast.)
				e.unchanged(t, base, "acme", "globex")
			}
		})
	}

	// Another tenant and a tenant that does not exist look the same.
	other := e.call(t, "GET", globex+"/persons", ua, nil)
	none := e.call(t, "GET", v1+"/tenants/nobody/persons", ua, nil)
	if other.Status != 404 || string(other.Body) != string(none.Body) {
		t.Fatalf("another tenant and no tenant differ:\n%s\n%s", other, none)
	}

	// The same requests, well formed, do change things: the refusals above were not for other reasons.
	for _, ct := range []string{"application/json; charset=utf-8", "application/merge-patch+json", ""} {
		r := e.call(t, "PATCH", acme+"/persons/"+contact.ID, ua, obj{"first_name": "Carlos"}, "Content-Type", ct)
		if got := ok[usher.Person](t, r, 200); got.FirstName != "Carlos" {
			t.Fatalf("PATCH with Content-Type %q: %+v", ct, got)
		}
	}
	post[usher.Person](t, e, ua, acme+"/persons", rawBody(`{"first_name": "Ann", "last_name": "B"}`+"\n \t"), 201)
	post[usher.Plan](t, e, op, acme+"/plans", rawBody(`{"key": "gold", "name": "Gold", "seats": 10}`), 201)
	if got := patch[usher.Plan](t, e, op, acme+"/plans/"+w.tiny.ID, obj{"seats": 2}); got.Seats != 2 {
		t.Fatalf("tiny plan with two seats: %+v", got)
	}
	post[provision.Created](t, e, ua, acme+"/accounts", obj{"first_name": "Ann", "last_name": "B", "email": "ann@example.com", "plan_id": w.tiny.ID}, 201)
	wantProblem(t, e.call(t, "POST", acme+"/accounts", ua, obj{"first_name": "Ann", "last_name": "C", "email": "ann2@example.com", "plan_id": w.tiny.ID}), 409, "seats_exhausted", "plan_id")
	if r := e.call(t, "GET", acme+"/persons", "", nil); r.Header.Get("WWW-Authenticate") != `Bearer realm="usher"` {
		t.Fatalf("challenge: %q", r.Header.Get("WWW-Authenticate"))
	}
}

func withDefaultPlan(s usher.TenantSettings, plan string) usher.TenantSettings {
	s.DefaultPlanID = plan
	return s
}
