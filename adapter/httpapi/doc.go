// Package httpapi is Gatehouse's HTTP face, built on Echo: the token, revocation and
// introspection endpoints, discovery and JWKS, health and metrics, and (in pages*.go)
// the browser pages. Handlers parse strictly, call one use case, and write RFC-shaped
// answers; one error handler maps use-case errors to statuses (errors.go).
package httpapi
