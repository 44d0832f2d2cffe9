package web

import (
	"errors"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/web/view"
)

// maxForm bounds a form body, as the API bounds a JSON one.
const maxForm = 1 << 20

// unreadable finds what no handler can take in a request: a NUL byte or
// text that is not UTF-8 in the path, the query, a form or the User-Agent
// (stored with a session). PostgreSQL refuses both in any text it is sent,
// so they are stopped here, once, for every route and both databases. It
// returns nil when the request may go on; the form is parsed then.
func unreadable(w http.ResponseWriter, r *http.Request) *usher.Error {
	bad := func(field, what string) *usher.Error {
		return &usher.Error{Code: view.CodeMalformed, Field: field, Message: what}
	}
	if p := r.URL.Path; !utf8.ValidString(p) || strings.ContainsFunc(p, isControl) {
		return bad("path", "the path holds a control character or bytes that are not UTF-8")
	}
	for _, pair := range strings.FieldsFunc(r.URL.RawQuery, func(c rune) bool { return c == '&' || c == ';' }) {
		k, v, _ := strings.Cut(pair, "=")
		key, err1 := url.QueryUnescape(k)
		val, err2 := url.QueryUnescape(v)
		if err1 != nil || err2 != nil {
			continue // the API names a bad escape; the pages ignore what they do not read
		}
		if !text(key) {
			return bad("query", "a parameter name holds a NUL byte or bytes that are not UTF-8")
		}
		if !text(val) {
			return bad(key, "holds a NUL byte or bytes that are not UTF-8")
		}
	}
	if ua := r.Header.Get("User-Agent"); !text(ua) {
		return bad("User-Agent", "holds bytes that are not UTF-8")
	}
	if r.Body == nil || r.Method == http.MethodGet || r.Method == http.MethodHead {
		return nil
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
		return nil // JSON bodies are checked where the API decodes them
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return &usher.Error{Code: view.CodeTooLarge, Message: "the form is larger than 1 MiB"}
		}
		return bad("body", "the form is not URL-encoded correctly")
	}
	for k, vs := range r.PostForm {
		if !text(k) {
			return bad("body", "a form field's name holds a NUL byte or bytes that are not UTF-8")
		}
		for _, v := range vs {
			if !text(v) {
				return bad(k, "holds a NUL byte or bytes that are not UTF-8")
			}
		}
	}
	return nil
}

// text reports whether s can be stored as text by both databases.
func text(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// refuseUnreadable answers a request unreadable refused: problem details
// under /api/, a short plain page elsewhere.
func (s *Server) refuseUnreadable(w http.ResponseWriter, r *http.Request, e *usher.Error) {
	if strings.HasPrefix(r.URL.Path, "/api/") {
		s.jsonAPI.Error(w, r, e)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	msg := "This address or form holds characters that cannot be read."
	if e.Code == view.CodeTooLarge {
		msg = "This form is too large."
	}
	http.Error(w, msg, view.Status(e.Code))
}
