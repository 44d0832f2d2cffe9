// Package audit is the tenant console's audit log, and the naming of what
// audit events refer to (who acted, on what, with which details), which
// the other pages that show events or name an id share.
package audit

import (
	"cmp"
	"context"
	"embed"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/provision"
	"github.com/usherhq/usher/store"
	"github.com/usherhq/usher/web/console"
)

//go:embed templates/*.html
var templateFS embed.FS

// pages are this package's console pages.
var pages = console.Pages(templateFS, "audit")

// Handler serves the audit log.
type Handler struct{ *console.Console }

// New returns the audit log's handler.
func New(con *console.Console) *Handler { return &Handler{Console: con} }

// Row is an audit event as the console shows it: who and what by name, with a
// link to their page; the ids stay in the API.
type Row struct {
	usher.AuditEvent
	Actor   Named
	Target  Named
	Details []detail
}

// Named is something an audit event refers to, by its name.
type Named struct {
	Name string
	URL  string // its page in the console, if it has one
}

// detail is one detail of an audit event, its value named: Lead is the
// words before it ("plan: ", "from ").
type detail struct {
	Lead, Value, URL string
}

// Namer names what audit events refer to, reading each thing once.
type Namer struct {
	h     *console.Console
	ctx   context.Context
	tn    usher.Tenant
	admin string
	seen  map[string]Named
}

// Names returns a Namer for the events of a console page.
func Names(ctx context.Context, h *console.Console, c *console.Call) *Namer {
	return &Namer{h: h, ctx: ctx, tn: c.Tenant, admin: c.Data.Admin, seen: map[string]Named{}}
}

// short shortens an id that names nothing any more; the full id is in the API.
func short(id string) string {
	if len(id) > 13 {
		return "…" + id[len(id)-8:]
	}
	return id
}

// targetNouns say a kind of target when its name cannot be found.
var targetNouns = map[string]string{"signup_link": "sign-up link", usher.KindRole: "role", usher.KindDepartment: "department",
	usher.KindJobProfile: "job profile", usher.KindGroup: "group"}

// Of names the thing of kind with id: a person by their name (an account
// by its person's), a catalogue entry, plan, organization or sign-up link
// by its own, a token as TokenName says.
func (n *Namer) Of(kind, id string) Named {
	if id == "" {
		return Named{}
	}
	key := kind + "/" + id
	if v, ok := n.seen[key]; ok {
		return v
	}
	v, ok := n.lookup(kind, id)
	if !ok {
		noun := targetNouns[kind]
		if noun == "" {
			noun = strings.ReplaceAll(kind, "_", " ")
		}
		v = Named{Name: noun + " " + short(id)}
	}
	n.seen[key] = v
	return v
}

func (n *Namer) lookup(kind, id string) (Named, bool) {
	rd, ctx, t := n.h.Store.Read(), n.ctx, n.tn.ID
	switch kind {
	case "account":
		if a, err := rd.Account(ctx, t, id); err == nil {
			return n.Of("person", a.PersonID), true
		}
	case "person":
		if p, err := rd.Person(ctx, t, id); err == nil {
			return Named{Name: p.FirstName + " " + p.LastName, URL: n.admin + "people/" + id}, true
		}
	case "organization":
		if o, err := rd.Organization(ctx, t, id); err == nil {
			return Named{Name: o.Name, URL: n.admin + "organizations/" + id}, true
		}
	case "plan":
		if p, err := rd.Plan(ctx, t, id); err == nil {
			return Named{Name: p.Name, URL: n.admin + "plans"}, true
		}
	case usher.KindRole, usher.KindDepartment, usher.KindJobProfile, usher.KindGroup:
		if a, err := rd.Attribute(ctx, t, kind, id); err == nil {
			return Named{Name: a.Name, URL: n.admin + "catalog/" + kind}, true
		}
	case "signup_link":
		if l, err := rd.SignupLink(ctx, t, id); err == nil {
			return Named{Name: "“" + l.Name + "”", URL: n.admin + "signup-links"}, true
		}
	case "connection":
		if c, err := rd.Connection(ctx, t, id); err == nil {
			return Named{Name: c.Name}, true
		}
	case "token":
		// Operator tokens belong to no tenant; another tenant's are not Named here.
		if tok, err := rd.Token(ctx, id); err == nil && (tok.TenantID == "" || tok.TenantID == t) {
			return Named{Name: n.h.TokenName(tok)}, true
		}
	case "import":
		if j, err := rd.Import(ctx, t, id); err == nil {
			return Named{Name: "the import of " + cmp.Or(j.FileName, "a file"), URL: n.admin + "imports/" + id}, true
		}
	case "tenant":
		if id == n.tn.ID {
			return Named{Name: n.tn.Name}, true
		}
	}
	return Named{}, false
}

// actor names who made a change.
func (n *Namer) actor(e usher.AuditEvent) Named {
	switch e.ActorKind {
	case usher.ActorAccount:
		return n.Of("account", e.ActorID)
	case usher.ActorOperator, usher.ActorToken:
		if e.ActorID == "cli" {
			return Named{Name: "an operator, on the command line"}
		}
		if v, ok := n.lookup("token", e.ActorID); ok {
			return v
		}
		if e.ActorKind == usher.ActorOperator {
			return Named{Name: "an operator"}
		}
		return Named{Name: "an API token"}
	case usher.ActorImport:
		return n.Of("import", e.ActorID)
	case usher.ActorSystem:
		if e.ActorID == "demo" || e.ActorID == "demo-seed" {
			return Named{Name: "usher, setting up the demo"}
		}
		return Named{Name: "usher"}
	}
	return Named{Name: strings.TrimSpace(e.ActorKind + " " + short(e.ActorID))}
}

// actorByID names an actor known only by id, as the audit log's filter
// has it: an account's person, or a token.
func (n *Namer) actorByID(id string) Named {
	for _, kind := range []string{"account", "token"} {
		if v, ok := n.lookup(kind, id); ok {
			return v
		}
	}
	return Named{Name: short(id)}
}

// detailKinds are the details that hold an id, with what they name.
var detailKinds = map[string]struct{ label, kind string }{
	"plan_id": {"plan", "plan"}, "organization_id": {"organization", "organization"}, "site_id": {"site", "organization"},
	"signup_link_id": {"sign-up link", "signup_link"}, "department_id": {"department", usher.KindDepartment},
	"job_profile_id": {"job profile", usher.KindJobProfile}, "role_id": {"role", usher.KindRole},
}

// detailLeads are the words before a detail's value, where its key's own do not read well.
var detailLeads = map[string]string{"admin_role": "console rights: ", "auth_system": "signs in with ", "route": "through ", "with": "with ",
	"method": "with ", "from": "was ", "seats_from": "seats from ", "seats_to": "to ", "expires_at": "works until "}

// detailValues say coded values as words.
var detailValues = map[string]string{
	usher.AdminTenant: "tenant administrator", usher.AdminUser: "user administrator", usher.AuthConnection: "corporate single sign-on",
	usher.AuthPassword: "a password", provision.RouteNewUser: "Add user", provision.RouteAccountForPerson: "Create user account",
	provision.RouteRelationship: "a first site relationship",
	provision.RouteRegistration: "registration", usher.OrgExternal: "partner or customer", usher.OrgInternal: "own organization",
	"otp": "a one-time password", "link": "an activation link", "code": "a text message code", "true": "yes", "false": "no",
}

// details are an event's details in a steady order, ids as names.
func (n *Namer) details(e usher.AuditEvent) []detail {
	keys := make([]string, 0, len(e.Details))
	for k := range e.Details {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []detail
	for _, k := range keys {
		v := e.Details[k]
		switch {
		case k == "joined_identity":
			out = append(out, detail{Lead: "joined the sign-in of another organization"})
		case detailKinds[k].kind != "":
			d := detailKinds[k]
			x := n.Of(d.kind, v)
			out = append(out, detail{Lead: d.label + ": ", Value: x.Name, URL: x.URL})
		case k == "admin_role" && v == "":
			out = append(out, detail{Lead: "console rights: ", Value: "none"})
		case k == "max_uses":
			if v == "0" {
				out = append(out, detail{Lead: "for any number of people"})
			} else {
				out = append(out, detail{Lead: "for at most ", Value: v + " people"})
			}
		case k == "person_created":
			if v == "true" {
				out = append(out, detail{Lead: "with a new person"})
			}
		default:
			lead, ok := detailLeads[k]
			if !ok {
				lead = strings.ReplaceAll(k, "_", " ") + ": "
			}
			if w, ok := detailValues[v]; ok {
				v = w
			} else if at, err := time.Parse(time.RFC3339, v); err == nil {
				v = at.Format("2 Jan 2006 15:04")
			}
			out = append(out, detail{Lead: lead, Value: v})
		}
	}
	if e.Source != "" {
		out = append(out, detail{Lead: "from ", Value: e.Source})
	}
	return out
}

// Rows names the events' actors, targets and details.
func (n *Namer) Rows(evs []usher.AuditEvent) []Row {
	out := make([]Row, 0, len(evs))
	for _, e := range evs {
		target := e.TargetKind
		if target == "tenant" && e.TargetID != n.tn.ID {
			target = ""
		}
		out = append(out, Row{AuditEvent: e, Actor: n.actor(e), Target: n.Of(target, e.TargetID), Details: n.details(e)})
	}
	return out
}

// withoutParam is the address of r without the query parameter name.
func withoutParam(r *http.Request, name string) string {
	q := r.URL.Query()
	q.Del(name)
	q.Del("after")
	if len(q) == 0 {
		return r.URL.Path
	}
	return r.URL.Path + "?" + q.Encode()
}

// Audit is the audit log, newest first, filtered by actor, person and action.
func (h *Handler) Audit(w http.ResponseWriter, r *http.Request, c *console.Call) {
	ctx := r.Context()
	q := r.URL.Query()
	for _, k := range []string{"actor_id", "person_id", "action"} {
		c.Data.Values[k] = strings.TrimSpace(q.Get(k))
	}
	f := store.AuditFilter{ActorID: c.Data.Values["actor_id"], Action: c.Data.Values["action"]}
	if pid := c.Data.Values["person_id"]; pid != "" {
		f.TargetID = pid
		if a, err := h.Store.Read().AccountOfPerson(ctx, c.Tenant.ID, pid); err == nil {
			f.AlsoTarget = a.ID
		}
	}
	o := console.PageOf(r)
	o.Newest = true
	evs, next, err := h.Store.Read().AuditEvents(ctx, c.Tenant.ID, f, o)
	if err != nil {
		h.Fail(w, r, c, err)
		return
	}
	c.Data.Title, c.Data.Section = "Audit log", "audit"
	n := Names(ctx, h.Console, c)
	d := map[string]any{"Events": n.Rows(evs), "Next": console.NextURL(r, next)}
	// A filter by actor or person shows whom it shows, with a way back to all.
	if id := c.Data.Values["actor_id"]; id != "" {
		d["Actor"] = n.actorByID(id)
		d["AllActors"] = withoutParam(r, "actor_id")
	}
	if id := c.Data.Values["person_id"]; id != "" {
		d["Person"] = n.Of("person", id)
		d["AllPersons"] = withoutParam(r, "person_id")
	}
	c.Data.Data = d
	h.View.Console(w, r, http.StatusOK, pages["audit"], c.Data)
}
