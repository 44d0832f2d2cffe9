package provision

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/message"
	"github.com/usherhq/usher/store"
)

// TenantInput creates a tenant.
type TenantInput struct {
	Slug     string `json:"slug"`
	Name     string `json:"name"`
	Template string `json:"template,omitempty"` // "standard" (default) or "frontline"
}

// CreateTenant creates a tenant with its internal organization. Operators only.
func (s *Service) CreateTenant(ctx context.Context, actor usher.Actor, in TenantInput) (usher.Tenant, error) {
	if err := actor.Require(usher.PrincipalOperator); err != nil {
		return usher.Tenant{}, err
	}
	var errs usher.Errors
	slug, err := usher.CheckSlug(in.Slug)
	if err != nil {
		errs = append(errs, err.(*usher.Error))
	}
	name, err := usher.CleanText("name", in.Name, 200)
	if err != nil {
		errs = append(errs, err.(*usher.Error))
	} else if name == "" {
		errs = append(errs, usher.Invalid("name", "is required"))
	}
	switch in.Template {
	case "", usher.TemplateStandard, usher.TemplateFrontline:
	default:
		errs = append(errs, usher.Invalid("template", "must be %q or %q", usher.TemplateStandard, usher.TemplateFrontline))
	}
	if err := errs.Err(); err != nil {
		return usher.Tenant{}, err
	}
	t := usher.Tenant{Slug: slug, Name: name, Settings: usher.DefaultSettings(in.Template)}
	err = s.st.Write(ctx, func(tx *store.Tx) error {
		if err := tx.InsertTenant(ctx, &t); err != nil {
			return err
		}
		org := usher.Organization{ID: t.InternalOrgID, Name: name, Kind: usher.OrgInternal}
		if err := tx.InsertOrganization(ctx, t.ID, &org); err != nil {
			return err
		}
		return audit(ctx, tx, t.ID, actor, "tenant.created", "tenant", t.ID, map[string]string{"slug": slug})
	})
	return t, err
}

// TenantUpdate changes a tenant; nil fields stay as they are.
type TenantUpdate struct {
	Name        *string               `json:"name,omitempty"`
	Settings    *usher.TenantSettings `json:"settings,omitempty"`
	Deactivated *bool                 `json:"deactivated,omitempty"`
}

// UpdateTenant changes name and settings (tenant administrators) or
// deactivates the tenant (operators).
func (s *Service) UpdateTenant(ctx context.Context, actor usher.Actor, tenantID string, in TenantUpdate) (usher.Tenant, error) {
	if err := actor.Require(usher.AdminTenant); err != nil {
		return usher.Tenant{}, err
	}
	if in.Deactivated != nil {
		if err := actor.Require(usher.PrincipalOperator); err != nil {
			return usher.Tenant{}, err
		}
	}
	var t usher.Tenant
	err := s.st.Write(ctx, func(tx *store.Tx) error {
		var err error
		if t, err = tx.Tenant(ctx, tenantID); err != nil {
			return err
		}
		if in.Name != nil {
			name, err := usher.CleanText("name", *in.Name, 200)
			if err != nil {
				return err
			}
			if name == "" {
				return usher.Invalid("name", "is required")
			}
			t.Name = name
		}
		if in.Settings != nil {
			if err := s.checkSettings(ctx, tx, t.ID, in.Settings, t.Settings); err != nil {
				return err
			}
			t.Settings = *in.Settings
		}
		if in.Deactivated != nil {
			t.DeactivatedAt = Deactivation(*in.Deactivated, t.DeactivatedAt, tx)
		}
		if err := tx.UpdateTenant(ctx, &t); err != nil {
			return err
		}
		return audit(ctx, tx, t.ID, actor, "tenant.updated", "tenant", t.ID, nil)
	})
	return t, err
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

// Deactivation returns the new deactivation time: kept if already set,
// now if newly deactivated, cleared on reactivation. The packages that
// manage what provision refers to (catalog, signup) share it.
func Deactivation(deactivate bool, cur *time.Time, tx *store.Tx) *time.Time {
	if !deactivate {
		return nil
	}
	if cur != nil {
		return cur
	}
	now := tx.Now()
	return &now
}

// checkSettings checks new settings st against the tenant's current ones,
// was: a default that did not change is not checked again.
func (s *Service) checkSettings(ctx context.Context, tx *store.Tx, tenantID string, st *usher.TenantSettings, was usher.TenantSettings) error {
	var errs usher.Errors
	for i, f := range st.RequiredFields {
		if !slices.Contains(usher.RequirableFields, f) {
			errs = append(errs, usher.Invalid(fmt.Sprintf("settings.required_fields[%d]", i), "%q is not a field that can be required (one of %s)", f, strings.Join(usher.RequirableFields, ", ")))
		}
	}
	if len(st.Languages) == 0 {
		errs = append(errs, usher.Invalid("settings.languages", "at least one language is needed"))
	}
	if !slices.Contains(st.Languages, st.DefaultLanguage) {
		errs = append(errs, usher.Invalid("settings.default_language", "%q is not among settings.languages", st.DefaultLanguage))
	}
	switch st.Registration {
	case "off", "open", "domains":
	default:
		errs = append(errs, usher.Invalid("settings.registration", "must be off, open or domains"))
	}
	if st.Registration == "domains" && len(st.RegistrationDomains) == 0 {
		errs = append(errs, usher.Invalid("settings.registration_domains", "give the email domains registration is limited to"))
	}
	switch st.RegistrationFields {
	case "":
		st.RegistrationFields = usher.RegistrationByEmail
	case usher.RegistrationByEmail, usher.RegistrationByUsernamePhone:
	default:
		errs = append(errs, usher.Invalid("settings.registration_fields", "must be %q or %q", usher.RegistrationByEmail, usher.RegistrationByUsernamePhone))
	}
	if st.Registration == "domains" && st.RegistrationFields == usher.RegistrationByUsernamePhone {
		errs = append(errs, usher.Invalid("settings.registration_fields", "registration limited to email domains needs the email field"))
	}
	if st.SessionIdleMinutes == 0 {
		st.SessionIdleMinutes = usher.DefaultSessionIdleMinutes
	}
	if st.SessionMaxHours == 0 {
		st.SessionMaxHours = usher.DefaultSessionMaxHours
	}
	if st.SessionIdleMinutes < 5 || st.SessionIdleMinutes > 30*24*60 {
		errs = append(errs, usher.Invalid("settings.session_idle_minutes", "must be between 5 and 43200 (30 days)"))
	}
	if st.SessionMaxHours < 1 || st.SessionMaxHours > 365*24 {
		errs = append(errs, usher.Invalid("settings.session_max_hours", "must be between 1 and 8760 (a year)"))
	} else if st.SessionIdleMinutes > st.SessionMaxHours*60 {
		errs = append(errs, usher.Invalid("settings.session_idle_minutes", "must not be longer than settings.session_max_hours"))
	}
	for i, d := range st.RegistrationDomains {
		// The domain as an address in it normalizes, so it matches them.
		n, err := usher.NormalizeEmail("x", "x@"+strings.TrimPrefix(strings.TrimSpace(d), "@"))
		if err != nil || n == "" {
			errs = append(errs, usher.Invalid(fmt.Sprintf("settings.registration_domains[%d]", i), "%q is not an email domain like example.com", d))
			continue
		}
		st.RegistrationDomains[i] = usher.EmailDomain(n)
	}
	if !slices.Contains(st.ContactRoles, usher.PrimaryContactRole) {
		errs = append(errs, usher.Invalid("settings.contact_roles", "must include %q", usher.PrimaryContactRole))
	}
	if st.ActivationTTLHours < 1 || st.ActivationTTLHours > 90*24 {
		errs = append(errs, usher.Invalid("settings.activation_ttl_hours", "must be between 1 and 2160"))
	}
	refErrs, err := checkCatalogRefs(ctx, tx, tenantID, []catalogRef{
		{"settings.default_role_id", usher.KindRole, st.DefaultRoleID, was.DefaultRoleID},
		{"settings.default_department_id", usher.KindDepartment, st.DefaultDepartmentID, was.DefaultDepartmentID},
		{"settings.default_job_profile_id", usher.KindJobProfile, st.DefaultJobProfileID, was.DefaultJobProfileID},
	})
	if err != nil {
		return err
	}
	errs = append(errs, refErrs...)
	if c := st.Branding.Color; c != "" && !message.ValidColor(c) {
		errs = append(errs, usher.Invalid("settings.branding.color", "%q is not a colour like #1f4fd1", c))
	}
	if st.Branding.ProductName, err = usher.CleanText("settings.branding.product_name", st.Branding.ProductName, 100); err != nil {
		errs = append(errs, err.(*usher.Error))
	}
	if u := st.Branding.LogoURL; u != "" && !strings.HasPrefix(u, "https://") {
		errs = append(errs, usher.Invalid("settings.branding.logo_url", "must be an https:// address"))
	} else if st.Branding.LogoURL, err = usher.CheckURL("settings.branding.logo_url", u, false); err != nil {
		errs = append(errs, err.(*usher.Error))
	}
	for i, l := range st.Languages {
		if !slices.Contains(message.Languages(), l) {
			errs = append(errs, usher.Invalid(fmt.Sprintf("settings.languages[%d]", i), "%q is not one of the languages usher writes messages in (%s)", l, strings.Join(message.Languages(), ", ")))
		}
	}
	for i, r := range st.ContactRoles {
		if st.ContactRoles[i], err = usher.CleanText(fmt.Sprintf("settings.contact_roles[%d]", i), r, 50); err != nil {
			errs = append(errs, err.(*usher.Error))
		}
	}
	if e := st.Branding.SupportEmail; e != "" {
		if _, err := usher.NormalizeEmail("settings.branding.support_email", e); err != nil {
			errs = append(errs, err.(*usher.Error))
		}
	}
	// One override per kind and language at most: past that, every key
	// is wrong, and one problem says so better than thousands.
	if most := len(message.Kinds()) * len(message.Languages()); len(st.Templates) > most {
		errs = append(errs, usher.Invalid("settings.templates", "holds %d overrides; there are at most %d, one per message kind and language", len(st.Templates), most))
		return errs.Err()
	}
	keys := make([]string, 0, len(st.Templates))
	for key := range st.Templates {
		keys = append(keys, key)
	}
	slices.Sort(keys) // the same problem first on every call
	for _, key := range keys {
		o := st.Templates[key]
		kind, lang, ok := strings.Cut(key, ".")
		field := "settings.templates." + key
		if !ok {
			errs = append(errs, usher.Invalid(field, "keys are <kind>.<language>, like invitation.nl"))
			continue
		}
		if !slices.Contains(message.Languages(), lang) {
			errs = append(errs, usher.Invalid(field, "%q is not one of the languages usher writes messages in (%s)", lang, strings.Join(message.Languages(), ", ")))
			continue
		}
		if strings.ContainsFunc(o.Subject, unicode.IsControl) {
			// A line break in a subject would start a header of its own.
			errs = append(errs, usher.Invalid(field+".subject", "must be one line without control characters"))
			continue
		}
		if err := message.CheckOverride(kind, message.Override{Subject: o.Subject, Text: o.Text, HTML: o.HTML, SMS: o.SMS}); err != nil {
			errs = append(errs, usher.Invalid(field, "%s", err.Error()))
		}
	}
	switch st.SCIM.UnknownNames {
	case "", usher.SCIMRefuse, usher.SCIMCreate:
	default:
		errs = append(errs, usher.Invalid("settings.scim.unknown_names", "must be %q or %q", usher.SCIMRefuse, usher.SCIMCreate))
	}
	switch st.SCIM.Addresses {
	case "", usher.SCIMSignIn, usher.SCIMKeep:
	default:
		errs = append(errs, usher.Invalid("settings.scim.addresses", "must be %q or %q", usher.SCIMSignIn, usher.SCIMKeep))
	}
	// Checked even unchanged: new accounts take the default plan's seats
	// without looking at the plan again.
	if perr, err := checkPlanRef(ctx, tx, tenantID, "settings.default_plan_id", st.DefaultPlanID, ""); err != nil {
		return err
	} else if perr != nil {
		errs = append(errs, perr)
	}
	return errs.Err()
}
