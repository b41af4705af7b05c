// Package domain holds Gatehouse's entities (users, clients, authorization codes,
// refresh tokens, consents, signing keys) and the OAuth rules that need nothing but
// the standard library: scope narrowing, redirect URI matching (RFC 9700 §4.1.3),
// PKCE (RFC 7636) and the RFC 6749 error vocabulary.
//
// Nothing here knows about HTTP, SQL or JWT libraries, and no type carries struct tags.
package domain
