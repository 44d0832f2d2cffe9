package scim

import (
	"strings"

	"github.com/usherhq/usher/scim/filter"
)

// Schema URNs. The resources' schemas are declared in filter, which
// resolves the paths that start with them.
const (
	URNUser        = filter.URNUser
	URNGroup       = filter.URNGroup
	URNEnterprise  = filter.URNEnterprise
	URNUsher       = filter.URNUsher
	URNList        = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	URNError       = "urn:ietf:params:scim:api:messages:2.0:Error"
	URNPatch       = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	URNSPConfig    = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
	URNResourceTyp = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
	URNSchema      = "urn:ietf:params:scim:schemas:core:2.0:Schema"
)

// attr describes an attribute as RFC 7643 §7 does. Names are canonical;
// what a client sends is matched to them without case.
type attr struct {
	Name        string
	Type        string // string, boolean, complex, dateTime, reference, integer
	Multi       bool
	Sub         []*attr
	CaseExact   bool
	Mutability  string // readWrite (""), readOnly, immutable, writeOnly
	Returned    string // default (""), always, never
	Uniqueness  string // none (""), server
	Required    bool
	Description string
	Canonical   []string
	RefTypes    []string
}

func (a *attr) readOnly() bool { return a.Mutability == "readOnly" }

// find returns the attribute of list named name, without case.
func find(list []*attr, name string) *attr {
	for _, a := range list {
		if strings.EqualFold(a.Name, name) {
			return a
		}
	}
	return nil
}

type schema struct {
	ID, Name, Description string
	Attrs                 []*attr
}

func str(name, desc string) *attr { return &attr{Name: name, Type: "string", Description: desc} }

func multi(name, desc string, sub ...*attr) *attr {
	return &attr{Name: name, Type: "complex", Multi: true, Description: desc, Sub: sub}
}

func typed(canon ...string) *attr {
	return &attr{Name: "type", Type: "string", Description: "A label for the value's function.", Canonical: canon}
}

func primary() *attr {
	return &attr{Name: "primary", Type: "boolean", Description: "Whether this is the preferred value."}
}

// Attributes every resource has (RFC 7643 §3.1).
var (
	idAttr = &attr{Name: "id", Type: "string", CaseExact: true, Mutability: "readOnly", Returned: "always", Uniqueness: "server",
		Description: "usher's id of the resource (an account's or a group's)."}
	externalIDAttr = &attr{Name: "externalId", Type: "string", CaseExact: true, Description: "The provisioning source's own id."}
	metaAttr       = &attr{Name: "meta", Type: "complex", Mutability: "readOnly", Description: "Resource metadata.", Sub: []*attr{
		{Name: "resourceType", Type: "string", Mutability: "readOnly"},
		{Name: "created", Type: "dateTime", Mutability: "readOnly"},
		{Name: "lastModified", Type: "dateTime", Mutability: "readOnly"},
		{Name: "location", Type: "reference", Mutability: "readOnly"},
		{Name: "version", Type: "string", CaseExact: true, Mutability: "readOnly"},
	}}
)

var userSchema = schema{ID: URNUser, Name: "User", Description: "User Account", Attrs: []*attr{
	{Name: "userName", Type: "string", Required: true, Uniqueness: "server",
		Description: "The sign-in identifier: an email address becomes the account's email, anything else its username."},
	{Name: "name", Type: "complex", Description: "The person's name; givenName and familyName are usher's first and last name.", Sub: []*attr{
		str("formatted", "The full name, as the source writes it."),
		str("familyName", "Last name."), str("givenName", "First name."), str("middleName", "Middle name."),
		str("honorificPrefix", "Title, like Ms."), str("honorificSuffix", "Suffix, like III."),
	}},
	str("displayName", "The name shown for the user."),
	str("nickName", "A casual name."),
	{Name: "profileUrl", Type: "reference", RefTypes: []string{"external"}, Description: "A page about the user."},
	str("title", "Job title: usher's job profile of that name."),
	str("userType", "The kind of user, as the source says it."),
	str("preferredLanguage", "The language for messages (en-US reads as en) when the tenant offers it."),
	str("locale", "Locale for formatting."),
	str("timezone", "Time zone, like Europe/Amsterdam."),
	{Name: "active", Type: "boolean", Description: "false suspends the account (its sessions end); true resumes it."},
	{Name: "password", Type: "string", Mutability: "writeOnly", Returned: "never", Description: "Never taken: people choose their password at activation."},
	multi("emails", "Email addresses: the work one (else the primary one) is the person's email.",
		str("value", "The address."), str("display", "A label."), typed("work", "home", "other"), primary()),
	multi("phoneNumbers", "Phone numbers: the mobile one, in international form, is the person's phone.",
		str("value", "The number."), str("display", "A label."), typed("work", "home", "mobile", "fax", "pager", "other"), primary()),
	multi("ims", "Instant messaging addresses.", str("value", ""), str("display", ""), typed(), primary()),
	multi("photos", "Pictures of the user.", &attr{Name: "value", Type: "reference", RefTypes: []string{"external"}}, str("display", ""), typed("photo", "thumbnail"), primary()),
	multi("addresses", "Postal addresses, kept as the source sent them.",
		str("formatted", ""), str("streetAddress", ""), str("locality", ""), str("region", ""), str("postalCode", ""), str("country", ""),
		typed("work", "home", "other"), primary()),
	{Name: "groups", Type: "complex", Multi: true, Mutability: "readOnly", Description: "The groups the account is a member of; change them through Groups.", Sub: []*attr{
		{Name: "value", Type: "string", Mutability: "readOnly"}, {Name: "$ref", Type: "reference", RefTypes: []string{"Group"}, Mutability: "readOnly"},
		{Name: "display", Type: "string", Mutability: "readOnly"}, {Name: "type", Type: "string", Mutability: "readOnly", Canonical: []string{"direct"}},
	}},
	multi("entitlements", "Entitlements, kept as sent.", str("value", ""), str("display", ""), typed(), primary()),
	multi("roles", "Roles, kept as sent (usher's role is in the usher extension).", str("value", ""), str("display", ""), typed(), primary()),
	multi("x509Certificates", "Certificates, kept as sent.", str("value", ""), str("display", ""), typed(), primary()),
}}

var enterpriseSchema = schema{ID: URNEnterprise, Name: "EnterpriseUser", Description: "Enterprise User", Attrs: []*attr{
	str("employeeNumber", "The employee's number."),
	str("costCenter", "Cost center."),
	str("organization", "Organization."),
	str("division", "Division."),
	str("department", "usher's department of that name."),
	{Name: "manager", Type: "complex", Description: "The manager (Entra ID also sends the id alone).", Sub: []*attr{
		str("value", "The manager's id."), {Name: "$ref", Type: "reference", RefTypes: []string{"User"}}, {Name: "displayName", Type: "string", Mutability: "readOnly"},
	}},
}}

var usherSchema = schema{ID: URNUsher, Name: "UsherUser", Description: "What usher has and SCIM lacks", Attrs: []*attr{
	str("jobProfile", "The job profile by name (title sets it too; this wins)."),
	str("role", "The role (permission type) by name or key."),
	str("plan", "The plan by key or name: a seat of it is taken."),
	str("language", "The account's language, one of the tenant's (en, nl, …)."),
	{Name: "state", Type: "string", Mutability: "readOnly", Canonical: []string{"invited", "active", "suspended"}, Description: "The account's state in usher."},
	{Name: "managedBy", Type: "string", Mutability: "readOnly", Description: "The provisioning source (its token's id) that manages the user."},
}}

var groupSchema = schema{ID: URNGroup, Name: "Group", Description: "Group", Attrs: []*attr{
	{Name: "displayName", Type: "string", Required: true, Uniqueness: "server", Description: "The group's name, unique in the tenant."},
	{Name: "members", Type: "complex", Multi: true, Description: "The users in the group.", Sub: []*attr{
		{Name: "value", Type: "string", CaseExact: true, Mutability: "immutable", Description: "A user's id."},
		{Name: "$ref", Type: "reference", RefTypes: []string{"User"}, Mutability: "immutable"},
		{Name: "display", Type: "string", Description: "The member's label."},
		{Name: "type", Type: "string", Mutability: "immutable", Canonical: []string{"User"}},
	}},
}}

// resourceAttrs are a resource's schemas' attributes: the core ones with id,
// externalId and meta, and each extension's.
type resourceAttrs struct {
	core       []*attr
	extensions map[string][]*attr // by URN
}

var userAttrs = resourceAttrs{
	core:       append([]*attr{idAttr, externalIDAttr, metaAttr}, userSchema.Attrs...),
	extensions: map[string][]*attr{URNEnterprise: enterpriseSchema.Attrs, URNUsher: usherSchema.Attrs},
}

var groupAttrs = resourceAttrs{core: append([]*attr{idAttr, externalIDAttr, metaAttr}, groupSchema.Attrs...)}

// extensionURN returns the known extension URN written as urn, or "".
func (r resourceAttrs) extensionURN(urn string) string {
	for known := range r.extensions {
		if strings.EqualFold(known, urn) {
			return known
		}
	}
	return ""
}

// resolve finds the attribute a path names, with its canonical path.
func (r resourceAttrs) resolve(p filter.Path) (a *attr, urn string) {
	list := r.core
	if p.URN != "" && !filter.IsCoreURN(p.URN) {
		urn = r.extensionURN(p.URN)
		if urn == "" {
			return nil, ""
		}
		list = r.extensions[urn]
	}
	return find(list, p.Attr), urn
}

// Discovery documents (RFC 7644 §4).

func attrJSON(a *attr) map[string]any {
	m := map[string]any{
		"name": a.Name, "type": a.Type, "multiValued": a.Multi, "description": a.Description, "required": a.Required,
		"caseExact": a.CaseExact, "mutability": or(a.Mutability, "readWrite"), "returned": or(a.Returned, "default"),
		"uniqueness": or(a.Uniqueness, "none"),
	}
	if len(a.Canonical) > 0 {
		m["canonicalValues"] = a.Canonical
	}
	if len(a.RefTypes) > 0 {
		m["referenceTypes"] = a.RefTypes
	}
	if len(a.Sub) > 0 {
		var subs []any
		for _, s := range a.Sub {
			subs = append(subs, attrJSON(s))
		}
		m["subAttributes"] = subs
	}
	return m
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func schemaJSON(s schema, base string) map[string]any {
	var attrs []any
	for _, a := range s.Attrs {
		attrs = append(attrs, attrJSON(a))
	}
	return map[string]any{"schemas": []string{URNSchema}, "id": s.ID, "name": s.Name, "description": s.Description, "attributes": attrs,
		"meta": map[string]any{"resourceType": "Schema", "location": base + "/Schemas/" + s.ID}}
}

var allSchemas = []schema{userSchema, enterpriseSchema, usherSchema, groupSchema}

func resourceTypesJSON(base string) []any {
	return []any{
		map[string]any{"schemas": []string{URNResourceTyp}, "id": "User", "name": "User", "endpoint": "/Users", "description": "User Account",
			"schema": URNUser, "schemaExtensions": []any{
				map[string]any{"schema": URNEnterprise, "required": false},
				map[string]any{"schema": URNUsher, "required": false},
			}, "meta": map[string]any{"resourceType": "ResourceType", "location": base + "/ResourceTypes/User"}},
		map[string]any{"schemas": []string{URNResourceTyp}, "id": "Group", "name": "Group", "endpoint": "/Groups", "description": "Group",
			"schema": URNGroup, "meta": map[string]any{"resourceType": "ResourceType", "location": base + "/ResourceTypes/Group"}},
	}
}

func serviceProviderConfig(base string) map[string]any {
	return map[string]any{
		"schemas":        []string{URNSPConfig},
		"patch":          map[string]any{"supported": true},
		"bulk":           map[string]any{"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
		"filter":         map[string]any{"supported": true, "maxResults": maxCount},
		"changePassword": map[string]any{"supported": false},
		"sort":           map[string]any{"supported": false},
		"etag":           map[string]any{"supported": true},
		"authenticationSchemes": []any{map[string]any{"type": "oauthbearertoken", "name": "Bearer token", "primary": true,
			"description": "A tenant API token of role scim, as 'Authorization: Bearer <token>'."}},
		"meta": map[string]any{"resourceType": "ServiceProviderConfig", "location": base + "/ServiceProviderConfig"},
	}
}
