package resourceserver

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// WellKnownMetadata is the well-known path of RFC 9728 protected-resource metadata.
const WellKnownMetadata = "/.well-known/oauth-protected-resource"

// ProtectedResourceMetadata is an RFC 9728 §2 document.
type ProtectedResourceMetadata struct {
	Resource                      string   `json:"resource"`
	AuthorizationServers          []string `json:"authorization_servers"`
	ScopesSupported               []string `json:"scopes_supported,omitempty"`
	BearerMethodsSupported        []string `json:"bearer_methods_supported"`
	ResourceName                  string   `json:"resource_name,omitempty"`
	DPoPSigningAlgValuesSupported []string `json:"dpop_signing_alg_values_supported,omitempty"`
}

// MetadataURL returns where the metadata of resource is served (RFC 9728 §3.1):
// the well-known path goes between the host and the resource's own path, so
// "https://mcp.example.com/mcp" has hers at
// "https://mcp.example.com/.well-known/oauth-protected-resource/mcp".
func MetadataURL(resource string) (string, error) {
	u, err := url.Parse(resource)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", fmt.Errorf("resourceserver: Resource %q must be an http(s) URL without query or fragment", resource)
	}
	path := strings.TrimSuffix(u.EscapedPath(), "/")
	return u.Scheme + "://" + u.Host + WellKnownMetadata + path, nil
}

// MetadataPath is the path MetadataHandler should be mounted at (the path of
// MetadataURL); empty when the Verifier has no Resource.
func (v *Verifier) MetadataPath() string {
	if v.metadataURL == "" {
		return ""
	}
	u, _ := url.Parse(v.metadataURL)
	return u.EscapedPath()
}

// MetadataURL is where the Verifier's RFC 9728 metadata is served (named in every
// challenge); empty when it has no Resource.
func (v *Verifier) MetadataURL() string { return v.metadataURL }

// Metadata returns the RFC 9728 document MetadataHandler serves.
func (v *Verifier) Metadata() ProtectedResourceMetadata {
	m := ProtectedResourceMetadata{
		Resource:               v.cfg.Resource,
		AuthorizationServers:   []string{v.cfg.Issuer},
		ScopesSupported:        append([]string(nil), v.cfg.ScopesSupported...),
		BearerMethodsSupported: []string{"header"},
		ResourceName:           v.cfg.ResourceName,
	}
	if v.cfg.PublicURL != "" {
		m.DPoPSigningAlgValuesSupported = slices.Clone(proofAlgs)
	}
	return m
}

func (v *Verifier) buildMetadata() ([]byte, error) {
	b, err := json.Marshal(v.Metadata())
	if err != nil {
		return nil, fmt.Errorf("resourceserver: metadata: %w", err)
	}
	return b, nil
}

// MetadataHandler serves the RFC 9728 metadata (GET and HEAD; CORS-readable, as
// browser-based clients fetch it). Mount it at MetadataPath: with net/http,
// mux.Handle(v.MetadataPath(), v.MetadataHandler()); with Echo,
// e.GET(v.MetadataPath(), echo.WrapHandler(v.MetadataHandler())). Without a
// Resource it answers 404.
func (v *Verifier) MetadataHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if v.metadata == nil {
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "public, max-age=3600")
		h.Set("Access-Control-Allow-Origin", "*")
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodGet {
			_, _ = w.Write(v.metadata)
		}
	})
}
