package domain

import (
	"net/url"
	"strings"
)

// SameHTU compares a proof's htu with the URL the request was made to, without query
// and fragment, after RFC 3986 §6.2.2/§6.2.3 normalisation (case of scheme and host,
// default ports, an empty path as "/"), as RFC 9449 §4.3 asks.
func SameHTU(htu, want string) bool {
	a, ok1 := normalizeHTU(htu)
	b, ok2 := normalizeHTU(want)
	return ok1 && ok2 && a == b
}

func normalizeHTU(raw string) (string, bool) {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.User != nil {
		return "", false
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return "", false
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if scheme == "http" && port == "80" || scheme == "https" && port == "443" {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	return scheme + "://" + host + path, true
}
