package message

import (
	"crypto/sha256"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"reflect"
	"sort"
	"strings"
	"sync"
	texttemplate "text/template"
	"text/template/parse"
)

// MaxOverrideSize is the longest template a tenant may save for one part,
// in bytes (20 KB).
const MaxOverrideSize = 20 << 10

// CheckOverride parses the override's templates for kind and renders them
// with sample data (a password account with an SMS code, an SSO account,
// an account without first name or branding, ...), so that a tenant cannot
// save a broken template. Empty parts are fine: they use the built-in.
//
// Each failing part gives an *OverrideError naming the part ("subject",
// "text", "html" or "sms") and the template's error; several are joined
// (errors.Join), so errors.As finds the first. A part fails when it is
// longer than MaxOverrideSize, does not parse, uses an unknown field (in
// any branch) or {{template}}, {{define}}, {{block}} or {{range}}, fails to
// run, renders nothing, or (text, html and sms) leaves out {{.Link}}.
func CheckOverride(kind string, o Override) error {
	if !knownKind(kind) {
		return fmt.Errorf("message: unknown kind %q; the kinds are %s", kind, strings.Join(kinds, ", "))
	}
	var errs []error
	for _, p := range parts {
		src := o.part(p)
		if strings.TrimSpace(src) == "" {
			continue
		}
		if err := checkPart(kind, p, src); err != nil {
			errs = append(errs, &OverrideError{Kind: kind, Part: p, Err: err})
		}
	}
	return errors.Join(errs...)
}

const (
	sampleLink   = "https://example.com/t/example/activate#sample-secret"
	sampleSignIn = "https://example.com/t/example/"
	// sampleLinkPage is the page where a person authorizes a linked account.
	sampleLinkPage = "https://example.com/t/example/links/sample-link"
)

var samples = []struct {
	name string
	d    Data
}{
	{"a password account with an SMS code", Data{
		TenantName: "Example Ltd", FirstName: "Alex", Link: sampleLink, Code: "123456", CodeMinutes: 10, ExpiresHours: 168,
		Branding: Branding{ProductName: "Example App", Color: "#0b7285", LogoURL: "https://example.com/logo.png", SupportEmail: "help@example.com"},
	}},
	{"an SSO account", Data{
		TenantName: "Example Ltd", FirstName: "Alex", Link: sampleSignIn, SSO: true, SSOName: "Example Entra ID", ExpiresHours: 168,
		Branding: Branding{SupportEmail: "help@example.com"},
	}},
	{"an account without first name or branding", Data{TenantName: "Example Ltd", Link: sampleLink, ExpiresHours: 36}},
	{"an SSO account with a code and no connection name", Data{TenantName: "Example Ltd", FirstName: "Alex", Link: sampleSignIn, SSO: true, Code: "654321", CodeMinutes: 5}},
	{"an account linked to Exchange on-premises", Data{
		TenantName: "Example Ltd", FirstName: "Alex", Link: sampleLinkPage, SystemName: "Example Exchange", Exchange: true,
		Branding: Branding{ProductName: "Example App"},
	}},
}

// sampleSystem names the external system in samples for a link message
// that name none.
const sampleSystem = "Example Calendar"

func checkPart(kind, p, src string) error {
	c, err := compile(p, src)
	if err != nil {
		return err
	}
	for _, s := range samples {
		d := s.d
		if linkKind(kind) && d.SystemName == "" {
			d.SystemName = sampleSystem // a link message always names its system
		}
		out, err := c.run(p, newFields(d, "en", "en"))
		if err != nil {
			return fmt.Errorf("with %s: %w", s.name, err)
		}
		if p != PartSubject && !strings.Contains(out, d.Link) {
			return fmt.Errorf("with %s: the %s must include the link ({{.Link}})", s.name, p)
		}
	}
	return nil
}

// runOverride renders one part of an override.
func runOverride(p, src string, v *fields) (string, error) {
	c, err := compile(p, src)
	if err != nil {
		return "", err
	}
	return c.run(p, v)
}

// compiled is a parsed override part, or why it does not parse.
type compiled struct {
	text *texttemplate.Template
	html *htmltemplate.Template
	err  error
}

func (c *compiled) run(part string, v *fields) (string, error) {
	var b limited
	var err error
	if c.html != nil {
		err = c.html.Execute(&b, v)
	} else {
		err = c.text.Execute(&b, v)
	}
	if err != nil {
		return "", err
	}
	out := b.String()
	if part == PartSubject || part == PartSMS {
		out = oneLine(out)
	}
	if strings.TrimSpace(out) == "" {
		return "", errors.New("the template renders nothing")
	}
	return out, nil
}

// compiledCache keeps parsed overrides, by part and source, so that Render
// does not parse a tenant's templates for every message. It is emptied when
// full.
var compiledCache struct {
	sync.Mutex
	m map[[sha256.Size]byte]*compiled
}

const compiledCacheSize = 512

func compile(part, src string) (*compiled, error) {
	key := sha256.Sum256([]byte(part + "\x00" + src))
	compiledCache.Lock()
	c, ok := compiledCache.m[key]
	compiledCache.Unlock()
	if ok {
		return c, c.err
	}
	c = parseOverride(part, src)
	compiledCache.Lock()
	if compiledCache.m == nil || len(compiledCache.m) >= compiledCacheSize {
		compiledCache.m = make(map[[sha256.Size]byte]*compiled)
	}
	compiledCache.m[key] = c
	compiledCache.Unlock()
	return c, c.err
}

func parseOverride(part, src string) *compiled {
	if len(src) > MaxOverrideSize {
		return &compiled{err: fmt.Errorf("the template is %d bytes long; the limit is %d bytes (20 KB)", len(src), MaxOverrideSize)}
	}
	var tree *parse.Tree
	var defined int
	c := &compiled{}
	if part == PartHTML {
		t, err := htmltemplate.New(part).Parse(src)
		if err != nil {
			return &compiled{err: err}
		}
		c.html, tree, defined = t, t.Tree, len(t.Templates())
	} else {
		t, err := texttemplate.New(part).Parse(src)
		if err != nil {
			return &compiled{err: err}
		}
		c.text, tree, defined = t, t.Tree, len(t.Templates())
	}
	if defined > 1 {
		return &compiled{err: errors.New("{{define}} and {{block}} are not allowed")}
	}
	if tree != nil {
		if err := vet(tree, tree.Root); err != nil {
			return &compiled{err: err}
		}
	}
	return c
}

// fieldNames are the names a template may use after a dot: those of fields
// and of the structs inside it.
var fieldNames = func() map[string]bool {
	names := map[string]bool{}
	var add func(t reflect.Type)
	add = func(t reflect.Type) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			names[f.Name] = true
			if f.Type.Kind() == reflect.Struct {
				add(f.Type)
			}
		}
	}
	add(reflect.TypeOf(fields{}))
	return names
}()

// fieldList lists the fields for an error message.
var fieldList = func() string {
	var l []string
	for _, n := range []string{"TenantName", "FirstName", "Link", "Code", "CodeMinutes", "ExpiresHours", "SSO", "SSOName", "SystemName", "Exchange",
		"Lang", "Product", "ExpiresIn", "CodeExpiresIn", "ButtonColor", "ButtonTextColor", "Logo"} {
		l = append(l, "."+n)
	}
	for _, n := range []string{"ProductName", "Color", "LogoURL", "SupportEmail"} {
		l = append(l, ".Branding."+n)
	}
	sort.Strings(l)
	return strings.Join(l, ", ")
}()

// vet rejects what an override may not use: unknown fields, in any branch,
// and {{template}} and {{range}}.
func vet(t *parse.Tree, n parse.Node) error {
	at := func(n parse.Node, format string, args ...any) error {
		loc, _ := t.ErrorContext(n)
		return fmt.Errorf("%s: "+format, append([]any{loc}, args...)...)
	}
	idents := func(n parse.Node, ids []string) error {
		for _, id := range ids {
			if !fieldNames[id] {
				return at(n, "unknown field .%s; the fields are %s", id, fieldList)
			}
		}
		return nil
	}
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return nil
		}
		for _, c := range n.Nodes {
			if err := vet(t, c); err != nil {
				return err
			}
		}
	case *parse.ActionNode:
		return vet(t, n.Pipe)
	case *parse.PipeNode:
		if n == nil {
			return nil
		}
		for _, c := range n.Cmds {
			if err := vet(t, c); err != nil {
				return err
			}
		}
	case *parse.CommandNode:
		for _, a := range n.Args {
			if err := vet(t, a); err != nil {
				return err
			}
		}
	case *parse.IfNode:
		return vetBranch(t, &n.BranchNode)
	case *parse.WithNode:
		return vetBranch(t, &n.BranchNode)
	case *parse.RangeNode:
		return at(n, "{{range}} is not allowed")
	case *parse.TemplateNode:
		return at(n, "{{template}} is not allowed")
	case *parse.FieldNode:
		return idents(n, n.Ident)
	case *parse.ChainNode:
		if err := vet(t, n.Node); err != nil {
			return err
		}
		return idents(n, n.Field)
	case *parse.VariableNode:
		if len(n.Ident) > 1 {
			return idents(n, n.Ident[1:])
		}
	}
	return nil
}

func vetBranch(t *parse.Tree, b *parse.BranchNode) error {
	for _, n := range []parse.Node{b.Pipe, b.List, b.ElseList} {
		if err := vet(t, n); err != nil {
			return err
		}
	}
	return nil
}
