// Command example-mcp is a Model Context Protocol server (the official Go SDK,
// streamable HTTP) protected by Gatehouse through adapter/resourceserver:
//
//	example-mcp --issuer http://localhost:8080 --addr 127.0.0.1:9091
//
// It serves the MCP endpoint at /mcp and its RFC 9728 protected-resource metadata
// at /.well-known/oauth-protected-resource/mcp. Its resource identifier is its /mcp
// URL (http://127.0.0.1:9091/mcp, or --public-url + /mcp behind a proxy), and it
// accepts Gatehouse access tokens whose aud holds that identifier. A request
// without a valid token gets 401 with WWW-Authenticate: Bearer
// resource_metadata="…", from which an MCP client finds Gatehouse, registers
// (open dynamic registration or a client ID metadata document), and gets a token
// with resource=<the /mcp URL>. Register the resource first:
//
//	gatehouse resources create --uri http://127.0.0.1:9091/mcp --name "Example MCP" --open
//
// One tool, whoami, answers the caller's sub and scope.
//
// Exit status: 2 for bad flags (one line on stderr), 1 for a failure at run time.
package main
