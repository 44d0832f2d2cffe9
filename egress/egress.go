// Package egress is usher's HTTP client for addresses that tenants'
// administrators configure (identity providers' issuers and metadata,
// external systems' endpoints, Exchange servers). Such an address must not
// reach into the network usher runs in: the client refuses loopback,
// private, link-local and other non-public addresses at connect time (after
// DNS, so a name that resolves inward is refused too), unless the operator
// allows them (a local identity provider in development).
package egress

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"syscall"
	"time"
)

// ErrPrivate: the address is not a public one and private addresses are
// not allowed.
var ErrPrivate = errors.New("the address is inside usher's own network, which tenants' settings may not reach")

// Client returns an HTTP client for tenant-configured addresses: at most
// timeout per request, three redirects, none from https to http, and,
// unless allowPrivate, only public addresses.
func Client(allowPrivate bool, timeout time.Duration) *http.Client {
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	if !allowPrivate {
		d.Control = refusePrivate
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = d.DialContext
	t.Proxy = nil // a proxy would connect on our behalf, past the check
	return &http.Client{Timeout: timeout, Transport: t, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if len(via) >= 3 {
			return errors.New("more than 3 redirects")
		}
		// An https address must stay https: a key set read over http could
		// be anyone's, and a logout token re-sent over http could be read.
		for _, v := range via {
			if v.URL.Scheme == "https" && req.URL.Scheme != "https" {
				return fmt.Errorf("egress: refused a redirect from https to %s://%s", req.URL.Scheme, req.URL.Host)
			}
		}
		return nil
	}}
}

// refusePrivate is the dialer's check of the address it is about to connect to.
func refusePrivate(network, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("egress: %q is not an IP address", host)
	}
	if !Public(ip) {
		return fmt.Errorf("%w (%s)", ErrPrivate, ip)
	}
	return nil
}

// Public reports whether ip is a public unicast address.
func Public(ip netip.Addr) bool {
	ip = ip.Unmap()
	switch {
	case !ip.IsValid(), ip.IsLoopback(), ip.IsPrivate(), ip.IsLinkLocalUnicast(), ip.IsLinkLocalMulticast(),
		ip.IsInterfaceLocalMulticast(), ip.IsMulticast(), ip.IsUnspecified():
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

// nonPublic are ranges the standard library's predicates leave out: shared
// address space (carrier NAT), benchmarking, documentation, IETF protocol
// assignments, the old 6to4 relay, "this network", and IPv6 prefixes that
// carry or translate to an IPv4 address (NAT64, 6to4, Teredo, the
// deprecated IPv4-compatible and the SIIT-translated forms) or are
// site-local: through them an IPv6 address can reach a private IPv4 one
// or the local site. A public server is reachable without them.
var nonPublic = func() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{"0.0.0.0/8", "100.64.0.0/10", "192.0.0.0/24", "192.0.2.0/24", "198.18.0.0/15", "198.51.100.0/24",
		"203.0.113.0/24", "240.0.0.0/4", "192.88.99.0/24", "64:ff9b:1::/48", "2001:db8::/32", "100::/64",
		"64:ff9b::/96", "2002::/16", "2001::/32", "fec0::/10", "::/96", "::ffff:0:0:0/96"} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}()

// Check is for callers that want the refusal before any request: whether
// host (a name or an address) resolves only to public addresses.
func Check(ctx context.Context, host string) error {
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return err
	}
	for _, a := range addrs {
		if !Public(a) {
			return fmt.Errorf("%w (%s is %s)", ErrPrivate, host, a)
		}
	}
	return nil
}

// Backoff is the wait after failed delivery attempt n (from 1) to a
// tenant-configured address: a minute, doubled each time, at most an hour.
func Backoff(n int) time.Duration {
	d := time.Minute
	for i := 1; i < n && d < time.Hour; i++ {
		d *= 2
	}
	return min(d, time.Hour)
}

// RedactURL keeps only the scheme, host and path of the address in an
// HTTP client's error: what a tenant configured may carry a secret in its
// query (or user info), and the error goes to logs and stored errors.
func RedactURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		ue.URL = redactedURL(ue.URL)
	}
	return err
}

func redactedURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(an address that does not parse)"
	}
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
}
