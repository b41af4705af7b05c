// Package upstream speaks to upstream identity providers for "Continue with NAME"
// (issue 22, SECURITY S54): OpenID Connect providers through discovery, their JWKS
// and ID tokens (github.com/coreos/go-oidc/v3, golang.org/x/oauth2), and GitHub
// OAuth apps through their REST API. The URLs come from an administrator (the CLI),
// so the ordinary HTTP client is used, with a time limit and a size limit on every
// answer (SECURITY S57).
package upstream
