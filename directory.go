package usher

import "time"

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
	ID             string `json:"id"`
	TenantID       string `json:"-"`
	OrganizationID string `json:"organization_id"`
	FirstName      string `json:"first_name"`
	LastName       string `json:"last_name"`
	Email          string `json:"email,omitempty"`
	Phone          string `json:"phone,omitempty"`
	DepartmentID   string `json:"department_id,omitempty"`
	JobProfileID   string `json:"job_profile_id,omitempty"`
	Language       string `json:"language,omitempty"`
	ExternalID     string `json:"external_id,omitempty"`
	// ManagedBy is the provisioning source (its API token's id) that
	// manages the person; "" when managed by hand.
	ManagedBy     string     `json:"managed_by,omitempty"`
	CreatedAt     time.Time  `json:"created_at"`
	UpdatedAt     time.Time  `json:"updated_at"`
	DeactivatedAt *time.Time `json:"deactivated_at,omitempty"`
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
	ID          string `json:"id"`
	TenantID    string `json:"-"`
	Key         string `json:"key"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// ExternalID is a provisioning source's own id of a group it manages.
	ExternalID string `json:"external_id,omitempty"`
	// ManagedBy is the provisioning source (its API token's id) that
	// manages the entry (a group); "" when managed by hand.
	ManagedBy     string     `json:"managed_by,omitempty"`
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

// PrimaryContactRole may be held by one person per site.
const PrimaryContactRole = "Primary"
