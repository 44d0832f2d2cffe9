package scim

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/usherhq/usher"
)

// SCIM error types (RFC 7644 §3.12).
const (
	TypeInvalidFilter = "invalidFilter"
	TypeTooMany       = "tooMany"
	TypeUniqueness    = "uniqueness"
	TypeMutability    = "mutability"
	TypeInvalidSyntax = "invalidSyntax"
	TypeInvalidPath   = "invalidPath"
	TypeNoTarget      = "noTarget"
	TypeInvalidValue  = "invalidValue"
)

// Error is a SCIM error: its HTTP status, its scimType and a detail that
// names the attribute and says what is wrong.
type Error struct {
	Status int
	Type   string
	Detail string
}

func (e *Error) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Type, e.Detail) }

func errorf(status int, typ, format string, args ...any) *Error {
	return &Error{Status: status, Type: typ, Detail: fmt.Sprintf(format, args...)}
}

func invalidValue(format string, args ...any) *Error {
	return errorf(http.StatusBadRequest, TypeInvalidValue, format, args...)
}

func invalidSyntax(format string, args ...any) *Error {
	return errorf(http.StatusBadRequest, TypeInvalidSyntax, format, args...)
}

func notFound(format string, args ...any) *Error {
	return errorf(http.StatusNotFound, "", format, args...)
}

// fields names usher's fields in SCIM's words, for errors of provision.
type fields map[string]string

// userFields are the SCIM attributes usher's fields come from by default.
var userFields = fields{
	"first_name": "name.givenName", "last_name": "name.familyName", "username": "userName", "email": "userName",
	"phone": `phoneNumbers[type eq "mobile"].value`, "external_id": "externalId", "language": "preferredLanguage",
	"department_id": URNEnterprise + ":department", "job_profile_id": "title", "role_id": URNUsher + ":role",
	"plan_id": URNUsher + ":plan", "state": "active", "person_id": "userName", "identifier": "userName",
}

// translate makes a SCIM error of an error of provision or the store,
// naming SCIM's attributes; internal errors are returned as they are.
func (fs fields) translate(err error) error {
	var se *Error
	if errors.As(err, &se) {
		return se
	}
	var list usher.Errors
	var ue *usher.Error
	switch {
	case errors.As(err, &list) && len(list) > 1:
		first := fs.translate(list[0]).(*Error)
		var parts []string
		for _, e := range list {
			parts = append(parts, fs.say(e))
		}
		first.Detail = strings.Join(parts, "; ")
		return first
	case errors.As(err, &ue):
		detail := fs.say(ue)
		switch ue.Code {
		case usher.CodeInvalid:
			return &Error{Status: http.StatusBadRequest, Type: TypeInvalidValue, Detail: detail}
		case usher.CodeNotFound:
			if ue.Field == "" || ue.Field == "account_id" || ue.Field == "id" || ue.Field == "tenant" {
				return &Error{Status: http.StatusNotFound, Detail: detail}
			}
			// A reference in the input to what the tenant does not have.
			return &Error{Status: http.StatusBadRequest, Type: TypeInvalidValue, Detail: detail}
		case usher.CodeConflict:
			typ := ""
			switch ue.Field {
			case "email", "username", "phone", "name", "key", "person_id":
				typ = TypeUniqueness
			}
			return &Error{Status: http.StatusConflict, Type: typ, Detail: detail}
		case usher.CodeSeatsFull:
			return &Error{Status: http.StatusConflict, Detail: detail}
		case usher.CodeUnauthorized:
			return &Error{Status: http.StatusUnauthorized, Detail: detail}
		case usher.CodeForbidden:
			return &Error{Status: http.StatusForbidden, Detail: detail}
		}
	}
	return err
}

// say writes one problem with its field in SCIM's words.
func (fs fields) say(e *usher.Error) string {
	name := e.Field
	if n, ok := fs[name]; ok {
		name = n
	}
	switch {
	case name != "" && e.Message != "":
		return name + ": " + e.Message
	case e.Message != "":
		return e.Message
	}
	return string(e.Code)
}

// writeError answers err as a SCIM error body; what is not a SCIM error or
// a usher error is logged and answered 500 without its text.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, fs fields, err error) {
	var se *Error
	if !errors.As(fs.translate(err), &se) {
		h.log.ErrorContext(r.Context(), "internal error", "method", r.Method, "route", "scim", "err", err)
		se = &Error{Status: http.StatusInternalServerError, Detail: "something went wrong on our side; it has been logged"}
	}
	body := map[string]any{"schemas": []string{URNError}, "status": fmt.Sprint(se.Status), "detail": se.Detail}
	if se.Type != "" {
		body["scimType"] = se.Type
	}
	if se.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="usher scim"`)
	}
	writeJSON(w, se.Status, body)
}

// writeJSON answers v as application/scim+json, never cached.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/scim+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
