package provision

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"slices"
	"strings"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/store"
)

// Source is what a provisioning source (SCIM) says of a user beyond usher's
// own fields. The person and account it creates or changes become managed
// by it.
type Source struct {
	// ID is the source's API token id.
	ID string
	// Data is the source's description of the user (SCIM's JSON), kept as
	// given so that what usher does not model is given back.
	Data string
	// Emails are the description's emails, lowercased, for lookups.
	Emails []string
	// Department and JobProfile are catalogue entries by name: nil leaves
	// them as they are, "" clears them. A name the tenant does not have is
	// refused, or added to the catalogue when settings.scim.unknown_names
	// is "create".
	Department, JobProfile *string
}

// sourceOwned are the fields a provisioning source sets: a change of them
// by anyone else would be undone by the source's next sync.
var sourceOwned = []string{"first_name", "last_name", "email", "username", "phone", "external_id", "department_id", "job_profile_id"}

// newEntry is a catalogue entry a source's name asks for, created in the
// transaction of the change that needs it.
type newEntry struct {
	kind  string
	field string
	attr  usher.Attribute
}

// resolveNames sets p's department and job profile from the source's names:
// an active entry of that name, or (when the tenant lets sources create
// them) a new one returned for createEntries to write.
func resolveNames(ctx context.Context, r *store.Tx, tenant usher.Tenant, src *Source, p *usher.Person) ([]newEntry, error) {
	var out []newEntry
	var ps problems
	for _, n := range []struct {
		name        *string
		kind, field string
		dst         *string
	}{
		{src.Department, usher.KindDepartment, "department_id", &p.DepartmentID},
		{src.JobProfile, usher.KindJobProfile, "job_profile_id", &p.JobProfileID},
	} {
		if n.name == nil {
			continue
		}
		name, err := usher.CleanText(n.field, *n.name, 200)
		if err != nil {
			ps.add(err)
			continue
		}
		if name == "" {
			*n.dst = ""
			continue
		}
		found, err := r.AttributesByName(ctx, tenant.ID, n.kind, name)
		if err != nil {
			return nil, err
		}
		switch {
		case len(found) > 0:
			*n.dst = found[0].ID
		case tenant.Settings.SCIM.UnknownNames == usher.SCIMCreate:
			e := newEntry{kind: n.kind, field: n.field, attr: usher.Attribute{ID: store.NewID(), Key: entryKey(name, false), Name: name, ManagedBy: src.ID}}
			*n.dst = e.attr.ID
			out = append(out, e)
		default:
			ps.add(usher.Invalid(n.field, "the tenant has no %s named %q (a tenant administrator adds it, or lets provisioning create such names in settings.scim.unknown_names)",
				strings.TrimSuffix(strings.ReplaceAll(n.kind, "_", " "), "s"), name))
		}
	}
	return out, ps.err()
}

// createEntries writes the catalogue entries a change asked for, in its
// transaction. An entry of the same name made meanwhile (another creation
// of the same group of writes, say) is used instead, and p points to it.
func createEntries(ctx context.Context, tx *store.Tx, tenant usher.Tenant, actor usher.Actor, entries []newEntry, p *usher.Person) error {
	for _, e := range entries {
		a := e.attr
		id, err := ensureEntry(ctx, tx, tenant, actor, e.kind, &a)
		if err != nil {
			return err
		}
		for _, dst := range []*string{&p.DepartmentID, &p.JobProfileID} {
			if *dst == e.attr.ID {
				*dst = id
			}
		}
	}
	return nil
}

// ensureEntry inserts a (its key derived from its name) unless an active
// entry of kind with the same key and name exists, and returns the id used.
func ensureEntry(ctx context.Context, tx *store.Tx, tenant usher.Tenant, actor usher.Actor, kind string, a *usher.Attribute) (string, error) {
	for _, hashed := range []bool{false, true} {
		a.Key = entryKey(a.Name, hashed)
		had, err := tx.AttributeByKey(ctx, tenant.ID, kind, a.Key)
		if err == nil {
			if had.DeactivatedAt == nil && strings.EqualFold(had.Name, a.Name) {
				return had.ID, nil
			}
			continue // the key is another entry's
		} else if !errors.Is(err, usher.ErrNotFound) {
			return "", err
		}
		if err := tx.InsertAttribute(ctx, tenant.ID, kind, a); err != nil {
			return "", err
		}
		details := map[string]string{"key": a.Key, "name": a.Name}
		return a.ID, audit(ctx, tx, tenant.ID, actor, kind+".created", kind, a.ID, details)
	}
	return "", usher.Conflict("name", "no key is free for a %s named %q", strings.TrimSuffix(kind, "s"), a.Name)
}

// KeyOf makes a catalogue or plan key from a name: "Night shift" →
// "night-shift".
func KeyOf(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
			dash = false
		case !dash && b.Len() > 0:
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}

// entryKey is the key of a catalogue entry a source's name makes: KeyOf,
// with a hash of the name when hashed (or when nothing of it is left).
func entryKey(name string, hashed bool) string {
	key := KeyOf(name)
	if len(key) > 48 {
		key = strings.TrimSuffix(key[:48], "-")
	}
	if hashed || key == "" {
		sum := sha256.Sum256([]byte(strings.ToLower(name)))
		key = strings.TrimPrefix(key+"-"+hex.EncodeToString(sum[:4]), "-")
	}
	return key
}

// CheckManaged refuses a change by anyone but the managing source of the
// fields that source sets: its next sync would undo it. A source whose
// token is revoked manages nothing any more.
func CheckManaged(ctx context.Context, tx *store.Tx, actor usher.Actor, managedBy string, changed []string) error {
	if managedBy == "" || len(changed) == 0 || (actor.Kind == usher.ActorSCIM && actor.ID == managedBy) {
		return nil
	}
	tok, err := tx.Token(ctx, managedBy)
	if errors.Is(err, usher.ErrUnauthorized) || (err == nil && tok.RevokedAt != nil) {
		return nil
	} else if err != nil {
		return err
	}
	var es usher.Errors
	for _, f := range changed {
		es = append(es, usher.Conflict(f, "is managed by the provisioning source %q: change it there, since its next sync would undo a change made here", tok.Name))
	}
	return es.Err()
}

// ownedChanges lists the source-owned fields that differ between old and want.
func ownedChanges(old, want subject) []string {
	var out []string
	op, np := old.person, want.person
	pairs := map[string][2]string{
		"first_name": {op.FirstName, np.FirstName}, "last_name": {op.LastName, np.LastName}, "external_id": {op.ExternalID, np.ExternalID},
		"department_id": {op.DepartmentID, np.DepartmentID}, "job_profile_id": {op.JobProfileID, np.JobProfileID},
		"email": {op.Email, np.Email}, "phone": {op.Phone, np.Phone},
	}
	if old.account != nil && want.account != nil {
		oa, na := old.account, want.account
		pairs["email"] = [2]string{op.Email + "\x00" + oa.Email, np.Email + "\x00" + na.Email}
		pairs["phone"] = [2]string{op.Phone + "\x00" + oa.Phone, np.Phone + "\x00" + na.Phone}
		pairs["username"] = [2]string{oa.Username, na.Username}
	}
	for _, f := range sourceOwned {
		if v, ok := pairs[f]; ok && v[0] != v[1] {
			out = append(out, f)
		}
	}
	return out
}

// Member is an account a source makes a member of a group, with the label
// it gave.
type Member struct {
	AccountID string
	Display   string
}

// GroupInput is a group as a provisioning source describes it or changes
// it. Nil fields stay as they are.
type GroupInput struct {
	Name       *string
	ExternalID *string
	// Members, when set, are all the members the source gives: its other
	// memberships end. Add and Remove change its memberships one by one.
	Members *[]Member
	Add     []Member
	Remove  []string
}

// GroupChanged is a group after a source's change, with the member ids it
// named that are no account of the tenant (or a deactivated one): they are
// skipped, not refused, so that one stale member does not stop a sync.
type GroupChanged struct {
	Group    usher.Attribute
	NotFound []string
}

// CreateSourceGroup adds a group for a provisioning source, with its
// members, in one transaction. Group names are unique among active groups.
func (s *Service) CreateSourceGroup(ctx context.Context, actor usher.Actor, tenant usher.Tenant, in GroupInput) (GroupChanged, error) {
	if err := requireSource(actor); err != nil {
		return GroupChanged{}, err
	}
	if in.Name == nil {
		return GroupChanged{}, usher.Invalid("name", "is required")
	}
	var out GroupChanged
	err := s.st.Write(ctx, func(tx *store.Tx) error {
		out = GroupChanged{}
		g := usher.Attribute{ID: store.NewID(), ManagedBy: actor.ID}
		if err := groupFields(ctx, tx, tenant, &g, in); err != nil {
			return err
		}
		if _, err := ensureEntry(ctx, tx, tenant, actor, usher.KindGroup, &g); err != nil {
			return err
		}
		out.Group = g
		var err error
		out.NotFound, err = s.setMembers(ctx, tx, actor, tenant, g.ID, in)
		return err
	})
	return out, err
}

// ChangeSourceGroup renames a group or changes its members for a
// provisioning source, in one transaction. A group managed by hand becomes
// the source's; one managed by another source is refused. The source ends
// only the memberships it gave: those given by hand stay.
func (s *Service) ChangeSourceGroup(ctx context.Context, actor usher.Actor, tenant usher.Tenant, id string, in GroupInput) (GroupChanged, error) {
	defer s.refs.Forget(tenant.ID) // after the change commits
	if err := requireSource(actor); err != nil {
		return GroupChanged{}, err
	}
	var out GroupChanged
	err := s.st.Write(ctx, func(tx *store.Tx) error {
		out = GroupChanged{}
		g, err := sourceGroup(ctx, tx, actor, tenant, id)
		if err != nil {
			return err
		}
		before := g
		if err := groupFields(ctx, tx, tenant, &g, in); err != nil {
			return err
		}
		g.ManagedBy = actor.ID
		if g.Name != before.Name || g.ExternalID != before.ExternalID || g.ManagedBy != before.ManagedBy {
			if err := tx.UpdateAttribute(ctx, tenant.ID, usher.KindGroup, &g); err != nil {
				return err
			}
			details := map[string]string{}
			if g.Name != before.Name {
				details["name"] = g.Name
			}
			if err := audit(ctx, tx, tenant.ID, actor, usher.KindGroup+".updated", usher.KindGroup, g.ID, details); err != nil {
				return err
			}
		}
		out.Group = g
		out.NotFound, err = s.setMembers(ctx, tx, actor, tenant, g.ID, in)
		return err
	})
	return out, err
}

// DeleteSourceGroup deactivates a group for its provisioning source (its
// history stays) and ends the memberships the source gave.
func (s *Service) DeleteSourceGroup(ctx context.Context, actor usher.Actor, tenant usher.Tenant, id string) error {
	defer s.refs.Forget(tenant.ID) // after the change commits
	if err := requireSource(actor); err != nil {
		return err
	}
	return s.st.Write(ctx, func(tx *store.Tx) error {
		g, err := sourceGroup(ctx, tx, actor, tenant, id)
		if err != nil {
			return err
		}
		if _, err := s.setMembers(ctx, tx, actor, tenant, g.ID, GroupInput{Members: &[]Member{}}); err != nil {
			return err
		}
		g.DeactivatedAt = Deactivation(true, nil, tx)
		g.ManagedBy = actor.ID
		if err := tx.UpdateAttribute(ctx, tenant.ID, usher.KindGroup, &g); err != nil {
			return err
		}
		return audit(ctx, tx, tenant.ID, actor, usher.KindGroup+".deactivated", usher.KindGroup, g.ID, nil)
	})
}

func requireSource(actor usher.Actor) error {
	if actor.Kind != usher.ActorSCIM || actor.ID == "" {
		return usher.Forbidden("only a provisioning source changes groups this way")
	}
	return nil
}

// sourceGroup reads an active group the actor may change: one managed by
// hand, by the actor, or by a source whose token is revoked.
func sourceGroup(ctx context.Context, tx *store.Tx, actor usher.Actor, tenant usher.Tenant, id string) (usher.Attribute, error) {
	g, err := tx.Attribute(ctx, tenant.ID, usher.KindGroup, id)
	if err != nil {
		return g, err
	}
	if g.DeactivatedAt != nil {
		return g, usher.NotFound("id", "group")
	}
	if g.ManagedBy != "" && g.ManagedBy != actor.ID {
		if err := CheckManaged(ctx, tx, actor, g.ManagedBy, []string{"name"}); err != nil {
			return g, err
		}
	}
	return g, nil
}

// groupFields applies the name and external id of in to g: a name unique
// among the tenant's active groups.
func groupFields(ctx context.Context, tx *store.Tx, tenant usher.Tenant, g *usher.Attribute, in GroupInput) error {
	if in.Name != nil {
		name, err := usher.CleanText("name", *in.Name, 200)
		if err != nil {
			return err
		}
		if name == "" {
			return usher.Invalid("name", "is required")
		}
		same, err := tx.AttributesByName(ctx, tenant.ID, usher.KindGroup, name)
		if err != nil {
			return err
		}
		for _, o := range same {
			if o.ID != g.ID {
				return usher.Conflict("name", "the tenant already has a group named %q", o.Name)
			}
		}
		g.Name = name
	}
	if in.ExternalID != nil {
		ext, err := usher.CleanText("external_id", *in.ExternalID, 200)
		if err != nil {
			return err
		}
		g.ExternalID = ext
	}
	return nil
}

// setMembers applies in's member changes to group for the source actor:
// each account changed (with its audit event) through the same write as any
// change of an account. It returns the ids that name no usable account.
func (s *Service) setMembers(ctx context.Context, tx *store.Tx, actor usher.Actor, tenant usher.Tenant, group string, in GroupInput) ([]string, error) {
	if in.Members == nil && len(in.Add) == 0 && len(in.Remove) == 0 {
		return nil, nil
	}
	given, err := tx.SourceMembers(ctx, tenant.ID, group)
	if err != nil {
		return nil, err
	}
	add := in.Add
	remove := in.Remove
	if in.Members != nil {
		add = append(slices.Clone(*in.Members), add...)
		keep := map[string]bool{}
		for _, m := range add {
			keep[m.AccountID] = true
		}
		for id := range given {
			if !keep[id] {
				remove = append(remove, id)
			}
		}
		slices.Sort(remove)
	}
	var missing []string
	for _, m := range add {
		if slices.Contains(remove, m.AccountID) && in.Members == nil {
			continue // added and removed in one request: removed last
		}
		a, err := tx.Account(ctx, tenant.ID, m.AccountID)
		if errors.Is(err, usher.ErrNotFound) || (err == nil && a.State == usher.StateDeactivated) {
			missing = append(missing, m.AccountID)
			continue
		} else if err != nil {
			return nil, err
		}
		display, err := usher.CleanText("members.display", m.Display, 200)
		if err != nil {
			return nil, err
		}
		if _, ok := given[a.ID]; ok {
			if given[a.ID].Display != display {
				if err := tx.PutSourceMember(ctx, tenant.ID, group, store.SourceMember{AccountID: a.ID, SourceID: actor.ID, Display: display}); err != nil {
					return nil, err
				}
			}
			continue
		}
		if a.PrimaryGroupID == group || slices.Contains(a.GroupIDs, group) {
			continue // a member by hand: the source's removal will not end it
		}
		na := a
		na.GroupIDs = append(slices.Clone(a.GroupIDs), group)
		if err := s.writeAccount(ctx, tx, actor, tenant, a, &na, nil, false); err != nil {
			return nil, err
		}
		if err := tx.PutSourceMember(ctx, tenant.ID, group, store.SourceMember{AccountID: a.ID, SourceID: actor.ID, Display: display}); err != nil {
			return nil, err
		}
		given[a.ID] = store.SourceMember{AccountID: a.ID}
	}
	for _, id := range remove {
		if _, ok := given[id]; !ok {
			continue // never the source's: given by hand, or no member
		}
		if err := tx.DeleteSourceMember(ctx, tenant.ID, group, id); err != nil {
			return nil, err
		}
		delete(given, id)
		a, err := tx.Account(ctx, tenant.ID, id)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(a.GroupIDs, group) {
			continue
		}
		na := a
		na.GroupIDs = slices.DeleteFunc(slices.Clone(a.GroupIDs), func(g string) bool { return g == group })
		if err := s.writeAccount(ctx, tx, actor, tenant, a, &na, nil, false); err != nil {
			return nil, err
		}
	}
	return missing, nil
}
