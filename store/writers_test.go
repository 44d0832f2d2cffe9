package store_test

import (
	"errors"
	"fmt"
	"go/ast"
	"go/build"
	"go/constant"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

// owners says which tables each package of the module may write through
// *store.Tx, and why. A package that is not listed owns nothing: a new
// package (SCIM, SSO, the OpenID provider, import) changes the directory by
// calling provision, or is added here with its reason. A grant with methods
// allows only those methods' writes to the table.
var owners = map[string][]grant{
	// The one provisioning path and every other change to the directory:
	// tenants, organizations, persons, identities, accounts with their
	// login identifiers and seats, contact roles, activations, connections,
	// the catalogue entries and groups a provisioning source makes, and the
	// audit events and messages written in the transaction of the change.
	"provision": {
		{table: "tenants"}, {table: "organizations"}, {table: "persons"}, {table: "identities"},
		{table: "accounts"}, {table: "login_ids"}, {table: "plan_seats"},
		{table: "attributes"}, {table: "relationships"}, {table: "activations"},
		{table: "connections"}, {table: "connection_domains"},
		{table: "audit_events"}, {table: "messages", methods: []string{"QueueMessage", "AddMessage"}},
		// A sign-up link's use, counted in the transaction of the account
		// created through it (the links themselves are signup's).
		{table: "signup_links", methods: []string{"UseSignupLink"}},
		// Suspending or deactivating an account ends its sessions in that
		// tenant in the same transaction, so no request gets in between.
		// Deactivating a connection ends the sessions that came through it.
		{table: "sessions", methods: []string{"EndTenantSessions", "EndConnectionSessions"}},
		// What a provisioning source described of a user and the group
		// memberships it gave, written in the transaction of the change
		// the source asked for (SCIM calls provision, which writes them).
		{table: "source_users"}, {table: "source_user_emails"}, {table: "source_members"},
		// Which account an identity provider's subject stands for, tied in
		// the transaction of the SSO sign-in that activates or creates it.
		{table: "sso_subjects"},
		// A bulk import's created row, recorded in the transaction of the
		// account's creation, so that no row is created twice.
		{table: "import_rows", methods: []string{"RecordImportRow"}},
	},
	// The catalogues (roles, departments, job profiles, groups) and the
	// plans, whose seats are made with the plan and added or removed as it
	// grows or shrinks (claiming one stays provision's), and the audit
	// events of their changes.
	"catalog": {{table: "attributes"}, {table: "plans"}, {table: "plan_seats", methods: []string{"InsertPlan", "UpdatePlan"}},
		{table: "audit_events"}},
	// API tokens: operator and tenant tokens, the provisioning sources'
	// settings, and the audit events of their changes.
	"apitoken": {{table: "api_tokens"}, {table: "audit_events"}},
	// Sign-up links: the links with their defaults, and the audit events
	// of their changes. Their uses are counted by provision.
	"signup": {{table: "signup_links", methods: []string{"InsertSignupLink", "UpdateSignupLink"}}, {table: "audit_events"}},
	// Sign-in: sessions, the attempt counters and the browsers that signed
	// in before, and the audit events of its own changes (signed in,
	// sessions ended, password changed).
	"signin": {
		{table: "sessions"}, {table: "throttles"}, {table: "known_devices"}, {table: "audit_events"},
		// Change password on the person's own page: the new hash is written
		// after the current password passed the one check under the
		// counters, which is signin's; nothing else of an identity is.
		// A successful sign-in replaces a hash of older parameters with one
		// of today's, in the sign-in's transaction (only if unchanged).
		{table: "identities", methods: []string{"SetIdentityPassword", "RehashIdentityPassword"}},
	},
	// Delivery: leases, sent, retries and abandonment of queued messages;
	// never a new message.
	"courier": {{table: "messages", methods: []string{"ClaimMessages", "MarkSent", "MarkFailed", "ReleaseMessages"}}},
	// The OpenID Connect provider: its authorization requests and codes,
	// grants with their refresh tokens, revoked access tokens and consents,
	// the client assertions already used (each jti works once), and the
	// audit events of its own changes (a consent given). It reads the
	// directory and never writes it.
	"openid": {
		{table: "openid_auth_requests"}, {table: "openid_grants"},
		{table: "openid_refresh_tokens"}, {table: "openid_revoked_tokens"}, {table: "openid_consents"}, {table: "audit_events"},
		{table: "openid_assertions"},
		// The outbox of back-channel logout tokens, written by the hooks
		// openid gives provision and signin, in their transactions that end a
		// session or an account, and swept when old; openid/backchannel
		// delivers them.
		{table: "openid_logout_events", methods: []string{"QueueLogouts", "SweepOpenID"}},
	},
	// The provider's products (clients) and the audit events of their
	// changes; deleting a client revokes its grants in the same transaction.
	"openid/clients": {{table: "openid_clients"}, {table: "audit_events"},
		{table: "openid_grants", methods: []string{"RevokeClientGrants"}}},
	// The provider's signing keys and the audit event of a rotation.
	"openid/keys": {{table: "openid_keys"}, {table: "audit_events"}},
	// Back-channel logout: the leases, outcomes and retries of the queued
	// logout tokens, and the audit events of one abandoned or retried.
	"openid/backchannel": {{table: "openid_logout_events"}, {table: "audit_events"}},
	// Corporate SSO: sign-ins under way and the SAML assertions already
	// accepted. What a sign-in does to the directory (a tie, an
	// activation, a just-in-time account) goes through provision.
	"sso": {{table: "sso_requests"}, {table: "sso_assertions"}},
	// Linked external accounts: the external systems, the links with their
	// sealed tokens and leases, the authorizations under way, and the audit
	// events of their changes. The messages to the person are provision's:
	// it renders them and queues them in linked's transaction. The
	// tenant's webhook for link events, and the events themselves: written
	// in the transaction of the link's change, delivered by linked's worker.
	"linked": {{table: "external_systems"}, {table: "links"}, {table: "link_requests"}, {table: "audit_events"},
		{table: "link_webhooks"}, {table: "link_events"},
		// The Exchange credential form's attempts per link, in the shared
		// counters (keys "link-exchange:<tenant>/<link>"), so that usher cannot
		// be used to guess Exchange passwords.
		{table: "throttles", methods: []string{"LockThrottle", "SaveThrottle", "ClearThrottle"}}},
	// The binary and the HTTP surface own nothing: they call provision,
	// signin and courier. (So do web/api, web/console, web/pages and
	// web/view, as every package not listed.)
	// Bulk imports as jobs: the jobs with their leases, the uploaded
	// files (in chunks, deleted after their retention), and the results of
	// the rows not created. Accounts are created through provision, which
	// records each created row.
	"imports":   {{table: "imports"}, {table: "import_file_chunks"}, {table: "import_rows"}},
	"cmd/usher": nil,
	"web":       nil,
}

// suites are packages of tests, kept apart from _test files so that both
// databases' tests share them. They call store's write methods directly
// to test them, so neither owners nor reserved applies; the test checks
// that no code but tests imports them.
var suites = map[string]bool{
	// What the storage suite (store) and the rules suite (provision) share:
	// fresh stores and helpers that use a sign-up link or write an audit
	// event to test the store's own guarantees.
	"store/storetest": true,
}

type grant struct {
	table   string
	methods []string // nil: any method
}

// reserved are the writes only provision makes, whatever owners says: every
// way in creates persons, accounts and identities and claims (or frees)
// seats through the one provisioning path.
var reserved = map[string]bool{"INSERT persons": true, "INSERT accounts": true, "INSERT identities": true, "UPDATE plan_seats": true}

// TestOneProvisioningPath reads the module's code: it derives from store's
// source which tables each *store.Tx method writes (the SQL of the method
// and of what it calls in store), finds every use of those methods in the
// non-test code of the other packages, and fails when a package other than
// provision creates persons, accounts or identities or claims seats, or
// when a package writes a table it does not own.
func TestOneProvisioningPath(t *testing.T) {
	m := loadModule(t, "..")
	writes := m.txWrites(t)
	for method, want := range map[string]string{"InsertAccount": "INSERT accounts", "InsertPerson": "INSERT persons",
		"InsertIdentity": "INSERT identities", "ClaimSeat": "UPDATE plan_seats", "InsertSession": "INSERT sessions"} {
		if !slices.Contains(writes[method], want) {
			t.Fatalf("reading store's source found %v for %s, not %s: the derivation is broken", writes[method], method, want)
		}
	}
	var names []string
	for name := range writes {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		t.Logf("store.Tx.%s writes %s", name, strings.Join(writes[name], ", "))
	}

	for pkg, grants := range owners {
		if m.pkgs[m.path+"/"+pkg] == nil {
			t.Errorf("owners lists %s, which is not a package of the module", pkg)
		}
		for _, g := range grants {
			if !m.tables[g.table] {
				t.Errorf("owners gives %s the table %s, which no migration creates", pkg, g.table)
			}
			for _, method := range g.methods {
				if !slices.Contains(writes[method], "INSERT "+g.table) && !slices.Contains(writes[method], "UPDATE "+g.table) &&
					!slices.Contains(writes[method], "DELETE "+g.table) {
					t.Errorf("owners gives %s %s through %s, which does not write it", pkg, g.table, method)
				}
			}
		}
	}
	for imp, by := range m.importers() {
		if suites[imp] {
			t.Errorf("%s imports the test suite %s: only tests may", strings.Join(by, ", "), imp)
		}
	}
	uses := m.txUses(t, writes)
	perPkg := map[string]int{}
	summary := map[string]map[string]bool{}
	for _, u := range uses {
		perPkg[u.pkg]++
		if summary[u.pkg] == nil {
			summary[u.pkg] = map[string]bool{}
		}
		summary[u.pkg][u.method+" ("+strings.Join(u.writes, ", ")+")"] = true
		if suites[u.pkg] {
			continue
		}
		for _, w := range u.writes {
			op, table, _ := strings.Cut(w, " ")
			if reserved[w] && u.pkg != "provision" {
				t.Errorf("%s: %s: %s %s %s: only provision creates persons, accounts and identities and claims seats; call provision", u.pkg, u.pos, u.method, strings.ToLower(op)+"s", table)
				continue
			}
			if !owns(u.pkg, table, u.method) {
				t.Errorf("%s: %s: %s writes %s (%s), which %s does not own (see owners in store/writers_test.go)", u.pkg, u.pos, u.method, table, op, u.pkg)
			}
		}
	}
	var pkgs []string
	for pkg := range summary {
		pkgs = append(pkgs, pkg)
	}
	sort.Strings(pkgs)
	for _, pkg := range pkgs {
		t.Logf("%s uses %s", pkg, strings.Join(sortedKeys(summary[pkg]), "; "))
	}
	// The uses of today's writers must be found, or the reading is broken.
	for _, pkg := range []string{"provision", "signin", "courier"} {
		if perPkg[pkg] == 0 {
			t.Errorf("found no writes by %s: the reading of the module is broken", pkg)
		}
	}
}

func owns(pkg, table, method string) bool {
	for _, g := range owners[pkg] {
		if g.table == table && (g.methods == nil || slices.Contains(g.methods, method)) {
			return true
		}
	}
	return false
}

// module is the module's packages, parsed and type-checked from source.
// The standard library comes from the compiler's export data; other
// imports from outside the module are empty packages: their uses are type
// errors the checker passes over, and store's types need none of them.
type module struct {
	path, root string
	fset       *token.FileSet
	std        types.Importer
	pkgs       map[string]*modPkg // by import path
	tables     map[string]bool    // the tables the migrations create
}

type modPkg struct {
	path  string
	files []*ast.File
	types *types.Package
	info  *types.Info
}

func loadModule(t *testing.T, root string) *module {
	t.Helper()
	mod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	path, _, _ := strings.Cut(strings.TrimPrefix(string(mod), "module "), "\n")
	fset := token.NewFileSet()
	m := &module{path: strings.TrimSpace(path), root: root, fset: fset, std: importer.ForCompiler(fset, "gc", nil),
		pkgs: map[string]*modPkg{}, tables: map[string]bool{}}
	// Every package of the module: each folder with Go files but those of
	// other modules and those the go command ignores.
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		name := d.Name()
		if p != root && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata") {
			return filepath.SkipDir
		}
		if _, err := os.Stat(filepath.Join(p, "go.mod")); err == nil && p != root {
			return filepath.SkipDir
		}
		rel, _ := filepath.Rel(root, p)
		ip := m.path
		if rel != "." {
			ip += "/" + filepath.ToSlash(rel)
		}
		if _, err := m.load(ip); err != nil {
			var none *build.NoGoError
			if errors.As(err, &none) {
				return nil
			}
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	migs, err := filepath.Glob(filepath.Join(root, "store", "migrations", "sqlite", "*.sql"))
	if err != nil || len(migs) == 0 {
		t.Fatalf("no migrations found: %v", err)
	}
	for _, f := range migs {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range createTable.FindAllStringSubmatch(string(b), -1) {
			m.tables[s[1]] = true
		}
	}
	m.tables["schema_migrations"] = true // created by store.Open
	return m
}

var createTable = regexp.MustCompile(`CREATE TABLE (?:IF NOT EXISTS )?(\w+)`)

func (m *module) Import(path string) (*types.Package, error) { return m.ImportFrom(path, "", 0) }

func (m *module) ImportFrom(path, _ string, _ types.ImportMode) (*types.Package, error) {
	if path == m.path || strings.HasPrefix(path, m.path+"/") {
		p, err := m.load(path)
		if err != nil {
			return nil, err
		}
		return p.types, nil
	}
	if first, _, _ := strings.Cut(path, "/"); !strings.Contains(first, ".") {
		return m.std.Import(path)
	}
	// Its name matters little: a wrong one only makes more of the errors
	// passed over.
	name := majorVersion.ReplaceAllString(path, "")
	p := types.NewPackage(path, name[strings.LastIndex(name, "/")+1:])
	p.MarkComplete()
	return p, nil
}

var majorVersion = regexp.MustCompile(`/v[0-9]+$`)

// load parses and type-checks the package at import path, once.
func (m *module) load(path string) (*modPkg, error) {
	if p, ok := m.pkgs[path]; ok {
		if p == nil {
			return nil, fmt.Errorf("import cycle through %s", path)
		}
		return p, nil
	}
	m.pkgs[path] = nil
	dir := filepath.Join(m.root, filepath.FromSlash(strings.TrimPrefix(strings.TrimPrefix(path, m.path), "/")))
	bp, err := build.Default.ImportDir(dir, 0)
	if err != nil {
		delete(m.pkgs, path)
		return nil, err
	}
	p := &modPkg{path: path, info: &types.Info{Types: map[ast.Expr]types.TypeAndValue{}, Defs: map[*ast.Ident]types.Object{},
		Uses: map[*ast.Ident]types.Object{}, Selections: map[*ast.SelectorExpr]*types.Selection{}}}
	for _, name := range bp.GoFiles {
		f, err := parser.ParseFile(m.fset, filepath.Join(dir, name), nil, 0)
		if err != nil {
			return nil, err
		}
		p.files = append(p.files, f)
	}
	conf := types.Config{Importer: m, FakeImportC: true, Error: func(error) {}}
	p.types, _ = conf.Check(path, m.fset, p.files, p.info)
	m.pkgs[path] = p
	return p, nil
}

// importers maps each package of the module to the packages whose non-test
// code imports it, by their paths within the module.
func (m *module) importers() map[string][]string {
	out := map[string][]string{}
	for path, p := range m.pkgs {
		if p == nil {
			continue
		}
		for _, imp := range p.types.Imports() {
			if ip := imp.Path(); strings.HasPrefix(ip, m.path+"/") {
				out[m.rel(ip)] = append(out[m.rel(ip)], m.rel(path))
			}
		}
	}
	return out
}

// rel is a package's import path within the module: "provision", "cmd/usher".
func (m *module) rel(path string) string {
	if path == m.path {
		return "."
	}
	return strings.TrimPrefix(path, m.path+"/")
}

// sqlWrite finds the statements that write: the table after INSERT INTO,
// UPDATE or DELETE FROM, unless UPDATE is a lock's (FOR UPDATE, FOR NO KEY
// UPDATE) or an upsert's (DO UPDATE) or a foreign key's (ON UPDATE).
var sqlWrite = regexp.MustCompile(`(\w+)?(\s*)\b(INSERT\s+INTO|UPDATE|DELETE\s+FROM)\b\s*(\w*)`)

// scanSQL adds the writes of one constant string to writes; a write whose
// table is not one of the migrations' is a problem, as the test could not
// tell what it writes.
func (m *module) scanSQL(s string, writes map[string]bool) (problems []string) {
	for _, g := range sqlWrite.FindAllStringSubmatch(s, -1) {
		switch g[1] {
		case "FOR", "KEY", "DO", "ON":
			continue
		}
		op := strings.Fields(g[3])[0]
		if !m.tables[g[4]] {
			problems = append(problems, fmt.Sprintf("%s of an unknown table in %q", op, strings.TrimSpace(g[0])))
			continue
		}
		writes[op+" "+g[4]] = true
	}
	return problems
}

// txWrites derives, for each exported method of *store.Tx, the writes
// ("INSERT accounts") of the SQL it and the functions of store it uses
// contain: every constant string in their bodies, constants included.
func (m *module) txWrites(t *testing.T) map[string][]string {
	st := m.pkgs[m.path+"/store"]
	if st == nil {
		t.Fatal("package store was not found")
	}
	// Package-level variables with a constant value count as constants.
	vars := map[types.Object]string{}
	for _, f := range st.files {
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.VAR {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, name := range vs.Names {
					if i < len(vs.Values) {
						if tv := st.info.Types[vs.Values[i]]; tv.Value != nil && tv.Value.Kind() == constant.String {
							vars[st.info.Defs[name]] = constant.StringVal(tv.Value)
						}
					}
				}
			}
		}
	}
	own := map[*types.Func]map[string]bool{}
	calls := map[*types.Func][]*types.Func{}
	for _, f := range st.files {
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Body == nil {
				continue
			}
			fn := st.info.Defs[fd.Name].(*types.Func)
			w := map[string]bool{}
			ast.Inspect(fd.Body, func(n ast.Node) bool {
				e, ok := n.(ast.Expr)
				if !ok {
					return true
				}
				if tv := st.info.Types[e]; tv.Value != nil {
					if tv.Value.Kind() == constant.String {
						for _, p := range m.scanSQL(constant.StringVal(tv.Value), w) {
							t.Errorf("%s: %s", m.fset.Position(e.Pos()), p)
						}
					}
					return false
				}
				if id, ok := e.(*ast.Ident); ok {
					switch obj := st.info.Uses[id].(type) {
					case *types.Var:
						if s, ok := vars[obj]; ok {
							for _, p := range m.scanSQL(s, w) {
								t.Errorf("%s: %s", m.fset.Position(e.Pos()), p)
							}
						}
					case *types.Func:
						if obj.Pkg() == st.types {
							calls[fn] = append(calls[fn], obj.Origin())
						}
					}
				}
				return true
			})
			own[fn] = w
		}
	}
	tx := txType(t, st.types)
	out := map[string][]string{}
	for fn := range own {
		sig := fn.Type().(*types.Signature)
		if !fn.Exported() || sig.Recv() == nil || !types.Identical(sig.Recv().Type(), types.NewPointer(tx)) {
			continue
		}
		all := map[string]bool{}
		seen := map[*types.Func]bool{}
		var walk func(*types.Func)
		walk = func(f *types.Func) {
			if seen[f] {
				return
			}
			seen[f] = true
			for w := range own[f] {
				all[w] = true
			}
			for _, c := range calls[f] {
				walk(c)
			}
		}
		walk(fn)
		if len(all) > 0 {
			for w := range all {
				out[fn.Name()] = append(out[fn.Name()], w)
			}
			sort.Strings(out[fn.Name()])
		}
	}
	return out
}

func txType(t *testing.T, st *types.Package) *types.Named {
	obj := st.Scope().Lookup("Tx")
	if obj == nil {
		t.Fatal("store.Tx was not found")
	}
	return obj.Type().(*types.Named)
}

// use is one use of a *store.Tx method that writes, outside store.
type use struct {
	pkg, pos, method string
	writes           []string
}

// rawSQL are the methods of *store.Tx that run the SQL they are given.
var rawSQL = map[string]bool{"ExecContext": true, "QueryContext": true, "QueryRowContext": true}

// txUses finds, in the non-test code of every package but store, each use
// (a call, or a method value) of a *store.Tx method that writes, also
// through an interface *store.Tx satisfies, and each statement run through
// the raw SQL methods, whose SQL must be a constant the test can read.
func (m *module) txUses(t *testing.T, writes map[string][]string) []use {
	st := m.pkgs[m.path+"/store"]
	txPtr := types.NewPointer(txType(t, st.types))
	txMethod := func(sel *types.Selection) (string, bool) {
		fn, ok := sel.Obj().(*types.Func)
		if !ok {
			return "", false
		}
		recv := fn.Type().(*types.Signature).Recv()
		if recv == nil {
			return "", false
		}
		if types.Identical(recv.Type(), txPtr) {
			return fn.Name(), true
		}
		if iface, ok := recv.Type().Underlying().(*types.Interface); ok && types.Implements(txPtr, iface) {
			return fn.Name(), true
		}
		return "", false
	}
	var paths []string
	for p := range m.pkgs {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var out []use
	for _, path := range paths {
		p := m.pkgs[path]
		if p == nil || path == m.path+"/store" {
			continue
		}
		pkg := m.rel(path)
		for _, f := range p.files {
			raw := map[*ast.SelectorExpr]bool{}
			ast.Inspect(f, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.CallExpr:
					se, ok := n.Fun.(*ast.SelectorExpr)
					if !ok || p.info.Selections[se] == nil {
						return true
					}
					name, ok := txMethod(p.info.Selections[se])
					if !ok || !rawSQL[name] {
						return true
					}
					raw[se] = true
					pos := m.position(se.Sel.Pos())
					if len(n.Args) < 2 {
						return true
					}
					tv := p.info.Types[n.Args[1]]
					if tv.Value == nil || tv.Value.Kind() != constant.String {
						t.Errorf("%s: %s: %s runs SQL that is not a constant, so no one can tell what it writes; add a method to store", pkg, pos, name)
						return true
					}
					w := map[string]bool{}
					for _, prob := range m.scanSQL(constant.StringVal(tv.Value), w) {
						t.Errorf("%s: %s: %s", pkg, pos, prob)
					}
					if len(w) > 0 {
						out = append(out, use{pkg: pkg, pos: pos, method: name, writes: sortedKeys(w)})
					}
				case *ast.SelectorExpr:
					sel := p.info.Selections[n]
					if sel == nil {
						// Unresolved: a receiver whose type the checker could
						// not tell. A write method's name there is a miss.
						if _, pkgName := p.info.Uses[identOf(n.X)].(*types.PkgName); !pkgName && writes[n.Sel.Name] != nil {
							t.Errorf("%s: %s: cannot tell whether %s is *store.Tx's", pkg, m.position(n.Sel.Pos()), n.Sel.Name)
						}
						return true
					}
					name, ok := txMethod(sel)
					if !ok || raw[n] {
						return true
					}
					if rawSQL[name] {
						t.Errorf("%s: %s: %s used as a value, so no one can tell what SQL it runs", pkg, m.position(n.Sel.Pos()), name)
						return true
					}
					if w := writes[name]; w != nil {
						out = append(out, use{pkg: pkg, pos: m.position(n.Sel.Pos()), method: name, writes: w})
					}
				}
				return true
			})
		}
	}
	return out
}

func identOf(e ast.Expr) *ast.Ident {
	id, _ := e.(*ast.Ident)
	return id
}

// position is file:line relative to the module's root.
func (m *module) position(p token.Pos) string {
	pos := m.fset.Position(p)
	if rel, err := filepath.Rel(m.root, pos.Filename); err == nil {
		pos.Filename = filepath.ToSlash(rel)
	}
	return fmt.Sprintf("%s:%d", pos.Filename, pos.Line)
}

func sortedKeys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
