package usher

import (
	"time"
)

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
}

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

// PrimaryContactRole may be held by one person per site.
const PrimaryContactRole = "Primary"

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

// Organization is a company in the tenant's directory. The internal one is the
// tenant's own; external ones are partners and customers. An organization with
// a parent is a site of it.
type Organization struct {
	ID            string     `json:"id"`
	TenantID      string     `json:"-"`
	Name          string     `json:"name"`
	Kind          string     `json:"kind"` // OrgInternal or OrgExternal
	ParentID      string     `json:"parent_id,omitempty"`
	CreatedAt     time.Time  `json:"created_at"`
	UpdatedAt     time.Time  `json:"updated_at"`
	DeactivatedAt *time.Time `json:"deactivated_at,omitempty"`
}

const (
	OrgInternal = "internal"
	OrgExternal = "external"
)

// Person is a directory entry: an employee of the internal organization or a
// contact of an external one. A person may exist without an account.
type Person struct {
	ID             string     `json:"id"`
	TenantID       string     `json:"-"`
	OrganizationID string     `json:"organization_id"`
	FirstName      string     `json:"first_name"`
	LastName       string     `json:"last_name"`
	Email          string     `json:"email,omitempty"`
	Phone          string     `json:"phone,omitempty"`
	DepartmentID   string     `json:"department_id,omitempty"`
	JobProfileID   string     `json:"job_profile_id,omitempty"`
	Language       string     `json:"language,omitempty"`
	ExternalID     string     `json:"external_id,omitempty"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
	DeactivatedAt  *time.Time `json:"deactivated_at,omitempty"`
}

// Account states.
const (
	StateInvited     = "invited"
	StateActive      = "active"
	StateSuspended   = "suspended"
	StateDeactivated = "deactivated"
)

// HoldsSeat reports whether an account in state occupies a seat of its plan.
func HoldsSeat(state string) bool { return state != StateDeactivated }

// Authentication systems.
const (
	AuthPassword   = "password"   // usher's own password
	AuthConnection = "connection" // the tenant's corporate SSO connection
)

// Console roles: what an account may administer in usher itself.
const (
	AdminNone   = ""
	AdminUser   = "user_administrator"
	AdminTenant = "tenant_administrator"
)

// Account is a person's access to the tenant.
type Account struct {
	ID             string     `json:"id"`
	TenantID       string     `json:"-"`
	PersonID       string     `json:"person_id"`
	IdentityID     string     `json:"identity_id,omitempty"`
	State          string     `json:"state"`
	AuthSystem     string     `json:"auth_system"`
	ConnectionID   string     `json:"connection_id,omitempty"`
	Email          string     `json:"email,omitempty"`
	Username       string     `json:"username,omitempty"`
	Phone          string     `json:"phone,omitempty"`
	RoleID         string     `json:"role_id,omitempty"`
	PlanID         string     `json:"plan_id"`
	PrimaryGroupID string     `json:"primary_group_id,omitempty"`
	GroupIDs       []string   `json:"group_ids"`
	AdminRole      string     `json:"admin_role,omitempty"`
	Language       string     `json:"language"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
	ActivatedAt    *time.Time `json:"activated_at,omitempty"`
	DeactivatedAt  *time.Time `json:"deactivated_at,omitempty"`
	// InviteExpiresAt is when the newest activation secret of an invited
	// account expires; Invitation is "pending" before then, "expired" after
	// (or when the secrets were revoked), and empty for other states.
	InviteExpiresAt *time.Time `json:"invite_expires_at,omitempty"`
	Invitation      string     `json:"invitation,omitempty"`
}

// Invitation states of an invited account.
const (
	InvitationPending = "pending"
	InvitationExpired = "expired"
)

// Identity is one login that can stand behind accounts in several tenants.
// It holds the credentials, never tenant data.
type Identity struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	CreatedAt time.Time `json:"created_at"`
}

// Attribute kinds: the tenant's catalogues assigned to accounts and persons.
const (
	KindRole       = "roles"
	KindDepartment = "departments"
	KindJobProfile = "job_profiles"
	KindGroup      = "groups"
)

// Attribute is an entry of a tenant catalogue: a role (permission type),
// department, job profile or group.
type Attribute struct {
	ID            string     `json:"id"`
	TenantID      string     `json:"-"`
	Key           string     `json:"key"`
	Name          string     `json:"name"`
	Description   string     `json:"description,omitempty"`
	CreatedAt     time.Time  `json:"created_at"`
	UpdatedAt     time.Time  `json:"updated_at"`
	DeactivatedAt *time.Time `json:"deactivated_at,omitempty"`
}

// Plan is a user plan (licence): a feature set with a number of seats.
type Plan struct {
	ID            string     `json:"id"`
	TenantID      string     `json:"-"`
	Key           string     `json:"key"`
	Name          string     `json:"name"`
	Seats         int        `json:"seats"`
	SeatsUsed     int        `json:"seats_used"`
	CreatedAt     time.Time  `json:"created_at"`
	UpdatedAt     time.Time  `json:"updated_at"`
	DeactivatedAt *time.Time `json:"deactivated_at,omitempty"`
}

// Relationship is a person's contact roles at a site.
type Relationship struct {
	TenantID  string    `json:"-"`
	PersonID  string    `json:"person_id"`
	SiteID    string    `json:"site_id"`
	Roles     []string  `json:"roles"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Connection is a tenant's corporate identity provider, as configuration.
type Connection struct {
	ID       string   `json:"id"`
	TenantID string   `json:"-"`
	Name     string   `json:"name"`
	Protocol string   `json:"protocol"` // "oidc" or "saml"
	Domains  []string `json:"domains"`
	Enforced bool     `json:"enforced"`
	// Just-in-time creation at first sign-in, with its defaults.
	JIT             bool       `json:"jit"`
	JITRoleID       string     `json:"jit_role_id,omitempty"`
	JITPlanID       string     `json:"jit_plan_id,omitempty"`
	JITDepartmentID string     `json:"jit_department_id,omitempty"`
	JITJobProfileID string     `json:"jit_job_profile_id,omitempty"`
	Issuer          string     `json:"issuer,omitempty"`
	ClientID        string     `json:"client_id,omitempty"`
	ClientSecret    string     `json:"client_secret,omitempty"` // write-only: blanked on read
	MetadataURL     string     `json:"metadata_url,omitempty"`
	CreatedAt       time.Time  `json:"created_at"`
	UpdatedAt       time.Time  `json:"updated_at"`
	DeactivatedAt   *time.Time `json:"deactivated_at,omitempty"`
}

// AuditEvent records who did what to whom, when and from where.
type AuditEvent struct {
	ID         string            `json:"id"`
	TenantID   string            `json:"-"`
	At         time.Time         `json:"at"`
	ActorKind  string            `json:"actor_kind"` // "operator", "token", "account", "system", "scim", ...
	ActorID    string            `json:"actor_id,omitempty"`
	Action     string            `json:"action"` // "account.created", ...
	TargetKind string            `json:"target_kind"`
	TargetID   string            `json:"target_id"`
	Source     string            `json:"source,omitempty"` // client address
	Details    map[string]string `json:"details,omitempty"`
}

// Message channels and states.
const (
	ChannelEmail = "email"
	ChannelSMS   = "sms"

	MessageQueued    = "queued"
	MessageSent      = "sent"
	MessageAbandoned = "abandoned"
)

// Message is an email or SMS queued in the transaction that causes it.
type Message struct {
	ID        string `json:"id"`
	TenantID  string `json:"-"`
	Kind      string `json:"kind"` // "invitation", "welcome", ...
	Channel   string `json:"channel"`
	To        string `json:"to"`
	AccountID string `json:"account_id,omitempty"`
	Language  string `json:"language"`
	Subject   string `json:"subject,omitempty"`
	Body      string `json:"body"`           // plain text (email) or the SMS
	HTML      string `json:"html,omitempty"` // email only
	// Data is what the message says, as its template's inputs (JSON): a
	// message is stored so and written out with the tenant's templates
	// when it is sent or read (provision.Service.Compose), so a creation
	// does not render and store kilobytes of text. Empty once written out.
	Data        string     `json:"-"`
	State       string     `json:"state"`
	Attempts    int        `json:"attempts"`
	LastError   string     `json:"last_error,omitempty"`
	DedupeKey   string     `json:"-"`
	CreatedAt   time.Time  `json:"created_at"`
	NextAttempt time.Time  `json:"next_attempt_at"`
	SentAt      *time.Time `json:"sent_at,omitempty"`
}

// Principal roles for API tokens.
const (
	PrincipalOperator = "operator"
)

// APIToken authorizes API calls: an operator token (no tenant) or a tenant
// token with an administrator role. Only the hash of its secret is stored.
type APIToken struct {
	ID        string     `json:"id"`
	TenantID  string     `json:"-"`
	Name      string     `json:"name"`
	Role      string     `json:"role"` // PrincipalOperator, AdminTenant or AdminUser
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

// Session is a signed-in browser of an identity. The secret is in the
// browser's cookie; only its hash is stored.
type Session struct {
	ID         string    `json:"id"`
	IdentityID string    `json:"identity_id"`
	TenantID   string    `json:"tenant_id"` // where it signed in
	Method     string    `json:"method"`    // "password"
	CreatedAt  time.Time `json:"created_at"`
	LastSeenAt time.Time `json:"last_seen_at"`
	Source     string    `json:"source,omitempty"`
	UserAgent  string    `json:"user_agent,omitempty"`
}
