package provision

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"unicode"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/secret"
	"github.com/usherhq/usher/store"
)

// AttributeInput creates or changes a role, department, job profile or group.
type AttributeInput struct {
	Key         string  `json:"key"`
	Name        *string `json:"name,omitempty"`
	Description *string `json:"description,omitempty"`
	Deactivated *bool   `json:"deactivated,omitempty"`
}

func validKind(kind string) error {
	switch kind {
	case usher.KindRole, usher.KindDepartment, usher.KindJobProfile, usher.KindGroup:
		return nil
	}
	return usher.Invalid("kind", "unknown catalogue %q", kind)
}

// CreateAttribute adds an entry to one of the tenant's catalogues.
func (s *Service) CreateAttribute(ctx context.Context, actor usher.Actor, tenant usher.Tenant, kind string, in AttributeInput) (usher.Attribute, error) {
	if err := actor.Require(usher.AdminTenant); err != nil {
		return usher.Attribute{}, err
	}
	if err := validKind(kind); err != nil {
		return usher.Attribute{}, err
	}
	a := usher.Attribute{}
	var errs usher.Errors
	var err error
	if a.Key, err = usher.CheckKey("key", in.Key); err != nil {
		errs = append(errs, err.(*usher.Error))
	}
	if in.Name == nil || *in.Name == "" {
		errs = append(errs, usher.Invalid("name", "is required"))
	} else if a.Name, err = usher.CleanText("name", *in.Name, 200); err != nil {
		errs = append(errs, err.(*usher.Error))
	}
	if in.Description != nil {
		if a.Description, err = usher.CleanText("description", *in.Description, 2000); err != nil {
			errs = append(errs, err.(*usher.Error))
		}
	}
	if err := errs.Err(); err != nil {
		return a, err
	}
	err = s.st.Write(ctx, func(tx *store.Tx) error {
		if err := tx.InsertAttribute(ctx, tenant.ID, kind, &a); err != nil {
			return err
		}
		return audit(ctx, tx, tenant.ID, actor, kind+".created", kind, a.ID, map[string]string{"key": a.Key})
	})
	return a, err
}

// UpdateAttribute renames, describes, deactivates or reactivates an entry.
func (s *Service) UpdateAttribute(ctx context.Context, actor usher.Actor, tenant usher.Tenant, kind, id string, in AttributeInput) (usher.Attribute, error) {
	defer s.refs.Forget(tenant.ID) // after the change commits
	if err := actor.Require(usher.AdminTenant); err != nil {
		return usher.Attribute{}, err
	}
	if err := validKind(kind); err != nil {
		return usher.Attribute{}, err
	}
	if in.Key != "" {
		return usher.Attribute{}, usher.Invalid("key", "cannot be changed")
	}
	var a usher.Attribute
	err := s.st.Write(ctx, func(tx *store.Tx) error {
		var err error
		if a, err = tx.Attribute(ctx, tenant.ID, kind, id); err != nil {
			return err
		}
		was := a
		if in.Name != nil {
			if a.Name, err = usher.CleanText("name", *in.Name, 200); err != nil {
				return err
			}
			if a.Name == "" {
				return usher.Invalid("name", "is required")
			}
		}
		if in.Description != nil {
			if a.Description, err = usher.CleanText("description", *in.Description, 2000); err != nil {
				return err
			}
		}
		var owned []string
		if a.Name != was.Name {
			owned = append(owned, "name")
		}
		if in.Deactivated != nil && *in.Deactivated != (was.DeactivatedAt != nil) {
			owned = append(owned, "deactivated")
		}
		if err := checkManaged(ctx, tx, actor, was.ManagedBy, owned); err != nil {
			return err
		}
		action := kind + ".updated"
		if in.Deactivated != nil {
			a.DeactivatedAt = Deactivation(*in.Deactivated, a.DeactivatedAt, tx)
			if *in.Deactivated {
				action = kind + ".deactivated"
			}
		}
		if err := tx.UpdateAttribute(ctx, tenant.ID, kind, &a); err != nil {
			return err
		}
		return audit(ctx, tx, tenant.ID, actor, action, kind, a.ID, nil)
	})
	return a, err
}

// PlanInput creates or changes a plan.
type PlanInput struct {
	Key         string  `json:"key"`
	Name        *string `json:"name,omitempty"`
	Seats       *int    `json:"seats,omitempty"`
	Deactivated *bool   `json:"deactivated,omitempty"`
}

// maxSeats bounds a plan: each seat is a row.
const maxSeats = 1_000_000

// CreatePlan adds a user plan with its seats. Operators set licence seats.
func (s *Service) CreatePlan(ctx context.Context, actor usher.Actor, tenant usher.Tenant, in PlanInput) (usher.Plan, error) {
	if err := actor.Require(usher.PrincipalOperator); err != nil {
		return usher.Plan{}, usher.Forbidden("only an operator sets licence seats")
	}
	var p usher.Plan
	var errs usher.Errors
	var err error
	if p.Key, err = usher.CheckKey("key", in.Key); err != nil {
		errs = append(errs, err.(*usher.Error))
	}
	if in.Name == nil || *in.Name == "" {
		errs = append(errs, usher.Invalid("name", "is required"))
	} else if p.Name, err = usher.CleanText("name", *in.Name, 200); err != nil {
		errs = append(errs, err.(*usher.Error))
	}
	if in.Seats == nil {
		errs = append(errs, usher.Invalid("seats", "is required"))
	} else if *in.Seats < 0 || *in.Seats > maxSeats {
		errs = append(errs, usher.Invalid("seats", "must be between 0 and %d", maxSeats))
	} else {
		p.Seats = *in.Seats
	}
	if err := errs.Err(); err != nil {
		return p, err
	}
	err = s.st.Write(ctx, func(tx *store.Tx) error {
		if err := tx.InsertPlan(ctx, tenant.ID, &p); err != nil {
			return err
		}
		return audit(ctx, tx, tenant.ID, actor, "plan.created", "plan", p.ID, map[string]string{"seats": fmt.Sprint(p.Seats)})
	})
	return p, err
}

// UpdatePlan renames a plan, changes its seats or deactivates it.
func (s *Service) UpdatePlan(ctx context.Context, actor usher.Actor, tenant usher.Tenant, id string, in PlanInput) (usher.Plan, error) {
	defer s.refs.Forget(tenant.ID) // after the change commits
	if err := actor.Require(usher.PrincipalOperator); err != nil {
		return usher.Plan{}, usher.Forbidden("only an operator changes plans and seats")
	}
	if in.Key != "" {
		return usher.Plan{}, usher.Invalid("key", "cannot be changed")
	}
	var p usher.Plan
	err := s.st.Write(ctx, func(tx *store.Tx) error {
		var err error
		if p, err = tx.Plan(ctx, tenant.ID, id); err != nil {
			return err
		}
		details := map[string]string{}
		if in.Name != nil {
			if p.Name, err = usher.CleanText("name", *in.Name, 200); err != nil {
				return err
			}
			if p.Name == "" {
				return usher.Invalid("name", "is required")
			}
		}
		if in.Seats != nil {
			if *in.Seats < 0 || *in.Seats > maxSeats {
				return usher.Invalid("seats", "must be between 0 and %d", maxSeats)
			}
			details["seats_from"], details["seats_to"] = fmt.Sprint(p.Seats), fmt.Sprint(*in.Seats)
			p.Seats = *in.Seats
		}
		if in.Deactivated != nil {
			p.DeactivatedAt = Deactivation(*in.Deactivated, p.DeactivatedAt, tx)
		}
		if err := tx.UpdatePlan(ctx, tenant.ID, &p); err != nil {
			return err
		}
		if p, err = tx.Plan(ctx, tenant.ID, id); err != nil {
			return err
		}
		return audit(ctx, tx, tenant.ID, actor, "plan.updated", "plan", p.ID, details)
	})
	return p, err
}

// OrganizationInput creates or changes an organization or site.
type OrganizationInput struct {
	Name        *string `json:"name,omitempty"`
	Kind        string  `json:"kind,omitempty"`      // on create: "external" (default) or "internal" for a site of the internal one
	ParentID    string  `json:"parent_id,omitempty"` // on create: makes it a site
	Deactivated *bool   `json:"deactivated,omitempty"`
}

// CreateOrganization adds an external organization, or a site of any organization.
func (s *Service) CreateOrganization(ctx context.Context, actor usher.Actor, tenant usher.Tenant, in OrganizationInput) (usher.Organization, error) {
	if err := actor.Require(usher.AdminUser); err != nil {
		return usher.Organization{}, err
	}
	o := usher.Organization{Kind: usher.OrgExternal, ParentID: in.ParentID}
	if in.Name == nil || *in.Name == "" {
		return o, usher.Invalid("name", "is required")
	}
	var err error
	if o.Name, err = usher.CleanText("name", *in.Name, 200); err != nil {
		return o, err
	}
	switch in.Kind {
	case "", usher.OrgExternal:
	case usher.OrgInternal:
		if in.ParentID == "" {
			return o, usher.Invalid("kind", "the tenant.ID has one internal organization; an internal site needs parent_id")
		}
		o.Kind = usher.OrgInternal
	default:
		return o, usher.Invalid("kind", "must be internal or external")
	}
	err = s.st.Write(ctx, func(tx *store.Tx) error {
		if o.ParentID != "" {
			parent, err := tx.Organization(ctx, tenant.ID, o.ParentID)
			if err != nil {
				return usher.Unknown("parent_id", "organization")
			}
			if parent.DeactivatedAt != nil {
				return usher.Invalid("parent_id", "the organization is deactivated")
			}
			// A site belongs to its organization's side.
			o.Kind = parent.Kind
		}
		if err := tx.InsertOrganization(ctx, tenant.ID, &o); err != nil {
			return err
		}
		return audit(ctx, tx, tenant.ID, actor, "organization.created", "organization", o.ID, map[string]string{"kind": o.Kind})
	})
	return o, err
}

// UpdateOrganization renames or (de)activates an organization.
func (s *Service) UpdateOrganization(ctx context.Context, actor usher.Actor, tenant usher.Tenant, id string, in OrganizationInput) (usher.Organization, error) {
	if err := actor.Require(usher.AdminUser); err != nil {
		return usher.Organization{}, err
	}
	if in.Kind != "" || in.ParentID != "" {
		return usher.Organization{}, usher.Invalid("kind", "kind and parent_id cannot be changed")
	}
	var o usher.Organization
	err := s.st.Write(ctx, func(tx *store.Tx) error {
		var err error
		if o, err = tx.Organization(ctx, tenant.ID, id); err != nil {
			return err
		}
		if in.Name != nil {
			if o.Name, err = usher.CleanText("name", *in.Name, 200); err != nil {
				return err
			}
			if o.Name == "" {
				return usher.Invalid("name", "is required")
			}
		}
		if in.Deactivated != nil {
			if *in.Deactivated && o.Kind == usher.OrgInternal && o.ParentID == "" {
				return usher.Invalid("deactivated", "the tenant.ID's own organization cannot be deactivated")
			}
			o.DeactivatedAt = Deactivation(*in.Deactivated, o.DeactivatedAt, tx)
		}
		if err := tx.UpdateOrganization(ctx, tenant.ID, &o); err != nil {
			return err
		}
		return audit(ctx, tx, tenant.ID, actor, "organization.updated", "organization", o.ID, nil)
	})
	return o, err
}

// ConnectionCheck checks a connection's protocol settings before it is
// saved and completes what the protocol needs (package sso's Prepare): c
// has its id and tenant; an error names the field.
type ConnectionCheck func(ctx context.Context, tenant usher.Tenant, c *usher.Connection) error

// CheckConnectionsWith sets the protocol checks of SaveConnection.
func (s *Service) CheckConnectionsWith(f ConnectionCheck) { s.checkConnection = f }

// checkMapping cleans an attribute mapping: a known preset, names of
// claims or attributes, and group rules that say what they give.
func checkMapping(m *usher.AttributeMapping) usher.Errors {
	var errs usher.Errors
	switch m.Preset {
	case "", "generic", "entra", "okta", "google":
	default:
		errs = append(errs, usher.Invalid("mapping.preset", "must be generic, entra, okta or google"))
	}
	for _, f := range []struct {
		name string
		v    *string
	}{{"subject", &m.Subject}, {"first_name", &m.FirstName}, {"last_name", &m.LastName}, {"email", &m.Email}, {"phone", &m.Phone},
		{"username", &m.Username}, {"department", &m.Department}, {"job_profile", &m.JobProfile}, {"language", &m.Language}, {"groups", &m.Groups}} {
		v, err := usher.CleanText("mapping."+f.name, *f.v, 300)
		if err != nil {
			errs = append(errs, err.(*usher.Error))
		}
		*f.v = v
	}
	if len(m.GroupRules) > 200 {
		errs = append(errs, usher.Invalid("mapping.group_rules", "at most 200 rules"))
	}
	for i := range m.GroupRules {
		r := &m.GroupRules[i]
		field := fmt.Sprintf("mapping.group_rules[%d]", i)
		g, err := usher.CleanText(field+".idp_group", r.IdPGroup, 300)
		switch {
		case err != nil:
			errs = append(errs, err.(*usher.Error))
		case g == "":
			errs = append(errs, usher.Invalid(field+".idp_group", "name the identity provider's group"))
		case r.GroupID == "" && r.RoleID == "":
			errs = append(errs, usher.Invalid(field, "give the group_id or role_id members of %q get", g))
		}
		r.IdPGroup = g
	}
	return errs
}

// ConnectionInput creates or changes a corporate SSO connection.
type ConnectionInput struct {
	usher.Connection
	Deactivated *bool `json:"deactivated,omitempty"`
}

// SaveConnection creates (id "") or replaces a connection's configuration.
func (s *Service) SaveConnection(ctx context.Context, actor usher.Actor, tenant usher.Tenant, id string, in ConnectionInput) (usher.Connection, error) {
	if err := actor.Require(usher.AdminTenant); err != nil {
		return usher.Connection{}, err
	}
	c := in.Connection
	var errs usher.Errors
	var err error
	if c.Name, err = usher.CleanText("name", c.Name, 200); err != nil {
		errs = append(errs, err.(*usher.Error))
	} else if c.Name == "" {
		errs = append(errs, usher.Invalid("name", "is required"))
	}
	if c.Protocol != "oidc" && c.Protocol != "saml" {
		errs = append(errs, usher.Invalid("protocol", "must be oidc or saml"))
	}
	domains := make([]string, 0, len(c.Domains))
	for i, d := range c.Domains {
		n, err := usher.NormalizeEmail("domains", "x@"+d)
		if err != nil {
			errs = append(errs, usher.Invalid(fmt.Sprintf("domains[%d]", i), "%q is not an email domain", d))
			continue
		}
		if d := usher.EmailDomain(n); !slices.Contains(domains, d) {
			domains = append(domains, d)
		}
	}
	c.Domains = domains
	// Addresses usher will fetch and send people to: never javascript: or
	// a header's worth of CR LF.
	if c.Issuer, err = usher.CheckURL("issuer", c.Issuer, true); err != nil {
		errs = append(errs, err.(*usher.Error))
	} else if c.Protocol == "oidc" && c.Issuer == "" {
		errs = append(errs, usher.Invalid("issuer", "is required for an OpenID Connect connection"))
	}
	if c.MetadataURL, err = usher.CheckURL("metadata_url", c.MetadataURL, false); err != nil {
		errs = append(errs, err.(*usher.Error))
	} else if c.Protocol == "saml" && c.MetadataURL == "" && strings.TrimSpace(c.MetadataXML) == "" {
		errs = append(errs, usher.Invalid("metadata_url", "a SAML connection needs the identity provider's metadata: its URL, or the XML in metadata_xml"))
	}
	errs = append(errs, checkMapping(&c.Mapping)...)
	if c.ClientID, err = usher.CleanText("client_id", c.ClientID, 255); err != nil {
		errs = append(errs, err.(*usher.Error))
	}
	if len(c.ClientSecret) > 1024 || strings.ContainsFunc(c.ClientSecret, unicode.IsControl) {
		errs = append(errs, usher.Invalid("client_secret", "must be at most 1024 characters without control characters"))
	}
	if err := errs.Err(); err != nil {
		return c, err
	}
	// The protocol's own settings (package sso): checked, and a SAML
	// connection's service provider key made, before the transaction.
	c.SPCertificate, c.SPKey = "", "" // usher's own, made once
	var old usher.Connection
	if id != "" {
		if old, err = s.st.Read().Connection(ctx, tenant.ID, id); err != nil {
			return c, err
		}
		c.SPCertificate, c.SPKey = old.SPCertificate, old.SPKey
	}
	newID := id
	if newID == "" {
		newID = store.NewID() // now: sealed secrets are bound to it
	}
	if s.checkConnection != nil {
		c.ID, c.TenantID = newID, tenant.ID
		if err := s.checkConnection(ctx, tenant, &c); err != nil {
			return c, err
		}
	}
	defer s.noSSO.Forget(tenant.ID) // after the change commits
	err = s.st.Write(ctx, func(tx *store.Tx) error {
		// The just-in-time defaults must be active entries of the tenant;
		// those the connection already had are not checked again, so it can
		// still be changed or switched off after one is retired.
		var old usher.Connection
		if id != "" {
			var err error
			if old, err = tx.Connection(ctx, tenant.ID, id); err != nil {
				return err
			}
		}
		refs := []catalogRef{
			{"jit_role_id", usher.KindRole, c.JITRoleID, old.JITRoleID},
			{"jit_department_id", usher.KindDepartment, c.JITDepartmentID, old.JITDepartmentID},
			{"jit_job_profile_id", usher.KindJobProfile, c.JITJobProfileID, old.JITJobProfileID},
		}
		for i, r := range c.Mapping.GroupRules {
			var was usher.GroupRule
			if i < len(old.Mapping.GroupRules) {
				was = old.Mapping.GroupRules[i]
			}
			refs = append(refs, catalogRef{fmt.Sprintf("mapping.group_rules[%d].group_id", i), usher.KindGroup, r.GroupID, was.GroupID},
				catalogRef{fmt.Sprintf("mapping.group_rules[%d].role_id", i), usher.KindRole, r.RoleID, was.RoleID})
		}
		errs, err := checkCatalogRefs(ctx, tx, tenant.ID, refs)
		if err != nil {
			return err
		}
		perr, err := checkPlanRef(ctx, tx, tenant.ID, "jit_plan_id", c.JITPlanID, old.JITPlanID)
		if err != nil {
			return err
		}
		if perr != nil {
			errs = append(errs, perr)
		}
		if err := errs.Err(); err != nil {
			return err
		}
		if id == "" {
			c.ID = newID
			c.ClientSecret = s.sealConnectionSecret(tenant.ID, c.ID, c.ClientSecret)
			if err := tx.InsertConnection(ctx, tenant.ID, &c); err != nil {
				return err
			}
			return audit(ctx, tx, tenant.ID, actor, "connection.created", "connection", c.ID, nil)
		}
		c.ID, c.CreatedAt, c.DeactivatedAt = old.ID, old.CreatedAt, old.DeactivatedAt
		if c.ClientSecret == "" {
			c.ClientSecret = old.ClientSecret // write-only: absent keeps it
		} else {
			c.ClientSecret = s.sealConnectionSecret(tenant.ID, c.ID, c.ClientSecret)
		}
		if in.Deactivated != nil {
			c.DeactivatedAt = Deactivation(*in.Deactivated, old.DeactivatedAt, tx)
		}
		if err := tx.UpdateConnection(ctx, tenant.ID, &c); err != nil {
			return err
		}
		if c.DeactivatedAt != nil && old.DeactivatedAt == nil {
			// Its identity provider is no longer trusted: what it signed in
			// ends, with what those sessions gave the products.
			if err := s.connectionDeactivated(ctx, tx, tenant, c); err != nil {
				return err
			}
			if err := tx.EndConnectionSessions(ctx, c.ID); err != nil {
				return err
			}
		}
		return audit(ctx, tx, tenant.ID, actor, "connection.updated", "connection", c.ID, nil)
	})
	c.ClientSecret = ""
	return c, err
}

// ConnectionSecretPurpose binds a connection's sealed client secret to it.
func ConnectionSecretPurpose(tenantID, connectionID string) string {
	return "connection-client-secret/" + tenantID + "/" + connectionID
}

// SPKeyPurpose binds a connection's sealed SAML service provider key (sso
// seals it) to the connection.
func SPKeyPurpose(tenantID, connectionID string) string {
	return "connection-sp-key/" + tenantID + "/" + connectionID
}

// Reseal seals anew with box's current key every secret of connections
// (client secrets, SAML service provider keys) sealed with an older one, or
// kept plain from before a key was configured, and returns how many it
// changed. A secret changed meanwhile is left as the change made it.
func Reseal(ctx context.Context, st *store.Store, box *secret.Box) (int, error) {
	if box == nil {
		return 0, nil
	}
	return st.ResealKept(ctx, []string{"connections"}, func(k store.Kept) (string, bool, error) {
		purpose := ConnectionSecretPurpose(k.TenantID, k.ID)
		if k.Field == "sp_key" {
			purpose = SPKeyPurpose(k.TenantID, k.ID)
		}
		return box.Reseal(k.Value, purpose)
	}, func(tx *store.Tx, k store.Kept, v string) (bool, error) { return tx.ResealConnectionSecret(ctx, k, v) })
}

// sealConnectionSecret seals an identity provider's client secret for
// keeping, bound to its connection.
func (s *Service) sealConnectionSecret(tenantID, connectionID, plain string) string {
	return s.box.Keep(plain, ConnectionSecretPurpose(tenantID, connectionID))
}

// ConnectionSecret reads a connection's client secret as stored: sealed
// (opened with the configured keys) or, kept before sealing existed, as it is.
func (s *Service) ConnectionSecret(c usher.Connection) (string, error) {
	return s.box.Reveal(c.ClientSecret, ConnectionSecretPurpose(c.TenantID, c.ID), "connection "+c.ID+"'s client secret")
}
