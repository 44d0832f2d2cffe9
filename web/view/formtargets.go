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

type framesKey struct{}

// AllowFrames lets the page written for r frame origins (each
// scheme://host[:port]): the signed-out page loads the products'
// front-channel logout URIs in hidden frames. Only that page gets a
// frame-src; every other page frames nothing (default-src 'none').
func AllowFrames(r *http.Request, origins []string) *http.Request {
	var ok []string
	for _, o := range origins {
		if o != "" && !strings.ContainsAny(o, " ;,'\\\"\r\n*") {
			ok = append(ok, o)
		}
	}
	if len(ok) == 0 {
		return r
	}
	return r.WithContext(context.WithValue(r.Context(), framesKey{}, strings.Join(ok, " ")))
}

func frameSources(r *http.Request) string {
	if o, ok := r.Context().Value(framesKey{}).(string); ok {
		return "; frame-src " + o
	}
	return ""
}
