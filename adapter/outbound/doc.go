// Package outbound is the HTTP client for URLs an untrusted party chose (SECURITY S57):
// a dynamically registered client's back-channel logout URI today, client ID metadata
// documents and jwks_uri values of registrants later. It reaches public addresses
// only — checked on the address actually dialled, after DNS, so a name that resolves
// (or re-resolves) to 127.0.0.1 or 169.254.169.254 is refused at connect — follows no
// redirect, uses no proxy from the environment, and bounds time and answer size.
// URLs an operator registered (CLI, admin API) do not go through it.
package outbound
