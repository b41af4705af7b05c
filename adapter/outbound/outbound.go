package outbound

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// Policy bounds requests to untrusted URLs.
type Policy struct {
	// Allow lists networks an operator trusts anyway, e.g. a relying party inside
	// the private network (GATEHOUSE_OUTBOUND_ALLOW_NETWORKS). Empty: public only.
	Allow []netip.Prefix
	// Timeout bounds a whole request, answer included; zero means 5 s.
	Timeout time.Duration
}

// ErrRefusedAddress is returned (wrapped) when a URL leads to an address that is not
// public and not allowed.
var ErrRefusedAddress = errors.New("not a public address")

// blocked are the special-purpose ranges of the IANA IPv4 and IPv6 registries that
// are not globally reachable, or that wrap an IPv4 address a check must not miss.
var blocked = func() []netip.Prefix {
	var ps []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
		"192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15",
		"198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
		"::/128", "::1/128", "64:ff9b::/96", "64:ff9b:1::/48", "100::/64", "2001::/23", "2001:db8::/32",
		"2002::/16", "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8",
	} {
		ps = append(ps, netip.MustParsePrefix(s))
	}
	return ps
}()

// Public reports whether ip is a globally reachable unicast address.
func Public(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsValid() || ip.Zone() != "" {
		return false
	}
	for _, p := range blocked {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

func (p Policy) allowed(ip netip.Addr) bool {
	ip = ip.Unmap()
	if Public(ip) {
		return true
	}
	for _, n := range p.Allow {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}

// control runs on every connection just before connect(2), with the address chosen
// after DNS: the one place a check cannot be raced by a second resolution.
func (p Policy) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("dial %s: %w", address, ErrRefusedAddress)
	}
	if !p.allowed(ap.Addr()) {
		return fmt.Errorf("dial %s: %w", ap.Addr(), ErrRefusedAddress)
	}
	return nil
}

// NewClient returns an http.Client held to p.
func NewClient(p Policy) *http.Client {
	if p.Timeout <= 0 {
		p.Timeout = 5 * time.Second
	}
	dialer := &net.Dialer{Timeout: p.Timeout, Control: p.control}
	transport := &http.Transport{
		Proxy:                  nil, // a proxy would dial for us, past the check
		DialContext:            dialer.DialContext,
		ForceAttemptHTTP2:      true,
		TLSHandshakeTimeout:    p.Timeout,
		ResponseHeaderTimeout:  p.Timeout,
		MaxResponseHeaderBytes: 16 << 10,
		MaxIdleConns:           32,
		IdleConnTimeout:        30 * time.Second,
	}
	return &http.Client{
		Transport: transport,
		Timeout:   p.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse // a redirect is an answer, never followed
		},
	}
}

// CheckURL is the static half of the policy, for registration time: an absolute
// http(s) URL without user information whose host, when an IP literal, is allowed.
// Host names are checked when dialled.
func (p Policy) CheckURL(raw string) error {
	host, err := hostOf(raw)
	if err != nil {
		return err
	}
	if ip, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil && !p.allowed(ip) {
		return fmt.Errorf("%s: %w", ip, ErrRefusedAddress)
	}
	if name := strings.ToLower(strings.TrimSuffix(host, ".")); name == "localhost" || strings.HasSuffix(name, ".localhost") {
		if !p.allowed(netip.MustParseAddr("127.0.0.1")) {
			return fmt.Errorf("%s: %w", host, ErrRefusedAddress)
		}
	}
	return nil
}

func hostOf(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return "", errors.New("not an absolute http(s) URL without user information")
	}
	return u.Hostname(), nil
}
