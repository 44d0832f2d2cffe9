package view

import (
	"context"
	"net/http"
	"strings"
)

type formTargetsKey struct{}

// AllowFormTarget lets the forms of the page written for r end, through
// redirects, at origin (scheme://host[:port]) as well as on usher's own
// pages: a sign-in for a product ends at the product's redirect URI, and
// browsers hold the redirects of a form's submission to the page's
// form-action. Only that one origin is added, and only to that page.
func AllowFormTarget(r *http.Request, origin string) *http.Request {
	if origin == "" || strings.ContainsAny(origin, " ;,'\\\"\r\n") {
		return r
	}
	return r.WithContext(context.WithValue(r.Context(), formTargetsKey{}, origin))
}

func formTargets(r *http.Request) string {
	if o, ok := r.Context().Value(formTargetsKey{}).(string); ok {
		return " " + o
	}
	return ""
}
