package web

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/usherhq/usher/web/view"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/catalog"
	"github.com/usherhq/usher/password"
	"github.com/usherhq/usher/provision"
	"github.com/usherhq/usher/signin"
	"github.com/usherhq/usher/store"
	"github.com/usherhq/usher/store/storetest"
)

// The sign-in benchmarks run the real server over loopback HTTP in this
// process, with the clients on the same cores: every figure includes the
// client's cost. See BENCHMARKS.md for the command and the figures.

const benchUsers = 64

// benchWorld is a server whose tenant "bench" has benchUsers active
// accounts u0..@bench.example, all with the password benchPassword.
type benchWorld struct {
	url string
	svc *provision.Service
	st  *store.Store
}

const benchPassword = "bench passphrase 2026"

func newBenchWorld(b *testing.B, open func(testing.TB, func() time.Time) *store.Store) *benchWorld {
	b.Helper()
	st := open(b, nil)
	hs := httptest.NewUnstartedServer(nil)
	links := Links{PublicURL: "http://" + hs.Listener.Addr().String()}
	svc := provision.New(st, nil, links)
	hs.Config.Handler = New(slog.New(slog.NewTextHandler(io.Discard, nil)), Config{Version: "bench", Links: links}, st, svc, signin.New(st, svc, time.Now), nil)
	hs.Start()
	b.Cleanup(hs.Close)
	ctx := context.Background()
	tn, err := svc.CreateTenant(ctx, opActor, provision.TenantInput{Slug: "bench", Name: "Bench"})
	if err != nil {
		b.Fatal(err)
	}
	seats, name := benchUsers, "Bench"
	p, err := catalog.New(st, svc).CreatePlan(ctx, opActor, tn, catalog.PlanInput{Key: "bench", Name: &name, Seats: &seats})
	if err != nil {
		b.Fatal(err)
	}
	set := tn.Settings
	set.DefaultPlanID = p.ID
	if tn, err = svc.UpdateTenant(ctx, opActor, tn.ID, provision.TenantUpdate{Settings: &set}); err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, benchUsers)
	for i := range benchUsers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := svc.CreateAccount(ctx, usher.Actor{Kind: "token", Role: usher.AdminUser}, tn, provision.AccountInput{Route: provision.RouteNewUser,
				Person: &provision.PersonInput{FirstName: "U", LastName: strconv.Itoa(i), Email: fmt.Sprintf("u%d@bench.example", i)}})
			if err != nil {
				errs <- err
				return
			}
			link := linkRE.FindString(written(b, svc, c.Messages)[0].Body)
			if _, err := svc.ActivateWithLink(ctx, tn, link[strings.LastIndex(link, "/")+1:], benchPassword, "", "bench"); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	return &benchWorld{url: hs.URL, svc: svc, st: st}
}

// hashTime is one argon2id hash's time on one core, the best of a few.
func hashTime(b *testing.B) time.Duration {
	best := time.Hour
	for range 5 {
		start := time.Now()
		if _, err := password.Hash(context.Background(), "x"); err != nil {
			b.Fatal(err)
		}
		best = min(best, time.Since(start))
	}
	return best
}

// benchDatabases are SQLite, and PostgreSQL when USHER_TEST_POSTGRES_URL is set.
func benchDatabases() map[string]func(testing.TB, func() time.Time) *store.Store {
	dbs := map[string]func(testing.TB, func() time.Time) *store.Store{"sqlite": storetest.OpenSQLite}
	if storetest.PostgresURL() != "" {
		dbs["postgres"] = storetest.OpenPostgres
	}
	return dbs
}

// BenchmarkSignIn measures password sign-ins (both steps' work: the account,
// the throttle counters, one argon2id verification, the new session, the
// audit event) per second at concurrency 2 and 8, against the physical
// limit of the cores: GOMAXPROCS ÷ one hash's time.
func BenchmarkSignIn(b *testing.B) {
	// As usher serve does unless GOMEMLIMIT says otherwise.
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(64 << 20))
	for _, db := range []string{"sqlite", "postgres"} {
		open, ok := benchDatabases()[db]
		if !ok {
			continue
		}
		for _, conc := range []int{2, 8} {
			b.Run(fmt.Sprintf("%s/concurrency=%d", db, conc), func(b *testing.B) {
				w := newBenchWorld(b, open)
				limit := float64(runtime.GOMAXPROCS(0)) / hashTime(b).Seconds()
				lat := runConcurrent(b, conc, func(c *http.Client, i int) error {
					form := url.Values{"identifier": {fmt.Sprintf("u%d@bench.example", i%benchUsers)}, "password": {benchPassword}}
					resp, err := c.PostForm(w.url+"/t/bench/signin/password", form)
					if err != nil {
						return err
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusSeeOther {
						return fmt.Errorf("sign-in answered %d", resp.StatusCode)
					}
					return nil
				})
				rate := float64(b.N) / b.Elapsed().Seconds()
				b.ReportMetric(rate, "signins/s")
				b.ReportMetric(limit, "limit/s")
				b.ReportMetric(100*rate/limit, "%limit")
				reportLatency(b, lat)
				b.ReportMetric(peakRSSMB(), "peakRSS_MB")
			})
		}
	}
}

// BenchmarkSignInPage measures the pages of the sign-in that do no hashing:
// the front door (GET) and the identifier step (POST), at concurrency 8.
func BenchmarkSignInPage(b *testing.B) {
	for _, db := range []string{"sqlite", "postgres"} {
		open, ok := benchDatabases()[db]
		if !ok {
			continue
		}
		b.Run(db, func(b *testing.B) {
			w := newBenchWorld(b, open)
			lat := runConcurrent(b, 8, func(c *http.Client, i int) error {
				var resp *http.Response
				var err error
				if i%2 == 0 {
					resp, err = c.Get(w.url + "/t/bench/")
				} else {
					resp, err = c.PostForm(w.url+"/t/bench/signin", url.Values{"identifier": {fmt.Sprintf("u%d@bench.example", i%benchUsers)}})
				}
				if err != nil {
					return err
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					return fmt.Errorf("answered %d", resp.StatusCode)
				}
				return nil
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pages/s")
			reportLatency(b, lat)
		})
	}
}

// runConcurrent runs b.N calls of fn over conc clients and returns each
// call's latency.
func runConcurrent(b *testing.B, conc int, fn func(c *http.Client, i int) error) []time.Duration {
	lat := make([]time.Duration, b.N)
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Value
	b.ResetTimer()
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			for {
				i := int(next.Add(1)) - 1
				if i >= b.N {
					return
				}
				start := time.Now()
				if err := fn(c, i); err != nil {
					failed.Store(err)
					return
				}
				lat[i] = time.Since(start)
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
	return lat
}

func reportLatency(b *testing.B, lat []time.Duration) {
	s := slices.Clone(lat)
	slices.Sort(s)
	q := func(p float64) float64 {
		return float64(s[min(len(s)-1, int(p*float64(len(s))))].Microseconds()) / 1000
	}
	b.ReportMetric(q(0.50), "p50_ms")
	b.ReportMetric(q(0.99), "p99_ms")
}

// peakRSSMB is this process's peak resident memory (VmHWM), server and
// clients together: an upper bound of the server's.
func peakRSSMB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return float64(kb) / 1024
		}
	}
	return 0
}

// BenchmarkConsole measures console pages with 5,000 people in the tenant:
// the overview, the first page of people, a search, and a person's page.
func BenchmarkConsole(b *testing.B) {
	for _, db := range []string{"sqlite", "postgres"} {
		open, ok := benchDatabases()[db]
		if !ok {
			continue
		}
		b.Run(db, func(b *testing.B) {
			w := newBenchWorld(b, open)
			ctx := context.Background()
			tn, err := w.st.Read().TenantBySlug(ctx, "bench")
			if err != nil {
				b.Fatal(err)
			}
			admin := usher.AdminTenant
			a0, err := w.st.Read().AccountByLogin(ctx, tn.ID, "u0@bench.example")
			if err != nil {
				b.Fatal(err)
			}
			if _, err := w.svc.UpdateAccount(ctx, opActor, tn, a0.ID, provision.AccountUpdate{AdminRole: &admin}); err != nil {
				b.Fatal(err)
			}
			var last usher.Person
			for i := range 5000 {
				if last, err = w.svc.CreatePerson(ctx, opActor, tn, provision.PersonInput{FirstName: "Person", LastName: strconv.Itoa(i),
					Email: fmt.Sprintf("p%d@bench.example", i)}); err != nil {
					b.Fatal(err)
				}
			}
			c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			resp, err := c.PostForm(w.url+"/t/bench/signin/password", url.Values{"identifier": {"u0@bench.example"}, "password": {benchPassword}})
			if err != nil {
				b.Fatal(err)
			}
			resp.Body.Close()
			var cookie *http.Cookie
			for _, ck := range resp.Cookies() {
				if ck.Name == view.SessionCookie {
					cookie = ck
				}
			}
			if cookie == nil {
				b.Fatalf("no session: %d", resp.StatusCode)
			}
			for _, page := range []struct{ name, path string }{{"overview", "/t/bench/admin/"}, {"people", "/t/bench/admin/people"},
				{"search", "/t/bench/admin/people?q=person+49"}, {"person", "/t/bench/admin/people/" + last.ID}} {
				b.Run(page.name, func(b *testing.B) {
					lat := runConcurrent(b, 1, func(c *http.Client, i int) error {
						req, _ := http.NewRequest("GET", w.url+page.path, nil)
						req.AddCookie(cookie)
						resp, err := c.Do(req)
						if err != nil {
							return err
						}
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						if resp.StatusCode != 200 {
							return fmt.Errorf("%s answered %d", page.path, resp.StatusCode)
						}
						return nil
					})
					reportLatency(b, lat)
				})
			}
		})
	}
}
