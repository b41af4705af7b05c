// Command example-api is a small resource server that accepts Gatehouse access
// tokens through adapter/resourceserver:
//
//	example-api --issuer http://localhost:8080 --audience http://localhost:8080 --addr 127.0.0.1:9090
//
// GET /secured/profile answers the caller's token claims as JSON; GET
// /secured/admin also requires the scope "admin". Errors follow RFC 6750 with
// WWW-Authenticate: Bearer. It stops gracefully on SIGINT or SIGTERM.
//
// Exit status: 2 for bad flags (one line on stderr), 1 for a failure at run time
// (such as an issuer whose keys cannot be fetched at start-up).
package main
