package signin

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/catalog"
	"github.com/usherhq/usher/password"
	"github.com/usherhq/usher/provision"
	"github.com/usherhq/usher/store"
	"github.com/usherhq/usher/store/storetest"
)

// world is a signin Service on a fresh store, with a tenant "acme" whose
// default plan has room, a settable clock, and a count of the password
// verifications the Service ran.
type world struct {
	ctx    context.Context
	st     *store.Store
	prov   *provision.Service
	svc    *Service
	clock  *storetest.Clock
	tenant usher.Tenant
	hashes atomic.Int64
}

var (
	operator = usher.Actor{Kind: "operator", ID: "test", Role: usher.PrincipalOperator}
	admin    = usher.Actor{Kind: "token", ID: "admin", Role: usher.AdminUser}
)

// onEachDatabase runs fn on SQLite and, when USHER_TEST_POSTGRES_URL is set, PostgreSQL.
func onEachDatabase(t *testing.T, fn func(t *testing.T, w *world)) {
	for name, open := range map[string]func(testing.TB, func() time.Time) *store.Store{"sqlite": storetest.OpenSQLite, "postgres": storetest.OpenPostgres} {
		t.Run(name, func(t *testing.T) {
			clock := storetest.NewClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
			w := &world{ctx: context.Background(), st: open(t, clock.Now), clock: clock}
			w.prov = provision.New(w.st, clock.Now, storetest.Links{})
			w.svc = New(w.st, w.prov, clock.Now)
			w.svc.verify = func(ctx context.Context, phc, pw string) (bool, error) {
				w.hashes.Add(1)
				return verify(ctx, phc, pw)
			}
			w.tenant = w.newTenant(t, "acme")
			fn(t, w)
		})
	}
}

// newTenant creates a tenant with a default plan of 200 seats, revealing accounts.
func (w *world) newTenant(t *testing.T, slug string) usher.Tenant {
	t.Helper()
	tn, err := w.prov.CreateTenant(w.ctx, operator, provision.TenantInput{Slug: slug, Name: slug})
	if err != nil {
		t.Fatal(err)
	}
	seats, name := 200, "Standard"
	p, err := catalog.New(w.st, w.prov).CreatePlan(w.ctx, operator, tn, catalog.PlanInput{Key: "std", Name: &name, Seats: &seats})
	if err != nil {
		t.Fatal(err)
	}
	set := tn.Settings
	set.DefaultPlanID, set.RevealAccounts = p.ID, true
	if tn, err = w.prov.UpdateTenant(w.ctx, operator, tn.ID, provision.TenantUpdate{Settings: &set}); err != nil {
		t.Fatal(err)
	}
	return tn
}

func (w *world) settings(t *testing.T, f func(*usher.TenantSettings)) {
	t.Helper()
	set := w.tenant.Settings
	f(&set)
	tn, err := w.prov.UpdateTenant(w.ctx, operator, w.tenant.ID, provision.TenantUpdate{Settings: &set})
	if err != nil {
		t.Fatal(err)
	}
	w.tenant = tn
}

// invite creates an invited account with email in tn and returns it with
// the secret of its activation link.
func (w *world) invite(t testing.TB, tn usher.Tenant, email string) (usher.Account, string) {
	t.Helper()
	c, err := w.prov.CreateAccount(w.ctx, admin, tn, provision.AccountInput{Route: provision.RouteNewUser,
		Person: &provision.PersonInput{FirstName: "P", LastName: "Tester", Email: email}})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range c.Messages {
		m, err := w.prov.Compose(w.ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		if s := linkRE.FindStringSubmatch(m.Body); s != nil {
			return c.Account, s[1]
		}
	}
	t.Fatalf("no activation link sent to %s", email)
	return usher.Account{}, ""
}

var linkRE = regexp.MustCompile(`/activate#([A-Za-z0-9_-]+)`)

// active creates an account with email in tn, activated with pw from its own address.
func (w *world) active(t testing.TB, tn usher.Tenant, email, pw string) usher.Account {
	t.Helper()
	_, secret := w.invite(t, tn, email)
	a, err := w.prov.ActivateWithLink(w.ctx, tn, secret, pw, "", "192.0.2.250")
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// actives creates n accounts u<i>@<prefix>.example in parallel, all with pw.
func (w *world) actives(t *testing.T, prefix string, n int, pw string) []usher.Account {
	t.Helper()
	out := make([]usher.Account, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = w.active(t, w.tenant, fmt.Sprintf("u%d@%s.example", i, prefix), pw)
		}()
	}
	wg.Wait()
	return out
}

func (w *world) signIn(id, pw, source, device string) (Result, error) {
	return w.svc.SignIn(w.ctx, w.tenant, Attempt{Identifier: id, Password: pw, Source: source, UserAgent: "test", Device: device})
}

func mustSignIn(t *testing.T, w *world, id, pw, source, device string) Result {
	t.Helper()
	res, err := w.signIn(id, pw, source, device)
	if err != nil || res.Secret == "" {
		t.Fatalf("sign-in of %s from %s: %+v %v", id, source, res, err)
	}
	return res
}

func wantCredentials(t *testing.T, err error, what string) {
	t.Helper()
	if !errors.Is(err, ErrCredentials) {
		t.Fatalf("%s: %v, want the credentials error", what, err)
	}
}

func wantThrottled(t *testing.T, err error, wait time.Duration, what string) {
	t.Helper()
	var te *ThrottledError
	if !errors.As(err, &te) || te.RetryAfter != wait {
		t.Fatalf("%s: %v, want a wait of %v", what, err, wait)
	}
}

// burst runs fn n times at once and counts its outcomes: checked (a wrong
// password), throttled, and any other error.
func burst(t *testing.T, n int, fn func(i int) error) (checked, throttled int) {
	t.Helper()
	errs := make(chan error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs <- fn(i)
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		var te *ThrottledError
		switch {
		case errors.Is(err, ErrCredentials):
			checked++
		case errors.As(err, &te):
			throttled++
		default:
			t.Errorf("a guess of the burst: %v", err)
		}
	}
	return checked, throttled
}

func TestIdentify(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, w *world) {
		w.active(t, w.tenant, "ada@example.com", "analytical engine 1843")
		invited, _ := w.invite(t, w.tenant, "grace@example.com")
		suspended := w.active(t, w.tenant, "sus@example.com", "suspended passphrase")
		state := usher.StateSuspended
		if _, err := w.prov.UpdateAccount(w.ctx, admin, w.tenant, suspended.ID, provision.AccountUpdate{State: &state}); err != nil {
			t.Fatal(err)
		}
		if _, err := w.prov.SaveConnection(w.ctx, usher.Actor{Kind: "token", Role: usher.AdminTenant}, w.tenant, "",
			provision.ConnectionInput{Connection: usher.Connection{Name: "Corp SSO", Protocol: "oidc", Domains: []string{"corp.example"},
				Issuer: "https://idp.corp.example", ClientID: "usher", ClientSecret: "s"}}); err != nil {
			t.Fatal(err)
		}
		step := func(id string) Step {
			t.Helper()
			s, err := w.svc.Identify(w.ctx, w.tenant, id)
			if err != nil {
				t.Fatalf("identify %q: %v", id, err)
			}
			return s
		}
		for id, want := range map[string]string{
			"  Ada@Example.com ":   StepPassword,
			"grace@example.com":    StepInvited,
			"sus@example.com":      StepInactive,
			"nobody@example.com":   StepNoAccount,
			"someone@corp.example": StepSSO,
		} {
			if s := step(id); s.Kind != want {
				t.Errorf("identify %q: %q, want %q", id, s.Kind, want)
			}
		}
		if s := step(" ada@example.com "); s.Identifier != "ada@example.com" {
			t.Errorf("the identifier comes back trimmed: %q", s.Identifier)
		}
		if s := step("someone@corp.example"); s.Connection != "Corp SSO" {
			t.Errorf("the SSO step names its connection: %+v", s)
		}
		for _, bad := range []string{"", "   ", string(make([]byte, 321))} {
			if _, err := w.svc.Identify(w.ctx, w.tenant, bad); !errors.Is(err, usher.ErrInvalid) {
				t.Errorf("identify %q: %v, want invalid", bad, err)
			}
		}
		// Registration is offered where the tenant takes it.
		if step("nobody@example.com").CanRegister {
			t.Error("registration offered by a tenant that takes none")
		}
		w.settings(t, func(s *usher.TenantSettings) { s.Registration = "open" })
		if !step("nobody@example.com").CanRegister || step("ada@example.com").CanRegister {
			t.Error("registration: offered for a new address only")
		}
		// A one-time password opens the password step of an invited account.
		if _, err := w.prov.SetOneTimePassword(w.ctx, admin, w.tenant, invited.ID, ""); err != nil {
			t.Fatal(err)
		}
		if s := step("grace@example.com"); s.Kind != StepPassword {
			t.Errorf("invited with a one-time password: %q", s.Kind)
		}
		// A tenant that does not reveal accounts answers every identifier alike, SSO domains apart.
		w.settings(t, func(s *usher.TenantSettings) { s.RevealAccounts = false })
		for _, id := range []string{"ada@example.com", "sus@example.com", "nobody@example.com"} {
			if s := step(id); s.Kind != StepPassword {
				t.Errorf("without revealing accounts, %q: %q", id, s.Kind)
			}
		}
		if s := step("someone@corp.example"); s.Kind != StepSSO {
			t.Errorf("without revealing accounts, an SSO domain: %q", s.Kind)
		}
	})
}

func TestSignInChecks(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, w *world) {
		a := w.active(t, w.tenant, "ada@example.com", "analytical engine 1843")
		w.hashes.Store(0)
		res := mustSignIn(t, w, " ADA@example.com", "analytical engine 1843", "198.51.100.1", "")
		if res.Account.ID != a.ID || res.Session.IdentityID != a.IdentityID || res.Session.TenantID != w.tenant.ID || res.MustChoose {
			t.Fatalf("sign-in result: %+v", res)
		}
		_, err := w.signIn("ada@example.com", "difference engine 1822", "198.51.100.1", "")
		wantCredentials(t, err, "a wrong password")
		_, err = w.signIn("nobody@example.com", "difference engine 1822", "198.51.100.1", "")
		wantCredentials(t, err, "an unknown identifier")
		invited, _ := w.invite(t, w.tenant, "grace@example.com")
		_, err = w.signIn("grace@example.com", "anything at all", "198.51.100.1", "")
		wantCredentials(t, err, "an invited account without a one-time password")
		// Each check cost exactly one verification, whatever the identifier.
		if n := w.hashes.Load(); n != 4 {
			t.Fatalf("%d verifications for four checks", n)
		}
		for _, in := range []Attempt{{Identifier: "", Password: "x"}, {Identifier: "ada@example.com"}} {
			if _, err := w.svc.SignIn(w.ctx, w.tenant, in); !errors.Is(err, usher.ErrInvalid) {
				t.Errorf("sign-in %+v: %v, want invalid", in, err)
			}
		}
		long := string(make([]byte, 513))
		_, err = w.signIn("ada@example.com", long, "198.51.100.1", "")
		wantCredentials(t, err, "an overlong password")
		// A suspended account does not sign in with its right password.
		state := usher.StateSuspended
		if _, err := w.prov.UpdateAccount(w.ctx, admin, w.tenant, a.ID, provision.AccountUpdate{State: &state}); err != nil {
			t.Fatal(err)
		}
		_, err = w.signIn("ada@example.com", "analytical engine 1843", "198.51.100.1", "")
		wantCredentials(t, err, "a suspended account")
		_ = invited
	})
}

func TestOneTimePasswordAtSignIn(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, w *world) {
		a, _ := w.invite(t, w.tenant, "grace@example.com")
		otp, err := w.prov.SetOneTimePassword(w.ctx, admin, w.tenant, a.ID, "")
		if err != nil {
			t.Fatal(err)
		}
		_, err = w.signIn("grace@example.com", "not the one-time password", "198.51.100.1", "")
		wantCredentials(t, err, "a wrong one-time password")
		res, err := w.signIn("grace@example.com", otp, "198.51.100.1", "")
		if err != nil || !res.MustChoose || res.Secret != "" || res.Account.ID != a.ID {
			t.Fatalf("the one-time password at sign-in: %+v %v; want the demand to choose, no session", res, err)
		}
		// The person chooses their own; the one-time password then no longer works.
		act, err := w.prov.ActivateWithOneTimePassword(w.ctx, w.tenant, "grace@example.com", otp, "grace's own passphrase", "", "198.51.100.1")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.svc.Start(w.ctx, w.tenant, act, "198.51.100.1", "test", ""); err != nil {
			t.Fatal(err)
		}
		_, err = w.signIn("grace@example.com", otp, "198.51.100.1", "")
		wantCredentials(t, err, "a used one-time password")
		mustSignIn(t, w, "grace@example.com", "grace's own passphrase", "198.51.100.1", "")
	})
}

func TestAccountThrottle(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, w *world) {
		w.active(t, w.tenant, "ada@example.com", "analytical engine 1843")
		// Ada's own browser signed in before: its device has a counter of its own.
		own := mustSignIn(t, w, "ada@example.com", "analytical engine 1843", "198.51.100.1", "ada's device")
		_ = own
		for i := range 5 {
			_, err := w.signIn("ada@example.com", fmt.Sprintf("guess %d", i), "203.0.113.7", "")
			wantCredentials(t, err, "a free guess")
		}
		w.hashes.Store(0)
		_, err := w.signIn("ada@example.com", "analytical engine 1843", "203.0.113.8", "")
		wantThrottled(t, err, time.Second, "the right password after five failures")
		if n := w.hashes.Load(); n != 0 {
			t.Fatalf("a refused attempt ran %d verifications", n)
		}
		mustSignIn(t, w, "ada@example.com", "analytical engine 1843", "198.51.100.1", "ada's device")
		// The wait doubles with each failure after the lock passes, up to a minute.
		w.clock.Advance(time.Second)
		_, err = w.signIn("ada@example.com", "still wrong", "203.0.113.7", "")
		wantCredentials(t, err, "the guess after the wait")
		_, err = w.signIn("ada@example.com", "analytical engine 1843", "203.0.113.7", "")
		wantThrottled(t, err, 2*time.Second, "after six failures")
		for range 10 {
			w.clock.Advance(time.Hour / 60)
			_, _ = w.signIn("ada@example.com", "still wrong", "203.0.113.7", "")
		}
		_, err = w.signIn("ada@example.com", "analytical engine 1843", "203.0.113.7", "")
		wantThrottled(t, err, time.Minute, "the account's wait is capped")
		// Failures are forgotten 15 minutes after the last one; a success clears them.
		w.clock.Advance(16 * time.Minute)
		mustSignIn(t, w, "ada@example.com", "analytical engine 1843", "203.0.113.7", "")
		for i := range 4 {
			_, err := w.signIn("ada@example.com", fmt.Sprintf("guess %d", i), "203.0.113.7", "")
			wantCredentials(t, err, "a free guess after a success")
		}
		mustSignIn(t, w, "ada@example.com", "analytical engine 1843", "203.0.113.7", "")
	})
}

func TestSourceThrottle(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, w *world) {
		w.active(t, w.tenant, "ada@example.com", "analytical engine 1843")
		// An office behind one address signs in all day: successes give their attempt back.
		for range 40 {
			mustSignIn(t, w, "ada@example.com", "analytical engine 1843", "198.51.100.1", "")
		}
		// Known and unknown identifiers count alike against their address.
		for i := range 30 {
			id := fmt.Sprintf("nobody%d@example.com", i)
			if i%2 == 0 {
				w.active(t, w.tenant, id, "some long passphrase")
			}
			_, err := w.signIn(id, "Summer2026!", "198.51.100.1", "")
			wantCredentials(t, err, "a free guess from the address")
		}
		_, err := w.signIn("ada@example.com", "analytical engine 1843", "198.51.100.1", "")
		wantThrottled(t, err, time.Second, "the address after 30 failures")
		_, err = w.signIn("someone@example.com", "Summer2026!", "198.51.100.1", "")
		wantThrottled(t, err, time.Second, "an unknown identifier from the address")
		// Another address, and an IPv6 client's other addresses in its /64, apart.
		mustSignIn(t, w, "ada@example.com", "analytical engine 1843", "198.51.100.2", "")
		for i := range 30 {
			_, err := w.signIn(fmt.Sprintf("v6-%d@example.com", i), "Summer2026!", fmt.Sprintf("2001:db8:1:1::%x", i+1), "")
			wantCredentials(t, err, "a free guess from the /64")
		}
		_, err = w.signIn("v6@example.com", "Summer2026!", "2001:db8:1:1:ffff::1", "")
		wantThrottled(t, err, time.Second, "an IPv6 /64 after 30 failures")
		// The wait grows to 15 minutes; failures are forgotten 15 minutes after the last.
		w.clock.Advance(time.Second)
		_, err = w.signIn("x@example.com", "Summer2026!", "198.51.100.1", "")
		wantCredentials(t, err, "a guess after the wait")
		_, err = w.signIn("x@example.com", "Summer2026!", "198.51.100.1", "")
		wantThrottled(t, err, 2*time.Second, "the address after 31 failures")
		w.clock.Advance(16 * time.Minute)
		mustSignIn(t, w, "ada@example.com", "analytical engine 1843", "198.51.100.1", "")
	})
}

// TestSourceWindowOfAnOffice: successes neither count against their address
// nor keep its old failures alive.
func TestSourceWindowOfAnOffice(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, w *world) {
		w.active(t, w.tenant, "ada@example.com", "analytical engine 1843")
		for i := range 29 {
			_, err := w.signIn(fmt.Sprintf("typo%d@example.com", i), "typo", "198.51.100.1", "")
			wantCredentials(t, err, "a typo")
		}
		// A busy morning of successes, one a minute, well past the window.
		for range 20 {
			w.clock.Advance(time.Minute)
			mustSignIn(t, w, "ada@example.com", "analytical engine 1843", "198.51.100.1", "")
		}
		// The typos were forgotten: a few more do not lock the office out.
		for i := range 5 {
			_, err := w.signIn(fmt.Sprintf("later%d@example.com", i), "typo", "198.51.100.1", "")
			wantCredentials(t, err, "a typo after the window")
		}
		mustSignIn(t, w, "ada@example.com", "analytical engine 1843", "198.51.100.1", "")
	})
}

// TestParallelGuessesFromOneAddress: a burst from one address gets no more
// verifications than the address's free attempts, whether it guesses at
// many accounts or at identifiers that do not exist.
func TestParallelGuessesFromOneAddress(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, w *world) {
		free := sourcePolicy.free
		accounts := w.actives(t, "spray", 60, "the accounts' passphrase")
		w.hashes.Store(0)
		checked, throttled := burst(t, len(accounts), func(i int) error {
			_, err := w.signIn(accounts[i].Email, "Summer2026!", "203.0.113.9", "")
			return err
		})
		if n := w.hashes.Load(); n > int64(free) || checked != free || throttled != len(accounts)-free {
			t.Fatalf("60 accounts, one wrong guess each, at once from one address: %d verifications, %d checked, %d refused; want at most %d verified",
				n, checked, throttled, free)
		}
		w.hashes.Store(0)
		checked, throttled = burst(t, 100, func(i int) error {
			_, err := w.signIn(fmt.Sprintf("nobody%d@example.com", i), "Summer2026!", "203.0.113.10", "")
			return err
		})
		if n := w.hashes.Load(); n > int64(free) || checked != free || throttled != 100-free {
			t.Fatalf("100 unknown identifiers at once from one address: %d verifications, %d checked, %d refused; want at most %d verified",
				n, checked, throttled, free)
		}
		// After the burst the address waits as after as many failures one by one.
		_, err := w.signIn(accounts[0].Email, "the accounts' passphrase", "203.0.113.10", "")
		wantThrottled(t, err, time.Second, "the address after the burst")
		mustSignIn(t, w, accounts[0].Email, "the accounts' passphrase", "203.0.113.11", "")
	})
}

// TestParallelGuessesAtOneAccount: the account's counter holds a burst from
// many addresses, at sign-in, on the account page and at the one-time
// password's replacement.
func TestParallelGuessesAtOneAccount(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, w *world) {
		free := accountPolicy.free
		w.active(t, w.tenant, "ada@example.com", "analytical engine 1843")
		w.hashes.Store(0)
		checked, _ := burst(t, 20, func(i int) error {
			_, err := w.signIn("ada@example.com", fmt.Sprintf("guess %d", i), fmt.Sprintf("203.0.113.%d", i+1), "")
			return err
		})
		if n := w.hashes.Load(); n > int64(free) || checked != free {
			t.Fatalf("20 guesses at once at one account: %d verifications, %d checked; want %d", n, checked, free)
		}

		// Change password on the account page, from a signed-in session.
		w.clock.Advance(time.Hour)
		res := mustSignIn(t, w, "ada@example.com", "analytical engine 1843", "198.51.100.1", "")
		cur, err := w.svc.Session(w.ctx, w.tenant, nil, res.Secret)
		if err != nil {
			t.Fatal(err)
		}
		w.hashes.Store(0)
		var wrong atomic.Int64
		burst(t, 20, func(i int) error {
			err := w.svc.ChangePassword(w.ctx, w.tenant, cur, fmt.Sprintf("guess %d", i), "a new passphrase 2026", fmt.Sprintf("203.0.113.%d", i+1))
			if errors.Is(err, usher.ErrInvalid) {
				wrong.Add(1)
				return ErrCredentials
			}
			return err
		})
		if n := w.hashes.Load(); n > int64(free) || wrong.Load() != int64(free) {
			t.Fatalf("20 wrong current passwords at once: %d verifications, %d checked; want %d", n, wrong.Load(), free)
		}

		// The one-time password's replacement (provision's activation, through CheckPassword).
		w.clock.Advance(time.Hour)
		g, _ := w.invite(t, w.tenant, "grace@example.com")
		if _, err := w.prov.SetOneTimePassword(w.ctx, admin, w.tenant, g.ID, ""); err != nil {
			t.Fatal(err)
		}
		w.hashes.Store(0)
		var refused atomic.Int64
		burst(t, 20, func(i int) error {
			_, err := w.prov.ActivateWithOneTimePassword(w.ctx, w.tenant, "grace@example.com", fmt.Sprintf("guess %d", i), "grace's own passphrase", "", fmt.Sprintf("203.0.113.%d", i+1))
			var te *ThrottledError
			if errors.As(err, &te) {
				refused.Add(1)
				return te
			}
			if errors.Is(err, provision.ErrCodeInvalid) {
				return ErrCredentials
			}
			return err
		})
		if n := w.hashes.Load(); n > int64(free) || refused.Load() != int64(20-free) {
			t.Fatalf("20 wrong one-time passwords at once: %d verifications, %d refused; want at most %d verified", n, refused.Load(), free)
		}
	})
}

// TestIdentityJoin: an activation that would join an existing identity
// verifies no password at all: the link (which the other tenant's
// administrators can read) gives nothing to guess against. The identity's
// owner joins by signing in the usual way, under its counters, and opening
// the link in the same browser.
func TestIdentityJoin(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, w *world) {
		ada := w.active(t, w.tenant, "ada@example.com", "analytical engine 1843")
		other := w.newTenant(t, "globex")
		_, secret := w.invite(t, other, "ada@example.com")
		red, err := w.prov.Inspect(w.ctx, other, secret)
		if err != nil || red.Mode != provision.ModeConfirmIdentity {
			t.Fatalf("the link of an address that signs in elsewhere: %+v %v", red, err)
		}
		w.hashes.Store(0)
		for i := range 20 {
			_, err := w.prov.ActivateWithLink(w.ctx, other, secret, fmt.Sprintf("guess %d", i), "", fmt.Sprintf("203.0.113.%d", i+1))
			if !errors.Is(err, provision.ErrSignInToJoin) {
				t.Fatalf("a password typed at a joining link: %v", err)
			}
		}
		if _, err := w.prov.ActivateWithLink(w.ctx, other, secret, "analytical engine 1843", "", "203.0.113.99"); !errors.Is(err, provision.ErrSignInToJoin) {
			t.Fatalf("the right password at the link joined without a sign-in: %v", err)
		}
		if n := w.hashes.Load(); n != 0 {
			t.Fatalf("a joining link verified %d passwords: it is an oracle", n)
		}
		home := func(id string) (usher.Tenant, error) { return w.st.Read().Tenant(w.ctx, id) }
		if id, err := w.svc.SignedIn(w.ctx, home, "not a session"); err != nil || id != "" {
			t.Fatalf("no session: %q %v", id, err)
		}
		res := mustSignIn(t, w, "ada@example.com", "analytical engine 1843", "198.51.100.1", "")
		id, err := w.svc.SignedIn(w.ctx, home, res.Secret)
		if err != nil || id != ada.IdentityID {
			t.Fatalf("the signed-in identity: %q %v, want %q", id, err, ada.IdentityID)
		}
		joined, err := w.prov.ActivateWithLink(w.ctx, other, secret, "", id, "198.51.100.1")
		if err != nil || joined.IdentityID != ada.IdentityID || joined.State != usher.StateActive {
			t.Fatalf("the join of the signed-in owner: %+v %v", joined, err)
		}
		// After sign-out the session no longer vouches for anyone.
		if err := w.svc.SignOut(w.ctx, res.Secret); err != nil {
			t.Fatal(err)
		}
		if id, err := w.svc.SignedIn(w.ctx, home, res.Secret); err != nil || id != "" {
			t.Fatalf("a signed-out session still names %q (%v)", id, err)
		}
	})
}

func TestSessions(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, w *world) {
		w.settings(t, func(s *usher.TenantSettings) { s.SessionIdleMinutes, s.SessionMaxHours = 30, 2 })
		a := w.active(t, w.tenant, "ada@example.com", "analytical engine 1843")
		res := mustSignIn(t, w, "ada@example.com", "analytical engine 1843", "198.51.100.1", "")
		noHome := func(string) (usher.Tenant, error) { return usher.Tenant{}, usher.NotFound("tenant", "tenant") }
		cur, err := w.svc.Session(w.ctx, w.tenant, noHome, res.Secret)
		if err != nil || cur.Account.ID != a.ID || cur.Session.ID != res.Session.ID {
			t.Fatalf("the new session: %+v %v", cur, err)
		}
		for _, bad := range []string{"", "not a session", string(make([]byte, 101))} {
			if _, err := w.svc.Session(w.ctx, w.tenant, noHome, bad); !errors.Is(err, ErrNoSession) {
				t.Errorf("session %q: %v", bad, err)
			}
		}
		// Use keeps a session alive past the idle timeout, never past the absolute one.
		for range 4 {
			w.clock.Advance(25 * time.Minute)
			if _, err := w.svc.Session(w.ctx, w.tenant, noHome, res.Secret); err != nil {
				t.Fatalf("a session in use: %v", err)
			}
		}
		w.clock.Advance(21 * time.Minute) // 2h01m after sign-in
		if _, err := w.svc.Session(w.ctx, w.tenant, noHome, res.Secret); !errors.Is(err, ErrNoSession) {
			t.Fatalf("a session past its absolute timeout: %v", err)
		}
		// Unused for longer than the idle timeout, it ends.
		res = mustSignIn(t, w, "ada@example.com", "analytical engine 1843", "198.51.100.1", "")
		w.clock.Advance(31 * time.Minute)
		if _, err := w.svc.Session(w.ctx, w.tenant, noHome, res.Secret); !errors.Is(err, ErrNoSession) {
			t.Fatalf("an idle session: %v", err)
		}
		// Sign-out ends one session; an unknown cookie is fine.
		res = mustSignIn(t, w, "ada@example.com", "analytical engine 1843", "198.51.100.1", "")
		if err := w.svc.SignOut(w.ctx, res.Secret); err != nil {
			t.Fatal(err)
		}
		if _, err := w.svc.Session(w.ctx, w.tenant, noHome, res.Secret); !errors.Is(err, ErrNoSession) {
			t.Fatalf("a signed-out session: %v", err)
		}
		if err := w.svc.SignOut(w.ctx, "never a session"); err != nil {
			t.Fatal(err)
		}
		// Ending the other sessions keeps the current one.
		var secrets []string
		for range 3 {
			secrets = append(secrets, mustSignIn(t, w, "ada@example.com", "analytical engine 1843", "198.51.100.1", "").Secret)
		}
		cur, err = w.svc.Session(w.ctx, w.tenant, noHome, secrets[0])
		if err != nil {
			t.Fatal(err)
		}
		if list, err := w.svc.Sessions(w.ctx, cur); err != nil || len(list) != 3 {
			t.Fatalf("the identity's sessions: %d %v, want 3", len(list), err)
		}
		if n, err := w.svc.EndOthers(w.ctx, w.tenant, cur, "198.51.100.1"); err != nil || n != 2 {
			t.Fatalf("end others: %d %v, want 2", n, err)
		}
		if _, err := w.svc.Session(w.ctx, w.tenant, noHome, secrets[1]); !errors.Is(err, ErrNoSession) {
			t.Fatalf("another session after end others: %v", err)
		}
		if _, err := w.svc.Session(w.ctx, w.tenant, noHome, secrets[0]); err != nil {
			t.Fatalf("the current session after end others: %v", err)
		}
		// A suspended account's session no longer serves.
		state := usher.StateSuspended
		if _, err := w.prov.UpdateAccount(w.ctx, admin, w.tenant, a.ID, provision.AccountUpdate{State: &state}); err != nil {
			t.Fatal(err)
		}
		if _, err := w.svc.Session(w.ctx, w.tenant, noHome, secrets[0]); !errors.Is(err, ErrNoSession) {
			t.Fatalf("the session of a suspended account: %v", err)
		}
	})
}

func TestChangePassword(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, w *world) {
		w.active(t, w.tenant, "ada@example.com", "analytical engine 1843")
		res := mustSignIn(t, w, "ada@example.com", "analytical engine 1843", "198.51.100.1", "")
		other := mustSignIn(t, w, "ada@example.com", "analytical engine 1843", "198.51.100.1", "")
		cur, err := w.svc.Session(w.ctx, w.tenant, nil, res.Secret)
		if err != nil {
			t.Fatal(err)
		}
		err = w.svc.ChangePassword(w.ctx, w.tenant, cur, "wrong", "a new passphrase 2026", "198.51.100.1")
		var ue *usher.Error
		if !errors.As(err, &ue) || ue.Field != "old_password" {
			t.Fatalf("a wrong current password: %v", err)
		}
		if err := w.svc.ChangePassword(w.ctx, w.tenant, cur, "analytical engine 1843", "analytical engine 1843", "198.51.100.1"); !errors.Is(err, usher.ErrInvalid) {
			t.Fatalf("the same password again: %v", err)
		}
		if err := w.svc.ChangePassword(w.ctx, w.tenant, cur, "analytical engine 1843", "a new passphrase 2026", "198.51.100.1"); err != nil {
			t.Fatal(err)
		}
		if _, err := w.svc.Session(w.ctx, w.tenant, nil, other.Secret); !errors.Is(err, ErrNoSession) {
			t.Fatalf("another session after a password change: %v", err)
		}
		if _, err := w.svc.Session(w.ctx, w.tenant, nil, res.Secret); err != nil {
			t.Fatalf("the session that changed the password: %v", err)
		}
		_, err = w.signIn("ada@example.com", "analytical engine 1843", "198.51.100.1", "")
		wantCredentials(t, err, "the old password")
		mustSignIn(t, w, "ada@example.com", "a new passphrase 2026", "198.51.100.1", "")
	})
}

// legacyHash is "correct horse battery staple" as earlier versions stored
// it: argon2id with 19 MiB and 2 passes.
const legacyHash = "$argon2id$v=19$m=19456,t=2,p=1$ijky4Sh/TbFIGcuImfil0Q$6qHOUxSOefhnrqdaRQnWcpug6tZvuttDT6UfkwCouCk"

// TestRehashAtSignIn: an identity whose password hash has older parameters
// signs in with it, and the successful sign-in, and only that, replaces the
// hash with one of today's parameters.
func TestRehashAtSignIn(t *testing.T) {
	const pw = "correct horse battery staple"
	if ok, err := password.Verify(context.Background(), legacyHash, pw); err != nil || !ok {
		t.Fatalf("the 19 MiB hash does not verify: %v %v", ok, err)
	}
	if !password.NeedsRehash(legacyHash) {
		t.Fatal("NeedsRehash is false for the 19 MiB hash")
	}
	onEachDatabase(t, func(t *testing.T, w *world) {
		a := w.active(t, w.tenant, "ada@example.com", "analytical engine 1843")
		stored := func() string {
			t.Helper()
			h, err := w.st.Read().IdentityPassword(w.ctx, a.IdentityID)
			if err != nil {
				t.Fatal(err)
			}
			return h
		}
		if err := w.st.Write(w.ctx, func(tx *store.Tx) error { return tx.SetIdentityPassword(w.ctx, a.IdentityID, legacyHash) }); err != nil {
			t.Fatal(err)
		}
		_, err := w.signIn("ada@example.com", "analytical engine 1843", "198.51.100.1", "")
		wantCredentials(t, err, "the password the hash replaced")
		if h := stored(); h != legacyHash {
			t.Fatalf("a failed sign-in changed the hash to %q", h)
		}

		w.hashes.Store(0)
		mustSignIn(t, w, "ada@example.com", pw, "198.51.100.1", "")
		if n := w.hashes.Load(); n != 1 {
			t.Fatalf("%d verifications for one sign-in", n)
		}
		h := stored()
		if !strings.HasPrefix(h, "$argon2id$v=19$m=7168,t=5,p=1$") || password.NeedsRehash(h) {
			t.Fatalf("after the sign-in the hash is %q, want today's parameters", h)
		}
		if ok, err := password.Verify(w.ctx, h, pw); err != nil || !ok {
			t.Fatalf("the new hash does not verify the password: %v %v", ok, err)
		}
		// Signing in again leaves a current hash as it is.
		mustSignIn(t, w, "ada@example.com", pw, "198.51.100.1", "")
		if h2 := stored(); h2 != h {
			t.Fatalf("a current hash was remade: %q, then %q", h, h2)
		}
		// A rehash that lost the race with a password change leaves the new password.
		if err := w.st.Write(w.ctx, func(tx *store.Tx) error {
			return tx.RehashIdentityPassword(w.ctx, a.IdentityID, legacyHash, "$argon2id$stale")
		}); err != nil {
			t.Fatal(err)
		}
		if h2 := stored(); h2 != h {
			t.Fatalf("a rehash of a replaced hash overwrote it with %q", h2)
		}
	})
}
