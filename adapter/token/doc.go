// Package token signs and verifies Gatehouse's JSON Web Tokens with
// golang-jwt/jwt/v5 and publishes the public signing keys as a JWKS (RFC 7517).
//
//   - KeyGenerator makes ES256 (P-256), RS256 (RSA 2048) and EdDSA (Ed25519) key
//     pairs; the private key is PKCS#8, sealed by a KeyCipher with the kid as
//     associated data; the kid is the key's RFC 7638 thumbprint.
//   - KeyRing loads keys from a KeySource, opens the active private keys once,
//     and serves lock-free immutable snapshots, refreshed from the store at most
//     every RefreshInterval, or on an unknown kid (rate-limited).
//   - Signer makes RFC 9068 access tokens (typ at+jwt) and OpenID Connect ID
//     tokens (typ JWT).
//   - Verifier checks our own access tokens for /userinfo, introspection and
//     revocation (RFC 8725 rules, SECURITY S35).
//
// Access tokens carry the token family in the private claim "fid" (omitted for
// client credentials), so that a verifier can tell whether the grant behind a
// token was revoked without a database lookup by jti.
package token
