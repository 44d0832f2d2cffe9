// Package connections is the tenant console's corporate SSO connections:
// the identity providers its people sign in with. Tenant administrators
// add and change them; user administrators see them. The provisioning
// service holds the rules and writes the audit events; a connection's
// client secret is never shown.
package connections

import (
	"embed"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/provision"
	"github.com/usherhq/usher/sso"
	"github.com/usherhq/usher/web/console"
)

//go:embed templates/*.html
var templateFS embed.FS

// pages are this package's console pages.
var pages = console.Pages(templateFS, "connections", "connection")

// Handler serves the console's SSO connections.
type Handler struct {
	*console.Console
	svc *provision.Service
	sso *sso.Service
}

// New returns the connections' handler.
func New(con *console.Console, svc *provision.Service, ss *sso.Service) *Handler {
	return &Handler{Console: con, svc: svc, sso: ss}
}

// mapField is one field of the attribute mapping form: the claim or SAML
// attribute set for it, and what the preset reads when none is.
type mapField struct {
	ID, Name, Label, Value, Placeholder, Err string
}

// ruleRow is one row of the group rules form.
type ruleRow struct {
	N                         int
	IdPGroup, GroupID, RoleID string
	// Errors by "idp_group", "group_id", "role_id", and "rule" for the row.
	Errors map[string]string
}

// blankRules are the empty group rule rows the form offers for more rules.
const blankRules = 3

// mappedFields are the mapped fields, in the order the form shows them.
var mappedFields = []struct{ name, label string }{
	{"subject", "Subject (the stable id)"}, {"first_name", "First name"}, {"last_name", "Last name"}, {"email", "Email"},
	{"phone", "Phone number"}, {"username", "Username"}, {"department", "Department"}, {"job_profile", "Job profile"},
	{"language", "Language"}, {"groups", "Groups"},
}

// presetLabels name the mapping presets.
var presetLabels = map[string]string{sso.PresetGeneric: "Generic (standard claims and attributes)", sso.PresetEntra: "Microsoft Entra ID",
	sso.PresetOkta: "Okta", sso.PresetGoogle: "Google Workspace"}

// protocolNames name the protocols.
var protocolNames = map[string]string{"oidc": "OpenID Connect", "saml": "SAML 2.0"}

// connectionFields are the form's fields other than the secret, the
// mapping and the group rules.
var connectionFields = []string{"name", "domains", "enforced", "jit", "jit_role_id", "jit_plan_id", "jit_department_id", "jit_job_profile_id",
	"update_on_signin", "issuer", "client_id", "scopes", "userinfo", "metadata_url", "metadata_xml", "idp_initiated", "mapping.preset"}

// Connections lists the tenant's connections.
func (h *Handler) Connections(w http.ResponseWriter, r *http.Request, c *console.Call) {
	c.Data.Notice = h.Flash(w, r)
	list, next, err := h.Store.Read().Connections(r.Context(), c.Tenant.ID, false, console.PageOf(r))
	if err != nil {
		h.Fail(w, r, c, err)
		return
	}
	for i := range list {
		list[i].ClientSecret = ""
	}
	c.Data.Title, c.Data.Section = "Single sign-on", "connections"
	c.Data.Data = map[string]any{"Connections": list, "Next": console.NextURL(r, next), "Protocols": protocolNames}
	h.View.Console(w, r, http.StatusOK, pages["connections"], c.Data)
}

// ConnectionNew is the form of a new connection of the protocol in
// ?protocol=, and makes it.
func (h *Handler) ConnectionNew(w http.ResponseWriter, r *http.Request, c *console.Call) {
	protocol := r.URL.Query().Get("protocol")
	if _, ok := protocolNames[protocol]; !ok {
		h.Fail(w, r, c, usher.NotFound("", "connection protocol"))
		return
	}
	if err := c.Actor.Require(usher.AdminTenant); err != nil {
		h.Fail(w, r, c, err)
		return
	}
	conn := usher.Connection{Protocol: protocol}
	status := http.StatusOK
	var rules []ruleRow
	if r.Method == http.MethodPost {
		in := connectionInput(r, c, protocol)
		saved, err := h.svc.SaveConnection(r.Context(), c.Actor, c.Tenant, "", provision.ConnectionInput{Connection: in})
		if err == nil {
			h.Redirect(w, r, c.Data.Admin+"connections/"+saved.ID, "“"+saved.Name+"” is saved. Give your identity provider the values below, then test the connection.")
			return
		}
		if !h.FormErrors(w, r, c, err) {
			return
		}
		status = console.FormStatus(err)
		rules = connectionErrors(c, in.Mapping.GroupRules)
	} else {
		c.Data.Values = map[string]string{"mapping.preset": sso.PresetGeneric}
		rules = ruleRows(nil)
	}
	h.connectionPage(w, r, c, status, conn, false, rules)
}

// Connection shows one connection and changes it: its settings, and
// deactivating or reactivating it.
func (h *Handler) Connection(w http.ResponseWriter, r *http.Request, c *console.Call) {
	ctx := r.Context()
	conn, err := h.Store.Read().Connection(ctx, c.Tenant.ID, r.PathValue("id"))
	if err != nil {
		h.Fail(w, r, c, err)
		return
	}
	hasSecret := conn.ClientSecret != ""
	conn.ClientSecret = ""
	status := http.StatusOK
	var rules []ruleRow
	if r.Method == http.MethodPost {
		if err := c.Actor.Require(usher.AdminTenant); err != nil {
			h.Fail(w, r, c, err)
			return
		}
		var in usher.Connection
		switch action := r.PathValue("action"); action {
		case "":
			in = connectionInput(r, c, conn.Protocol)
			_, err = h.svc.SaveConnection(ctx, c.Actor, c.Tenant, conn.ID, provision.ConnectionInput{Connection: in})
			if err == nil {
				h.Redirect(w, r, c.Data.Admin+"connections/"+conn.ID, "Saved.")
				return
			}
		case "deactivate", "reactivate":
			off := action == "deactivate"
			_, err = h.svc.SaveConnection(ctx, c.Actor, c.Tenant, conn.ID, provision.ConnectionInput{Connection: conn, Deactivated: &off})
			if err == nil {
				notice := "The connection is active again: people with its domains sign in through it."
				if off {
					notice = "The connection is deactivated: nobody signs in through it, and its domains are free."
				}
				h.Redirect(w, r, c.Data.Admin+"connections/"+conn.ID, notice)
				return
			}
		default:
			http.NotFound(w, r)
			return
		}
		if !h.FormErrors(w, r, c, err) {
			return
		}
		status = console.FormStatus(err)
		if r.PathValue("action") == "" {
			rules = connectionErrors(c, in.Mapping.GroupRules)
		}
	} else {
		c.Data.Notice = h.Flash(w, r)
	}
	if rules == nil {
		c.Data.Values = connectionValues(conn)
		rules = ruleRows(conn.Mapping.GroupRules)
	}
	h.connectionPage(w, r, c, status, conn, hasSecret, rules)
}

// connectionPage writes a connection's page: conn is the stored
// connection (no ID when new), c.Data.Values the form's values.
func (h *Handler) connectionPage(w http.ResponseWriter, r *http.Request, c *console.Call, status int, conn usher.Connection, hasSecret bool, rules []ruleRow) {
	ch, err := h.Choices(r, c.Tenant)
	if err != nil {
		h.Fail(w, r, c, err)
		return
	}
	v := c.Data.Values
	preset := v["mapping.preset"]
	if _, ok := presetLabels[preset]; !ok {
		preset = sso.PresetGeneric
	}
	defaults := mappingValues(sso.PresetNames(conn.Protocol, preset))
	if defaults["subject"] == "" && conn.Protocol == "saml" {
		defaults["subject"] = "NameID"
	}
	var fields []mapField
	for _, f := range mappedFields {
		name := "mapping." + f.name
		fields = append(fields, mapField{ID: "map-" + f.name, Name: name, Label: f.label, Value: v[name], Err: c.Data.Errors[name], Placeholder: defaults[f.name]})
	}
	var presets []console.Option
	for _, p := range sso.Presets {
		presets = append(presets, console.Option{ID: p, Name: presetLabels[p]})
	}
	roles, groups := attrOptions(ch.Roles), attrOptions(ch.Groups)
	for _, rr := range rules {
		roles, groups = withCurrent(roles, rr.RoleID), withCurrent(groups, rr.GroupID)
	}
	plans := make([]console.Option, 0, len(ch.Plans))
	for _, p := range ch.Plans {
		plans = append(plans, console.Option{ID: p.ID, Name: p.Name})
	}
	data := map[string]any{
		"Conn": conn, "New": conn.ID == "", "Protocol": conn.Protocol, "ProtocolName": protocolNames[conn.Protocol], "HasSecret": hasSecret,
		"Presets": presets, "Mapping": fields, "Rules": rules, "Roles": roles, "Groups": groups,
		"JITRoles": withCurrent(attrOptions(ch.Roles), v["jit_role_id"]), "JITPlans": withCurrent(plans, v["jit_plan_id"]),
		"JITDepartments": withCurrent(attrOptions(ch.Departments), v["jit_department_id"]),
		"JITJobProfiles": withCurrent(attrOptions(ch.JobProfiles), v["jit_job_profile_id"]),
	}
	title := "New " + protocolNames[conn.Protocol] + " connection"
	if conn.ID != "" {
		title = conn.Name
		switch conn.Protocol {
		case "oidc":
			data["RedirectURI"] = h.sso.CallbackURL(c.Tenant, conn)
		case "saml":
			data["MetadataURL"], data["ACSURL"] = h.sso.MetadataURL(c.Tenant, conn), h.sso.ACSURL(c.Tenant, conn)
		}
	}
	c.Data.Title, c.Data.Section, c.Data.Data = title, "connections", data
	h.View.Console(w, r, status, pages["connection"], c.Data)
}

// connectionInput reads the connection form of the protocol. The client
// secret is not kept in the form's values: an empty one keeps the stored.
func connectionInput(r *http.Request, c *console.Call, protocol string) usher.Connection {
	_ = r.ParseForm()
	fields := append([]string{}, connectionFields...)
	for _, f := range mappedFields {
		fields = append(fields, "mapping."+f.name)
	}
	v := c.Form(r, fields...)
	on := func(name string) bool { return v[name] == "on" }
	in := usher.Connection{Name: v["name"], Protocol: protocol, Domains: domainList(v["domains"]), Enforced: on("enforced"),
		JIT: on("jit"), JITRoleID: v["jit_role_id"], JITPlanID: v["jit_plan_id"], JITDepartmentID: v["jit_department_id"],
		JITJobProfileID: v["jit_job_profile_id"], UpdateOnSignIn: on("update_on_signin")}
	in.Mapping = usher.AttributeMapping{Preset: v["mapping.preset"], Subject: v["mapping.subject"], FirstName: v["mapping.first_name"],
		LastName: v["mapping.last_name"], Email: v["mapping.email"], Phone: v["mapping.phone"], Username: v["mapping.username"],
		Department: v["mapping.department"], JobProfile: v["mapping.job_profile"], Language: v["mapping.language"], Groups: v["mapping.groups"]}
	// Rows without the identity provider's group are left out.
	idp, groups, roles := r.PostForm["rule_idp_group"], r.PostForm["rule_group_id"], r.PostForm["rule_role_id"]
	at := func(l []string, i int) string {
		if i < len(l) {
			return strings.TrimSpace(l[i])
		}
		return ""
	}
	for i := range min(len(idp), 200+blankRules) {
		if g := at(idp, i); g != "" {
			in.Mapping.GroupRules = append(in.Mapping.GroupRules, usher.GroupRule{IdPGroup: g, GroupID: at(groups, i), RoleID: at(roles, i)})
		}
	}
	switch protocol {
	case "oidc":
		in.Issuer, in.ClientID, in.ClientSecret = v["issuer"], v["client_id"], strings.TrimSpace(r.PostFormValue("client_secret"))
		in.Scopes, in.UserInfo = console.SplitList(v["scopes"]), on("userinfo")
	case "saml":
		in.MetadataURL, in.MetadataXML, in.IdPInitiated = v["metadata_url"], v["metadata_xml"], on("idp_initiated")
	}
	return in
}

// connectionErrors puts SaveConnection's problems next to the form's
// fields: "domains[2]" belongs to the domains' field, and
// "mapping.group_rules[1].group_id" to the second rule's group. It returns
// the group rule rows as sent, with their errors, and the blank rows.
func connectionErrors(c *console.Call, sent []usher.GroupRule) []ruleRow {
	rows := ruleRows(sent)
	for k, msg := range c.Data.Errors {
		c.Data.Errors[k] = apiNames.Replace(msg)
	}
	// The summary names the rows and fields as the form does.
	c.Data.Errors["form"] = summaryRuleRE.ReplaceAllStringFunc(c.Data.Errors["form"], func(m string) string {
		sub := summaryRuleRE.FindStringSubmatch(m)
		if sub[1] == "" {
			return "Domains"
		}
		n, _ := strconv.Atoi(sub[1])
		return fmt.Sprintf("Group rule %d", n+1) + map[string]string{" idp group": ", the identity provider's group", " group": ", the group", " role": ", the role"}[sub[2]]
	})
	for k, msg := range c.Data.Errors {
		if k == "form" {
			continue
		}
		rest, ok := strings.CutPrefix(k, "mapping.group_rules[")
		if !ok {
			if base, _, ok := strings.Cut(k, "["); ok {
				if _, set := c.Data.Errors[base]; !set {
					c.Data.Errors[base] = msg
				}
			}
			continue
		}
		num, field, _ := strings.Cut(rest, "]")
		i, err := strconv.Atoi(num)
		if err != nil || i < 0 || i >= len(rows) {
			continue
		}
		if field = strings.TrimPrefix(field, "."); field == "" {
			field = "rule"
		}
		rows[i].Errors[field] = msg
	}
	return rows
}

// apiNames say the API's names of the form's fields as the form does.
var apiNames = strings.NewReplacer("give the group_id or role_id", "choose the group or role", "Give the group_id or role_id", "Choose the group or role",
	"Jit ", "Just-in-time ", "Metadata url", "Metadata URL", "Metadata xml", "Metadata XML", "Client id", "Client ID", "in metadata_xml", "pasted")

// summaryRuleRE finds the names of indexed fields in an error summary:
// "Domains[1]" and "Mapping group rules[0] group".
var summaryRuleRE = regexp.MustCompile(`Domains\[\d+\]|Mapping group rules\[(\d+)\]( idp group| group| role)?`)

// domainList reads email domains one per line or separated by commas.
func domainList(s string) []string {
	var out []string
	for _, d := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '\n' || r == '\r' }) {
		if d = strings.TrimSpace(d); d != "" {
			out = append(out, d)
		}
	}
	return out
}

// ruleRows are the group rule rows of the form: the rules, then blank rows.
func ruleRows(rules []usher.GroupRule) []ruleRow {
	rows := make([]ruleRow, 0, len(rules)+blankRules)
	for _, g := range rules {
		rows = append(rows, ruleRow{IdPGroup: g.IdPGroup, GroupID: g.GroupID, RoleID: g.RoleID})
	}
	for range blankRules {
		rows = append(rows, ruleRow{})
	}
	for i := range rows {
		rows[i].N, rows[i].Errors = i+1, map[string]string{}
	}
	return rows
}

// connectionValues are the form's values of a stored connection.
func connectionValues(conn usher.Connection) map[string]string {
	flag := func(b bool) string {
		if b {
			return "on"
		}
		return ""
	}
	v := map[string]string{"name": conn.Name, "domains": strings.Join(conn.Domains, "\n"), "enforced": flag(conn.Enforced), "jit": flag(conn.JIT),
		"jit_role_id": conn.JITRoleID, "jit_plan_id": conn.JITPlanID, "jit_department_id": conn.JITDepartmentID, "jit_job_profile_id": conn.JITJobProfileID,
		"update_on_signin": flag(conn.UpdateOnSignIn), "issuer": conn.Issuer, "client_id": conn.ClientID, "scopes": strings.Join(conn.Scopes, " "),
		"userinfo": flag(conn.UserInfo), "metadata_url": conn.MetadataURL, "metadata_xml": conn.MetadataXML, "idp_initiated": flag(conn.IdPInitiated),
		"mapping.preset": conn.Mapping.Preset}
	if v["mapping.preset"] == "" {
		v["mapping.preset"] = sso.PresetGeneric
	}
	for f, name := range mappingValues(conn.Mapping) {
		v["mapping."+f] = name
	}
	return v
}

// mappingValues are a mapping's names by field.
func mappingValues(m usher.AttributeMapping) map[string]string {
	return map[string]string{"subject": m.Subject, "first_name": m.FirstName, "last_name": m.LastName, "email": m.Email, "phone": m.Phone,
		"username": m.Username, "department": m.Department, "job_profile": m.JobProfile, "language": m.Language, "groups": m.Groups}
}

// attrOptions are catalogue entries as choices.
func attrOptions(as []usher.Attribute) []console.Option {
	out := make([]console.Option, 0, len(as))
	for _, a := range as {
		out = append(out, console.Option{ID: a.ID, Name: a.Name})
	}
	return out
}

// withCurrent keeps a choice the connection has that is no longer active,
// so saving the form does not drop it unasked.
func withCurrent(opts []console.Option, id string) []console.Option {
	if id == "" {
		return opts
	}
	for _, o := range opts {
		if o.ID == id {
			return opts
		}
	}
	return append(opts, console.Option{ID: id, Name: "(an entry no longer active)"})
}
