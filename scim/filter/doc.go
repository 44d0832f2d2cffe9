// Package filter is SCIM's filter and attribute-path language (RFC 7644
// §3.4.2.2 and §3.5.2): it parses filters, PATCH paths and attribute paths,
// and matches filters against a resource as JSON decodes it.
//
// It is apart from package scim so that the language, the part of SCIM a
// client's text reaches first, can be read, tested and fuzzed on its own:
// it knows the schema URNs a path may start with, and nothing of HTTP, the
// store or usher's attributes.
package filter
