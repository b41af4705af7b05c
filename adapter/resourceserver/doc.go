// Package resourceserver lets any Echo service accept Gatehouse access tokens
// (RFC 9068 JWTs) and check them locally, without calling the issuer per request.
//
// New discovers the issuer's jwks_uri (OpenID Connect Discovery or RFC 8414
// metadata, else <issuer>/.well-known/jwks.json), fetches and caches the public
// keys, re-fetches them on an unknown kid at most once per RefreshInterval, and
// keeps serving with the cached keys while the issuer is down.
//
// Verification follows RFC 8725 and RFC 9068 §4: an allow-list of asymmetric
// algs (never "none", never HMAC), the key named by kid and of the header's alg
// (jku, x5u, jwk and x5c headers are ignored), typ at+jwt, exact iss, aud
// containing our audience, exp/nbf/iat with a small leeway. The signature is
// checked before the claims are parsed. ES256 signatures must be in the low-s form
// Gatehouse signs (s <= n/2), so that no token has a second valid spelling.
//
//	v, err := resourceserver.New(ctx, resourceserver.Config{Issuer: iss, Audience: aud})
//	api := e.Group("/api", v.Middleware())
//	api.GET("/admin", handler, resourceserver.RequireScope("admin"))
//	claims, _ := resourceserver.FromContext(c)
//
// Errors follow RFC 6750 §3: 401 with WWW-Authenticate: Bearer (no error code
// when the request has no token, error="invalid_token" when it is bad), 403
// error="insufficient_scope" with the scope needed; bodies are
// {"error":…,"error_description":…}.
//
// Plain net/http works too: v.Handler(next) is the middleware, ClaimsFromContext
// reads the claims, RequireScopeHandler checks scopes.
//
// RFC 9728: with Config.Resource set (this server's identifier, e.g.
// "https://mcp.example.com/mcp"), MetadataHandler serves the protected-resource
// metadata (resource, authorization_servers, scopes_supported,
// bearer_methods_supported) at MetadataPath ("/.well-known/oauth-protected-resource/mcp"
// for that example, RFC 9728 §3.1), and every 401 and 403 carries
// WWW-Authenticate: Bearer resource_metadata="…", from which clients (MCP clients
// among them) discover the authorization server.
//
// The package talks to the issuer over HTTP only; it imports nothing of the
// server's adapters.
package resourceserver
