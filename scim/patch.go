package scim

import (
	"fmt"
	"net/http"
	"reflect"
	"strings"

	"github.com/usherhq/usher/scim/filter"
)

// PatchOp is one operation of a PATCH request (RFC 7644 §3.5.2).
type PatchOp struct {
	Op    string // add, replace or remove, lowercased
	Path  string
	Value any
}

// maxOps bounds the operations of one PATCH request.
const maxOps = 1000

// DecodePatch reads a PatchOp message: its schema, and Operations whose
// names and ops come in any case (Entra sends "Replace").
func DecodePatch(body map[string]any) ([]PatchOp, error) {
	if s, ok := filter.Lookup(body, "schemas"); ok {
		list, _ := s.([]any)
		found := false
		for _, x := range list {
			if str, _ := x.(string); strings.EqualFold(str, URNPatch) {
				found = true
			}
		}
		if !found {
			return nil, invalidSyntax("schemas: a PATCH body is a %s message", URNPatch)
		}
	}
	raw, ok := filter.Lookup(body, "Operations")
	list, isList := raw.([]any)
	if !ok || !isList {
		return nil, invalidSyntax("Operations: a PATCH body needs a list of operations")
	}
	if len(list) == 0 {
		return nil, invalidSyntax("Operations: the list is empty")
	}
	if len(list) > maxOps {
		return nil, errorf(http.StatusRequestEntityTooLarge, TypeTooMany, "Operations: at most %d operations in one request, not %d", maxOps, len(list))
	}
	out := make([]PatchOp, 0, len(list))
	for i, x := range list {
		m, ok := x.(map[string]any)
		if !ok {
			return nil, invalidSyntax("Operations[%d]: must be an object with op, path and value", i)
		}
		opRaw, _ := filter.Lookup(m, "op")
		op, _ := opRaw.(string)
		op = strings.ToLower(strings.TrimSpace(op))
		if op != "add" && op != "replace" && op != "remove" {
			return nil, invalidSyntax("Operations[%d].op: must be add, replace or remove, not %s", i, jsonValue(opRaw))
		}
		var path string
		if p, ok := filter.Lookup(m, "path"); ok && p != nil {
			s, isStr := p.(string)
			if !isStr {
				return nil, invalidSyntax("Operations[%d].path: must be a string", i)
			}
			path = strings.TrimSpace(s)
		}
		value, _ := filter.Lookup(m, "value")
		if op == "remove" && path == "" {
			return nil, errorf(http.StatusBadRequest, TypeNoTarget, "Operations[%d]: remove needs a path", i)
		}
		if op != "remove" && value == nil {
			return nil, invalidValue("Operations[%d].value: %s needs a value", i, op)
		}
		out = append(out, PatchOp{Op: op, Path: path, Value: value})
	}
	return out, nil
}

// applyPatch applies ops to doc (a resource as usher describes it) in
// order, by the rules of RFC 7644 §3.5.2 and as Entra ID and Okta use
// them: without a path, the value's keys may be paths themselves
// ("name.givenName", "urn:…:User:employeeNumber").
func applyPatch(ra resourceAttrs, doc map[string]any, ops []PatchOp) error {
	for i, op := range ops {
		if err := applyOp(ra, doc, op); err != nil {
			if se, ok := err.(*Error); ok {
				se.Detail = fmt.Sprintf("Operations[%d]: %s", i, se.Detail)
			}
			return err
		}
	}
	return nil
}

func applyOp(ra resourceAttrs, doc map[string]any, op PatchOp) error {
	if op.Path == "" {
		m, ok := op.Value.(map[string]any)
		if !ok {
			return invalidValue("without a path, value must be an object of attributes")
		}
		for k, v := range m {
			if strings.EqualFold(k, "schemas") {
				continue
			}
			if urn := ra.extensionURN(k); urn != "" {
				ext, ok := v.(map[string]any)
				if !ok {
					return invalidValue("%s: must be an object of the extension's attributes", urn)
				}
				for ek, ev := range ext {
					if err := applyOp(ra, doc, PatchOp{Op: op.Op, Path: urn + ":" + ek, Value: ev}); err != nil {
						return err
					}
				}
				continue
			}
			if err := applyOp(ra, doc, PatchOp{Op: op.Op, Path: k, Value: v}); err != nil {
				return err
			}
		}
		return nil
	}
	pp, err := filter.ParsePatchPath(op.Path)
	if err != nil {
		return errorf(http.StatusBadRequest, TypeInvalidPath, "path %q: %v", op.Path, err)
	}
	a, urn := ra.resolve(pp.Path)
	if a == nil {
		return nil // an attribute usher does not know is ignored, as in POST and PUT
	}
	name := prefix(urn) + a.Name
	if a.readOnly() {
		// Okta renames a group with {"op":"replace","value":{"id":…,"displayName":…}}:
		// a read-only attribute given as it is changes nothing.
		if cur, ok := doc[a.Name]; ok && urn == "" && pp.Filter == nil && pp.Path.Sub == "" && op.Op != "remove" && reflect.DeepEqual(cur, op.Value) {
			return nil
		}
		return errorf(http.StatusBadRequest, TypeMutability, "%s is read-only", name)
	}
	var sub *attr
	subName := pp.Path.Sub
	if pp.Filter != nil {
		subName = pp.Sub
	}
	if subName != "" {
		if sub = find(a.Sub, subName); sub == nil {
			return nil
		}
		if sub.readOnly() {
			return errorf(http.StatusBadRequest, TypeMutability, "%s.%s is read-only", name, sub.Name)
		}
	}
	c := doc
	if urn != "" {
		ext, _ := doc[urn].(map[string]any)
		if ext == nil {
			ext = map[string]any{}
			doc[urn] = ext
		}
		c = ext
	}
	defer func() {
		if urn != "" && len(c) == 0 {
			delete(doc, urn)
		}
	}()
	switch {
	case pp.Filter != nil:
		if !a.Multi {
			return errorf(http.StatusBadRequest, TypeInvalidPath, "%s has one value; a filter in [] selects values of a multi-valued attribute", name)
		}
		return patchValues(a, sub, c, name, pp.Filter, op)
	case sub != nil:
		return patchSub(a, sub, c, name, op)
	}
	switch op.Op {
	case "remove":
		if a.Multi && op.Value != nil {
			// Entra removes members by value: {"op":"remove","path":"members","value":[{"value":"id"}]}.
			gone, err := canonValue(a, op.Value, name)
			if err != nil {
				return err
			}
			list, _ := c[a.Name].([]any)
			var keep []any
			for _, x := range list {
				if !containsValue(gone, x) {
					keep = append(keep, x)
				}
			}
			set(c, a.Name, keep)
			return nil
		}
		delete(c, a.Name)
		return nil
	case "add":
		val, err := canonValue(a, op.Value, name)
		if err != nil || val == nil {
			return err
		}
		if a.Multi {
			list, _ := c[a.Name].([]any)
			for _, x := range val.([]any) {
				if i := indexValue(list, x); i >= 0 {
					list[i] = x
				} else {
					list = append(list, x)
				}
			}
			c[a.Name] = list
			return nil
		}
		if a.Type == "complex" {
			mergeComplex(c, a.Name, val.(map[string]any))
			return nil
		}
		c[a.Name] = val
		return nil
	default: // replace
		val, err := canonValue(a, op.Value, name)
		if err != nil {
			return err
		}
		if a.Type == "complex" && !a.Multi && val != nil {
			mergeComplex(c, a.Name, val.(map[string]any))
			return nil
		}
		set(c, a.Name, val)
		return nil
	}
}

// patchSub changes a sub-attribute: name.givenName, manager.value.
func patchSub(a, sub *attr, c map[string]any, name string, op PatchOp) error {
	path := name + "." + sub.Name
	var val any
	if op.Op != "remove" {
		var err error
		if val, err = canonValue(sub, op.Value, path); err != nil {
			return err
		}
	}
	if a.Multi {
		// Without a filter: every value's sub-attribute.
		list, _ := c[a.Name].([]any)
		if len(list) == 0 && val != nil {
			c[a.Name] = []any{map[string]any{sub.Name: val}}
			return nil
		}
		for _, x := range list {
			if m, ok := x.(map[string]any); ok {
				set(m, sub.Name, val)
			}
		}
		return nil
	}
	m, _ := c[a.Name].(map[string]any)
	if m == nil {
		if val == nil {
			return nil
		}
		m = map[string]any{}
		c[a.Name] = m
	}
	set(m, sub.Name, val)
	if len(m) == 0 {
		delete(c, a.Name)
	}
	return nil
}

// patchValues changes the values of a multi-valued attribute a filter
// selects: emails[type eq "work"].value, members[value eq "id"].
func patchValues(a, sub *attr, c map[string]any, name string, f filter.Filter, op PatchOp) error {
	list, _ := c[a.Name].([]any)
	var hit []int
	for i, x := range list {
		if m, ok := x.(map[string]any); ok && filter.Match(f, m) {
			hit = append(hit, i)
		}
	}
	if op.Op == "remove" {
		if sub != nil {
			for _, i := range hit {
				delete(list[i].(map[string]any), sub.Name)
			}
		} else {
			var keep []any
			for i, x := range list {
				if !containsInt(hit, i) {
					keep = append(keep, x)
				}
			}
			list = keep
		}
		set(c, a.Name, list)
		return nil
	}
	var val any
	var err error
	if sub != nil {
		val, err = canonValue(sub, op.Value, name+"."+sub.Name)
	} else {
		val, err = canonSingle(a, single(op.Value), name)
	}
	if err != nil {
		return err
	}
	if len(hit) == 0 {
		// Entra replaces emails[type eq "work"].value of a user who has no
		// work email: the filter's equalities make the new value.
		base, ok := equalities(f)
		if !ok {
			return errorf(http.StatusBadRequest, TypeNoTarget, "%s: no value matches the filter, and it says too little to add one", name)
		}
		el, err := canonSingle(a, base, name)
		if err != nil {
			return err
		}
		m, _ := el.(map[string]any)
		if m == nil {
			m = map[string]any{}
		}
		list = append(list, m)
		hit = []int{len(list) - 1}
	}
	for _, i := range hit {
		m, _ := list[i].(map[string]any)
		if sub != nil {
			set(m, sub.Name, val)
		} else if v, ok := val.(map[string]any); ok {
			for k, x := range v {
				m[k] = x
			}
		}
	}
	set(c, a.Name, list)
	return nil
}

// single is the one value of a list of one.
func single(v any) any {
	if l, ok := v.([]any); ok && len(l) == 1 {
		return l[0]
	}
	return v
}

// equalities returns the attribute values a filter of "x eq v" joined by
// "and" requires, or false when it says anything else.
func equalities(f filter.Filter) (map[string]any, bool) {
	switch f := f.(type) {
	case filter.Compare:
		if f.Op != "eq" || f.Path.URN != "" || f.Path.Sub != "" || f.Value == nil {
			return nil, false
		}
		return map[string]any{f.Path.Attr: f.Value}, true
	case filter.And:
		l, ok1 := equalities(f.L)
		r, ok2 := equalities(f.R)
		if !ok1 || !ok2 {
			return nil, false
		}
		for k, v := range r {
			l[k] = v
		}
		return l, true
	}
	return nil, false
}

func set(m map[string]any, k string, v any) {
	if v == nil {
		delete(m, k)
		return
	}
	if l, ok := v.([]any); ok && len(l) == 0 {
		delete(m, k)
		return
	}
	m[k] = v
}

func mergeComplex(c map[string]any, name string, val map[string]any) {
	m, _ := c[name].(map[string]any)
	if m == nil {
		m = map[string]any{}
	}
	for k, v := range val {
		m[k] = v
	}
	c[name] = m
}

// indexValue finds x in list: by its "value" when it has one, whole otherwise.
func indexValue(list []any, x any) int {
	for i, y := range list {
		if sameValue(x, y) {
			return i
		}
	}
	return -1
}

func containsValue(list any, x any) bool {
	l, _ := list.([]any)
	return indexValue(l, x) >= 0
}

func sameValue(x, y any) bool {
	xm, ok1 := x.(map[string]any)
	ym, ok2 := y.(map[string]any)
	if ok1 && ok2 {
		xv, okx := filter.Lookup(xm, "value")
		yv, oky := filter.Lookup(ym, "value")
		if okx && oky {
			return reflect.DeepEqual(xv, yv)
		}
	}
	return reflect.DeepEqual(x, y)
}

func containsInt(list []int, x int) bool {
	for _, y := range list {
		if y == x {
			return true
		}
	}
	return false
}
