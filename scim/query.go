package scim

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/usherhq/usher/scim/filter"
)

// Paging: a page holds at most maxCount resources (count= asks for fewer);
// a filter no index serves reads at most scanLimit resources.
const (
	defaultCount = 100
	maxCount     = 1000
	scanLimit    = 200_000
)

// listQuery is what a list request asks: a filter, a page, and which
// attributes to return.
type listQuery struct {
	filter          filter.Filter
	start, count    int
	attrs, excluded []filter.Path
}

func readListQuery(r *http.Request) (listQuery, error) {
	q := r.URL.Query()
	lq := listQuery{start: 1, count: defaultCount}
	if s := strings.TrimSpace(q.Get("filter")); s != "" {
		f, err := filter.Parse(s)
		if err != nil {
			return lq, errorf(http.StatusBadRequest, TypeInvalidFilter, "filter: %v", err)
		}
		lq.filter = f
	}
	if s := q.Get("startIndex"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return lq, invalidValue("startIndex: must be a whole number, not %q", s)
		}
		lq.start = max(n, 1)
	}
	if s := q.Get("count"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return lq, invalidValue("count: must be a whole number, not %q", s)
		}
		lq.count = min(max(n, 0), maxCount)
	}
	if q.Has("sortBy") {
		return lq, invalidValue("sortBy: usher does not sort; resources come in the order they were created")
	}
	var err error
	if lq.attrs, lq.excluded, err = readProjection(r); err != nil {
		return lq, err
	}
	return lq, nil
}

// readProjection reads attributes= and excludedAttributes=, lists of
// attribute paths separated by commas. A filter in [] after a name (as
// Microsoft's collection sends) selects the whole attribute.
func readProjection(r *http.Request) (attrs, excluded []filter.Path, err error) {
	q := r.URL.Query()
	for _, x := range []struct {
		name string
		dst  *[]filter.Path
	}{{"attributes", &attrs}, {"excludedAttributes", &excluded}} {
		s := strings.TrimSpace(q.Get(x.name))
		if s == "" {
			continue
		}
		for _, part := range splitOutsideBrackets(s) {
			part = strings.TrimSpace(part)
			if i := strings.IndexByte(part, '['); i >= 0 {
				part = part[:i]
			}
			if part == "" {
				continue
			}
			p, perr := filter.ParsePath(part)
			if perr != nil {
				return nil, nil, invalidValue("%s: %v", x.name, perr)
			}
			*x.dst = append(*x.dst, p)
		}
	}
	return attrs, excluded, nil
}

func splitOutsideBrackets(s string) []string {
	var out []string
	depth, from := 0, 0
	for i, r := range s {
		switch r {
		case '[':
			depth++
		case ']':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, s[from:i])
				from = i + 1
			}
		}
	}
	return append(out, s[from:])
}

// project keeps the attributes asked for (or drops those excluded); id
// and schemas are always returned.
func project(doc map[string]any, attrs, excluded []filter.Path) map[string]any {
	if len(attrs) == 0 && len(excluded) == 0 {
		return doc
	}
	if len(attrs) > 0 {
		out := map[string]any{"schemas": doc["schemas"], "id": doc["id"]}
		for _, p := range attrs {
			copyPath(out, doc, p)
		}
		return out
	}
	out := clone(doc).(map[string]any)
	for _, p := range excluded {
		if strings.EqualFold(p.Attr, "id") && p.Sub == "" {
			continue
		}
		removePath(out, p)
	}
	return out
}

// key finds the name m uses for name, without case.
func key(m map[string]any, name string) (string, bool) {
	if _, ok := m[name]; ok {
		return name, true
	}
	for k := range m {
		if strings.EqualFold(k, name) {
			return k, true
		}
	}
	return "", false
}

func copyPath(out, doc map[string]any, p filter.Path) {
	src, dst := doc, out
	if p.URN != "" && !filter.IsCoreURN(p.URN) {
		k, ok := key(doc, p.URN)
		if !ok {
			return
		}
		src, _ = doc[k].(map[string]any)
		d, _ := out[k].(map[string]any)
		if d == nil {
			d = map[string]any{}
			out[k] = d
		}
		dst = d
	}
	if src == nil {
		return
	}
	k, ok := key(src, p.Attr)
	if !ok {
		return
	}
	if p.Sub == "" {
		dst[k] = clone(src[k])
		return
	}
	switch v := src[k].(type) {
	case map[string]any:
		if sk, ok := key(v, p.Sub); ok {
			d, _ := dst[k].(map[string]any)
			if d == nil {
				d = map[string]any{}
				dst[k] = d
			}
			d[sk] = clone(v[sk])
		}
	case []any:
		var list []any
		for _, x := range v {
			if m, ok := x.(map[string]any); ok {
				if sk, ok := key(m, p.Sub); ok {
					list = append(list, map[string]any{sk: clone(m[sk])})
				}
			}
		}
		if list != nil {
			dst[k] = list
		}
	}
}

func removePath(doc map[string]any, p filter.Path) {
	c := doc
	if p.URN != "" && !filter.IsCoreURN(p.URN) {
		k, ok := key(doc, p.URN)
		if !ok {
			return
		}
		if p.Attr == "" {
			delete(doc, k)
			return
		}
		c, _ = doc[k].(map[string]any)
		if c == nil {
			return
		}
	}
	k, ok := key(c, p.Attr)
	if !ok {
		return
	}
	if p.Sub == "" {
		delete(c, k)
		return
	}
	switch v := c[k].(type) {
	case map[string]any:
		if sk, ok := key(v, p.Sub); ok {
			delete(v, sk)
		}
	case []any:
		for _, x := range v {
			if m, ok := x.(map[string]any); ok {
				if sk, ok := key(m, p.Sub); ok {
					delete(m, sk)
				}
			}
		}
	}
}

// version is a resource's ETag: a hash of what it says, so any change of
// it changes the version. The document is written for the hash in a form
// of its own (canonical: keys sorted, every value tagged with its kind and
// length) rather than as JSON, whose reflection made the version an eighth
// of a SCIM lookup's CPU.
func version(doc map[string]any) string {
	sum := sha256.Sum256(appendCanonical(make([]byte, 0, 1024), doc))
	return `W/"` + hex.EncodeToString(sum[:10]) + `"`
}

// appendCanonical appends v in version's form: one byte for the kind, then
// the value; strings, lists and objects with their length first, so no
// two values are written alike.
func appendCanonical(b []byte, v any) []byte {
	switch v := v.(type) {
	case nil:
		return append(b, 'n')
	case bool:
		if v {
			return append(b, 't')
		}
		return append(b, 'f')
	case string:
		return appendCanonicalString(append(b, 's'), v)
	case float64:
		return appendCanonicalString(append(b, 'd'), strconv.FormatFloat(v, 'g', -1, 64))
	case int:
		return appendCanonicalString(append(b, 'd'), strconv.Itoa(v))
	case []any:
		b = binary.AppendUvarint(append(b, 'a'), uint64(len(v)))
		for _, e := range v {
			b = appendCanonical(b, e)
		}
		return b
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = binary.AppendUvarint(append(b, 'o'), uint64(len(v)))
		for _, k := range keys {
			b = appendCanonical(appendCanonicalString(b, k), v[k])
		}
		return b
	default:
		// Kinds a document rarely holds go as their JSON.
		j, _ := json.Marshal(v)
		return appendCanonicalString(append(b, 'j'), string(j))
	}
}

func appendCanonicalString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// matchesETag reports whether an If-Match or If-None-Match header names v.
func matchesETag(header, v string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || t == v || strings.TrimPrefix(t, "W/") == strings.TrimPrefix(v, "W/") {
			return true
		}
	}
	return false
}

// versionOf is a resource document's version (meta.version), or "".
func versionOf(doc map[string]any) string {
	meta, _ := doc["meta"].(map[string]any)
	v, _ := meta["version"].(string)
	return v
}

// patched is cur after a PATCH request's operations, as usher reads a
// resource (canonical): what the client can write, without usher's
// read-only additions (id, meta, groups, the state). A client that read
// an older version (If-Match) is refused first.
func patched(r *http.Request, ra resourceAttrs, cur map[string]any, ops []PatchOp) (map[string]any, error) {
	if err := preconditions(r, versionOf(cur)); err != nil {
		return nil, err
	}
	doc := clone(cur).(map[string]any)
	if err := applyPatch(ra, doc, ops); err != nil {
		return nil, err
	}
	return canonical(ra, doc)
}

// preconditions checks If-Match against the resource's version: a
// client that read an older version is refused with 412.
func preconditions(r *http.Request, v string) error {
	if h := r.Header.Get("If-Match"); h != "" && !matchesETag(h, v) {
		return errorf(http.StatusPreconditionFailed, "", "If-Match: the resource changed since version %s; it is %s now: read it again", h, v)
	}
	return nil
}
