package scim

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/provision"
	"github.com/usherhq/usher/scim/filter"
	"github.com/usherhq/usher/store"
)

// A SCIM User is a usher account with its person. Its id is the account's.
// Deactivated accounts (a source's DELETE) are gone for SCIM: 404, and not
// listed, as RFC 7644 §3.6 asks; the same user provisioned again later is
// reactivated.

// userSet is what usher has of some accounts, read together, to describe
// them to a source.
type userSet struct {
	accounts map[string]usher.Account
	persons  map[string]usher.Person
	sources  map[string]store.SourceUser
	attrs    map[string]usher.Attribute
	plans    map[string]usher.Plan
}

// loadUsers reads the accounts ids (those not deactivated) and what
// describes them, in one query whatever their number, then the catalogue
// names from the caches. known are records already read (by a lookup),
// which are not read again.
func (h *Handler) loadUsers(ctx context.Context, tn usher.Tenant, ids []string, known map[string]store.UserRecord) (userSet, error) {
	rd := h.st.Read()
	s := userSet{accounts: map[string]usher.Account{}, persons: map[string]usher.Person{}, sources: map[string]store.SourceUser{}}
	records := make(map[string]store.UserRecord, len(ids))
	var unknown []string
	for _, id := range ids {
		if u, ok := known[id]; ok {
			records[id] = u
		} else {
			unknown = append(unknown, id)
		}
	}
	if len(unknown) > 0 {
		read, err := rd.UserRecords(ctx, tn.ID, unknown)
		if err != nil {
			return s, err
		}
		maps.Copy(records, read)
	}
	for id, u := range records {
		if u.Account.State == usher.StateDeactivated {
			continue
		}
		s.accounts[id], s.persons[u.Person.ID] = u.Account, u.Person
		if u.Source != nil {
			s.sources[id] = *u.Source
		}
	}
	return s, s.names(ctx, rd, tn, h.plans, h.attrs)
}

// names reads the catalogue entries and plans the users refer to.
func (s *userSet) names(ctx context.Context, rd *store.Tx, tn usher.Tenant, plans *planCache, attrs *attrCache) error {
	var refs []string
	for _, a := range s.accounts {
		refs = append(refs, a.RoleID, a.PrimaryGroupID)
		refs = append(refs, a.GroupIDs...)
	}
	for _, p := range s.persons {
		refs = append(refs, p.DepartmentID, p.JobProfileID)
	}
	refs = slices.DeleteFunc(slices.Compact(sortedStrings(refs)), func(s string) bool { return s == "" })
	var err error
	if s.attrs, err = attributes(ctx, attrs, rd, tn.ID, refs); err != nil {
		return err
	}
	s.plans, err = planNames(ctx, plans, rd, tn.ID)
	return err
}

func sortedStrings(s []string) []string {
	slices.Sort(s)
	return s
}

// userDocs describes the accounts ids (those not deactivated), in order.
func (h *Handler) userDocs(ctx context.Context, c call, ids []string) ([]map[string]any, error) {
	return h.userDocsOf(ctx, c, ids, nil)
}

// userDocsOf is userDocs with accounts already read.
func (h *Handler) userDocsOf(ctx context.Context, c call, ids []string, known map[string]store.UserRecord) ([]map[string]any, error) {
	s, err := h.loadUsers(ctx, c.tn, ids, known)
	if err != nil {
		return nil, err
	}
	out := make([]map[string]any, 0, len(ids))
	for _, id := range ids {
		if a, ok := s.accounts[id]; ok {
			out = append(out, s.doc(c, a))
		}
	}
	return out, nil
}

// userDoc describes one account, or not found.
func (h *Handler) userDoc(ctx context.Context, c call, id string) (map[string]any, error) {
	docs, err := h.userDocs(ctx, c, []string{id})
	if err != nil {
		return nil, err
	}
	if len(docs) == 0 {
		return nil, notFound("there is no user %q in this tenant", id)
	}
	return docs[0], nil
}

// doc is the SCIM User of an account: what its source last sent, with
// usher's own values over it, so a source reads back what it sent and
// what usher decided (defaults, the state, the groups).
func (s userSet) doc(c call, a usher.Account) map[string]any {
	p := s.persons[a.PersonID]
	d := map[string]any{}
	src, hasSrc := s.sources[a.ID]
	if hasSrc {
		var sent map[string]any
		if json.Unmarshal([]byte(src.Data), &sent) == nil {
			d = sent
		}
	}
	d["schemas"] = []any{URNUser}
	d["id"] = a.ID
	userName := a.Email
	if userName == "" {
		userName = a.Username
	}
	if sent, _ := d["userName"].(string); sent != "" && (strings.EqualFold(sent, a.Email) || strings.EqualFold(sent, a.Username)) {
		userName = sent
	}
	d["userName"] = userName
	set(d, "externalId", str0(p.ExternalID))
	name, _ := d["name"].(map[string]any)
	if name == nil {
		name = map[string]any{}
	}
	set(name, "givenName", str0(p.FirstName))
	set(name, "familyName", str0(p.LastName))
	full := strings.TrimSpace(p.FirstName + " " + p.LastName)
	if _, ok := name["formatted"]; !ok && full != "" {
		name["formatted"] = full
	}
	set(d, "name", name)
	if _, ok := d["displayName"]; !ok && full != "" {
		d["displayName"] = full
	}
	d["active"] = a.State == usher.StateActive || a.State == usher.StateInvited
	email := a.Email
	if email == "" {
		email = p.Email
	}
	if _, ok := d["emails"]; !ok && email != "" {
		d["emails"] = []any{map[string]any{"value": email, "type": "work", "primary": true}}
	}
	if _, ok := d["phoneNumbers"]; !ok && a.Phone != "" {
		d["phoneNumbers"] = []any{map[string]any{"value": a.Phone, "type": "mobile"}}
	}
	delete(d, "title")
	if jp, ok := s.attrs[p.JobProfileID]; ok {
		d["title"] = jp.Name
	}
	if _, ok := d["preferredLanguage"]; !ok && a.Language != "" {
		d["preferredLanguage"] = a.Language
	}
	ent, _ := d[URNEnterprise].(map[string]any)
	if ent == nil {
		ent = map[string]any{}
	}
	delete(ent, "department")
	if dep, ok := s.attrs[p.DepartmentID]; ok {
		ent["department"] = dep.Name
	}
	ext := map[string]any{"state": a.State, "language": a.Language}
	if jp, ok := s.attrs[p.JobProfileID]; ok {
		ext["jobProfile"] = jp.Name
	}
	if r, ok := s.attrs[a.RoleID]; ok {
		ext["role"] = r.Name
	}
	if pl, ok := s.plans[a.PlanID]; ok {
		ext["plan"] = pl.Key
	}
	if a.ManagedBy != "" {
		ext["managedBy"] = a.ManagedBy
	}
	schemas := []any{URNUser}
	if len(ent) > 0 {
		d[URNEnterprise] = ent
		schemas = append(schemas, URNEnterprise)
	} else {
		delete(d, URNEnterprise)
	}
	d[URNUsher] = ext
	d["schemas"] = append(schemas, URNUsher)
	var groups []any
	for _, g := range append([]string{a.PrimaryGroupID}, a.GroupIDs...) {
		if attr, ok := s.attrs[g]; ok && attr.DeactivatedAt == nil {
			groups = append(groups, map[string]any{"value": g, "display": attr.Name, "$ref": c.base + "/Groups/" + g, "type": "direct"})
		}
	}
	set(d, "groups", groups)
	modified := a.UpdatedAt
	if p.UpdatedAt.After(modified) {
		modified = p.UpdatedAt
	}
	if hasSrc && src.UpdatedAt.After(modified) {
		modified = src.UpdatedAt
	}
	meta := map[string]any{"resourceType": "User", "created": a.CreatedAt.Format(time.RFC3339Nano),
		"lastModified": modified.Format(time.RFC3339Nano), "location": c.base + "/Users/" + a.ID}
	d["meta"] = meta
	meta["version"] = version(d)
	return d
}

// str0 is s as a value to set, or nil when empty.
func str0(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (h *Handler) getUser(w http.ResponseWriter, r *http.Request, c call, id string) {
	doc, err := h.userDoc(r.Context(), c, id)
	if err != nil {
		h.writeError(w, r, nil, err)
		return
	}
	h.writeResource(w, r, http.StatusOK, doc)
}

// writeResource answers one resource with its ETag, projected by the
// request's attributes and excludedAttributes.
func (h *Handler) writeResource(w http.ResponseWriter, r *http.Request, status int, doc map[string]any) {
	meta, _ := doc["meta"].(map[string]any)
	v := versionOf(doc)
	if v != "" {
		w.Header().Set("ETag", v)
	}
	if status == http.StatusOK && r.Method == http.MethodGet && v != "" && matchesETag(r.Header.Get("If-None-Match"), v) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if status == http.StatusCreated {
		if loc, _ := meta["location"].(string); loc != "" {
			w.Header().Set("Location", loc)
		}
	}
	attrs, excluded, err := readProjection(r)
	if err != nil {
		h.writeError(w, r, nil, err)
		return
	}
	writeJSON(w, status, project(doc, attrs, excluded))
}

func (h *Handler) listUsers(w http.ResponseWriter, r *http.Request, c call) {
	ctx := r.Context()
	lq, err := readListQuery(r)
	if err != nil {
		h.writeError(w, r, nil, err)
		return
	}
	rd := h.st.Read()
	if lq.filter == nil {
		total, err := rd.CountAccounts(ctx, c.tn.ID)
		if err != nil {
			h.writeError(w, r, nil, err)
			return
		}
		var docs []map[string]any
		if lq.count > 0 {
			ids, err := rd.AccountIDs(ctx, c.tn.ID, lq.start-1, lq.count)
			if err == nil {
				docs, err = h.userDocs(ctx, c, ids)
			}
			if err != nil {
				h.writeError(w, r, nil, err)
				return
			}
		}
		h.writeList(w, docs, total, lq)
		return
	}
	ids, known, narrowed, err := h.narrowUsers(ctx, c, lq.filter)
	if err == nil && !narrowed {
		ids, err = rd.AccountIDs(ctx, c.tn.ID, 0, 0)
		if err == nil && len(ids) > scanLimit {
			err = errorf(http.StatusBadRequest, TypeTooMany, "filter: the tenant has %d users and this filter can use no index; filter by id, userName, externalId or emails with eq", len(ids))
		}
	}
	if err != nil {
		h.writeError(w, r, nil, err)
		return
	}
	var matched []map[string]any
	for from := 0; from < len(ids); from += 500 {
		docs, err := h.userDocsOf(ctx, c, ids[from:min(from+500, len(ids))], known)
		if err != nil {
			h.writeError(w, r, nil, err)
			return
		}
		for _, d := range docs {
			if filter.Match(lq.filter, d) {
				matched = append(matched, d)
			}
		}
	}
	total := len(matched)
	page := matched[min(lq.start-1, total):min(lq.start-1+lq.count, total)]
	h.writeList(w, page, total, lq)
}

// writeList answers a page of resources.
func (h *Handler) writeList(w http.ResponseWriter, docs []map[string]any, total int, lq listQuery) {
	out := make([]any, len(docs))
	for i, d := range docs {
		out[i] = project(d, lq.attrs, lq.excluded)
	}
	writeJSON(w, http.StatusOK, listResponse(out, total, lq.start))
}

// narrowUsers finds, through the store's indexes, the accounts a filter
// can match: by id, userName, externalId or an email compared with eq.
// false means no index serves the filter. The accounts a lookup by
// userName read come back too, with their persons and descriptions.
func (h *Handler) narrowUsers(ctx context.Context, c call, f filter.Filter) ([]string, map[string]store.UserRecord, bool, error) {
	keys, ok := userKeys(f)
	if !ok {
		return nil, nil, false, nil
	}
	rd := h.st.Read()
	var ids []string
	known := map[string]store.UserRecord{}
	for _, k := range keys {
		var found []string
		var err error
		switch k.attr {
		case "id":
			found = []string{k.value}
		case "username":
			var u store.UserRecord
			u, err = rd.UserRecordByLogin(ctx, c.tn.ID, usher.NormalizeLogin(k.value))
			if err == nil {
				found, known[u.Account.ID] = []string{u.Account.ID}, u
			} else if errors.Is(err, usher.ErrNotFound) {
				err = nil
			}
		case "externalid":
			found, err = rd.AccountIDsByExternalID(ctx, c.tn.ID, k.value)
		case "emails":
			found, err = rd.AccountIDsByEmail(ctx, c.tn.ID, strings.ToLower(strings.TrimSpace(k.value)))
		}
		if err != nil {
			return nil, nil, true, err
		}
		ids = append(ids, found...)
	}
	slices.Sort(ids)
	return slices.Compact(ids), known, true, nil
}

type userKey struct{ attr, value string }

// userKeys are the indexed equalities a filter requires: one of them holds
// for every user it matches.
func userKeys(f filter.Filter) ([]userKey, bool) {
	switch f := f.(type) {
	case filter.Compare:
		v, isStr := f.Value.(string)
		if f.Op != "eq" || !isStr || (f.Path.URN != "" && !strings.EqualFold(f.Path.URN, URNUser)) {
			return nil, false
		}
		attr, sub := strings.ToLower(f.Path.Attr), strings.ToLower(f.Path.Sub)
		switch {
		case (attr == "id" || attr == "username" || attr == "externalid") && sub == "":
			return []userKey{{attr, v}}, true
		case attr == "emails" && (sub == "" || sub == "value"):
			return []userKey{{attr, v}}, true
		}
	case filter.ValuePath:
		if strings.EqualFold(f.Path.Attr, "emails") && (f.Path.URN == "" || strings.EqualFold(f.Path.URN, URNUser)) {
			if v, ok := eqValue(f.Filter, "value"); ok {
				return []userKey{{"emails", v}}, true
			}
		}
	case filter.And:
		if k, ok := userKeys(f.L); ok {
			return k, true
		}
		return userKeys(f.R)
	case filter.Or:
		l, ok1 := userKeys(f.L)
		r, ok2 := userKeys(f.R)
		if ok1 && ok2 {
			return append(l, r...), true
		}
	}
	return nil, false
}

// eqValue finds "<attr> eq …" among the and-ed conditions of a filter:
// the value a lookup (a group's displayName, an email's value) requires.
func eqValue(f filter.Filter, attr string) (string, bool) {
	switch f := f.(type) {
	case filter.Compare:
		v, ok := f.Value.(string)
		return v, ok && f.Op == "eq" && strings.EqualFold(f.Path.Attr, attr) && f.Path.Sub == ""
	case filter.And:
		if v, ok := eqValue(f.L, attr); ok {
			return v, true
		}
		return eqValue(f.R, attr)
	}
	return "", false
}

// mappedUser is what a source's User becomes in usher.
type mappedUser struct {
	userName                string
	first, last, externalID string
	email, username, phone  string
	language                string
	hasLanguage             bool
	department, jobProfile  *string
	role, plan              *string
	active                  *bool
	src                     provision.Source
	fields                  fields
}

// mapUser reads a source's User (canonical) as usher's fields, under the
// tenant's settings. clearMissing (PATCH) clears the catalogue attributes
// that were in before and are not any more; PUT leaves absent ones as they
// are, so the tenant's defaults stay.
func mapUser(tn usher.Tenant, doc, before map[string]any) (mappedUser, error) {
	m := mappedUser{fields: fields{}}
	for k, v := range userFields {
		m.fields[k] = v
	}
	m.userName, _ = doc["userName"].(string)
	m.userName = strings.TrimSpace(m.userName)
	if m.userName == "" {
		return m, invalidValue("userName: is required")
	}
	if name, ok := doc["name"].(map[string]any); ok {
		m.first, _ = name["givenName"].(string)
		m.last, _ = name["familyName"].(string)
	}
	m.externalID, _ = doc["externalId"].(string)
	work := pickValue(doc["emails"], "work")
	mobile := typedValue(doc["phoneNumbers"], "mobile")
	if strings.Contains(m.userName, "@") {
		m.email = m.userName
	} else {
		m.username = m.userName
		if tn.Settings.SCIM.Addresses != usher.SCIMKeep && work != "" {
			m.email = work
			m.fields["email"] = `emails[type eq "work"].value`
		}
	}
	if tn.Settings.SCIM.Addresses != usher.SCIMKeep {
		m.phone = mobile
	}
	ent, _ := doc[URNEnterprise].(map[string]any)
	ext, _ := doc[URNUsher].(map[string]any)
	entBefore, _ := before[URNEnterprise].(map[string]any)
	extBefore, _ := before[URNUsher].(map[string]any)
	text := func(c, was map[string]any, name string) *string {
		if v, ok := c[name].(string); ok {
			return &v
		}
		if _, had := was[name]; had {
			empty := ""
			return &empty
		}
		return nil
	}
	m.department = text(ent, entBefore, "department")
	m.jobProfile = text(doc, before, "title")
	if jp := text(ext, extBefore, "jobProfile"); jp != nil {
		m.jobProfile = jp
		m.fields["job_profile_id"] = URNUsher + ":jobProfile"
	}
	m.role = text(ext, extBefore, "role")
	m.plan = text(ext, extBefore, "plan")
	if lang, ok := ext["language"].(string); ok {
		m.language, m.hasLanguage = lang, true
		m.fields["language"] = URNUsher + ":language"
	} else if pref, ok := doc["preferredLanguage"].(string); ok {
		// A preference: the tenant's language it names (en-US reads as en),
		// or the tenant's default when it offers none of it.
		m.language, m.hasLanguage = preferred(tn, pref), true
	}
	if b, ok := doc["active"].(bool); ok {
		m.active = &b
	}
	data := clone(doc).(map[string]any)
	delete(data, "password")
	raw, err := json.Marshal(data)
	if err != nil {
		return m, err
	}
	if len(raw) > maxData {
		return m, invalidValue("the user's attributes take %d bytes; usher keeps at most %d", len(raw), maxData)
	}
	m.src = provision.Source{Data: string(raw), Department: m.department, JobProfile: m.jobProfile}
	for _, e := range valuesOf(doc["emails"]) {
		e = strings.ToLower(strings.TrimSpace(e))
		if e != "" && !strings.Contains(e, ",") && !slices.Contains(m.src.Emails, e) {
			m.src.Emails = append(m.src.Emails, e)
		}
	}
	return m, nil
}

// preferred maps a language preference to one of the tenant's languages.
func preferred(tn usher.Tenant, pref string) string {
	pref = strings.ToLower(strings.TrimSpace(pref))
	base, _, _ := strings.Cut(strings.ReplaceAll(pref, "_", "-"), "-")
	for _, l := range tn.Settings.Languages {
		if l == pref || l == base {
			return l
		}
	}
	if base == "no" && slices.Contains(tn.Settings.Languages, "nb") {
		return "nb"
	}
	return ""
}

// pickValue is the value of the multi-valued attribute of type typ, else
// the primary one, else the first.
func pickValue(v any, typ string) string {
	if s := typedValue(v, typ); s != "" {
		return s
	}
	list, _ := v.([]any)
	for _, x := range list {
		if m, ok := x.(map[string]any); ok && m["primary"] == true {
			if s, _ := m["value"].(string); s != "" {
				return s
			}
		}
	}
	if vals := valuesOf(v); len(vals) > 0 {
		return vals[0]
	}
	return ""
}

// typedValue is the value of type typ, the primary one first.
func typedValue(v any, typ string) string {
	list, _ := v.([]any)
	found := ""
	for _, x := range list {
		m, ok := x.(map[string]any)
		if !ok {
			continue
		}
		if t, _ := m["type"].(string); !strings.EqualFold(t, typ) {
			continue
		}
		s, _ := m["value"].(string)
		if s != "" && (found == "" || m["primary"] == true) {
			found = s
		}
	}
	return found
}

func valuesOf(v any) []string {
	list, _ := v.([]any)
	var out []string
	for _, x := range list {
		if m, ok := x.(map[string]any); ok {
			if s, _ := m["value"].(string); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

// mapped is mapUser for the calling source, with its role and plan resolved.
func (h *Handler) mapped(ctx context.Context, c call, doc, before map[string]any) (mappedUser, *string, *string, error) {
	m, err := mapUser(c.tn, doc, before)
	if err != nil {
		return m, nil, nil, err
	}
	m.src.ID = c.actor.ID
	roleID, planID, err := h.references(ctx, c.tn, m)
	return m, roleID, planID, err
}

// references resolves the usher extension's role and plan, by name or key.
func (h *Handler) references(ctx context.Context, tn usher.Tenant, m mappedUser) (roleID, planID *string, err error) {
	rd := h.st.Read()
	if m.role != nil {
		id := ""
		if *m.role != "" {
			roles, err := rd.AttributesByName(ctx, tn.ID, usher.KindRole, *m.role)
			if err != nil {
				return nil, nil, err
			}
			if len(roles) > 0 {
				id = roles[0].ID
			} else if r, err := rd.AttributeByKey(ctx, tn.ID, usher.KindRole, *m.role); err == nil && r.DeactivatedAt == nil {
				id = r.ID
			} else {
				return nil, nil, invalidValue("%s:role: the tenant has no role named %q", URNUsher, *m.role)
			}
		}
		roleID = &id
	}
	if m.plan != nil && *m.plan != "" {
		plans, err := rd.PlanNames(ctx, tn.ID)
		if err != nil {
			return nil, nil, err
		}
		for _, byName := range []bool{false, true} {
			for _, p := range plans {
				if p.DeactivatedAt == nil && planID == nil && (p.Key == *m.plan && !byName || byName && strings.EqualFold(p.Name, *m.plan)) {
					planID = &p.ID
				}
			}
		}
		if planID == nil {
			return nil, nil, invalidValue("%s:plan: the tenant has no active plan %q", URNUsher, *m.plan)
		}
	}
	return roleID, planID, nil
}

func (h *Handler) createUser(w http.ResponseWriter, r *http.Request, c call) {
	ctx := r.Context()
	doc, err := readResource(r, userAttrs)
	if err != nil {
		h.writeError(w, r, nil, err)
		return
	}
	m, roleID, planID, err := h.mapped(ctx, c, doc, nil)
	if err != nil {
		h.writeError(w, r, m.fields, err)
		return
	}
	// The same user provisioned again after a DELETE is reactivated.
	had, err := h.st.Read().AccountByLogin(ctx, c.tn.ID, usher.NormalizeLogin(m.userName))
	switch {
	case err == nil && had.State == usher.StateDeactivated && (had.ManagedBy == "" || had.ManagedBy == c.actor.ID):
		active := usher.StateActive
		pu, au := m.updates(roleID, planID)
		au.State = &active
		no := false
		pu.Deactivated = &no
		if _, err := h.svc.Change(ctx, c.actor, c.tn, had.ID, pu, au); err != nil {
			h.writeError(w, r, m.fields, err)
			return
		}
		if m.active != nil && !*m.active {
			if err := h.setState(ctx, c, had.ID, usher.StateSuspended); err != nil {
				h.writeError(w, r, m.fields, err)
				return
			}
		}
		h.respondUser(w, r, c, had.ID, http.StatusCreated)
		return
	case err == nil:
		h.writeError(w, r, nil, errorf(http.StatusConflict, TypeUniqueness, "userName: %q is already the sign-in of the user %s", m.userName, had.ID))
		return
	case !errors.Is(err, usher.ErrNotFound):
		h.writeError(w, r, nil, err)
		return
	}
	in := provision.AccountInput{Route: provision.RouteProvisioning, Source: &m.src,
		Person:   &provision.PersonInput{FirstName: m.first, LastName: m.last, Email: m.email, Phone: m.phone, ExternalID: m.externalID, Language: m.language},
		Username: m.username, Language: m.language, Suspended: m.active != nil && !*m.active}
	if roleID != nil {
		in.RoleID = *roleID
	}
	if planID != nil {
		in.PlanID = *planID
	}
	created, err := h.svc.CreateAccount(ctx, c.actor, c.tn, in)
	if err != nil {
		h.writeError(w, r, m.fields, err)
		return
	}
	// Described from what the creation returned: no need to read it again.
	a := created.Account
	s := userSet{accounts: map[string]usher.Account{a.ID: a}, persons: map[string]usher.Person{a.PersonID: created.Person},
		sources: map[string]store.SourceUser{a.ID: {AccountID: a.ID, SourceID: c.actor.ID, Data: m.src.Data, UpdatedAt: a.CreatedAt}}}
	if err := s.names(ctx, h.st.Read(), c.tn, h.plans, h.attrs); err != nil {
		h.writeError(w, r, nil, err)
		return
	}
	h.writeResource(w, r, http.StatusCreated, s.doc(c, a))
}

// updates are a mapped user as a change of person and account: what the
// source sets, the rest as it is.
func (m mappedUser) updates(roleID, planID *string) (provision.PersonUpdate, provision.AccountUpdate) {
	pu := provision.PersonUpdate{FirstName: &m.first, LastName: &m.last, Email: &m.email, Phone: &m.phone, ExternalID: &m.externalID}
	au := provision.AccountUpdate{Email: &m.email, Username: &m.username, Phone: &m.phone, RoleID: roleID, PlanID: planID}
	if m.hasLanguage {
		pu.Language, au.Language = &m.language, &m.language
	}
	src := m.src
	au.Source = &src
	return pu, au
}

func (h *Handler) setState(ctx context.Context, c call, id, state string) error {
	_, err := h.svc.Change(ctx, c.actor, c.tn, id, provision.PersonUpdate{}, provision.AccountUpdate{State: &state})
	return err
}

// respondUser answers the user as it is now.
func (h *Handler) respondUser(w http.ResponseWriter, r *http.Request, c call, id string, status int) {
	doc, err := h.userDoc(r.Context(), c, id)
	if err != nil {
		h.writeError(w, r, nil, err)
		return
	}
	if status == http.StatusNoContent {
		if v := versionOf(doc); v != "" {
			w.Header().Set("ETag", v)
		}
		w.WriteHeader(http.StatusNoContent)
		return
	}
	h.writeResource(w, r, status, doc)
}

func (h *Handler) replaceUser(w http.ResponseWriter, r *http.Request, c call, id string) {
	doc, err := readResource(r, userAttrs)
	if err != nil {
		h.writeError(w, r, nil, err)
		return
	}
	h.changeUser(w, r, c, id, doc, nil, http.StatusOK)
}

func (h *Handler) patchUser(w http.ResponseWriter, r *http.Request, c call, id string) {
	ops, err := readPatch(r)
	if err != nil {
		h.writeError(w, r, nil, err)
		return
	}
	cur, err := h.userDoc(r.Context(), c, id)
	if err != nil {
		h.writeError(w, r, nil, err)
		return
	}
	sent, err := patched(r, userAttrs, cur, ops)
	if err != nil {
		h.writeError(w, r, nil, err)
		return
	}
	status := c.patchStatus(r)
	h.changeUser(w, r, c, id, sent, cur, status)
}

// changeUser makes the account id what doc (canonical) describes, in one
// call of provision; before is the user before a PATCH (nil for PUT).
func (h *Handler) changeUser(w http.ResponseWriter, r *http.Request, c call, id string, doc, before map[string]any, status int) {
	ctx := r.Context()
	if before == nil && !h.userMatches(w, r, c, id) {
		return
	}
	m, roleID, planID, err := h.mapped(ctx, c, doc, before)
	if err != nil {
		h.writeError(w, r, m.fields, err)
		return
	}
	a, err := h.st.Read().Account(ctx, c.tn.ID, id)
	if err != nil || a.State == usher.StateDeactivated {
		h.writeError(w, r, nil, notFound("there is no user %q in this tenant", id))
		return
	}
	pu, au := m.updates(roleID, planID)
	if m.active != nil {
		var to string
		switch {
		case !*m.active && (a.State == usher.StateActive || a.State == usher.StateInvited):
			to = usher.StateSuspended
		case *m.active && a.State == usher.StateSuspended:
			to = usher.StateActive
		}
		if to != "" {
			au.State = &to
		}
	}
	if _, err := h.svc.Change(ctx, c.actor, c.tn, id, pu, au); err != nil {
		h.writeError(w, r, m.fields, err)
		return
	}
	h.respondUser(w, r, c, id, status)
}

// userMatches answers for a user that is not there, or not in the version
// the request's If-Match names, and reports whether the request goes on.
func (h *Handler) userMatches(w http.ResponseWriter, r *http.Request, c call, id string) bool {
	cur, err := h.userDoc(r.Context(), c, id)
	if err == nil {
		err = preconditions(r, versionOf(cur))
	}
	if err != nil {
		h.writeError(w, r, nil, err)
		return false
	}
	return true
}

func (h *Handler) deleteUser(w http.ResponseWriter, r *http.Request, c call, id string) {
	ctx := r.Context()
	if !h.userMatches(w, r, c, id) {
		return
	}
	// DELETE deactivates: the seat is free, the history stays.
	if err := h.setState(ctx, c, id, usher.StateDeactivated); err != nil {
		h.writeError(w, r, nil, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
