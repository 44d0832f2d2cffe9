package scim

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/provision"
	"github.com/usherhq/usher/scim/filter"
)

// A SCIM Group is a usher group (a catalogue entry of kind groups); its
// members are the accounts that have it among their groups. A source ends
// only the memberships it gave: those given by hand stay.

var groupFields = fields{"name": "displayName", "external_id": "externalId", "members.display": "members.display", "id": "id"}

// groupDoc describes a group; with members, each member's label is what
// the source gave, else the person's name.
func (h *Handler) groupDoc(ctx context.Context, c call, g usher.Attribute, members bool) (map[string]any, error) {
	d := map[string]any{"schemas": []any{URNGroup}, "id": g.ID, "displayName": g.Name}
	set(d, "externalId", str0(g.ExternalID))
	modified := g.UpdatedAt
	if members {
		rd := h.st.Read()
		ids, err := rd.GroupMemberIDs(ctx, c.tn.ID, g.ID)
		if err != nil {
			return nil, err
		}
		given, err := rd.SourceMembers(ctx, c.tn.ID, g.ID)
		if err != nil {
			return nil, err
		}
		names := map[string]string{}
		for from := 0; from < len(ids); from += 500 {
			batch := ids[from:min(from+500, len(ids))]
			accts, err := rd.AccountsByID(ctx, c.tn.ID, batch)
			if err != nil {
				return nil, err
			}
			var persons []string
			for _, a := range accts {
				persons = append(persons, a.PersonID)
			}
			ps, err := rd.PersonsByID(ctx, c.tn.ID, persons)
			if err != nil {
				return nil, err
			}
			for _, a := range accts {
				p := ps[a.PersonID]
				names[a.ID] = strings.TrimSpace(p.FirstName + " " + p.LastName)
			}
		}
		var list []any
		for _, id := range ids {
			label := names[id]
			if m, ok := given[id]; ok && m.Display != "" {
				label = m.Display
			}
			m := map[string]any{"value": id, "$ref": c.base + "/Users/" + id, "type": "User"}
			set(m, "display", str0(label))
			list = append(list, m)
		}
		set(d, "members", list)
	}
	meta := map[string]any{"resourceType": "Group", "created": g.CreatedAt.Format(time.RFC3339Nano),
		"lastModified": modified.Format(time.RFC3339Nano), "location": c.base + "/Groups/" + g.ID}
	d["meta"] = meta
	if members {
		meta["version"] = version(d)
	}
	return d, nil
}

// group reads an active group of the tenant.
func (h *Handler) group(ctx context.Context, c call, id string) (usher.Attribute, error) {
	g, err := h.st.Read().Attribute(ctx, c.tn.ID, usher.KindGroup, id)
	if err != nil || g.DeactivatedAt != nil {
		if err == nil || usher.ErrorCode(err) == usher.CodeNotFound {
			return g, notFound("there is no group %q in this tenant", id)
		}
		return g, err
	}
	return g, nil
}

// wantsMembers reports whether a request needs the members: asked for, or
// not excluded.
func wantsMembers(attrs, excluded []filter.Path) bool {
	has := func(ps []filter.Path) bool {
		return slices.ContainsFunc(ps, func(p filter.Path) bool { return strings.EqualFold(p.Attr, "members") })
	}
	if len(attrs) > 0 {
		return has(attrs)
	}
	return !has(excluded)
}

func (h *Handler) getGroup(w http.ResponseWriter, r *http.Request, c call, id string) {
	attrs, excluded, err := readProjection(r)
	if err != nil {
		h.writeError(w, r, nil, err)
		return
	}
	g, err := h.group(r.Context(), c, id)
	if err != nil {
		h.writeError(w, r, groupFields, err)
		return
	}
	doc, err := h.groupDoc(r.Context(), c, g, wantsMembers(attrs, excluded))
	if err != nil {
		h.writeError(w, r, groupFields, err)
		return
	}
	h.writeResource(w, r, http.StatusOK, doc)
}

func (h *Handler) listGroups(w http.ResponseWriter, r *http.Request, c call) {
	ctx := r.Context()
	lq, err := readListQuery(r)
	if err != nil {
		h.writeError(w, r, nil, err)
		return
	}
	rd := h.st.Read()
	members := wantsMembers(lq.attrs, lq.excluded) || mentions(lq.filter, "members")
	var ids []string
	var total int
	filtered := lq.filter != nil
	switch {
	case !filtered:
		if total, err = rd.CountAttributes(ctx, c.tn.ID, usher.KindGroup); err == nil && lq.count > 0 {
			ids, err = rd.AttributeIDs(ctx, c.tn.ID, usher.KindGroup, lq.start-1, lq.count)
		}
	default:
		if name, ok := eqValue(lq.filter, "displayName"); ok {
			var gs []usher.Attribute
			gs, err = rd.AttributesByName(ctx, c.tn.ID, usher.KindGroup, name)
			for _, g := range gs {
				ids = append(ids, g.ID)
			}
		} else {
			ids, err = rd.AttributeIDs(ctx, c.tn.ID, usher.KindGroup, 0, 0)
			if err == nil && len(ids) > scanLimit {
				err = errorf(http.StatusBadRequest, TypeTooMany, "filter: the tenant has %d groups and this filter can use no index; filter by displayName with eq", len(ids))
			}
		}
	}
	if err != nil {
		h.writeError(w, r, nil, err)
		return
	}
	byID, err := rd.AttributesByID(ctx, c.tn.ID, ids)
	if err != nil {
		h.writeError(w, r, nil, err)
		return
	}
	var docs []map[string]any
	for _, id := range ids {
		g, ok := byID[id]
		if !ok || g.DeactivatedAt != nil {
			continue
		}
		doc, err := h.groupDoc(ctx, c, g, members)
		if err != nil {
			h.writeError(w, r, nil, err)
			return
		}
		if !filtered || filter.Match(lq.filter, doc) {
			docs = append(docs, doc)
		}
	}
	if filtered {
		total = len(docs)
		docs = docs[min(lq.start-1, total):min(lq.start-1+lq.count, total)]
	}
	h.writeList(w, docs, total, lq)
}

// mentions reports whether a filter reads the attribute.
func mentions(f filter.Filter, attr string) bool {
	switch f := f.(type) {
	case filter.And:
		return mentions(f.L, attr) || mentions(f.R, attr)
	case filter.Or:
		return mentions(f.L, attr) || mentions(f.R, attr)
	case filter.Not:
		return mentions(f.F, attr)
	case filter.Compare:
		return strings.EqualFold(f.Path.Attr, attr)
	case filter.Present:
		return strings.EqualFold(f.Path.Attr, attr)
	case filter.ValuePath:
		return strings.EqualFold(f.Path.Attr, attr)
	}
	return false
}

// groupInput reads a Group (canonical): its name, external id and members.
func groupInput(doc map[string]any, put bool) (provision.GroupInput, error) {
	var in provision.GroupInput
	name, _ := doc["displayName"].(string)
	if strings.TrimSpace(name) == "" {
		return in, invalidValue("displayName: is required")
	}
	in.Name = &name
	ext, _ := doc["externalId"].(string)
	if put || ext != "" {
		in.ExternalID = &ext
	}
	if list, ok := doc["members"].([]any); ok {
		members := []provision.Member{}
		for i, x := range list {
			m, _ := x.(map[string]any)
			id, _ := m["value"].(string)
			if id == "" {
				return in, invalidValue("members[%d].value: is required: the user's id", i)
			}
			display, _ := m["display"].(string)
			members = append(members, provision.Member{AccountID: id, Display: display})
		}
		in.Members = &members
	}
	return in, nil
}

func (h *Handler) createGroup(w http.ResponseWriter, r *http.Request, c call) {
	doc, err := readResource(r, groupAttrs)
	if err != nil {
		h.writeError(w, r, nil, err)
		return
	}
	in, err := groupInput(doc, false)
	if err != nil {
		h.writeError(w, r, nil, err)
		return
	}
	out, err := h.svc.CreateSourceGroup(r.Context(), c.actor, c.tn, in)
	if err != nil {
		h.writeError(w, r, groupFields, err)
		return
	}
	h.respondGroup(w, r, c, out.Group.ID, http.StatusCreated)
}

func (h *Handler) respondGroup(w http.ResponseWriter, r *http.Request, c call, id string, status int) {
	g, err := h.group(r.Context(), c, id)
	if err != nil {
		h.writeError(w, r, groupFields, err)
		return
	}
	attrs, excluded, err := readProjection(r)
	if err != nil {
		h.writeError(w, r, nil, err)
		return
	}
	doc, err := h.groupDoc(r.Context(), c, g, status != http.StatusNoContent && wantsMembers(attrs, excluded))
	if err != nil {
		h.writeError(w, r, groupFields, err)
		return
	}
	if status == http.StatusNoContent {
		w.WriteHeader(status)
		return
	}
	h.writeResource(w, r, status, doc)
}

func (h *Handler) replaceGroup(w http.ResponseWriter, r *http.Request, c call, id string) {
	ctx := r.Context()
	doc, err := readResource(r, groupAttrs)
	if err != nil {
		h.writeError(w, r, nil, err)
		return
	}
	in, err := groupInput(doc, true)
	if err != nil {
		h.writeError(w, r, nil, err)
		return
	}
	if err := h.groupPreconditions(r, c, id); err != nil {
		h.writeError(w, r, groupFields, err)
		return
	}
	if _, err := h.svc.ChangeSourceGroup(ctx, c.actor, c.tn, id, in); err != nil {
		h.writeError(w, r, groupFields, err)
		return
	}
	h.respondGroup(w, r, c, id, http.StatusOK)
}

// groupPreconditions checks If-Match against the group as it is.
func (h *Handler) groupPreconditions(r *http.Request, c call, id string) error {
	if r.Header.Get("If-Match") == "" {
		return nil
	}
	g, err := h.group(r.Context(), c, id)
	if err != nil {
		return err
	}
	doc, err := h.groupDoc(r.Context(), c, g, true)
	if err != nil {
		return err
	}
	return preconditions(r, versionOf(doc))
}

func (h *Handler) patchGroup(w http.ResponseWriter, r *http.Request, c call, id string) {
	ctx := r.Context()
	ops, err := readPatch(r)
	if err != nil {
		h.writeError(w, r, nil, err)
		return
	}
	g, err := h.group(ctx, c, id)
	if err != nil {
		h.writeError(w, r, groupFields, err)
		return
	}
	cur, err := h.groupDoc(ctx, c, g, true)
	if err != nil {
		h.writeError(w, r, groupFields, err)
		return
	}
	after, err := patched(r, groupAttrs, cur, ops)
	if err != nil {
		h.writeError(w, r, nil, err)
		return
	}
	in, err := groupInput(after, true)
	if err != nil {
		h.writeError(w, r, nil, err)
		return
	}
	// Members as changes: those the operations added or relabelled, and
	// those they took away.
	was := map[string]string{}
	for _, m := range membersOf(cur) {
		was[m.AccountID] = m.Display
	}
	now := map[string]bool{}
	if in.Members != nil {
		for _, m := range *in.Members {
			now[m.AccountID] = true
			if d, ok := was[m.AccountID]; !ok || d != m.Display {
				in.Add = append(in.Add, m)
			}
		}
	}
	for id := range was {
		if !now[id] {
			in.Remove = append(in.Remove, id)
		}
	}
	slices.Sort(in.Remove)
	in.Members = nil
	if *in.Name == g.Name {
		in.Name = nil
	}
	if in.ExternalID != nil && *in.ExternalID == g.ExternalID {
		in.ExternalID = nil
	}
	if _, err := h.svc.ChangeSourceGroup(ctx, c.actor, c.tn, id, in); err != nil {
		h.writeError(w, r, groupFields, err)
		return
	}
	status := c.patchStatus(r)
	h.respondGroup(w, r, c, id, status)
}

func membersOf(doc map[string]any) []provision.Member {
	list, _ := doc["members"].([]any)
	var out []provision.Member
	for _, x := range list {
		m, _ := x.(map[string]any)
		id, _ := m["value"].(string)
		display, _ := m["display"].(string)
		out = append(out, provision.Member{AccountID: id, Display: display})
	}
	return out
}

func (h *Handler) deleteGroup(w http.ResponseWriter, r *http.Request, c call, id string) {
	if err := h.groupPreconditions(r, c, id); err != nil {
		h.writeError(w, r, groupFields, err)
		return
	}
	if err := h.svc.DeleteSourceGroup(r.Context(), c.actor, c.tn, id); err != nil {
		h.writeError(w, r, groupFields, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
