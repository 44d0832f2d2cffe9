package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/store"
	"github.com/usherhq/usher/web/view"
)

// maxBody bounds every JSON request body.
const maxBody = 1 << 20

// problem is an RFC 9457 problem details document, with usher's stable
// machine code and the field that is wrong.
type Problem struct {
	Type   string         `json:"type"`
	Title  string         `json:"title"`
	Status int            `json:"status"`
	Detail string         `json:"detail,omitempty"`
	Code   string         `json:"code"`
	Field  string         `json:"field,omitempty"`
	Errors []ProblemEntry `json:"errors,omitempty"`
}

type ProblemEntry struct {
	Code   string `json:"code"`
	Field  string `json:"field,omitempty"`
	Detail string `json:"detail"`
}

// Error answers err as problem details. Internal errors are logged
// and their text never shown.
func (h *Handler) Error(w http.ResponseWriter, r *http.Request, err error) {
	var p Problem
	var list usher.Errors
	var ue *usher.Error
	switch {
	case errors.As(err, &list) && len(list) > 1:
		p = problemFor(list[0])
		p.Detail = fmt.Sprintf("%d problems; the first: %s", len(list), list[0].Message)
		for _, e := range list {
			p.Errors = append(p.Errors, ProblemEntry{Code: string(e.Code), Field: e.Field, Detail: e.Message})
		}
	case errors.As(err, &ue) && ue.Code != usher.CodeInternal:
		p = problemFor(ue)
	default:
		// The route pattern, not the path: a path may carry a secret.
		h.log.ErrorContext(r.Context(), "internal error", "method", r.Method, "route", r.Pattern, "err", err)
		p = Problem{Status: 500, Code: string(usher.CodeInternal), Title: "Internal error", Detail: "something went wrong on our side; it has been logged"}
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

func problemFor(e *usher.Error) Problem {
	status := view.Status(e.Code)
	title := http.StatusText(status)
	if e.Code == usher.CodeSeatsFull {
		title = "No free seat"
	}
	detail := e.Message
	if e.Field != "" && detail != "" {
		detail = e.Field + ": " + detail
	}
	return Problem{Status: status, Title: title, Code: string(e.Code), Field: e.Field, Detail: detail}
}

// WriteJSON answers v as JSON, never cached.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// decode reads one JSON object into v, strictly: no unknown fields, no
// trailing data, no more than maxBody bytes. Errors name the field.
func decode(r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, params, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return &usher.Error{Code: view.CodeMediaType, Field: "Content-Type", Message: "send application/json"}
		}
		// JSON is UTF-8 (RFC 8259); a body said to be in another charset
		// would be read as something it is not.
		if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
			return &usher.Error{Code: view.CodeMediaType, Field: "Content-Type", Message: fmt.Sprintf("charset %q: send UTF-8", cs)}
		}
	}
	body := http.MaxBytesReader(nil, r.Body, maxBody)
	readOnly, _ := r.Context().Value(readOnlyKey{}).([]string)
	return decodeJSONExcept(body, v, readOnly)
}

// readOnlyKey carries an Op's ReadOnly members to decode.
type readOnlyKey struct{}

// decodeJSON is decode without the HTTP parts, for fuzzing.
func decodeJSON(body io.Reader, v any) error { return decodeJSONExcept(body, v, nil) }

// decodeJSONExcept is decodeJSON refusing the top-level members readOnly.
func decodeJSONExcept(body io.Reader, v any, readOnly []string) error {
	raw, err := io.ReadAll(body)
	if err != nil {
		return jsonError(err, nil)
	}
	// The walk comes first: it names an unknown field with its path, which
	// encoding/json does not.
	if err := checkJSON(raw, reflect.TypeOf(v), readOnly); err != nil && err != errStop {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err, reflect.TypeOf(v))
	}
	if _, err := dec.Token(); err != io.EOF {
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return jsonError(err, nil)
			}
		}
		return &usher.Error{Code: view.CodeMalformed, Message: "the body holds more than one JSON value"}
	}
	return nil
}

func jsonError(err error, t reflect.Type) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return &usher.Error{Code: view.CodeTooLarge, Message: fmt.Sprintf("the body is larger than %d bytes", maxBody)}
	case errors.As(err, &syn):
		return &usher.Error{Code: view.CodeMalformed, Message: fmt.Sprintf("malformed JSON at byte %d: %s", syn.Offset, syn.Error())}
	case errors.As(err, &typ):
		field := jsonPath(t, typ.Field)
		if field == "" {
			return &usher.Error{Code: view.CodeMalformed, Message: fmt.Sprintf("the body must be a JSON %s, not %s", kindName(typ.Type), typ.Value)}
		}
		return &usher.Error{Code: usher.CodeInvalid, Field: field, Message: fmt.Sprintf("must be %s, not %s", kindName(typ.Type), typ.Value)}
	case errors.Is(err, io.EOF):
		return &usher.Error{Code: view.CodeMalformed, Message: "the body is empty; send a JSON object"}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &usher.Error{Code: view.CodeMalformed, Message: "the JSON ends too early"}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return &usher.Error{Code: usher.CodeInvalid, Field: name, Message: "is not a known field"}
	}
	return &usher.Error{Code: view.CodeMalformed, Message: err.Error()}
}

// jsonPath drops the Go names of embedded structs that encoding/json puts
// into a field path ("PersonInput.first_name" is "first_name" on the wire).
func jsonPath(t reflect.Type, field string) string {
	var out []string
	for _, p := range strings.Split(field, ".") {
		for t != nil && (t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map) {
			t = t.Elem()
		}
		if t != nil && t.Kind() == reflect.Struct {
			if f, ok := t.FieldByName(p); ok && f.Anonymous && f.Tag.Get("json") == "" {
				t = f.Type
				continue
			}
			if ft, ok := jsonFields(t)[p]; ok {
				t = ft
			} else {
				t = nil
			}
		} else {
			t = nil
		}
		out = append(out, p)
	}
	return strings.Join(out, ".")
}

// checkJSON walks a body along the Go type it is decoded into and finds
// what encoding/json lets by: a body that is no object (null reads as
// {}), a name in another case or given twice, text that is not UTF-8 or
// a lone surrogate escape (both become U+FFFD), a NUL in a string (which
// PostgreSQL cannot store), and members the server sets (readOnly). It
// names the member, with its path. It returns errStop for JSON it cannot
// read: the decoder then says why.
func checkJSON(raw []byte, t reflect.Type, readOnly []string) error {
	w := &walker{dec: json.NewDecoder(bytes.NewReader(raw)), readOnly: readOnly, bad: -1}
	w.dec.UseNumber()
	w.bad, w.badWhat = unreadableAt(raw)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if tok, err := w.dec.Token(); err != nil {
		return errStop
	} else if tok != json.Delim('{') {
		// encoding/json takes null as "nothing to change".
		return &usher.Error{Code: view.CodeMalformed, Message: fmt.Sprintf("the body must be a JSON object, not %s", jsonKind(tok))}
	}
	if err := w.object(t, ""); err != nil {
		return err
	}
	if w.bad >= 0 {
		return &usher.Error{Code: view.CodeMalformed, Message: fmt.Sprintf("the body %s (at byte %d)", w.badWhat, w.bad)}
	}
	return nil
}

type walker struct {
	dec      *json.Decoder
	readOnly []string // top-level members the server sets
	// bad is the offset of the first bytes that are not UTF-8 or of a
	// lone surrogate escape, which encoding/json would silently replace
	// with U+FFFD; -1 for none.
	bad     int64
	badWhat string
}

// unreadableAt finds the first place in a JSON text that is no character:
// bytes that are not UTF-8, or a \u escape of half a UTF-16 surrogate
// pair. It returns -1 when there is none.
func unreadableAt(raw []byte) (int64, string) {
	inString := false
	for i := 0; i < len(raw); {
		c := raw[i]
		if c >= utf8.RuneSelf {
			r, n := utf8.DecodeRune(raw[i:])
			if r == utf8.RuneError && n == 1 {
				return int64(i), "is not valid UTF-8"
			}
			i += n
			continue
		}
		switch {
		case c == '"':
			inString = !inString
		case c == '\\' && inString && i+1 < len(raw):
			if raw[i+1] == 'u' {
				if hi, ok := hex4(raw, i+2); ok && hi >= 0xd800 && hi <= 0xdfff {
					lo, ok := hex4(raw, i+8)
					if hi > 0xdbff || i+7 >= len(raw) || raw[i+6] != '\\' || raw[i+7] != 'u' || !ok || lo < 0xdc00 || lo > 0xdfff {
						return int64(i), "holds half a UTF-16 surrogate pair (a lone \\uD800 to \\uDFFF), which is no character"
					}
					i += 12
					continue
				}
			}
			i += 2
			continue
		}
		i++
	}
	return -1, ""
}

// hex4 reads four hex digits at raw[i:].
func hex4(raw []byte, i int) (rune, bool) {
	if i+4 > len(raw) {
		return 0, false
	}
	n, err := strconv.ParseUint(string(raw[i:i+4]), 16, 32)
	return rune(n), err == nil
}

func jsonKind(tok json.Token) string {
	switch tok.(type) {
	case nil:
		return "null"
	case bool:
		return "true or false"
	case json.Number:
		return "a number"
	case string:
		return "a string"
	case json.Delim:
		return "an array"
	}
	return "that"
}

// errStop ends a walk over JSON the decoder will refuse anyway.
var errStop = errors.New("stop")

func (w *walker) token() (json.Token, error) {
	tok, err := w.dec.Token()
	if err != nil {
		return nil, errStop
	}
	return tok, nil
}

func (w *walker) value(t reflect.Type, path string) error {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	from := w.dec.InputOffset()
	tok, err := w.token()
	if err != nil {
		return err
	}
	switch v := tok.(type) {
	case string:
		if err := w.checkBad(from, path); err != nil {
			return err
		}
		return checkString(v, path)
	case json.Delim:
		if v == '[' {
			return w.array(t, path)
		}
		if v == '{' {
			return w.object(t, path)
		}
	}
	return nil
}

func (w *walker) array(t reflect.Type, path string) error {
	var elem reflect.Type
	if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
		elem = t.Elem()
	}
	for i := 0; w.dec.More(); i++ {
		if err := w.value(elem, fmt.Sprintf("%s[%d]", path, i)); err != nil {
			return err
		}
	}
	_, err := w.token()
	return err
}

func (w *walker) object(t reflect.Type, path string) error {
	var fields map[string]reflect.Type
	var elem reflect.Type
	if t != nil && t.Kind() == reflect.Struct {
		fields = jsonFields(t)
	} else if t != nil && t.Kind() == reflect.Map {
		elem = t.Elem()
	}
	seen := map[string]bool{}
	for w.dec.More() {
		from := w.dec.InputOffset()
		tok, err := w.token()
		if err != nil {
			return err
		}
		key, _ := tok.(string)
		at := key
		if path != "" {
			at = path + "." + key
		}
		// A name no one can read is reported on the object that holds it.
		if w.checkBad(from, at) != nil || checkString(key, at) != nil {
			if path == "" {
				return &usher.Error{Code: view.CodeMalformed, Message: "a member's name holds a NUL character or bytes that are not UTF-8"}
			}
			return &usher.Error{Code: usher.CodeInvalid, Field: path, Message: "a member's name holds a NUL character or bytes that are not UTF-8"}
		}
		if seen[key] {
			// encoding/json would keep the last and drop the first unseen.
			return &usher.Error{Code: usher.CodeInvalid, Field: at, Message: "is given twice"}
		}
		seen[key] = true
		if path == "" && contains(w.readOnly, key) {
			return &usher.Error{Code: usher.CodeInvalid, Field: key, Message: "is set by the server; leave it out"}
		}
		ft := elem
		if fields != nil {
			var ok bool
			if ft, ok = fields[key]; !ok {
				// Names are exact: encoding/json would take FIRST_NAME for first_name.
				msg := "is not a known field"
				for name := range fields {
					if strings.EqualFold(name, key) {
						msg += fmt.Sprintf(" (names are case-sensitive: %s)", name)
					}
				}
				return &usher.Error{Code: usher.CodeInvalid, Field: at, Message: msg}
			}
		}
		if err := w.value(ft, at); err != nil {
			return err
		}
	}
	_, err := w.token()
	return err
}

// checkBad names the field of a string token read from offset from on,
// when it holds the body's first unreadable bytes.
func (w *walker) checkBad(from int64, field string) error {
	if w.bad >= from && w.bad < w.dec.InputOffset() {
		return &usher.Error{Code: usher.CodeInvalid, Field: field, Message: w.badWhat}
	}
	return nil
}

// checkString refuses a string no database can store as text.
func checkString(s, field string) error {
	if strings.ContainsRune(s, 0) {
		return &usher.Error{Code: usher.CodeInvalid, Field: field, Message: "holds a NUL character"}
	}
	return nil
}

// jsonFields maps a struct's JSON member names to their types, through
// embedded structs. It is made once per type (building it per request was
// a twentieth of a creation's allocations); the map is shared, read only.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	if m, ok := fieldsOf.Load(t); ok {
		return m.(map[string]reflect.Type)
	}
	m, _ := fieldsOf.LoadOrStore(t, buildJSONFields(t))
	return m.(map[string]reflect.Type)
}

var fieldsOf sync.Map // reflect.Type → map[string]reflect.Type

func buildJSONFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		ft := f.Type
		if f.Anonymous && name == "" {
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for k, v := range jsonFields(ft) {
					out[k] = v
				}
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = ft
	}
	return out
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
	allowed []string // a handful: a slice is cheaper to make than a map
	errs    usher.Errors
}

func newQuery(r *http.Request, names ...string) *query {
	return readQuery(r, append([]string{"limit", "after"}, names...)...)
}

// unpagedQuery reads the query of a list that is not paged: limit and
// after are refused like any name the route does not declare.
func unpagedQuery(r *http.Request, names ...string) *query { return readQuery(r, names...) }

func readQuery(r *http.Request, names ...string) *query {
	q := &query{vals: map[string][]string{}, allowed: names}
	// Parsed by hand: url.ParseQuery drops the pairs it cannot decode,
	// and a parameter silently ignored is a parameter silently wrong.
	if strings.Contains(r.URL.RawQuery, ";") {
		// Servers and proxies split on ";" differently; refuse rather than guess.
		q.errs = append(q.errs, usher.Invalid("query", "separate parameters with &, not ;"))
		return q
	}
	for _, pair := range strings.Split(r.URL.RawQuery, "&") {
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		key, err1 := url.QueryUnescape(k)
		val, err2 := url.QueryUnescape(v)
		if err1 != nil {
			q.errs = append(q.errs, usher.Invalid(k, "is not a URL-encoded parameter name"))
			continue
		}
		if err2 != nil {
			q.errs = append(q.errs, usher.Invalid(key, "is not URL-encoded correctly"))
			continue
		}
		q.vals[key] = append(q.vals[key], val)
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

// order reads ?order=, newest (the default) or oldest, into o: logs and
// outboxes are read from the end, as the console shows them.
func (q *query) order(o *store.ListOptions) {
	o.Newest = q.oneOf("order", Newest, Oldest) != Oldest
}

// The values of ?order=.
const (
	Newest = "newest"
	Oldest = "oldest"
)

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
	if o.After != "" && !isID(o.After) {
		// A cursor that is no id would give an empty page, as if the list ended.
		q.errs = append(q.errs, usher.Invalid("after", "is not a cursor: give the next of the previous page"))
	}
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
	names := make([]string, 0, len(q.vals))
	for name := range q.vals {
		names = append(names, name)
	}
	sort.Strings(names) // the same problem first on every call
	for _, name := range names {
		if !slices.Contains(q.allowed, name) {
			q.errs = append(q.errs, usher.Invalid(name, "is not a parameter of this list"))
		}
	}
	return q.errs.Err()
}

// isID reports whether s is an id as the store makes them (a UUID in its
// canonical form), or the bootstrap operator token's fixed one.
func isID(s string) bool {
	if s == "bootstrap-operator" {
		return true
	}
	u, err := uuid.Parse(s)
	return err == nil && u.String() == s
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
