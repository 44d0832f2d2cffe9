package scim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/usherhq/usher/scim/filter"
)

// maxBody bounds a request body; maxData what usher keeps of one user.
const (
	maxBody = 1 << 20
	maxData = 64 << 10
)

// readBody reads a request's JSON object: application/scim+json or
// application/json, at most maxBody bytes, one value.
func readBody(r *http.Request) (map[string]any, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && mt != "application/scim+json") {
			return nil, errorf(http.StatusUnsupportedMediaType, TypeInvalidSyntax, "send application/scim+json or application/json, not %q", ct)
		}
	}
	raw, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxBody))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, errorf(http.StatusRequestEntityTooLarge, TypeInvalidSyntax, "the body is larger than %d bytes", maxBody)
	} else if err != nil {
		return nil, invalidSyntax("the body could not be read: %v", err)
	}
	return decodeObject(raw)
}

// readResource reads a request's resource as usher reads it (canonical).
func readResource(r *http.Request, ra resourceAttrs) (map[string]any, error) {
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	return canonical(ra, body)
}

// readPatch reads a request's PatchOp message.
func readPatch(r *http.Request) ([]PatchOp, error) {
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	return DecodePatch(body)
}

// decodeObject decodes one JSON object, its numbers as json.Number.
func decodeObject(raw []byte) (map[string]any, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, invalidSyntax("the body is empty; send a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			return nil, invalidSyntax("the body is not JSON: %v (at byte %d)", syn, syn.Offset)
		}
		return nil, invalidSyntax("the body is not JSON: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, invalidSyntax("the body holds more than one JSON value")
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, invalidSyntax("the body must be a JSON object")
	}
	return m, nil
}

// canonical is what a client sent, as usher reads it: attribute names as
// the schema writes them (clients write them in any case), values of the
// schema's types ("True" is true; Entra's manager id alone is {"value": …}),
// nulls and empty values left out, attributes usher does not know ignored.
// Read-only attributes are left out too: a client cannot set them.
func canonical(ra resourceAttrs, in map[string]any) (map[string]any, error) {
	out := map[string]any{}
	for k, v := range in {
		if strings.EqualFold(k, "schemas") {
			continue
		}
		p, err := filter.ParsePath(k)
		if err != nil && !(len(k) > 4 && strings.EqualFold(k[:4], "urn:")) {
			continue // not an attribute name: ignored like an unknown one
		}
		if urn := ra.extensionURN(k); urn != "" {
			m, ok := v.(map[string]any)
			if v == nil {
				continue
			}
			if !ok {
				return nil, invalidValue("%s: must be an object of the extension's attributes", urn)
			}
			ext, err := canonObject(ra.extensions[urn], m, urn+":")
			if err != nil {
				return nil, err
			}
			if len(ext) > 0 {
				merge(out, urn, ext)
			}
			continue
		}
		if err != nil {
			continue
		}
		if p.Sub != "" {
			continue // dotted names belong in PATCH values
		}
		a, urn := ra.resolve(p)
		if a == nil || a.readOnly() {
			continue
		}
		val, err := canonValue(a, v, prefix(urn)+a.Name)
		if err != nil {
			return nil, err
		}
		if val == nil {
			continue
		}
		if urn != "" {
			merge(out, urn, map[string]any{a.Name: val})
		} else {
			out[a.Name] = val
		}
	}
	return out, nil
}

func prefix(urn string) string {
	if urn == "" {
		return ""
	}
	return urn + ":"
}

// merge adds m's attributes to the extension urn of out.
func merge(out map[string]any, urn string, m map[string]any) {
	ext, _ := out[urn].(map[string]any)
	if ext == nil {
		ext = map[string]any{}
		out[urn] = ext
	}
	for k, v := range m {
		ext[k] = v
	}
}

func canonObject(list []*attr, in map[string]any, path string) (map[string]any, error) {
	out := map[string]any{}
	for k, v := range in {
		a := find(list, k)
		if a == nil && strings.EqualFold(k, "displayName") && find(list, "displayName") == nil {
			// Microsoft's own client labels a member with displayName.
			a = find(list, "display")
		}
		if a == nil || a.readOnly() {
			continue
		}
		val, err := canonValue(a, v, path+a.Name)
		if err != nil {
			return nil, err
		}
		if val != nil {
			out[a.Name] = val
		}
	}
	return out, nil
}

// canonValue is one attribute's value; nil means unassigned.
func canonValue(a *attr, v any, path string) (any, error) {
	if v == nil {
		return nil, nil
	}
	if !a.Multi {
		if list, ok := v.([]any); ok {
			if len(list) != 1 {
				return nil, invalidValue("%s: takes one value, not a list of %d", path, len(list))
			}
			v = list[0]
		}
		return canonSingle(a, v, path)
	}
	list, ok := v.([]any)
	if !ok {
		list = []any{v}
	}
	var out []any
	for i, x := range list {
		val, err := canonSingle(a, x, fmt.Sprintf("%s[%d]", path, i))
		if err != nil {
			return nil, err
		}
		if val != nil {
			out = append(out, val)
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

func canonSingle(a *attr, v any, path string) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch a.Type {
	case "complex":
		switch x := v.(type) {
		case map[string]any:
			m, err := canonObject(a.Sub, x, path+".")
			if err != nil || len(m) == 0 {
				return nil, err
			}
			return m, nil
		case string, json.Number:
			if find(a.Sub, "value") != nil {
				// Entra sends a manager, and a member, as the id alone.
				return canonObject(a.Sub, map[string]any{"value": v}, path+".")
			}
		}
		return nil, invalidValue("%s: must be an object, not %s", path, jsonKind(v))
	case "boolean":
		switch x := v.(type) {
		case bool:
			return x, nil
		case string:
			// Entra sends "True" and "False".
			switch strings.ToLower(strings.TrimSpace(x)) {
			case "true":
				return true, nil
			case "false":
				return false, nil
			}
		}
		return nil, invalidValue("%s: must be true or false, not %s", path, jsonValue(v))
	case "integer":
		if n, ok := v.(json.Number); ok {
			if i, err := n.Int64(); err == nil {
				return float64(i), nil
			}
		}
		return nil, invalidValue("%s: must be a whole number, not %s", path, jsonValue(v))
	default:
		switch x := v.(type) {
		case string:
			if x == "" {
				return nil, nil
			}
			return x, nil
		case json.Number:
			return x.String(), nil
		}
		return nil, invalidValue("%s: must be a string, not %s", path, jsonKind(v))
	}
}

func jsonKind(v any) string {
	switch v.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	case bool:
		return "true or false"
	case json.Number, float64:
		return "a number"
	case string:
		return "a string"
	}
	return "null"
}

func jsonValue(v any) string {
	b, err := json.Marshal(v)
	if err != nil || len(b) > 60 {
		return jsonKind(v)
	}
	return string(b)
}

// clone copies a document deeply, so that a change of the copy leaves the
// original as it was.
func clone(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, y := range x {
			m[k] = clone(y)
		}
		return m
	case []any:
		l := make([]any, len(x))
		for i, y := range x {
			l[i] = clone(y)
		}
		return l
	}
	return v
}
