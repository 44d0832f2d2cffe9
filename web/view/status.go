package view

import (
	"net/http"

	"github.com/usherhq/usher"
)

// Codes of errors in the request itself, before it reaches the domain.
const (
	CodeMalformed usher.Code = "malformed"
	CodeTooLarge  usher.Code = "too_large"
	CodeMediaType usher.Code = "unsupported_media_type"
)

// statusOf is the one table from error code to HTTP status, for the API,
// the pages and the consoles alike.
var statusOf = map[usher.Code]int{
	usher.CodeInvalid:      http.StatusUnprocessableEntity,
	usher.CodeNotFound:     http.StatusNotFound,
	usher.CodeConflict:     http.StatusConflict,
	usher.CodeSeatsFull:    http.StatusConflict,
	usher.CodeUnauthorized: http.StatusUnauthorized,
	usher.CodeForbidden:    http.StatusForbidden,
	usher.CodeInternal:     http.StatusInternalServerError,
	CodeMalformed:          http.StatusBadRequest,
	CodeTooLarge:           http.StatusRequestEntityTooLarge,
	CodeMediaType:          http.StatusUnsupportedMediaType,
}

// Status is the HTTP status of an error code; a code without one is 400.
func Status(c usher.Code) int {
	if s := statusOf[c]; s != 0 {
		return s
	}
	return http.StatusBadRequest
}
