package sso

import (
	"strings"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/provision"
)

// Presets of attribute mapping: where each field usually is, per identity
// provider and protocol. The first name present wins; a name the
// administrator sets replaces the preset's.
const (
	PresetGeneric = "generic"
	PresetEntra   = "entra"
	PresetOkta    = "okta"
	PresetGoogle  = "google"
)

// Presets lists the presets, for the console.
var Presets = []string{PresetGeneric, PresetEntra, PresetOkta, PresetGoogle}

const (
	xmlsoap = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/"
	msft    = "http://schemas.microsoft.com/ws/2008/06/identity/claims/"
	msIdent = "http://schemas.microsoft.com/identity/claims/"
)

// fields are the mapped fields, in the order the console shows them.
var fields = []string{"subject", "first_name", "last_name", "email", "phone", "username", "department", "job_profile", "language", "groups"}

// presets[protocol][preset][field] are the candidate names.
var presets = map[string]map[string]map[string][]string{
	"oidc": {
		PresetGeneric: {
			"subject": {"sub"}, "first_name": {"given_name"}, "last_name": {"family_name"}, "email": {"email"},
			"phone": {"phone_number"}, "username": {"preferred_username"}, "department": {"department"},
			"job_profile": {"job_title", "jobTitle"}, "language": {"locale"}, "groups": {"groups"},
		},
		// Entra ID: oid is the user's id across the tenant's apps (sub is
		// per application); department and jobTitle need optional claims.
		PresetEntra: {
			"subject": {"oid", "sub"}, "first_name": {"given_name"}, "last_name": {"family_name"}, "email": {"email", "upn", "preferred_username"},
			"phone": {"phone_number"}, "username": {"preferred_username"}, "department": {"department"},
			"job_profile": {"jobTitle", "job_title"}, "language": {"xms_pl", "locale"}, "groups": {"groups", "roles"},
		},
		PresetOkta: {
			"subject": {"sub"}, "first_name": {"given_name"}, "last_name": {"family_name"}, "email": {"email"},
			"phone": {"phone_number"}, "username": {"preferred_username"}, "department": {"department"},
			"job_profile": {"title"}, "language": {"locale"}, "groups": {"groups"},
		},
		PresetGoogle: {
			"subject": {"sub"}, "first_name": {"given_name"}, "last_name": {"family_name"}, "email": {"email"},
			"language": {"locale"},
		},
	},
	"saml": {
		PresetGeneric: {
			"first_name": {"givenName", "urn:oid:2.5.4.42", "firstName", xmlsoap + "givenname"},
			"last_name":  {"sn", "urn:oid:2.5.4.4", "lastName", "surname", xmlsoap + "surname"},
			"email":      {"mail", "email", "urn:oid:0.9.2342.19200300.100.1.3", xmlsoap + "emailaddress", "NameID"},
			"phone":      {"telephoneNumber", "mobile", "urn:oid:2.5.4.20"},
			"username":   {"uid", "urn:oid:0.9.2342.19200300.100.1.1"},
			"department": {"department", "ou", "urn:oid:2.5.4.11"}, "job_profile": {"title", "urn:oid:2.5.4.12"},
			"language": {"preferredLanguage", "urn:oid:2.16.840.1.113730.3.1.39"}, "groups": {"groups", "memberOf", "urn:oid:1.3.6.1.4.1.5923.1.5.1.1"},
		},
		// Entra ID's SAML claims: the object id is the stable subject.
		PresetEntra: {
			"subject": {msIdent + "objectidentifier"}, "first_name": {xmlsoap + "givenname"}, "last_name": {xmlsoap + "surname"},
			"email": {xmlsoap + "emailaddress", xmlsoap + "name", "NameID"}, "username": {xmlsoap + "name"},
			"department": {xmlsoap + "department", "department"}, "job_profile": {"jobtitle", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/jobtitle"},
			"groups": {msft + "groups", msft + "role"},
		},
		PresetOkta: {
			"first_name": {"firstName", "givenName"}, "last_name": {"lastName", "sn"}, "email": {"email", "NameID"},
			"phone": {"mobilePhone", "phone"}, "username": {"login", "username"}, "department": {"department"},
			"job_profile": {"title"}, "language": {"preferredLanguage", "locale"}, "groups": {"groups"},
		},
		PresetGoogle: {
			"first_name": {"firstName", "first_name"}, "last_name": {"lastName", "last_name"}, "email": {"email", "NameID"},
			"department": {"department"}, "job_profile": {"title"}, "groups": {"groups"},
		},
	},
}

// mapping is a connection's effective mapping: candidate names per field.
type mapping struct {
	protocol string
	names    map[string][]string
}

// effective fills the connection's mapping from its preset.
func effective(c usher.Connection) mapping {
	preset := c.Mapping.Preset
	if _, ok := presets[c.Protocol][preset]; !ok {
		preset = PresetGeneric
	}
	m := mapping{protocol: c.Protocol, names: map[string][]string{}}
	for f, names := range presets[c.Protocol][preset] {
		m.names[f] = names
	}
	set := map[string]string{
		"subject": c.Mapping.Subject, "first_name": c.Mapping.FirstName, "last_name": c.Mapping.LastName, "email": c.Mapping.Email,
		"phone": c.Mapping.Phone, "username": c.Mapping.Username, "department": c.Mapping.Department, "job_profile": c.Mapping.JobProfile,
		"language": c.Mapping.Language, "groups": c.Mapping.Groups,
	}
	for f, name := range set {
		if name = strings.TrimSpace(name); name != "" {
			m.names[f] = []string{name}
		}
	}
	return m
}

// named is the mapping as the connection would say it: each field's first
// candidate (for messages naming the attribute an IdP must send).
func (m mapping) named() usher.AttributeMapping {
	first := func(f string) string {
		if n := m.names[f]; len(n) > 0 {
			return n[0]
		}
		return ""
	}
	return usher.AttributeMapping{Subject: first("subject"), FirstName: first("first_name"), LastName: first("last_name"),
		Email: first("email"), Phone: first("phone"), Username: first("username"), Department: first("department"),
		JobProfile: first("job_profile"), Language: first("language"), Groups: first("groups")}
}

// value is the first non-empty value of the field's first present name.
func (m mapping) value(got received, field string) string {
	for _, n := range m.names[field] {
		if n == "NameID" {
			if got.Subject != "" && strings.Contains(got.Subject, "@") {
				return got.Subject
			}
			continue
		}
		for _, v := range lookup(got.Claims, n) {
			if v = strings.TrimSpace(v); v != "" {
				return v
			}
		}
	}
	return ""
}

// lookup finds a claim by name, its case as sent first.
func lookup(claims map[string][]string, name string) []string {
	if v, ok := claims[name]; ok {
		return v
	}
	for k, v := range claims {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return nil
}

// user maps what the identity provider said to the person's fields.
func (m mapping) user(got received) (provision.SSOUser, error) {
	u := provision.SSOUser{Subject: got.Subject}
	if names := m.names["subject"]; len(names) > 0 {
		// A named subject is required: falling back to another kind of id
		// (an email NameID, say) would mix ids, and a reassigned address
		// would then sign in to the old account.
		v := m.value(got, "subject")
		if v == "" {
			return u, refused("the identity provider sent no subject ("+strings.Join(names, ", ")+")", nil)
		}
		u.Subject = v
	} else if got.Subject == "" {
		return u, refused("the identity provider sent no subject", nil)
	}
	u.FirstName = m.value(got, "first_name")
	u.LastName = m.value(got, "last_name")
	if u.FirstName == "" && u.LastName == "" {
		// Many providers send only the whole name ("name", or SAML's
		// displayName): its last word is taken as the last name.
		for _, n := range []string{"name", "displayName", xmlsoap + "name", "cn"} {
			if v := strings.Join(strings.Fields(strings.Join(lookup(got.Claims, n), " ")), " "); v != "" && !strings.Contains(v, "@") {
				if i := strings.LastIndexByte(v, ' '); i > 0 {
					u.FirstName, u.LastName = v[:i], v[i+1:]
				} else {
					u.FirstName = v
				}
				break
			}
		}
	}
	u.Email = m.value(got, "email")
	u.Phone = m.value(got, "phone")
	u.Username = m.value(got, "username")
	u.Department = m.value(got, "department")
	u.JobProfile = m.value(got, "job_profile")
	u.Language = language(m.value(got, "language"))
	for _, n := range m.names["groups"] {
		for _, g := range lookup(got.Claims, n) {
			if g = strings.TrimSpace(g); g != "" {
				u.Groups = append(u.Groups, g)
			}
		}
	}
	if len(u.Subject) > 500 {
		return u, refused("the subject is longer than 500 characters", nil)
	}
	return u, nil
}

// language keeps the primary tag of a locale ("de-CH" gives "de").
func language(v string) string {
	v = strings.ToLower(strings.TrimSpace(v))
	if i := strings.IndexAny(v, "-_"); i > 0 {
		v = v[:i]
	}
	if len(v) != 2 {
		return ""
	}
	return v
}
