package filter

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The filter language of RFC 7644 §3.4.2.2, with what Entra ID and Okta
// send besides: a value path followed by a sub-attribute and a comparison
// (emails[type eq "work"].value eq "a@b"), and the bare words of
// Microsoft's test collection (userName sw O).

// Schema URNs: a path that starts with one of them names an attribute of
// that schema. User and Group are core schemas, whose attributes are at the
// top of a resource; an extension's are in an object under its URN.
const (
	URNUser       = "urn:ietf:params:scim:schemas:core:2.0:User"
	URNGroup      = "urn:ietf:params:scim:schemas:core:2.0:Group"
	URNEnterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	URNUsher      = "urn:ietf:params:scim:schemas:extension:usher:2.0:User"
)

// schemaURNs are the URNs a path may start with, longest first.
var schemaURNs = []string{URNEnterprise, URNUsher, URNUser, URNGroup}

// IsCoreURN reports whether urn is a core schema's (User or Group), whose
// attributes are at the top of a resource rather than under the URN.
func IsCoreURN(urn string) bool {
	return strings.EqualFold(urn, URNUser) || strings.EqualFold(urn, URNGroup)
}

// Filter is a parsed filter expression.
type Filter interface{ filter() }

// And, Or and Not combine filters.
type And struct{ L, R Filter }
type Or struct{ L, R Filter }
type Not struct{ F Filter }

// Compare is "path op value"; Value is a string, float64, bool or nil.
type Compare struct {
	Path  Path
	Op    string
	Value any
}

// Present is "path pr".
type Present struct{ Path Path }

// ValuePath is "attr[filter]": some value of the multi-valued attr matches
// the filter, whose paths are the attr's sub-attributes.
type ValuePath struct {
	Path   Path
	Filter Filter
}

func (And) filter()       {}
func (Or) filter()        {}
func (Not) filter()       {}
func (Compare) filter()   {}
func (Present) filter()   {}
func (ValuePath) filter() {}

// Path is an attribute path: an optional schema URN, an attribute and an
// optional sub-attribute, as written (names are matched without case).
type Path struct {
	URN, Attr, Sub string
}

func (p Path) String() string {
	s := p.Attr
	if p.URN != "" {
		s = p.URN + ":" + s
	}
	if p.Sub != "" {
		s += "." + p.Sub
	}
	return s
}

// Limits keep a hostile filter from costing much: a filter is at most
// maxFilter bytes and nests at most maxDepth deep.
const (
	maxFilter = 4096
	maxDepth  = 32
)

// Parse parses a filter. Its errors say where and what is wrong.
func Parse(s string) (Filter, error) {
	if len(s) > maxFilter {
		return nil, fmt.Errorf("the filter is longer than %d bytes", maxFilter)
	}
	p, err := newParser(s)
	if err != nil {
		return nil, err
	}
	f, err := p.or(0)
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, fmt.Errorf("unexpected %s at character %d", t, t.pos+1)
	}
	return f, nil
}

// PatchPath is the path of a PATCH operation: an attribute, a filter on its
// values and a sub-attribute of the values it selects.
type PatchPath struct {
	Path   Path // Path.Sub is set when there is no filter
	Filter Filter
	Sub    string // after the filter: members[value eq "x"].display
}

// ParsePatchPath parses a PATCH operation's path.
func ParsePatchPath(s string) (PatchPath, error) {
	if len(s) > maxFilter {
		return PatchPath{}, fmt.Errorf("the path is longer than %d bytes", maxFilter)
	}
	p, err := newParser(s)
	if err != nil {
		return PatchPath{}, err
	}
	t := p.next()
	if t.kind != tWord {
		return PatchPath{}, fmt.Errorf("a path starts with an attribute name, not %s", t)
	}
	path, err := ParsePath(t.text)
	if err != nil {
		return PatchPath{}, err
	}
	out := PatchPath{Path: path}
	if p.peek().kind == tOpen {
		if path.Sub != "" {
			return PatchPath{}, fmt.Errorf("a filter in [] follows an attribute, not a sub-attribute (%s)", path)
		}
		p.next()
		p.inValuePath = true
		if out.Filter, err = p.or(1); err != nil {
			return PatchPath{}, err
		}
		if t := p.next(); t.kind != tClose {
			return PatchPath{}, fmt.Errorf("expected ] at character %d, found %s", t.pos+1, t)
		}
		if t := p.peek(); t.kind == tWord && strings.HasPrefix(t.text, ".") {
			p.next()
			out.Sub = strings.TrimPrefix(t.text, ".")
			if !validName(out.Sub) {
				return PatchPath{}, fmt.Errorf("%q is not a sub-attribute name", out.Sub)
			}
		}
	}
	if t := p.peek(); t.kind != tEOF {
		return PatchPath{}, fmt.Errorf("unexpected %s at character %d", t, t.pos+1)
	}
	return out, nil
}

type tokenKind int

const (
	tEOF tokenKind = iota
	tWord
	tString
	tLParen
	tRParen
	tOpen  // [
	tClose // ]
)

type token struct {
	kind tokenKind
	text string
	pos  int
}

func (t token) String() string {
	switch t.kind {
	case tEOF:
		return "the end"
	case tString:
		return strconv.Quote(t.text)
	}
	return fmt.Sprintf("%q", t.text)
}

type parser struct {
	toks []token
	i    int
	// inValuePath is set inside [ … ], where no other [ may open.
	inValuePath bool
}

func newParser(s string) (*parser, error) {
	if !utf8.ValidString(s) {
		return nil, fmt.Errorf("the filter is not valid UTF-8")
	}
	p := &parser{}
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(':
			p.toks = append(p.toks, token{tLParen, "(", i})
			i++
		case c == ')':
			p.toks = append(p.toks, token{tRParen, ")", i})
			i++
		case c == '[':
			p.toks = append(p.toks, token{tOpen, "[", i})
			i++
		case c == ']':
			p.toks = append(p.toks, token{tClose, "]", i})
			i++
		case c == '"':
			str, n, err := readString(s[i:])
			if err != nil {
				return nil, fmt.Errorf("%v, in the string at character %d", err, i+1)
			}
			p.toks = append(p.toks, token{tString, str, i})
			i += n
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\n\r()[]\"", rune(s[j])) {
				j++
			}
			p.toks = append(p.toks, token{tWord, s[i:j], i})
			i = j
		}
	}
	p.toks = append(p.toks, token{tEOF, "", len(s)})
	return p, nil
}

// readString reads a JSON string at the start of s.
func readString(s string) (string, int, error) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch c := s[i]; c {
		case '"':
			return b.String(), i + 1, nil
		case '\\':
			if i+1 >= len(s) {
				return "", 0, fmt.Errorf("a string ends in a backslash")
			}
			i++
			switch e := s[i]; e {
			case '"', '\\', '/':
				b.WriteByte(e)
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case 'u':
				if i+4 >= len(s) {
					return "", 0, fmt.Errorf("a \\u escape needs four hex digits")
				}
				n, err := strconv.ParseUint(s[i+1:i+5], 16, 16)
				if err != nil {
					return "", 0, fmt.Errorf("a \\u escape needs four hex digits")
				}
				b.WriteRune(rune(n))
				i += 4
			default:
				return "", 0, fmt.Errorf("\\%c is not an escape", e)
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", 0, fmt.Errorf("a string is not closed with \"")
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func (p *parser) keyword(word string) bool {
	t := p.peek()
	if t.kind == tWord && strings.EqualFold(t.text, word) {
		p.next()
		return true
	}
	return false
}

func (p *parser) or(depth int) (Filter, error) {
	l, err := p.and(depth)
	if err != nil {
		return nil, err
	}
	for p.keyword("or") {
		r, err := p.and(depth)
		if err != nil {
			return nil, err
		}
		l = Or{l, r}
	}
	return l, nil
}

func (p *parser) and(depth int) (Filter, error) {
	l, err := p.unary(depth)
	if err != nil {
		return nil, err
	}
	for p.keyword("and") {
		r, err := p.unary(depth)
		if err != nil {
			return nil, err
		}
		l = And{l, r}
	}
	return l, nil
}

func (p *parser) unary(depth int) (Filter, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("the filter nests more than %d deep", maxDepth)
	}
	not := false
	if t := p.peek(); t.kind == tWord && strings.EqualFold(t.text, "not") && p.toks[p.i+1].kind == tLParen {
		p.next()
		not = true
	}
	if p.peek().kind == tLParen {
		p.next()
		f, err := p.or(depth + 1)
		if err != nil {
			return nil, err
		}
		if t := p.next(); t.kind != tRParen {
			return nil, fmt.Errorf("expected ) at character %d, found %s", t.pos+1, t)
		}
		if not {
			return Not{f}, nil
		}
		return f, nil
	}
	if not {
		return nil, fmt.Errorf("not is followed by a filter in parentheses")
	}
	return p.attrExp(depth)
}

func (p *parser) attrExp(depth int) (Filter, error) {
	t := p.next()
	if t.kind != tWord {
		return nil, fmt.Errorf("expected an attribute name at character %d, found %s", t.pos+1, t)
	}
	path, err := ParsePath(t.text)
	if err != nil {
		return nil, err
	}
	if p.peek().kind == tOpen {
		if p.inValuePath {
			return nil, fmt.Errorf("a filter in [] cannot hold another [] (character %d)", p.peek().pos+1)
		}
		p.next()
		p.inValuePath = true
		inner, err := p.or(depth + 1)
		p.inValuePath = false
		if err != nil {
			return nil, err
		}
		if t := p.next(); t.kind != tClose {
			return nil, fmt.Errorf("expected ] at character %d, found %s", t.pos+1, t)
		}
		vp := ValuePath{Path: path, Filter: inner}
		// Entra's emails[type eq "work"].value eq "x": the sub-attribute's
		// comparison joins the bracket's filter.
		if t := p.peek(); t.kind == tWord && strings.HasPrefix(t.text, ".") {
			p.next()
			sub := strings.TrimPrefix(t.text, ".")
			if !validName(sub) {
				return nil, fmt.Errorf("%q is not a sub-attribute name", sub)
			}
			c, err := p.comparison(Path{Attr: sub})
			if err != nil {
				return nil, err
			}
			vp.Filter = And{inner, c}
		}
		return vp, nil
	}
	return p.comparison(path)
}

var operators = map[string]bool{"eq": true, "ne": true, "co": true, "sw": true, "ew": true, "gt": true, "ge": true, "lt": true, "le": true, "pr": true}

func (p *parser) comparison(path Path) (Filter, error) {
	t := p.next()
	op := strings.ToLower(t.text)
	if t.kind != tWord || !operators[op] {
		return nil, fmt.Errorf("expected an operator (eq ne co sw ew gt ge lt le pr) after %s at character %d, found %s", path, t.pos+1, t)
	}
	if op == "pr" {
		return Present{path}, nil
	}
	v := p.next()
	var value any
	switch v.kind {
	case tString:
		value = v.text
	case tWord:
		switch strings.ToLower(v.text) {
		case "true":
			value = true
		case "false":
			value = false
		case "null":
			value = nil
		default:
			if n, err := strconv.ParseFloat(v.text, 64); err == nil && !math.IsInf(n, 0) && !math.IsNaN(n) {
				value = n
			} else if keywordLike(v.text) {
				return nil, fmt.Errorf("expected a value after %s %s at character %d, found %s", path, op, v.pos+1, v)
			} else {
				value = v.text // a bare word, as Microsoft's collection sends
			}
		}
	default:
		return nil, fmt.Errorf("expected a value after %s %s at character %d, found %s", path, op, v.pos+1, v)
	}
	switch value.(type) {
	case bool, nil:
		if op != "eq" && op != "ne" {
			return nil, fmt.Errorf("%s compares only with eq or ne, not %s", valueWord(value), op)
		}
	case float64:
		if op == "co" || op == "sw" || op == "ew" {
			return nil, fmt.Errorf("%s compares strings; %v is a number (quote it to compare text)", op, value)
		}
	}
	return Compare{Path: path, Op: op, Value: value}, nil
}

func keywordLike(s string) bool {
	l := strings.ToLower(s)
	return l == "and" || l == "or" || l == "not" || strings.HasPrefix(s, ".")
}

func valueWord(v any) string {
	if v == nil {
		return "null"
	}
	return fmt.Sprint(v)
}

// ParsePath parses an attribute path, "urn:…:User:manager.value" or
// "name.givenName"; a known schema URN takes its canonical spelling.
func ParsePath(s string) (Path, error) {
	var p Path
	rest := s
	if len(s) > 4 && strings.EqualFold(s[:4], "urn:") {
		urn := ""
		for _, known := range schemaURNs {
			if len(s) > len(known) && strings.EqualFold(s[:len(known)], known) && s[len(known)] == ':' {
				urn = known
				break
			}
		}
		if urn == "" {
			i := strings.LastIndexByte(s, ':')
			urn = s[:i]
		}
		p.URN, rest = urn, s[len(urn)+1:]
	}
	p.Attr, p.Sub, _ = strings.Cut(rest, ".")
	if !validName(p.Attr) || (p.Sub != "" && !validName(p.Sub)) || strings.Contains(p.Sub, ".") {
		return p, fmt.Errorf("%q is not an attribute path", s)
	}
	return p, nil
}

// validName is ATTRNAME of RFC 7643: a letter (or $ for $ref), then
// letters, digits, - and _.
func validName(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		case i == 0 && r == '$':
		case i > 0 && (r >= '0' && r <= '9' || r == '-' || r == '_'):
		default:
			return false
		}
	}
	return true
}

// Matching. A document is a resource as JSON decodes it (map[string]any),
// with attribute names matched without case.

// Match reports whether doc satisfies f.
func Match(f Filter, doc map[string]any) bool {
	switch f := f.(type) {
	case And:
		return Match(f.L, doc) && Match(f.R, doc)
	case Or:
		return Match(f.L, doc) || Match(f.R, doc)
	case Not:
		return !Match(f.F, doc)
	case Present:
		for _, v := range values(doc, f.Path) {
			if present(v) {
				return true
			}
		}
		return false
	case Compare:
		vals := values(doc, f.Path)
		exact := caseExact(f.Path)
		if f.Op == "ne" {
			for _, v := range vals {
				if compare(v, "eq", f.Value, exact) {
					return false
				}
			}
			return f.Value != nil || len(vals) > 0
		}
		if f.Value == nil {
			return len(vals) == 0
		}
		for _, v := range vals {
			if compare(v, f.Op, f.Value, exact) {
				return true
			}
		}
		return false
	case ValuePath:
		for _, el := range elements(doc, f.Path) {
			if Match(f.Filter, el) {
				return true
			}
		}
	}
	return false
}

// Lookup finds an attribute of m by name, without case, as SCIM reads
// the attribute names a client sends.
func Lookup(m map[string]any, name string) (any, bool) {
	if v, ok := m[name]; ok {
		return v, true
	}
	for k, v := range m {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return nil, false
}

// container is the object a path's attribute is in: the document, or the
// extension the URN names.
func container(doc map[string]any, p Path) map[string]any {
	if p.URN == "" || IsCoreURN(p.URN) {
		return doc
	}
	ext, _ := Lookup(doc, p.URN)
	m, _ := ext.(map[string]any)
	return m
}

// values are the simple values a path reaches: every value of a
// multi-valued attribute, and a complex one's "value" without a sub-attribute.
func values(doc map[string]any, p Path) []any {
	c := container(doc, p)
	if c == nil {
		return nil
	}
	v, ok := Lookup(c, p.Attr)
	if !ok || v == nil {
		return nil
	}
	var out []any
	add := func(x any) {
		if m, ok := x.(map[string]any); ok {
			sub := p.Sub
			if sub == "" {
				sub = "value"
			}
			if y, ok := Lookup(m, sub); ok && y != nil {
				out = append(out, y)
			}
			return
		}
		if p.Sub == "" && x != nil {
			out = append(out, x)
		}
	}
	if list, ok := v.([]any); ok {
		for _, x := range list {
			add(x)
		}
	} else {
		add(v)
	}
	return out
}

// elements are the complex values of a path's attribute.
func elements(doc map[string]any, p Path) []map[string]any {
	c := container(doc, p)
	if c == nil {
		return nil
	}
	v, _ := Lookup(c, p.Attr)
	var out []map[string]any
	switch v := v.(type) {
	case []any:
		for _, x := range v {
			if m, ok := x.(map[string]any); ok {
				out = append(out, m)
			}
		}
	case map[string]any:
		out = append(out, v)
	}
	return out
}

func present(v any) bool {
	switch v := v.(type) {
	case nil:
		return false
	case string:
		return v != ""
	case []any:
		return len(v) > 0
	case map[string]any:
		return len(v) > 0
	}
	return true
}

// caseExact are the attributes compared with case (RFC 7643: ids).
func caseExact(p Path) bool {
	name := strings.ToLower(p.Attr)
	sub := strings.ToLower(p.Sub)
	return (name == "id" || name == "externalid") && p.Sub == "" ||
		(name == "members" || name == "groups") && (sub == "value" || sub == "") ||
		name == "meta" && sub == "version"
}

func compare(have any, op string, want any, exact bool) bool {
	switch w := want.(type) {
	case bool:
		h, ok := have.(bool)
		return ok && op == "eq" && h == w
	case float64:
		h, ok := number(have)
		if !ok {
			return false
		}
		switch op {
		case "eq":
			return h == w
		case "gt":
			return h > w
		case "ge":
			return h >= w
		case "lt":
			return h < w
		case "le":
			return h <= w
		}
		return false
	case string:
		h, ok := have.(string)
		if !ok {
			if n, isNum := number(have); isNum {
				h, ok = strconv.FormatFloat(n, 'f', -1, 64), true
			} else if b, isBool := have.(bool); isBool {
				h, ok = strconv.FormatBool(b), true
			}
		}
		if !ok {
			return false
		}
		switch op {
		case "gt", "ge", "lt", "le":
			c := 0
			if ht, err := time.Parse(time.RFC3339Nano, h); err == nil {
				wt, err := time.Parse(time.RFC3339Nano, w)
				if err != nil {
					return false
				}
				c = ht.Compare(wt)
			} else {
				if !exact {
					h, w = strings.ToLower(h), strings.ToLower(w)
				}
				c = strings.Compare(h, w)
			}
			return op == "gt" && c > 0 || op == "ge" && c >= 0 || op == "lt" && c < 0 || op == "le" && c <= 0
		}
		if !exact {
			h, w = strings.ToLower(h), strings.ToLower(w)
		}
		switch op {
		case "eq":
			return h == w
		case "co":
			return strings.Contains(h, w)
		case "sw":
			return strings.HasPrefix(h, w)
		case "ew":
			return strings.HasSuffix(h, w)
		}
	}
	return false
}

func number(v any) (float64, bool) {
	switch v := v.(type) {
	case float64:
		return v, true
	case int:
		return float64(v), true
	case int64:
		return float64(v), true
	}
	return 0, false
}
