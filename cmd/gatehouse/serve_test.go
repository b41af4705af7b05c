package main

import (
	"net"
	"testing"
	"time"
)

// TestIssuerPortMismatch: only a plain-http issuer on this machine whose port (80 when
// it names none) is not the one served is a mismatch; https and other hosts may sit
// behind a proxy.
func TestIssuerPortMismatch(t *testing.T) {
	served := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8089}
	for issuer, want := range map[string]bool{
		"http://localhost:8080":      true,
		"http://LOCALHOST:8080/":     true,
		"http://127.0.0.1:8080":      true,
		"http://[::1]:8080/auth":     true,
		"http://localhost":           true, // port 80
		"http://localhost:8089":      false,
		"http://127.0.0.1:8089/":     false,
		"http://[::1]:8089":          false,
		"https://localhost:8443":     false,
		"http://id.example.com:8080": false,
		"https://id.example.com":     false,
		"http://192.168.1.10:8080":   false,
		"not a url\x7f":              false,
	} {
		if got := issuerPortMismatch(issuer, served); got != want {
			t.Errorf("issuer %q served on %s: mismatch %v, want %v", issuer, served, got, want)
		}
	}
	if issuerPortMismatch("http://localhost:80", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 80}) {
		t.Errorf("http://localhost:80 served on port 80 is no mismatch")
	}
	if issuerPortMismatch("http://localhost:8080", &net.UnixAddr{Name: "/tmp/s", Net: "unix"}) {
		t.Errorf("a listener without a port is no mismatch")
	}
}

// TestKeysPublished: with scheduled rotation the JWKS holds the signing key and every
// retired key whose tokens may still be live: one more than the longest token
// lifetime in intervals, rounded up.
func TestKeysPublished(t *testing.T) {
	for _, tc := range []struct {
		interval, access, id time.Duration
		want                 int
	}{
		{0, 15 * time.Minute, time.Hour, 1},
		{30 * 24 * time.Hour, 15 * time.Minute, time.Hour, 2},
		{time.Hour, 15 * time.Minute, time.Hour, 2},
		{59 * time.Minute, 15 * time.Minute, time.Hour, 3},
		{4 * time.Second, 15 * time.Minute, time.Minute, 226},
		{time.Second, 15 * time.Minute, time.Hour, 3601},
	} {
		if got := keysPublished(tc.interval, tc.access, tc.id); got != tc.want {
			t.Errorf("keysPublished(%s, %s, %s) = %d, want %d", tc.interval, tc.access, tc.id, got, tc.want)
		}
	}
	if keysPublished(time.Hour, 15*time.Minute, time.Hour) > manyKeys || keysPublished(time.Minute, 15*time.Minute, time.Hour) <= manyKeys {
		t.Error("an hourly rotation must not warn, a rotation every minute must")
	}
}
