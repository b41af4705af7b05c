package outbound

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestPublic: the special-purpose ranges, the IPv4 they wrap, and public addresses.
func TestPublic(t *testing.T) {
	for _, c := range []struct {
		ip     string
		public bool
	}{
		{"127.0.0.1", false}, {"127.255.0.9", false}, {"::1", false}, {"0.0.0.0", false}, {"::", false},
		{"10.1.2.3", false}, {"172.16.0.1", false}, {"172.31.255.255", false}, {"192.168.1.1", false},
		{"169.254.169.254", false}, {"100.64.0.1", false}, {"224.0.0.1", false}, {"255.255.255.255", false},
		{"fc00::1", false}, {"fd12::1", false}, {"fe80::1", false}, {"ff02::1", false},
		{"::ffff:127.0.0.1", false}, {"::ffff:10.0.0.1", false}, {"64:ff9b::7f00:1", false}, {"2002:7f00:1::", false},
		{"2001:db8::1", false},
		{"8.8.8.8", true}, {"172.32.0.1", true}, {"1.1.1.1", true}, {"::ffff:8.8.8.8", true}, {"2606:4700::1111", true},
	} {
		if got := Public(netip.MustParseAddr(c.ip)); got != c.public {
			t.Errorf("Public(%s) = %v, want %v", c.ip, got, c.public)
		}
	}
}

// TestClient_RefusesPrivateAddressesAtConnect: a loopback server is never reached,
// by IP literal or by a name that resolves to it; an allowed network is reached.
func TestClient_RefusesPrivateAddressesAtConnect(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_, _ = io.WriteString(w, "ok")
	}))
	defer srv.Close()
	port := srv.URL[strings.LastIndex(srv.URL, ":"):]

	c := NewClient(Policy{Timeout: 2 * time.Second})
	for _, u := range []string{srv.URL, "http://localhost" + port + "/"} {
		_, err := c.Get(u)
		if !errors.Is(err, ErrRefusedAddress) {
			t.Errorf("GET %s: err = %v, want ErrRefusedAddress", u, err)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("the loopback server was reached %d times", n)
	}

	allowed := NewClient(Policy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}})
	resp, err := allowed.Get(srv.URL)
	if err != nil {
		t.Fatalf("GET with 127.0.0.0/8 allowed: %v", err)
	}
	_ = resp.Body.Close()
	if hits.Load() != 1 {
		t.Fatalf("hits = %d, want 1", hits.Load())
	}
}

// TestClient_FollowsNoRedirectAndTimesOut: a redirect comes back as the answer (its
// target is never asked), and a server that does not answer costs the timeout.
func TestClient_FollowsNoRedirectAndTimesOut(t *testing.T) {
	var targetHits atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { targetHits.Add(1) }))
	defer target.Close()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		http.Redirect(w, r, target.URL, http.StatusFound)
	}))
	defer srv.Close()
	defer close(release)

	c := NewClient(Policy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, Timeout: 300 * time.Millisecond})
	resp, err := c.Get(srv.URL + "/go")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusFound || targetHits.Load() != 0 {
		t.Fatalf("status %d, target hits %d: want the 302 itself and no visit", resp.StatusCode, targetHits.Load())
	}
	start := time.Now()
	if _, err := c.Get(srv.URL + "/slow"); err == nil {
		t.Fatal("a server that never answers: no error")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("the timeout of 300 ms took %v", d)
	}
}

// TestPolicy_CheckURL: what can be refused before any DNS lookup.
func TestPolicy_CheckURL(t *testing.T) {
	p := Policy{}
	for _, u := range []string{"http://127.0.0.1/x", "https://[::1]/", "https://10.0.0.5/logout", "http://169.254.169.254/latest",
		"https://localhost/", "https://LocalHost./", "https://app.localhost/", "ftp://example.com/", "https://user:pw@example.com/", "/relative"} {
		if err := p.CheckURL(u); err == nil {
			t.Errorf("CheckURL(%q) = nil, want an error", u)
		}
	}
	for _, u := range []string{"https://rp.example.com/logout", "https://93.184.215.14/logout", "http://rp.example.org:8080/bc"} {
		if err := p.CheckURL(u); err != nil {
			t.Errorf("CheckURL(%q) = %v", u, err)
		}
	}
	lo := Policy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}
	if err := lo.CheckURL("http://127.0.0.1:9/x"); err != nil {
		t.Errorf("allowed loopback: %v", err)
	}
}
