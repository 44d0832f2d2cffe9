package usher

import "time"

// Tenant is one customer of the product; it owns everything else.
type Tenant struct {
	ID            string         `json:"id"`
	Slug          string         `json:"slug"`
	Name          string         `json:"name"`
	InternalOrgID string         `json:"internal_organization_id"`
	Settings      TenantSettings `json:"settings"`
	CreatedAt     time.Time      `json:"created_at"`
	UpdatedAt     time.Time      `json:"updated_at"`
	DeactivatedAt *time.Time     `json:"deactivated_at,omitempty"`
}

// TenantSettings are the rules a tenant chooses.
type TenantSettings struct {
	// RequiredFields lists what every new account must have, whatever way in
	// it comes by. See the Field* constants.
	RequiredFields []string `json:"required_fields"`
	// Defaults assigned to new accounts when the way in does not say.
	DefaultRoleID       string   `json:"default_role_id,omitempty"`
	DefaultPlanID       string   `json:"default_plan_id,omitempty"`
	DefaultDepartmentID string   `json:"default_department_id,omitempty"`
	DefaultJobProfileID string   `json:"default_job_profile_id,omitempty"`
	DefaultLanguage     string   `json:"default_language"`
	Languages           []string `json:"languages"`
	// Channels on which activation messages go out.
	EmailEnabled bool `json:"email_enabled"`
	SMSEnabled   bool `json:"sms_enabled"`
	// Registration: "off", "open" or "domains" (limited to RegistrationDomains).
	Registration        string   `json:"registration"`
	RegistrationDomains []string `json:"registration_domains,omitempty"`
	// RegistrationFields is what the registration form asks to sign in
	// with: "email", or "username_phone" (seed 003).
	RegistrationFields string `json:"registration_fields"`
	// RegistrationDepartment lets a person pick their department when
	// registering; otherwise the default (or the sign-up link's) applies.
	RegistrationDepartment bool `json:"registration_department"`
	// Session lifetimes: ended after this long without use, and this long
	// after sign-in whatever the use.
	SessionIdleMinutes int `json:"session_idle_minutes"`
	SessionMaxHours    int `json:"session_max_hours"`
	// ContactRoles a person may hold at a site; "Primary" is held at most once per site.
	ContactRoles []string `json:"contact_roles"`
	// RevealAccounts lets the sign-in step say whether an account exists (seed 000's behaviour).
	RevealAccounts bool `json:"reveal_accounts"`
	// ActivationTTL is how long an activation link stays valid.
	ActivationTTLHours int `json:"activation_ttl_hours"`
	// Branding shown in messages and pages.
	Branding Branding `json:"branding"`
	// Templates override the built-in messages, keyed "<kind>.<language>"
	// ("invitation.nl"); a part left empty keeps the built-in one.
	Templates map[string]TemplateOverride `json:"templates,omitempty"`
	// SCIM says how provisioning sources' users become usher's.
	SCIM SCIMSettings `json:"scim"`
}

// SCIMSettings say how what a provisioning source sends becomes usher's.
type SCIMSettings struct {
	// UnknownNames is what a department, job profile or group name the
	// tenant does not have does: SCIMRefuse (the default) refuses the
	// request naming the attribute, SCIMCreate adds the catalogue entry.
	UnknownNames string `json:"unknown_names,omitempty"`
	// Addresses is what the work email and the mobile number a source
	// sends become: SCIMSignIn (the default) makes them the account's email
	// and phone, checked and unique like any; SCIMKeep keeps them as the
	// source sent them, and userName is the only identifier usher takes.
	Addresses string `json:"addresses,omitempty"`
}

// Values of SCIMSettings.
const (
	SCIMRefuse = "refuse"
	SCIMCreate = "create"
	SCIMSignIn = "sign_in"
	SCIMKeep   = "keep"
)

// SessionIdle is how long a session may go unused in this tenant.
func (s TenantSettings) SessionIdle() time.Duration {
	if s.SessionIdleMinutes <= 0 {
		return DefaultSessionIdleMinutes * time.Minute
	}
	return time.Duration(s.SessionIdleMinutes) * time.Minute
}

// SessionMax is how long a session lasts after sign-in in this tenant.
func (s TenantSettings) SessionMax() time.Duration {
	if s.SessionMaxHours <= 0 {
		return DefaultSessionMaxHours * time.Hour
	}
	return time.Duration(s.SessionMaxHours) * time.Hour
}

// RegistersBy is what the registration form asks for: RegistrationByEmail
// unless the tenant chose usernames and phone numbers.
func (s TenantSettings) RegistersBy() string {
	if s.RegistrationFields == RegistrationByUsernamePhone {
		return RegistrationByUsernamePhone
	}
	return RegistrationByEmail
}

// What the registration form asks to sign in with.
const (
	RegistrationByEmail         = "email"
	RegistrationByUsernamePhone = "username_phone"
)

// Session lifetimes a tenant starts with: a working day without use, a week in all.
const (
	DefaultSessionIdleMinutes = 8 * 60
	DefaultSessionMaxHours    = 7 * 24
)

// Branding is how a tenant looks in messages and pages.
type Branding struct {
	ProductName  string `json:"product_name,omitempty"`
	Color        string `json:"color,omitempty"` // #rrggbb
	LogoURL      string `json:"logo_url,omitempty"`
	SupportEmail string `json:"support_email,omitempty"`
}

// TemplateOverride replaces parts of one message kind in one language.
// The templates see the fields documented in package message.
type TemplateOverride struct {
	Subject string `json:"subject,omitempty"`
	Text    string `json:"text,omitempty"`
	HTML    string `json:"html,omitempty"`
	SMS     string `json:"sms,omitempty"`
}

// Fields a tenant may require. FieldLogin is "email, or username and phone".
const (
	FieldFirstName  = "first_name"
	FieldLastName   = "last_name"
	FieldEmail      = "email"
	FieldPhone      = "phone"
	FieldUsername   = "username"
	FieldLogin      = "email_or_username_phone"
	FieldJobProfile = "job_profile"
	FieldDepartment = "department"
	FieldRole       = "role"
	FieldLanguage   = "language"
)

// RequirableFields are the values RequiredFields may hold.
var RequirableFields = []string{FieldFirstName, FieldLastName, FieldEmail, FieldPhone, FieldUsername,
	FieldLogin, FieldJobProfile, FieldDepartment, FieldRole, FieldLanguage}

// Tenant templates pick the initial settings.
const (
	TemplateStandard  = "standard"
	TemplateFrontline = "frontline"
)

// DefaultSettings returns the settings a new tenant of the template starts with.
func DefaultSettings(template string) TenantSettings {
	s := TenantSettings{
		RequiredFields:     []string{FieldFirstName, FieldLastName, FieldLogin},
		DefaultLanguage:    "en",
		Languages:          []string{"en", "nl", "de", "fr", "sv", "nb"},
		EmailEnabled:       true,
		Registration:       "off",
		ContactRoles:       []string{PrimaryContactRole, "Secondary", "Technical", "Billing"},
		RevealAccounts:     true,
		ActivationTTLHours: 7 * 24,
		RegistrationFields: RegistrationByEmail,
		SessionIdleMinutes: DefaultSessionIdleMinutes,
		SessionMaxHours:    DefaultSessionMaxHours,
	}
	if template == TemplateFrontline {
		// Seed 003's list of required information.
		s.RequiredFields = []string{FieldFirstName, FieldLastName, FieldJobProfile, FieldDepartment,
			FieldRole, FieldLogin, FieldLanguage}
	}
	return s
}
