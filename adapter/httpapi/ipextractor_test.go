package httpapi

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
)

// The caller's address (throttling, logs) comes from X-Forwarded-For only through
// a configured proxy, and then from the right-most address that is not a proxy:
// whatever a caller writes to the left of it is ignored.
func TestTrustedProxiesIPExtractor(t *testing.T) {
	proxies := TrustedProxies{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.1.7/32")}
	for _, tc := range []struct {
		name    string
		proxies TrustedProxies
		peer    string
		xff     string
		want    string
	}{
		{"no proxies: the peer, header ignored", nil, "10.1.1.1:5000", "203.0.113.9", "10.1.1.1"},
		{"no proxies, loopback peer: header ignored", nil, "127.0.0.1:5000", "203.0.113.9", "127.0.0.1"},
		{"trusted peer: the forwarded caller", proxies, "10.1.1.1:5000", "203.0.113.9", "203.0.113.9"},
		{"two proxies: the right-most non-proxy", proxies, "10.1.1.1:5000", "198.51.100.1, 203.0.113.9, 192.168.1.7", "203.0.113.9"},
		{"forged left part ignored", proxies, "10.1.1.1:5000", "1.1.1.1, 203.0.113.9", "203.0.113.9"},
		{"untrusted peer: header ignored", proxies, "203.0.113.50:5000", "198.51.100.1", "203.0.113.50"},
		{"loopback not trusted unless listed", proxies, "127.0.0.1:5000", "198.51.100.1", "127.0.0.1"},
		{"trusted peer without header: the peer", proxies, "10.1.1.1:5000", "", "10.1.1.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = tc.peer
			if tc.xff != "" {
				r.Header.Set("X-Forwarded-For", tc.xff)
			}
			if got := tc.proxies.ipExtractor()(r); got != tc.want {
				t.Fatalf("caller = %s, want %s", got, tc.want)
			}
		})
	}
}
