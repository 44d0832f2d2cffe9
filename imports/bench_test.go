package imports_test

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/usherhq/usher/catalog"
	"github.com/usherhq/usher/imports/spreadsheet/spreadsheettest"
	"github.com/usherhq/usher/store"
	"github.com/usherhq/usher/store/storetest"
)

// BenchmarkImport* time the dry run and the import of one CSV of
// USHER_BENCH_ROWS rows (10,000 by default) without one-time passwords,
// reported as rows per second; the command is in BENCHMARKS.md.
func BenchmarkImportSQLite(b *testing.B) { benchImport(b, storetest.OpenSQLite, false) }

func BenchmarkImportPostgres(b *testing.B) {
	if storetest.PostgresURL() == "" {
		b.Skip("USHER_TEST_POSTGRES_URL is not set")
	}
	benchImport(b, storetest.OpenPostgres, false)
}

// BenchmarkImportOneTimePasswords is the same with a one-time password in
// every row, each hashed like any password (argon2id), for
// USHER_BENCH_OTP_ROWS rows (1,000 by default): the hashes, not the
// writes, set its pace.
func BenchmarkImportOneTimePasswords(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) { benchImport(b, storetest.OpenSQLite, true) })
	b.Run("postgres", func(b *testing.B) {
		if storetest.PostgresURL() == "" {
			b.Skip("USHER_TEST_POSTGRES_URL is not set")
		}
		benchImport(b, storetest.OpenPostgres, true)
	})
}

func benchImport(b *testing.B, open func(testing.TB, func() time.Time) *store.Store, otp bool) {
	rows, env := 10_000, "USHER_BENCH_ROWS"
	if otp {
		rows, env = 1_000, "USHER_BENCH_OTP_ROWS"
	}
	if n, err := strconv.Atoi(os.Getenv(env)); err == nil {
		rows = n
	}
	for b.Loop() {
		b.StopTimer()
		e := newEnv(b, open)
		name, seats := "Big", rows
		// Named in every row, not the tenant's default: the reference is checked.
		if _, err := catalog.New(e.st, e.svc).CreatePlan(e.ctx, operator, e.tn, catalog.PlanInput{Key: "big", Name: &name, Seats: &seats}); err != nil {
			b.Fatal(err)
		}
		var csv bytes.Buffer
		csv.WriteString("First name;Last name;Email;Department;Job profile;Role;Plan;Language")
		if otp {
			csv.WriteString(";One-time password")
		}
		csv.WriteByte('\n')
		for i := range rows {
			fmt.Fprintf(&csv, "Person;Number %d;p%d@example.com;Sales;Driver;Staff;Big;en", i, i)
			if otp {
				fmt.Fprintf(&csv, ";Tulipan-%d-hest", i)
			}
			csv.WriteByte('\n')
		}
		b.StartTimer()
		start := time.Now()
		rep, err := e.im.DryRun(e.ctx, admin, e.tn, csv.Bytes())
		if err != nil || rep.ToCreate != rows {
			b.Fatalf("dry run: %v %d", err, rep.ToCreate)
		}
		dry := time.Since(start)
		start = time.Now()
		rep, err = e.im.Import(e.ctx, admin, e.tn, "people.csv", csv.Bytes())
		if err != nil || rep.Created != rows {
			b.Fatalf("import: %v %d", err, rep.Created)
		}
		imp := time.Since(start)
		b.ReportMetric(float64(rows)/dry.Seconds(), "dry-rows/s")
		b.ReportMetric(float64(rows)/imp.Seconds(), "import-rows/s")
		// The memory the Go runtime holds from the system (the test's too):
		// an upper bound of the heap an import needs, not the process's RSS.
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		b.ReportMetric(float64(ms.Sys)/(1<<20), "sys-MiB")
	}
}

// BenchmarkDryRunXLSX times the dry run of one workbook of
// USHER_BENCH_ROWS rows (10,000 by default), reported as rows per second:
// "text" has no cell in a date format, "dates" has its external ids typed
// as dates.
func BenchmarkDryRunXLSX(b *testing.B) {
	for _, dates := range []bool{false, true} {
		name := "text"
		if dates {
			name = "dates"
		}
		b.Run(name, func(b *testing.B) { benchDryRunXLSX(b, dates) })
	}
}

func benchDryRunXLSX(b *testing.B, dates bool) {
	rows := 10_000
	if n, err := strconv.Atoi(os.Getenv("USHER_BENCH_ROWS")); err == nil {
		rows = n
	}
	e := newEnv(b, storetest.OpenSQLite)
	e.seats(rows)
	data := spreadsheettest.Workbook(b, rows, dates)
	b.ResetTimer()
	for b.Loop() {
		rep, err := e.im.DryRun(e.ctx, admin, e.tn, data)
		if err != nil || rep.ToCreate != rows {
			b.Fatalf("dry run: %v %d", err, rep.ToCreate)
		}
	}
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "dry-rows/s")
}
