package provision

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

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
			if err := s.checkSettings(ctx, tx, t.ID, in.Settings); err != nil {
				return err
			}
			t.Settings = *in.Settings
		}
		if in.Deactivated != nil {
			t.DeactivatedAt = deactivation(*in.Deactivated, t.DeactivatedAt, tx)
		}
		if err := tx.UpdateTenant(ctx, &t); err != nil {
			return err
		}
		return audit(ctx, tx, t.ID, actor, "tenant.updated", "tenant", t.ID, nil)
	})
	return t, err
}

// deactivation returns the new deactivation time: kept if already set,
// now if newly deactivated, cleared on reactivation.
func deactivation(deactivate bool, cur *time.Time, tx *store.Tx) *time.Time {
	if !deactivate {
		return nil
	}
	if cur != nil {
		return cur
	}
	now := tx.Now()
	return &now
}

func (s *Service) checkSettings(ctx context.Context, tx *store.Tx, tenantID string, st *usher.TenantSettings) error {
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
		d = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(d, "@")))
		if d == "" || !strings.Contains(d, ".") || strings.ContainsAny(d, " @/") {
			errs = append(errs, usher.Invalid(fmt.Sprintf("settings.registration_domains[%d]", i), "%q is not an email domain like example.com", st.RegistrationDomains[i]))
		}
		st.RegistrationDomains[i] = d
	}
	if !slices.Contains(st.ContactRoles, usher.PrimaryContactRole) {
		errs = append(errs, usher.Invalid("settings.contact_roles", "must include %q", usher.PrimaryContactRole))
	}
	if st.ActivationTTLHours < 1 || st.ActivationTTLHours > 90*24 {
		errs = append(errs, usher.Invalid("settings.activation_ttl_hours", "must be between 1 and 2160"))
	}
	for _, d := range []struct{ field, kind, id string }{
		{"settings.default_role_id", usher.KindRole, st.DefaultRoleID},
		{"settings.default_department_id", usher.KindDepartment, st.DefaultDepartmentID},
		{"settings.default_job_profile_id", usher.KindJobProfile, st.DefaultJobProfileID},
	} {
		if d.id == "" {
			continue
		}
		if _, err := tx.Attribute(ctx, tenantID, d.kind, d.id); err != nil {
			errs = append(errs, usher.NotFound(d.field, strings.TrimSuffix(d.kind, "s")))
		}
	}
	if c := st.Branding.Color; c != "" && !message.ValidColor(c) {
		errs = append(errs, usher.Invalid("settings.branding.color", "%q is not a colour like #1f4fd1", c))
	}
	if u := st.Branding.LogoURL; u != "" && !strings.HasPrefix(u, "https://") {
		errs = append(errs, usher.Invalid("settings.branding.logo_url", "must be an https:// address"))
	}
	if e := st.Branding.SupportEmail; e != "" {
		if _, err := usher.NormalizeEmail("settings.branding.support_email", e); err != nil {
			errs = append(errs, err.(*usher.Error))
		}
	}
	for key, o := range st.Templates {
		kind, _, ok := strings.Cut(key, ".")
		field := "settings.templates." + key
		if !ok {
			errs = append(errs, usher.Invalid(field, "keys are <kind>.<language>, like invitation.nl"))
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
	if st.DefaultPlanID != "" {
		if p, err := tx.Plan(ctx, tenantID, st.DefaultPlanID); err != nil {
			errs = append(errs, usher.NotFound("settings.default_plan_id", "plan"))
		} else if p.DeactivatedAt != nil {
			errs = append(errs, usher.Invalid("settings.default_plan_id", "plan %q is deactivated", p.Name))
		}
	}
	return errs.Err()
}
