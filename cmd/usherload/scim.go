package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
)

// The scim mode measures provisioning as Entra ID does it: user creations
// and the userName lookups Entra sends before each one.

// scimToken makes a tenant token of role scim and returns its secret.
func (a *api) scimToken(ctx context.Context, slug string) (string, error) {
	var tok struct {
		Secret string `json:"secret"`
	}
	err := a.call(ctx, "POST", "/api/v1/tenants/"+url.PathEscape(slug)+"/tokens", map[string]any{"name": "usherload", "role": "scim"}, &tok)
	if err == nil && tok.Secret == "" {
		err = fmt.Errorf("the scim token came without its secret")
	}
	return tok.Secret, err
}

func (l *loader) scimBase(slug string) string {
	return l.api.baseURL.Path + "/t/" + url.PathEscape(slug) + "/scim/v2/Users"
}

// scimCreate posts a user as Entra ID does, with a fresh userName.
func (l *loader) scimCreate(slug string) requestMaker {
	target := l.scimBase(slug)
	return func(*rand.Rand) (*request, error) {
		n := l.seq.Add(1)
		num := strconv.FormatInt(n, 10)
		e := email(n)
		b := make([]byte, 0, 512)
		b = append(b, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],`...)
		b = append(b, `"userName":"`+e+`","active":true,"displayName":"Load User`+num+`","externalId":"ext-`+num+`",`...)
		b = append(b, `"name":{"givenName":"Load","familyName":"User`+num+`","formatted":"Load User`+num+`"},`...)
		b = append(b, `"emails":[{"primary":true,"type":"work","value":"`+e+`"}],`...)
		b = append(b, `"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"`+num+`"}}`...)
		return &request{method: "POST", target: target, auth: l.scimAuth, body: b, check: func(status int, _ []byte) bool {
			if status != http.StatusCreated {
				return false
			}
			l.mu.Lock()
			l.created = append(l.created, n)
			l.mu.Unlock()
			return true
		}}, nil
	}
}

// scimLookup finds a random existing user by userName, as Entra ID does
// before it creates one, and checks that the answer holds it.
func (l *loader) scimLookup(slug string) requestMaker {
	l.mu.Lock()
	known := slices.Clone(l.created)
	l.mu.Unlock()
	target := l.scimBase(slug) + "?filter="
	return func(rng *rand.Rand) (*request, error) {
		if len(known) == 0 {
			return nil, fmt.Errorf("no users to look up")
		}
		e := email(known[rng.IntN(len(known))])
		want := []byte(`"userName":"` + e + `"`)
		return &request{method: "GET", target: target + url.QueryEscape(`userName eq "`+e+`"`), auth: l.scimAuth, check: func(status int, body []byte) bool {
			return status == http.StatusOK && bytes.Contains(body, want) && bytes.Contains(body, []byte(`"totalResults":1`))
		}}, nil
	}
}
