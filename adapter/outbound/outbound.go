package outbound

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"slices"
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
	// RootCAs are the certificate authorities https answers are checked against;
	// nil means the system's (GATEHOUSE_OUTBOUND_CA_FILE adds to them: LoadRootCAs).
	RootCAs *x509.CertPool
}

// WithLoopback returns p allowing loopback addresses too (127.0.0.0/8, ::1):
// GATEHOUSE_CLIENT_ID_METADATA_ALLOW_LOOPBACK, for development and tests.
func (p Policy) WithLoopback() Policy {
	p.Allow = append(slices.Clone(p.Allow), netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128"))
	return p
}

// LoadRootCAs returns the system's certificate authorities plus those of the PEM
// file path (GATEHOUSE_OUTBOUND_CA_FILE); nil, nil when path is empty.
func LoadRootCAs(path string) (*x509.CertPool, error) {
	if path == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("outbound CA file: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("outbound CA file %s: no PEM certificate in it", path)
	}
	return pool, nil
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
		TLSClientConfig:        &tls.Config{RootCAs: p.RootCAs, MinVersion: tls.VersionTLS12},
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
