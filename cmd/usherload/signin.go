package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"sync"
)

// The signin mode measures password sign-ins: the password step of the
// sign-in pages (POST /t/{t}/signin/password), answered 303 with a new
// session, and the sign-in page itself (GET /t/{t}/). Almost all of a
// sign-in is one argon2id verification, so its figure is compared with
// what the cores can hash.

// signinPassword is every load user's password.
const signinPassword = "usherload sign-in passphrase"

// signinUsers makes n active accounts with signinPassword, as a person
// would: an administrator sets a one-time password, the person replaces it
// on the activation page. Four at a time: each costs three hashes.
func (a *api) signinUsers(ctx context.Context, slug string, n int) error {
	tpath := "/api/v1/tenants/" + url.PathEscape(slug)
	sem := make(chan struct{}, 4)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := 1; i <= n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			var created struct {
				Account struct {
					ID string `json:"id"`
				} `json:"account"`
			}
			e := signinEmail(i)
			if err := a.call(ctx, "POST", tpath+"/accounts", map[string]any{"first_name": "Sign", "last_name": "In" + strconv.Itoa(i), "email": e}, &created); err != nil {
				errs <- err
				return
			}
			otp := "usherload-otp-" + strconv.Itoa(i)
			if err := a.call(ctx, "POST", tpath+"/accounts/"+created.Account.ID+"/one-time-password", map[string]any{"one_time_password": otp}, nil); err != nil {
				errs <- err
				return
			}
			form := url.Values{"identifier": {e}, "code": {otp}, "password": {signinPassword}, "confirm": {signinPassword}}
			resp, err := a.client.PostForm(a.base+"/t/"+url.PathEscape(slug)+"/activate", form)
			if err != nil {
				errs <- err
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				errs <- fmt.Errorf("activating %s: %s", e, resp.Status)
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

func signinEmail(i int) string { return "s" + strconv.Itoa(i) + "@signin.example" }

// signin posts the password step for a random load user.
func (l *loader) signin(slug string, users int) requestMaker {
	target := l.api.baseURL.Path + "/t/" + url.PathEscape(slug) + "/signin/password"
	return func(rng *rand.Rand) (*request, error) {
		body := url.Values{"identifier": {signinEmail(1 + rng.IntN(users))}, "password": {signinPassword}}.Encode()
		return &request{method: "POST", target: target, body: []byte(body), form: true, redirect: true, check: func(status int, _ []byte) bool {
			return status == http.StatusSeeOther
		}}, nil
	}
}

// signinPage gets the tenant's sign-in page.
func (l *loader) signinPage(slug string) requestMaker {
	target := l.api.baseURL.Path + "/t/" + url.PathEscape(slug) + "/"
	return func(*rand.Rand) (*request, error) {
		return &request{method: "GET", target: target, check: func(status int, _ []byte) bool { return status == http.StatusOK }}, nil
	}
}
