package discovery

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// TestCache: a provider is discovered once per TTL, per issuer.
func TestCache(t *testing.T) {
	var hits atomic.Int64
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		json.NewEncoder(w).Encode(map[string]any{"issuer": srv.URL, "authorization_endpoint": srv.URL + "/auth",
			"token_endpoint": srv.URL + "/token", "jwks_uri": srv.URL + "/keys"})
	}))
	defer srv.Close()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := New(srv.Client(), func() time.Time { return now })
	for range 3 {
		p, err := c.Provider(t.Context(), srv.URL)
		if err != nil || p.Endpoint().TokenURL != srv.URL+"/token" {
			t.Fatalf("provider: %v %v", p, err)
		}
	}
	if hits.Load() != 1 {
		t.Fatalf("%d discoveries within the TTL, want 1", hits.Load())
	}
	now = now.Add(TTL + time.Second)
	if _, err := c.Provider(t.Context(), srv.URL); err != nil || hits.Load() != 2 {
		t.Fatalf("after the TTL: %d discoveries, %v", hits.Load(), err)
	}
	if _, err := c.Provider(t.Context(), srv.URL+"/other"); err == nil {
		t.Fatal("an issuer whose document names another issuer was accepted")
	}
}
