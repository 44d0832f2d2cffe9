package egress

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestPublic(t *testing.T) {
	for _, c := range []struct {
		ip   string
		want bool
	}{
		{"8.8.8.8", true}, {"2606:4700:4700::1111", true}, {"127.0.0.1", false}, {"::1", false}, {"10.1.2.3", false},
		{"172.16.0.1", false}, {"192.168.1.1", false}, {"169.254.169.254", false}, {"fe80::1", false}, {"fd00::1", false},
		{"100.64.0.1", false}, {"0.0.0.0", false}, {"::ffff:127.0.0.1", false}, {"::ffff:10.0.0.1", false}, {"224.0.0.1", false},
		// IPv6 forms that reach IPv4 addresses or the local site.
		{"64:ff9b::a9fe:a9fe", false}, {"64:ff9b::808:808", false}, {"2002:7f00:1::1", false}, {"2002:0808:0808::1", false},
		{"2001:0:4136:e378:8000:63bf:3fff:fdd2", false}, {"fec0::1", false}, {"::7f00:1", false}, {"::ffff:0:a00:1", false},
		{"2001:4860:4860::8888", true}, {"2003::1", true},
	} {
		if got := Public(netip.MustParseAddr(c.ip)); got != c.want {
			t.Errorf("Public(%s) = %v, want %v", c.ip, got, c.want)
		}
	}
}

// TestClient: the client refuses a server on loopback unless private
// addresses are allowed, also when a public-looking redirect is not involved.
func TestClient(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("inside")) }))
	defer srv.Close()
	_, err := Client(false, 5*time.Second).Get(srv.URL)
	if !errors.Is(err, ErrPrivate) {
		t.Fatalf("a loopback server through the guarded client: %v", err)
	}
	resp, err := Client(true, 5*time.Second).Get(srv.URL)
	if err != nil {
		t.Fatalf("with private addresses allowed: %v", err)
	}
	resp.Body.Close()
	if err := Check(t.Context(), "localhost"); !errors.Is(err, ErrPrivate) {
		t.Fatalf("Check(localhost): %v", err)
	}
}

// TestRedirectDowngrade: a redirect from https to http is refused; one
// that stays https is followed.
func TestRedirectDowngrade(t *testing.T) {
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("plain")) }))
	defer plain.Close()
	var secure *httptest.Server
	secure = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/down":
			http.Redirect(w, r, plain.URL+"/keys", http.StatusFound)
		case "/same":
			http.Redirect(w, r, secure.URL+"/keys", http.StatusFound)
		default:
			w.Write([]byte("secure"))
		}
	}))
	defer secure.Close()
	c := Client(true, 5*time.Second)
	c.Transport.(*http.Transport).TLSClientConfig = secure.Client().Transport.(*http.Transport).TLSClientConfig
	if resp, err := c.Get(secure.URL + "/down"); err == nil || !strings.Contains(err.Error(), "from https to http") {
		if err == nil {
			resp.Body.Close()
		}
		t.Fatalf("a redirect from https to http: %v", err)
	}
	// A POST (a logout token) is not re-sent over http either.
	if resp, err := c.Post(secure.URL+"/down", "application/x-www-form-urlencoded", strings.NewReader("logout_token=x")); err == nil {
		resp.Body.Close()
		t.Fatal("a POST was redirected from https to http")
	}
	resp, err := c.Get(secure.URL + "/same")
	if err != nil {
		t.Fatalf("a redirect that stays https: %v", err)
	}
	resp.Body.Close()
}
