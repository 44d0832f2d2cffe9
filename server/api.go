package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/provision"
	"github.com/usherhq/usher/store"
)

// maxBody bounds every JSON request body.
const maxBody = 1 << 20

// problem is an RFC 9457 problem details document, with usher's stable
// machine code and the field that is wrong.
type problem struct {
	Type   string         `json:"type"`
	Title  string         `json:"title"`
	Status int            `json:"status"`
	Detail string         `json:"detail,omitempty"`
	Code   string         `json:"code"`
	Field  string         `json:"field,omitempty"`
	Errors []problemEntry `json:"errors,omitempty"`
}

type problemEntry struct {
	Code   string `json:"code"`
	Field  string `json:"field,omitempty"`
	Detail string `json:"detail"`
}

var statusOf = map[usher.Code]int{
	usher.CodeInvalid:      http.StatusUnprocessableEntity,
	usher.CodeNotFound:     http.StatusNotFound,
	usher.CodeConflict:     http.StatusConflict,
	usher.CodeSeatsFull:    http.StatusConflict,
	usher.CodeUnauthorized: http.StatusUnauthorized,
	usher.CodeForbidden:    http.StatusForbidden,
	usher.CodeInternal:     http.StatusInternalServerError,
	codeMalformed:          http.StatusBadRequest,
	codeTooLarge:           http.StatusRequestEntityTooLarge,
	codeMediaType:          http.StatusUnsupportedMediaType,
}

// Codes for errors of the request itself, before it reaches the domain.
const (
	codeMalformed usher.Code = "malformed"
	codeTooLarge  usher.Code = "too_large"
	codeMediaType usher.Code = "unsupported_media_type"
)

// writeError answers err as problem details. Internal errors are logged
// and their text never shown.
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	var p problem
	var list usher.Errors
	var ue *usher.Error
	switch {
	case errors.As(err, &list) && len(list) > 1:
		p = problemFor(list[0])
		p.Detail = fmt.Sprintf("%d problems; the first: %s", len(list), list[0].Message)
		for _, e := range list {
			p.Errors = append(p.Errors, problemEntry{Code: string(e.Code), Field: e.Field, Detail: e.Message})
		}
	case errors.As(err, &ue) && ue.Code != usher.CodeInternal:
		p = problemFor(ue)
	default:
		// The route pattern, not the path: a path may carry a secret.
		log.ErrorContext(r.Context(), "internal error", "method", r.Method, "route", r.Pattern, "err", err)
		p = problem{Status: 500, Code: string(usher.CodeInternal), Title: "Internal error", Detail: "something went wrong on our side; it has been logged"}
	}
	if p.Status == 0 {
		p.Status = 500
	}
	p.Type = "https://usher.dev/problems/" + p.Code
	if p.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="usher"`)
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

func problemFor(e *usher.Error) problem {
	status := statusOf[e.Code]
	if status == 0 {
		status = 400
	}
	title := http.StatusText(status)
	if e.Code == usher.CodeSeatsFull {
		title = "No free seat"
	}
	detail := e.Message
	if e.Field != "" && detail != "" {
		detail = e.Field + ": " + detail
	}
	return problem{Status: status, Title: title, Code: string(e.Code), Field: e.Field, Detail: detail}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// decode reads one JSON object into v, strictly: no unknown fields, no
// trailing data, no more than maxBody bytes. Errors name the field.
func decode(r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return &usher.Error{Code: codeMediaType, Field: "Content-Type", Message: "send application/json"}
		}
	}
	body := http.MaxBytesReader(nil, r.Body, maxBody)
	return decodeJSON(body, v)
}

// decodeJSON is decode without the HTTP parts, for fuzzing.
func decodeJSON(body io.Reader, v any) error {
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return jsonError(err)
			}
		}
		return &usher.Error{Code: codeMalformed, Message: "the body holds more than one JSON value"}
	}
	return nil
}

func jsonError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return &usher.Error{Code: codeTooLarge, Message: fmt.Sprintf("the body is larger than %d bytes", maxBody)}
	case errors.As(err, &syn):
		return &usher.Error{Code: codeMalformed, Message: fmt.Sprintf("malformed JSON at byte %d: %s", syn.Offset, syn.Error())}
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			return &usher.Error{Code: codeMalformed, Message: fmt.Sprintf("the body must be a JSON %s, not %s", kindName(typ.Type), typ.Value)}
		}
		return &usher.Error{Code: usher.CodeInvalid, Field: field, Message: fmt.Sprintf("must be %s, not %s", kindName(typ.Type), typ.Value)}
	case errors.Is(err, io.EOF):
		return &usher.Error{Code: codeMalformed, Message: "the body is empty; send a JSON object"}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &usher.Error{Code: codeMalformed, Message: "the JSON ends too early"}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return &usher.Error{Code: usher.CodeInvalid, Field: name, Message: "is not a known field"}
	}
	return &usher.Error{Code: codeMalformed, Message: err.Error()}
}

func kindName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64, reflect.Int32, reflect.Float64:
		return "a number"
	case reflect.Slice:
		return "an array"
	case reflect.Struct, reflect.Map:
		if t.String() == "time.Time" {
			return "an RFC 3339 time"
		}
		return "an object"
	case reflect.Pointer:
		return kindName(t.Elem())
	}
	return t.String()
}

// query reads query parameters strictly: every name must be one the route
// declares, and values are checked as they are read.
type query struct {
	vals    map[string][]string
	allowed map[string]bool
	errs    usher.Errors
}

func newQuery(r *http.Request, names ...string) *query {
	q := &query{vals: r.URL.Query(), allowed: map[string]bool{"limit": true, "after": true}}
	for _, n := range names {
		q.allowed[n] = true
	}
	return q
}

func (q *query) str(name string) string {
	v := q.vals[name]
	if len(v) == 0 {
		return ""
	}
	if len(v) > 1 {
		q.errs = append(q.errs, usher.Invalid(name, "is given %d times", len(v)))
	}
	if len(v[0]) > 320 {
		q.errs = append(q.errs, usher.Invalid(name, "is too long"))
		return ""
	}
	return v[0]
}

func (q *query) oneOf(name string, options ...string) string {
	v := q.str(name)
	if v != "" && !contains(options, v) {
		q.errs = append(q.errs, usher.Invalid(name, "must be one of %s", strings.Join(options, ", ")))
	}
	return v
}

func (q *query) boolean(name string) bool {
	switch q.str(name) {
	case "", "false":
		return false
	case "true":
		return true
	}
	q.errs = append(q.errs, usher.Invalid(name, "must be true or false"))
	return false
}

func (q *query) list() store.ListOptions {
	o := store.ListOptions{After: q.str("after")}
	if s := q.str("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 500 {
			q.errs = append(q.errs, usher.Invalid("limit", "must be a whole number from 1 to 500"))
		}
		o.Limit = n
	}
	return o
}

// err reports unknown parameters and bad values, all at once.
func (q *query) err() error {
	for name := range q.vals {
		if !q.allowed[name] {
			q.errs = append(q.errs, usher.Invalid(name, "is not a parameter of this list"))
		}
	}
	return q.errs.Err()
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// call is what authentication established about a request.
type call struct {
	actor  provision.Actor
	token  usher.APIToken
	tenant usher.Tenant // set on tenant routes
}
