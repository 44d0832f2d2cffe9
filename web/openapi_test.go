package web

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/usherhq/usher/web/api"
)

// undocumented are the API routes the OpenAPI document does not describe,
// on purpose: the document itself.
var undocumented = map[string]bool{"GET /api/v1/openapi.json": true}

// apiMethods are the methods whose patterns are looked for in the source.
var apiMethods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}

// TestOpenAPIDocument checks the document against the routes: those the
// server registered (Server.ops) and those written in its source, parsed
// with go/parser, so that a route handed to the mux without s.api fails.
func TestOpenAPIDocument(t *testing.T) {
	e := newAPIEnv(t, databases[0].open)
	r := e.call(t, "GET", v1+"/openapi.json", "", nil)
	if r.Status != 200 || r.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("openapi.json: %s", r)
	}
	var doc struct {
		OpenAPI    string                                `json:"openapi"`
		Info       map[string]any                        `json:"info"`
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Security   []map[string][]string                 `json:"security"`
		Components struct {
			Schemas         map[string]json.RawMessage `json:"schemas"`
			SecuritySchemes map[string]map[string]any  `json:"securitySchemes"`
		} `json:"components"`
	}
	if err := json.Unmarshal(r.Body, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi %q, want 3.1.0", doc.OpenAPI)
	}
	if doc.Info["title"] == "" || doc.Info["version"] != "test" {
		t.Fatalf("info: %v", doc.Info)
	}
	if s := doc.Components.SecuritySchemes["bearer"]; s["type"] != "http" || s["scheme"] != "bearer" || len(doc.Security) != 1 {
		t.Fatalf("bearer security: %v %v", doc.Components.SecuritySchemes, doc.Security)
	}
	// The audit log and the outbox say their order, newest first unless
	// order=oldest, and a list of messages that it carries no HTML.
	for _, path := range []string{"/api/v1/tenants/{tenant}/audit-events", "/api/v1/tenants/{tenant}/messages"} {
		var o struct {
			Summary    string `json:"summary"`
			Parameters []struct {
				Name   string `json:"name"`
				Schema struct {
					Enum []string `json:"enum"`
				} `json:"schema"`
			} `json:"parameters"`
		}
		if err := json.Unmarshal(doc.Paths[path]["get"], &o); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(o.Summary, "newest first (order=oldest: oldest first)") {
			t.Errorf("GET %s does not say its order: %q", path, o.Summary)
		}
		if strings.HasSuffix(path, "/messages") && !strings.Contains(o.Summary, "not its HTML") {
			t.Errorf("GET %s does not say a list carries no HTML: %q", path, o.Summary)
		}
		ok := false
		for _, p := range o.Parameters {
			ok = ok || p.Name == "order" && slices.Equal(p.Schema.Enum, []string{"newest", "oldest"})
		}
		if !ok {
			t.Errorf("GET %s: no order parameter with newest and oldest", path)
		}
	}

	documented := map[string]docOp{}
	ids := map[string]string{}
	for path, item := range doc.Paths {
		for method, raw := range item {
			var o docOp
			if err := json.Unmarshal(raw, &o); err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
			key := strings.ToUpper(method) + " " + path
			if !slices.Contains(apiMethods, strings.ToUpper(method)) {
				t.Errorf("%s: %q is not an HTTP method", key, method)
			}
			documented[key] = o
			if o.OperationID == "" || o.Summary == "" {
				t.Errorf("%s: no operationId or summary", key)
			}
			if !regexp.MustCompile(`^[A-Za-z0-9]*$`).MatchString(o.OperationID) {
				t.Errorf("%s: operationId %q is not an identifier code generators take", key, o.OperationID)
			}
			if other, dup := ids[o.OperationID]; dup {
				t.Errorf("operationId %s of both %s and %s", o.OperationID, other, key)
			}
			ids[o.OperationID] = key
		}
	}

	// Every registered op is documented as it is registered, and nothing else is.
	registered := map[string]*api.Op{}
	for _, o := range e.srv.ops {
		key := o.Method + " " + o.Path
		if registered[key] != nil {
			t.Errorf("%s is registered twice", key)
		}
		registered[key] = o
		d, ok := documented[key]
		if !ok {
			t.Errorf("%s is served but not in the OpenAPI document", key)
			continue
		}
		checkDocOp(t, key, o, d)
	}
	for key := range documented {
		if registered[key] == nil {
			t.Errorf("%s is documented but not registered", key)
		}
	}

	// The routes written in the source: every s.api call, worked out, is a
	// registered op; every other /api/ pattern is documented (or deliberately not).
	apiCalls, muxRoutes := sourceRoutes(t)
	if len(apiCalls) != len(e.srv.ops) {
		t.Errorf("the source registers %d ops, the server %d", len(apiCalls), len(e.srv.ops))
	}
	for _, key := range apiCalls {
		if registered[key] == nil {
			t.Errorf("the source registers %s with s.api, the server does not have it", key)
		}
	}
	if len(muxRoutes) == 0 {
		t.Fatal("no /api/ route handed to the mux directly was found: the source parser is broken (GET /api/v1/openapi.json is one)")
	}
	for _, key := range muxRoutes {
		if _, ok := documented[key]; !ok && !undocumented[key] {
			t.Errorf("%s is handed to the mux without s.api and is not in the OpenAPI document", key)
		}
	}

	// Every reference resolves.
	refs := regexp.MustCompile(`"\$ref":\s*"#/components/schemas/([^"]+)"`).FindAllStringSubmatch(string(r.Body), -1)
	if len(refs) < len(e.srv.ops) {
		t.Fatalf("only %d schema references", len(refs))
	}
	for _, m := range refs {
		if _, ok := doc.Components.Schemas[m[1]]; !ok {
			t.Errorf("$ref to missing schema %s", m[1])
		}
	}
	for name := range doc.Components.Schemas {
		if !regexp.MustCompile(`^[A-Za-z0-9._-]+$`).MatchString(name) {
			t.Errorf("schema name %q is not a valid OpenAPI component name", name)
		}
	}
}

// docOp is what the test reads of one documented operation.
type docOp struct {
	OperationID string `json:"operationId"`
	Summary     string `json:"summary"`
	Description string `json:"description"`
	Parameters  []struct {
		Name     string `json:"name"`
		In       string `json:"in"`
		Required bool   `json:"required"`
	} `json:"parameters"`
	RequestBody *struct {
		Content map[string]struct {
			Schema map[string]any `json:"schema"`
		} `json:"content"`
	} `json:"requestBody"`
	Responses map[string]struct {
		Content map[string]struct {
			Schema map[string]any `json:"schema"`
		} `json:"content"`
	} `json:"responses"`
}

func (d docOp) param(in, name string) bool {
	for _, p := range d.Parameters {
		if p.In == in && p.Name == name && (in != "path" || p.Required) {
			return true
		}
	}
	return false
}

// pathParam finds the parameters in a route's path.
var pathParam = regexp.MustCompile(`\{([a-z_]+)\}`)

func checkDocOp(t *testing.T, key string, o *api.Op, d docOp) {
	t.Helper()
	for _, m := range pathParam.FindAllStringSubmatch(o.Path, -1) {
		if !d.param("path", m[1]) {
			t.Errorf("%s: path parameter %s is not documented as required", key, m[1])
		}
	}
	for _, q := range o.Params {
		if !d.param("query", q) {
			t.Errorf("%s: query parameter %s is not documented", key, q)
		}
	}
	if o.Out != nil && strings.HasPrefix(reflect.TypeOf(o.Out).Name(), "Page[") {
		if !d.param("query", "limit") || !d.param("query", "after") {
			t.Errorf("%s: a paged list without limit and after", key)
		}
	}
	if (o.In != nil || len(o.Accepts) > 0) != (d.RequestBody != nil) {
		t.Errorf("%s: request body documented %v, decoded %v, a file %v", key, d.RequestBody != nil, o.In != nil, o.Accepts)
	} else if o.In != nil && d.RequestBody.Content["application/json"].Schema["$ref"] == nil {
		t.Errorf("%s: the request body has no schema", key)
	} else if len(o.Accepts) > 0 && len(d.RequestBody.Content) != len(o.Accepts) {
		t.Errorf("%s: the file's content types are not documented: %v", key, d.RequestBody.Content)
	}
	status := strconv.Itoa(o.Status)
	resp, ok := d.Responses[status]
	if !ok {
		t.Errorf("%s: no %s response documented: %v", key, status, d.Responses)
	}
	if o.Status == http.StatusNoContent {
		if len(resp.Content) != 0 {
			t.Errorf("%s: a 204 with content", key)
		}
	} else if o.Out != nil && resp.Content["application/json"].Schema == nil {
		t.Errorf("%s: the %s response has no schema", key, status)
	}
	for _, ct := range o.Produces {
		if resp.Content[ct].Schema == nil {
			t.Errorf("%s: the %s response is not documented as %s", key, status, ct)
		}
	}
	if p := d.Responses["default"].Content["application/problem+json"].Schema["$ref"]; p != "#/components/schemas/problem" {
		t.Errorf("%s: errors are not documented as problem details: %v", key, p)
	}
	switch {
	case o.Access == api.OperatorOnly && !strings.Contains(d.Description, "operator token"):
		t.Errorf("%s: does not say it needs an operator token: %q", key, d.Description)
	case o.Access == api.TenantScoped && o.MinRole != "" && !strings.Contains(d.Description, o.MinRole):
		t.Errorf("%s: does not say it needs %s: %q", key, o.MinRole, d.Description)
	}
}

// sourceRoutes parses the package's Go files (not tests) and returns every
// route registered with s.api, worked out to "METHOD path", and every other
// /api/ pattern passed to a call (s.mux.Handle and the like).
func sourceRoutes(t *testing.T) (apiCalls, muxRoutes []string) {
	t.Helper()
	consts := packageConsts(t, "..", "usher")
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	apiRE := regexp.MustCompile(`\bs\.api\(`)
	muxRE := regexp.MustCompile(`\.Handle(?:Func)?\("(?:[A-Z]+ )?/api/[^"]`)
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, name, src, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		var apiFound, muxFound int
		var stack []ast.Node
		ast.Inspect(f, func(n ast.Node) bool {
			if n == nil {
				stack = stack[:len(stack)-1]
				return true
			}
			stack = append(stack, n)
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) == 0 {
				return true
			}
			env := scopeOf(t, stack, consts)
			if sel, ok := call.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "api" {
				apiFound++
				method, path := opField(call, "Method"), opField(call, "Path")
				ms, ok1 := evalString(method, env, consts)
				ps, ok2 := evalString(path, env, consts)
				if !ok1 || !ok2 {
					t.Errorf("%s: cannot work out the route of this s.api call", fset.Position(call.Pos()))
					return true
				}
				for _, m := range ms {
					for _, p := range ps {
						apiCalls = append(apiCalls, m+" "+p)
					}
				}
				return true
			}
			patterns, ok := evalString(call.Args[0], env, consts)
			if !ok {
				return true
			}
			for _, pat := range patterns {
				method, path, hasMethod := strings.Cut(pat, " ")
				if !hasMethod {
					method, path = "", pat
				}
				if !strings.HasPrefix(path, "/api/") || pat == "/api/" || (method != "" && !slices.Contains(apiMethods, method)) {
					continue
				}
				if sel, ok := call.Fun.(*ast.SelectorExpr); ok && strings.HasPrefix(sel.Sel.Name, "Handle") {
					muxFound++
				}
				if method == "" {
					t.Errorf("%s: %q serves every method", fset.Position(call.Pos()), pat)
				}
				muxRoutes = append(muxRoutes, pat)
			}
			return true
		})
		// The text says the same as the syntax tree: no call was missed.
		if n := len(apiRE.FindAll(src, -1)); n != apiFound {
			t.Errorf("%s: %d s.api( in the text, %d calls understood", name, n, apiFound)
		}
		if n := len(muxRE.FindAll(src, -1)); n != muxFound {
			t.Errorf("%s: %d mux registrations of /api/ in the text, %d understood", name, n, muxFound)
		}
	}
	sort.Strings(apiCalls)
	for i := 1; i < len(apiCalls); i++ {
		if apiCalls[i] == apiCalls[i-1] {
			t.Errorf("the source registers %s twice", apiCalls[i])
		}
	}
	return apiCalls, muxRoutes
}

// opField returns the value of field in the &api.Op{...} argument of an s.api call.
func opField(call *ast.CallExpr, field string) ast.Expr {
	u, ok := call.Args[0].(*ast.UnaryExpr)
	if !ok {
		return nil
	}
	lit, ok := u.X.(*ast.CompositeLit)
	if !ok {
		return nil
	}
	for _, el := range lit.Elts {
		if kv, ok := el.(*ast.KeyValueExpr); ok {
			if k, ok := kv.Key.(*ast.Ident); ok && k.Name == field {
				return kv.Value
			}
		}
	}
	return nil
}

// scopeOf binds the string constants and variables of the enclosing
// function, and the loop variables of enclosing range loops over literal
// lists, to their possible values.
func scopeOf(t *testing.T, stack []ast.Node, consts map[string]string) map[string][]string {
	env := map[string][]string{}
	for _, n := range stack {
		switch n := n.(type) {
		case *ast.FuncDecl:
			ast.Inspect(n.Body, func(m ast.Node) bool {
				if spec, ok := m.(*ast.ValueSpec); ok {
					for i, id := range spec.Names {
						if i < len(spec.Values) {
							if vs, ok := evalString(spec.Values[i], env, consts); ok {
								env[id.Name] = vs
							}
						}
					}
				}
				return true
			})
		case *ast.RangeStmt:
			id, ok := n.Value.(*ast.Ident)
			lit, ok2 := n.X.(*ast.CompositeLit)
			if !ok || !ok2 {
				continue
			}
			// A loop over anything but strings binds nothing: a route built
			// from its variable is then reported as one that cannot be worked out.
			var vals []string
			strs := true
			for _, el := range lit.Elts {
				vs, ok := evalString(el, env, consts)
				if !ok {
					strs = false
					break
				}
				vals = append(vals, vs...)
			}
			if strs {
				env[id.Name] = vals
			}
		}
	}
	return env
}

// evalString works out the possible values of a string expression made of
// literals, bound names, package constants and +.
func evalString(e ast.Expr, env map[string][]string, consts map[string]string) ([]string, bool) {
	switch e := e.(type) {
	case *ast.BasicLit:
		if e.Kind != token.STRING {
			return nil, false
		}
		s, err := strconv.Unquote(e.Value)
		return []string{s}, err == nil
	case *ast.Ident:
		vs, ok := env[e.Name]
		return vs, ok
	case *ast.SelectorExpr:
		if pkg, ok := e.X.(*ast.Ident); ok {
			v, ok := consts[pkg.Name+"."+e.Sel.Name]
			return []string{v}, ok
		}
	case *ast.ParenExpr:
		return evalString(e.X, env, consts)
	case *ast.BinaryExpr:
		if e.Op != token.ADD {
			return nil, false
		}
		l, ok1 := evalString(e.X, env, consts)
		r, ok2 := evalString(e.Y, env, consts)
		if !ok1 || !ok2 {
			return nil, false
		}
		var out []string
		for _, a := range l {
			for _, b := range r {
				out = append(out, a+b)
			}
		}
		return out, true
	}
	return nil, false
}

// packageConsts reads the string constants of the package in dir, as "pkg.Name".
func packageConsts(t *testing.T, dir, pkg string) map[string]string {
	t.Helper()
	out := map[string]string{}
	files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.CONST {
				continue
			}
			for _, s := range g.Specs {
				spec := s.(*ast.ValueSpec)
				for i, id := range spec.Names {
					if i < len(spec.Values) {
						if lit, ok := spec.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
							out[pkg+"."+id.Name], _ = strconv.Unquote(lit.Value)
						}
					}
				}
			}
		}
	}
	if out[pkg+".KindRole"] == "" {
		t.Fatalf("no string constants found in %s", dir)
	}
	return out
}

// TestOpenAPIServed sends a request to every documented operation and
// checks the server has it: not the catch-all "there is no API operation",
// no 405 or 5xx; without a token it is refused; a body is read as JSON;
// documented query parameters are taken and others refused.
func TestOpenAPIServed(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, e *apiEnv) {
		post[map[string]any](t, e, e.op, v1+"/tenants", obj{"slug": "acme", "name": "Acme"}, 201)
		var doc struct {
			Paths map[string]map[string]docOp `json:"paths"`
		}
		if err := json.Unmarshal(e.call(t, "GET", v1+"/openapi.json", "", nil).Body, &doc); err != nil {
			t.Fatal(err)
		}
		// Every query parameter any operation documents, to try on the others.
		known := map[string]bool{}
		for _, item := range doc.Paths {
			for _, d := range item {
				for _, p := range d.Parameters {
					if p.In == "query" {
						known[p.Name] = true
					}
				}
			}
		}
		n := 0
		for path, item := range doc.Paths {
			concrete := strings.NewReplacer("{tenant}", "acme").Replace(path)
			concrete = pathParam.ReplaceAllString(concrete, "00000000-0000-0000-0000-000000000000")
			for method, d := range item {
				method = strings.ToUpper(method)
				key := method + " " + path
				n++
				notCatchAll := func(r reply) {
					t.Helper()
					var p api.Problem
					_ = json.Unmarshal(r.Body, &p)
					if r.Status == 404 && p.Field == "path" || strings.Contains(p.Detail, "there is no API operation") {
						t.Errorf("%s is documented but not served: %s", key, r)
					}
					if r.Status == http.StatusMethodNotAllowed || r.Status >= 500 {
						t.Errorf("%s: %s", key, r)
					}
				}
				// Without a token: refused, as every operation needs one.
				wantProblem(t, e.call(t, method, concrete, "", nil), 401, "unauthorized", "Authorization")
				if d.RequestBody != nil {
					// A body that is not JSON is refused before anything happens.
					r := e.call(t, method, concrete, e.op, rawBody("slug=x"), "Content-Type", "text/plain")
					notCatchAll(r)
					wantProblem(t, r, 415, "unsupported_media_type", "Content-Type")
					continue
				}
				r := e.call(t, method, concrete, e.op, nil)
				notCatchAll(r)
				if method != "GET" {
					continue
				}
				// Query parameters: the documented ones are taken, others refused.
				paged := false
				for _, p := range d.Parameters {
					if p.In != "query" {
						continue
					}
					paged = paged || p.Name == "limit"
					val := map[string]string{"limit": "1", "active": "true", "email": "nobody@example.com"}[p.Name]
					r := e.call(t, method, concrete+"?"+p.Name+"="+val, e.op, nil)
					notCatchAll(r)
					var pr api.Problem
					if r.Status == 422 && json.Unmarshal(r.Body, &pr) == nil && pr.Field == p.Name {
						t.Errorf("%s: documented parameter %s refused: %s", key, p.Name, r)
					}
				}
				if paged {
					wantProblem(t, e.call(t, method, concrete+"?undocumented=1", e.op, nil), 422, "invalid", "undocumented")
					// A parameter the handler takes but the document does not list is refused too.
					for name := range known {
						if d.param("query", name) {
							continue
						}
						r := e.call(t, method, concrete+"?"+name+"=", e.op, nil)
						var pr api.Problem
						if r.Status != 422 || json.Unmarshal(r.Body, &pr) != nil || pr.Field != name {
							t.Errorf("%s takes query parameter %s, which its documentation does not list: %s", key, name, r)
						}
					}
				}
			}
		}
		if n < 60 {
			t.Fatalf("only %d operations documented", n)
		}
	})
}
