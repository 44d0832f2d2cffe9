package store_test

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/usherhq/usher/store"
	"github.com/usherhq/usher/store/storetest"
)

// TestMigrationsAgreeSQLitePostgres: the migrations are written twice, once
// per dialect, and must make the same schema but for the columns' types.
// Both directories hold the same files; a fresh database of each, migrated,
// has the same tables, columns (name, nullability, default, primary key),
// unique constraints, indexes (name, columns, uniqueness, predicate) and
// foreign keys. Each side's schema is described as a set of facts, and a
// fact found on one side only is drift. CHECK constraints are not compared.
func TestMigrationsAgreeSQLitePostgres(t *testing.T) {
	lite, pg := migrationFiles(t, "sqlite"), migrationFiles(t, "postgres")
	if !slices.Equal(lite, pg) {
		t.Errorf("the migration files differ:\nmigrations/sqlite:   %v\nmigrations/postgres: %v", lite, pg)
	}
	if storetest.PostgresURL() == "" {
		t.Skip("USHER_TEST_POSTGRES_URL is not set: the schemas of SQLite and PostgreSQL were not compared")
	}
	ctx := context.Background()
	liteFacts := sqliteSchema(ctx, t, storetest.OpenSQLite(t, nil).Read())
	pgFacts := postgresSchema(ctx, t, storetest.OpenPostgres(t, nil).Read())
	if len(liteFacts) < 50 || len(pgFacts) < 50 {
		t.Fatalf("the introspection found too little to compare: %d facts on SQLite, %d on PostgreSQL", len(liteFacts), len(pgFacts))
	}
	for _, f := range liteFacts {
		if !slices.Contains(pgFacts, f) && !slices.Contains(onlyOnSQLite, f) {
			t.Errorf("only on SQLite: %s", f)
		}
	}
	for _, f := range onlyOnSQLite {
		if !slices.Contains(liteFacts, f) || slices.Contains(pgFacts, f) {
			t.Errorf("meant to be only on SQLite, but is not: %s", f)
		}
	}
	for _, f := range pgFacts {
		if !slices.Contains(liteFacts, f) {
			t.Errorf("only on PostgreSQL: %s", f)
		}
	}
}

// onlyOnSQLite are the facts one side has on purpose: PostgreSQL dropped
// these foreign keys to rows every write of a tenant shares, for the row
// locks they took (migration 0024), and those between a creation's rows,
// for the query each checked per row (0026); SQLite keeps them, and checks
// them in every test.
var onlyOnSQLite = []string{
	"foreign key accounts (person_id) REFERENCES persons (id) ON UPDATE NO ACTION ON DELETE NO ACTION",
	"foreign key activations (account_id) REFERENCES accounts (id) ON UPDATE NO ACTION ON DELETE NO ACTION",
	"foreign key login_ids (account_id) REFERENCES accounts (id) ON UPDATE NO ACTION ON DELETE NO ACTION",
	"foreign key accounts (plan_id) REFERENCES plans (id) ON UPDATE NO ACTION ON DELETE NO ACTION",
	"foreign key accounts (tenant_id) REFERENCES tenants (id) ON UPDATE NO ACTION ON DELETE NO ACTION",
	"foreign key import_rows (import_id) REFERENCES imports (id) ON UPDATE NO ACTION ON DELETE NO ACTION",
	"foreign key persons (organization_id) REFERENCES organizations (id) ON UPDATE NO ACTION ON DELETE NO ACTION",
	"foreign key persons (tenant_id) REFERENCES tenants (id) ON UPDATE NO ACTION ON DELETE NO ACTION",
}

func migrationFiles(t *testing.T, dialect string) []string {
	t.Helper()
	entries, err := os.ReadDir("migrations/" + dialect)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// The facts, in the same words for both dialects.
func columnFact(table, column string, notNull bool, def string) string {
	null := "NULL"
	if notNull {
		null = "NOT NULL"
	}
	if def != "" {
		def = " DEFAULT " + normalExpr(def)
	}
	return fmt.Sprintf("column %s.%s %s%s", table, column, null, def)
}

func primaryKeyFact(table string, cols []string) string {
	return fmt.Sprintf("primary key of %s (%s)", table, strings.Join(cols, ", "))
}

// uniqueFact is a UNIQUE constraint; its name is the database's own choice
// (sqlite_autoindex_…, …_key), so it is known by its columns.
func uniqueFact(table string, cols []string) string {
	return fmt.Sprintf("unique constraint on %s (%s)", table, strings.Join(cols, ", "))
}

func indexFact(table, name string, cols []string, unique bool, where string) string {
	kind := "index"
	if unique {
		kind = "unique index"
	}
	if where != "" {
		where = " WHERE " + normalExpr(where)
	}
	return fmt.Sprintf("%s %s ON %s (%s)%s", kind, name, table, strings.Join(cols, ", "), where)
}

func foreignKeyFact(table string, from []string, ref string, to []string, onUpdate, onDelete string) string {
	return fmt.Sprintf("foreign key %s (%s) REFERENCES %s (%s) ON UPDATE %s ON DELETE %s",
		table, strings.Join(from, ", "), ref, strings.Join(to, ", "), onUpdate, onDelete)
}

var (
	pgCast = regexp.MustCompile(`::[a-z_]+( varying| with(out)? time zone)?`)
	spaces = regexp.MustCompile(`\s+`)
)

// normalExpr writes a default or an index's predicate the same way for
// both: PostgreSQL's pg_get_expr adds casts and parentheses SQLite keeps
// as written.
func normalExpr(s string) string {
	s = pgCast.ReplaceAllString(s, "")
	s = strings.NewReplacer("(", "", ")", "").Replace(s)
	return strings.ToLower(strings.TrimSpace(spaces.ReplaceAllString(s, " ")))
}

// queryStrings runs a query of n columns, all read as text, and returns
// its rows.
func queryStrings(ctx context.Context, t *testing.T, r *store.Tx, n int, query string, args ...any) [][]string {
	t.Helper()
	rows, err := r.QueryContext(ctx, query, args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	var out [][]string
	for rows.Next() {
		row := make([]string, n)
		dest := make([]any, n)
		for i := range row {
			dest[i] = &row[i]
		}
		if err := rows.Scan(dest...); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return out
}

func sqliteSchema(ctx context.Context, t *testing.T, r *store.Tx) []string {
	var facts []string
	for _, tb := range queryStrings(ctx, t, r, 1, `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`) {
		table := tb[0]
		facts = append(facts, "table "+table)
		var pk []string
		cols := queryStrings(ctx, t, r, 4, `SELECT name, CAST("notnull" AS TEXT), CAST(pk AS TEXT), COALESCE(dflt_value, '') FROM pragma_table_info($1) ORDER BY pk, cid`, table)
		for _, c := range cols {
			inPK := c[2] != "0"
			if inPK {
				pk = append(pk, c[0])
			}
			// Exception: SQLite lets a primary key column other than an
			// INTEGER PRIMARY KEY hold NULL unless it is declared NOT NULL
			// (a bug kept for compatibility); PostgreSQL's primary keys are
			// NOT NULL by definition. The store always sets ids, and making
			// SQLite's NOT NULL would mean rebuilding every table, so a
			// primary key column counts as NOT NULL here.
			facts = append(facts, columnFact(table, c[0], c[1] == "1" || inPK, c[3]))
		}
		if len(pk) > 0 {
			facts = append(facts, primaryKeyFact(table, pk))
		}
		for _, ix := range queryStrings(ctx, t, r, 4, `SELECT name, CAST("unique" AS TEXT), origin, CAST(partial AS TEXT) FROM pragma_index_list($1)`, table) {
			name, unique, origin, partial := ix[0], ix[1] == "1", ix[2], ix[3] == "1"
			var cols []string
			for _, c := range queryStrings(ctx, t, r, 1, `SELECT COALESCE(name, '<expression>') FROM pragma_index_info($1) ORDER BY seqno`, name) {
				cols = append(cols, c[0])
			}
			switch origin {
			case "pk": // the primary key, above
			case "u":
				facts = append(facts, uniqueFact(table, cols))
			default:
				where := ""
				if partial {
					def := queryStrings(ctx, t, r, 1, `SELECT sql FROM sqlite_master WHERE type = 'index' AND name = $1`, name)
					if i := strings.LastIndex(strings.ToUpper(def[0][0]), " WHERE "); i >= 0 {
						where = def[0][0][i+len(" WHERE "):]
					} else {
						t.Fatalf("partial index %s: no WHERE in %q", name, def[0][0])
					}
				}
				facts = append(facts, indexFact(table, name, cols, unique, where))
			}
		}
		// One foreign key per id, its columns in seq order; a reference
		// without columns is to the referenced table's primary key.
		type fk struct {
			ref, onUpdate, onDelete string
			from, to                []string
		}
		var fks []*fk
		byID := map[string]*fk{}
		for _, f := range queryStrings(ctx, t, r, 6, `SELECT CAST(id AS TEXT), "table", "from", COALESCE("to", ''), on_update, on_delete FROM pragma_foreign_key_list($1) ORDER BY id, seq`, table) {
			k := byID[f[0]]
			if k == nil {
				k = &fk{ref: f[1], onUpdate: f[4], onDelete: f[5]}
				byID[f[0]] = k
				fks = append(fks, k)
			}
			k.from, k.to = append(k.from, f[2]), append(k.to, f[3])
		}
		for _, k := range fks {
			if slices.Contains(k.to, "") {
				k.to = nil
				for _, c := range queryStrings(ctx, t, r, 1, `SELECT name FROM pragma_table_info($1) WHERE pk > 0 ORDER BY pk`, k.ref) {
					k.to = append(k.to, c[0])
				}
			}
			facts = append(facts, foreignKeyFact(table, k.from, k.ref, k.to, k.onUpdate, k.onDelete))
		}
	}
	slices.Sort(facts)
	return facts
}

// pgColumns lists the columns of the key of an index or constraint: arr is
// an int2[] of attribute numbers of relation rel, 0 for an expression.
func pgColumns(arr, rel string) string {
	return `array_to_string(ARRAY(SELECT COALESCE(a.attname, '<expression>') FROM unnest(` + arr + `) WITH ORDINALITY k(n, ord)
		LEFT JOIN pg_attribute a ON a.attrelid = ` + rel + ` AND a.attnum = k.n ORDER BY k.ord), ',')`
}

// pgAction is what pg_constraint's confupdtype and confdeltype codes mean,
// in SQLite's words.
var pgAction = map[string]string{"a": "NO ACTION", "r": "RESTRICT", "c": "CASCADE", "n": "SET NULL", "d": "SET DEFAULT"}

func postgresSchema(ctx context.Context, t *testing.T, r *store.Tx) []string {
	var facts []string
	for _, tb := range queryStrings(ctx, t, r, 1, `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')`) {
		facts = append(facts, "table "+tb[0])
	}
	for _, c := range queryStrings(ctx, t, r, 4, `SELECT table_name, column_name, is_nullable, COALESCE(column_default, '') FROM information_schema.columns
		WHERE table_schema = current_schema()`) {
		facts = append(facts, columnFact(c[0], c[1], c[2] == "NO", c[3]))
	}
	// Every index, with the constraint it serves if any: a primary key, a
	// UNIQUE constraint, or none (CREATE [UNIQUE] INDEX).
	for _, ix := range queryStrings(ctx, t, r, 6, `SELECT t.relname, i.relname, COALESCE(con.contype::text, ''), ix.indisunique::text,
			`+pgColumns(`(ix.indkey::int2[])[0:ix.indnkeyatts-1]`, `ix.indrelid`)+`, COALESCE(pg_get_expr(ix.indpred, ix.indrelid), '')
		FROM pg_index ix JOIN pg_class i ON i.oid = ix.indexrelid JOIN pg_class t ON t.oid = ix.indrelid
		JOIN pg_namespace n ON n.oid = t.relnamespace
		LEFT JOIN pg_constraint con ON con.conindid = ix.indexrelid AND con.contype IN ('p', 'u')
		WHERE n.nspname = current_schema()`) {
		table, name, constraint, unique, cols, where := ix[0], ix[1], ix[2], ix[3] == "true", strings.Split(ix[4], ","), ix[5]
		switch constraint {
		case "p":
			facts = append(facts, primaryKeyFact(table, cols))
		case "u":
			facts = append(facts, uniqueFact(table, cols))
		default:
			facts = append(facts, indexFact(table, name, cols, unique, where))
		}
	}
	for _, f := range queryStrings(ctx, t, r, 6, `SELECT cl.relname, `+pgColumns(`con.conkey`, `con.conrelid`)+`, rf.relname,
			`+pgColumns(`con.confkey`, `con.confrelid`)+`, con.confupdtype::text, con.confdeltype::text
		FROM pg_constraint con JOIN pg_class cl ON cl.oid = con.conrelid JOIN pg_class rf ON rf.oid = con.confrelid
		JOIN pg_namespace n ON n.oid = cl.relnamespace
		WHERE con.contype = 'f' AND n.nspname = current_schema()`) {
		facts = append(facts, foreignKeyFact(f[0], strings.Split(f[1], ","), f[2], strings.Split(f[3], ","), pgAction[f[4]], pgAction[f[5]]))
	}
	slices.Sort(facts)
	return facts
}
