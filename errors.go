// Package usher holds the domain of the usher provisioning server: the
// directory's types, the error codes every layer speaks, and the rules that
// do not depend on storage or transport.
package usher

import (
	"errors"
	"fmt"
)

// Code classifies an error. The HTTP layer maps each code to one status in
// one place; only CodeInternal errors are logged and their text is never shown.
type Code string

const (
	CodeInvalid      Code = "invalid"         // bad input: names the field
	CodeNotFound     Code = "not_found"       // includes another tenant's ids
	CodeConflict     Code = "conflict"        // uniqueness or state conflict
	CodeSeatsFull    Code = "seats_exhausted" // a plan has no free seat
	CodeUnauthorized Code = "unauthorized"    // no or bad credentials
	CodeForbidden    Code = "forbidden"       // credentials lack the right
	CodeInternal     Code = "internal"
)

// Error is the one error type that crosses package boundaries with a code.
// Field names the input that is wrong, in the caller's terms ("email",
// "groups[2]", "row 17, column email"), when there is one.
type Error struct {
	Code    Code
	Field   string
	Message string
	Err     error // wrapped cause, never shown to clients
}

func (e *Error) Error() string {
	s := string(e.Code)
	if e.Field != "" {
		s += " (" + e.Field + ")"
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// Is lets errors.Is(err, usher.ErrNotFound) match any error with that code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	if !ok {
		return false
	}
	return t.Field == "" && t.Message == "" && t.Err == nil && t.Code == e.Code
}

// Sentinels for errors.Is; construct detailed errors with the helpers below.
var (
	ErrNotFound     = &Error{Code: CodeNotFound}
	ErrConflict     = &Error{Code: CodeConflict}
	ErrInvalid      = &Error{Code: CodeInvalid}
	ErrSeatsFull    = &Error{Code: CodeSeatsFull}
	ErrUnauthorized = &Error{Code: CodeUnauthorized}
	ErrForbidden    = &Error{Code: CodeForbidden}
)

// Invalid reports bad input in field.
func Invalid(field, format string, args ...any) *Error {
	return &Error{Code: CodeInvalid, Field: field, Message: fmt.Sprintf(format, args...)}
}

// NotFound reports that the object of kind named by what does not exist in the tenant.
func NotFound(field, what string) *Error {
	return &Error{Code: CodeNotFound, Field: field, Message: what + " not found"}
}

// Unknown refuses a reference in an input to something the tenant does not
// have, or has retired: the input is wrong (422), not the address (404),
// so it names the field.
func Unknown(field, what string) *Error {
	return &Error{Code: CodeInvalid, Field: field, Message: "is not an active " + what + " of this tenant"}
}

// Conflict reports a uniqueness or state conflict on field.
func Conflict(field, format string, args ...any) *Error {
	return &Error{Code: CodeConflict, Field: field, Message: fmt.Sprintf(format, args...)}
}

// Forbidden reports that the caller may not do this.
func Forbidden(format string, args ...any) *Error {
	return &Error{Code: CodeForbidden, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err, or CodeInternal for errors without one.
func ErrorCode(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// Errors collects several field problems from one validation pass.
type Errors []*Error

func (es Errors) Error() string {
	if len(es) == 1 {
		return es[0].Error()
	}
	return fmt.Sprintf("%s and %d more", es[0].Error(), len(es)-1)
}

// Err returns nil when empty, the single error, or the list.
func (es Errors) Err() error {
	switch len(es) {
	case 0:
		return nil
	case 1:
		return es[0]
	}
	return es
}

// As exposes the first problem, so errors.As(err, **Error) works on a list.
func (es Errors) As(target any) bool {
	if p, ok := target.(**Error); ok && len(es) > 0 {
		*p = es[0]
		return true
	}
	return false
}
