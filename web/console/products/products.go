// Package products is the tenant console's products: the OpenID Connect
// clients that sign the tenant's people in, for tenant administrators,
// with their back-channel sign-out deliveries. The provider holds the
// rules and writes the audit events; a new secret is shown on the page
// that made it, never carried in a cookie or an address.
package products

import (
	"bytes"
	"embed"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/openid"
	"github.com/usherhq/usher/openid/backchannel"
	"github.com/usherhq/usher/openid/clients"
	"github.com/usherhq/usher/store"
	"github.com/usherhq/usher/web/console"
	"github.com/usherhq/usher/web/console/audit"
)

//go:embed templates/*.html
var templateFS embed.FS

// pages are this package's console pages.
var pages = console.Pages(templateFS, "clients", "client", "logout_deliveries")

// Handler serves the console's products.
type Handler struct{ *console.Console }

// New returns the products' handler.
func New(con *console.Console) *Handler { return &Handler{Console: con} }

// Clients lists the tenant's products and registers new ones.
func (h *Handler) Clients(oid *openid.Provider) console.Page {
	return func(w http.ResponseWriter, r *http.Request, c *console.Call) {
		status := http.StatusOK
		data := map[string]any{"Issuer": strings.TrimSuffix(h.Links.TenantBase(c.Tenant), "/")}
		if r.Method == http.MethodPost {
			in := clientInput(r, c, true)
			created, err := oid.Clients().CreateClient(r.Context(), c.Actor, c.Tenant, in)
			if err == nil {
				c.Data.Values = newClientValues()
				data["Secret"], data["SecretFor"] = created.ClientSecret, created.Name
				c.Data.Notice = "“" + created.Name + "” is registered, with the client ID " + created.ID + "."
			} else {
				if !h.clientErrors(w, r, c, err) {
					return
				}
				status = console.FormStatus(err)
			}
		} else {
			c.Data.Notice = h.Flash(w, r)
			c.Data.Values = newClientValues()
		}
		if err := c.Actor.Require(usher.AdminTenant); err != nil {
			h.Fail(w, r, c, err)
			return
		}
		list, next, err := oid.Clients().Clients(r.Context(), c.Actor, c.Tenant, false, console.PageOf(r))
		if err != nil {
			h.Fail(w, r, c, err)
			return
		}
		data["Clients"], data["Next"] = list, console.NextURL(r, next)
		c.Data.Title, c.Data.Section, c.Data.Data = "Products", "clients", data
		h.View.Console(w, r, status, pages["clients"], c.Data)
	}
}

// newClientValues is the new-product form as it starts: usher's defaults.
func newClientValues() map[string]string {
	return map[string]string{"grant_types": "authorization_code,refresh_token", "scopes": "openid,profile,email,phone,usher,offline_access",
		"access_token_lifetime": "600", "id_token_lifetime": "3600", "refresh_token_lifetime": "2592000"}
}

// Client shows one product and changes it: its settings, a new secret,
// its deletion.
func (h *Handler) Client(oid *openid.Provider) console.Page {
	return func(w http.ResponseWriter, r *http.Request, c *console.Call) {
		ctx := r.Context()
		id := r.PathValue("id")
		status := http.StatusOK
		data := map[string]any{}
		if r.Method == http.MethodPost {
			var err error
			var done clients.CreatedClient
			switch r.PathValue("action") {
			case "":
				done, err = oid.Clients().UpdateClient(ctx, c.Actor, c.Tenant, id, clientInput(r, c, false))
				if err == nil {
					h.Redirect(w, r, c.Data.Admin+"clients/"+id, "Saved.")
					return
				}
			case "rotate-secret":
				if done, err = oid.Clients().UpdateClient(ctx, c.Actor, c.Tenant, id, clients.ClientInput{RotateSecret: true}); err == nil {
					data["Secret"] = done.ClientSecret
				}
			case "delete":
				if _, err = oid.Clients().DeleteClient(ctx, c.Actor, c.Tenant, id); err == nil {
					h.Redirect(w, r, c.Data.Admin+"clients", "The product is deleted: it signs nobody in any more.")
					return
				}
			default:
				http.NotFound(w, r)
				return
			}
			if err != nil {
				if !h.clientErrors(w, r, c, err) {
					return
				}
				status = console.FormStatus(err)
			}
		} else {
			c.Data.Notice = h.Flash(w, r)
		}
		cl, err := oid.Clients().Client(ctx, c.Actor, c.Tenant, id)
		if err != nil {
			h.Fail(w, r, c, err)
			return
		}
		if len(c.Data.Errors) == 0 {
			c.Data.Values = map[string]string{"name": cl.Name, "token_endpoint_auth_method": cl.AuthMethod, "id_token_signed_response_alg": cl.IDTokenAlg,
				"redirect_uris": strings.Join(cl.RedirectURIs, "\n"), "post_logout_redirect_uris": strings.Join(cl.PostLogoutRedirectURIs, "\n"),
				"grant_types": strings.Join(cl.GrantTypes, ","), "scopes": strings.Join(cl.Scopes, ","), "third_party": strconv.FormatBool(cl.ThirdParty),
				"access_token_lifetime": strconv.Itoa(cl.AccessTokenSeconds), "id_token_lifetime": strconv.Itoa(cl.IDTokenSeconds),
				"refresh_token_lifetime": strconv.Itoa(cl.RefreshTokenSeconds), "jwks": indentJSON(cl.JWKS), "jwks_uri": cl.JWKSURI,
				"backchannel_logout_uri":              cl.BackchannelLogoutURI,
				"backchannel_logout_session_required": strconv.FormatBool(cl.BackchannelLogoutSessionRequired), "frontchannel_logout_uri": cl.FrontchannelLogoutURI,
				"frontchannel_logout_session_required": strconv.FormatBool(cl.FrontchannelLogoutSessionRequired)}
		}
		data["Client"] = cl
		if cl.AuthMethod == clients.AuthPrivateKey {
			// A jwks_uri that cannot be read is shown as such, not as a failed page.
			if keys, err := oid.Clients().ClientKeys(ctx, c.Actor, c.Tenant, cl); err != nil {
				data["KeysError"] = err.Error()
			} else {
				data["Keys"] = keys
			}
		}
		// The latest sign-out deliveries; the whole list is a page of its own.
		deliveries, next, err := oid.BackChannel().LogoutDeliveries(ctx, c.Actor, c.Tenant, id, store.LogoutFilter{}, store.ListOptions{Limit: 10})
		if err != nil {
			h.Fail(w, r, c, err)
			return
		}
		data["Deliveries"], data["MoreDeliveries"] = h.signOutRows(r, c, deliveries), next != ""
		c.Data.Title, c.Data.Section, c.Data.Data = cl.Name, "clients", data
		h.View.Console(w, r, status, pages["client"], c.Data)
	}
}

// clientInput reads the product form.
func clientInput(r *http.Request, c *console.Call, create bool) clients.ClientInput {
	v := c.Form(r, "name", "type", "token_endpoint_auth_method", "id_token_signed_response_alg", "redirect_uris", "post_logout_redirect_uris",
		"access_token_lifetime", "id_token_lifetime", "refresh_token_lifetime", "third_party", "jwks", "jwks_uri", "backchannel_logout_uri",
		"backchannel_logout_session_required", "frontchannel_logout_uri", "frontchannel_logout_session_required")
	_ = r.ParseForm()
	lines := func(s string) []string {
		out := []string{}
		for _, l := range strings.Split(s, "\n") {
			if l = strings.TrimSpace(l); l != "" {
				out = append(out, l)
			}
		}
		return out
	}
	grants, scopes := r.PostForm["grant_types"], r.PostForm["scopes"]
	v["grant_types"], v["scopes"] = strings.Join(grants, ","), strings.Join(scopes, ",")
	third := v["third_party"] == "true"
	name := v["name"]
	in := clients.ClientInput{Name: &name}
	in.RedirectURIs, in.PostLogoutRedirectURIs = lines(v["redirect_uris"]), lines(v["post_logout_redirect_uris"])
	in.GrantTypes, in.Scopes, in.ThirdParty = append([]string{}, grants...), append([]string{}, scopes...), &third
	in.IDTokenAlg = v["id_token_signed_response_alg"]
	// An emptied address removes it; the boxes say whether sid is required.
	back, front := strings.TrimSpace(v["backchannel_logout_uri"]), strings.TrimSpace(v["frontchannel_logout_uri"])
	backSID, frontSID := v["backchannel_logout_session_required"] == "true", v["frontchannel_logout_session_required"] == "true"
	in.BackchannelLogoutURI, in.FrontchannelLogoutURI = &back, &front
	in.BackchannelLogoutSessionRequired, in.FrontchannelLogoutSessionRequired = &backSID, &frontSID
	if create {
		in.Type = v["type"]
	}
	if in.Type != usher.ClientPublic {
		in.AuthMethod = v["token_endpoint_auth_method"]
		in.JWKSText = v["jwks"]
		uri := v["jwks_uri"]
		in.JWKSURI = &uri
	}
	num := func(s string) *int {
		if s == "" {
			return nil
		}
		n, err := strconv.Atoi(s)
		if err != nil {
			n = -1
		}
		return &n
	}
	in.AccessTokenSeconds, in.IDTokenSeconds, in.RefreshTokenSeconds = num(v["access_token_lifetime"]), num(v["id_token_lifetime"]), num(v["refresh_token_lifetime"])
	return in
}

// clientErrors puts the provider's problems next to the form's fields:
// "redirect_uris[2]" belongs to the redirect URIs' field.
func (h *Handler) clientErrors(w http.ResponseWriter, r *http.Request, c *console.Call, err error) bool {
	if !h.FormErrors(w, r, c, err) {
		return false
	}
	for k, msg := range c.Data.Errors {
		if base, _, ok := strings.Cut(k, "["); ok && k != "form" {
			if _, set := c.Data.Errors[base]; !set {
				c.Data.Errors[base] = msg
			}
		}
	}
	return true
}

// indentJSON shows stored JSON (a product's public keys) readably.
func indentJSON(s string) string {
	var b bytes.Buffer
	if json.Indent(&b, []byte(s), "", "  ") != nil {
		return s
	}
	return b.String()
}

// signOutRow is a sign-out delivery with its account named.
type signOutRow struct {
	backchannel.LogoutDelivery
	Account audit.Named
}

func (h *Handler) signOutRows(r *http.Request, c *console.Call, ds []backchannel.LogoutDelivery) []signOutRow {
	n := audit.Names(r.Context(), h.Console, c)
	rows := make([]signOutRow, len(ds))
	for i, d := range ds {
		rows[i] = signOutRow{LogoutDelivery: d, Account: n.Of("account", d.AccountID)}
	}
	return rows
}

// LogoutDeliveries lists a product's back-channel logout deliveries,
// newest first, a page at a time, optionally of one state.
func (h *Handler) LogoutDeliveries(oid *openid.Provider) console.Page {
	return func(w http.ResponseWriter, r *http.Request, c *console.Call) {
		ctx := r.Context()
		id := r.PathValue("id")
		c.Data.Notice = h.Flash(w, r)
		cl, err := oid.Clients().Client(ctx, c.Actor, c.Tenant, id)
		if err != nil {
			h.Fail(w, r, c, err)
			return
		}
		f := store.LogoutFilter{State: r.URL.Query().Get("state")}
		if !slices.Contains([]string{"", store.LogoutQueued, store.LogoutDelivered, store.LogoutAbandoned}, f.State) {
			f.State = ""
		}
		c.Data.Values["state"] = f.State
		list, next, err := oid.BackChannel().LogoutDeliveries(ctx, c.Actor, c.Tenant, id, f, console.PageOf(r))
		if err != nil {
			h.Fail(w, r, c, err)
			return
		}
		c.Data.Title, c.Data.Section = "Sign-out deliveries to "+cl.Name, "clients"
		c.Data.Data = map[string]any{"Client": cl, "Deliveries": h.signOutRows(r, c, list), "Next": console.NextURL(r, next)}
		h.View.Console(w, r, http.StatusOK, pages["logout_deliveries"], c.Data)
	}
}

// RetryLogout makes an abandoned or backing-off delivery due now, and
// goes back to the page the button was on.
func (h *Handler) RetryLogout(oid *openid.Provider) console.Page {
	return func(w http.ResponseWriter, r *http.Request, c *console.Call) {
		id := r.PathValue("id")
		if _, err := oid.BackChannel().RetryLogoutDelivery(r.Context(), c.Actor, c.Tenant, id, r.PathValue("event")); err != nil {
			h.Fail(w, r, c, err)
			return
		}
		back := c.Data.Admin + "clients/" + id + "/sign-out-deliveries"
		if r.PostFormValue("from") == "client" {
			back = c.Data.Admin + "clients/" + id + "#sign-out-deliveries"
		}
		h.Redirect(w, r, back, "usher will deliver this sign-out again within a few seconds.")
	}
}
