package domain

import (
	"errors"
	"time"
)

// A principal is a user or a client: the `sub` of a token (a user id, or a client id
// for client credentials) or its `client_id`. User and client ids never collide
// (SECURITY S26), so one id names one principal.

// ErrUserDisabled: the user was disabled by an administrator. Said only after the
// right password, so it tells nothing to someone guessing.
var ErrUserDisabled = errors.New("this account is disabled")

// PrincipalRevocation kills the credentials of one principal (SECURITY S58): every
// token issued at or before RevokedAt, or every token at all while RevokedAt is nil
// (the principal is disabled, or deleted). Re-enabling sets RevokedAt to that moment,
// so what was issued before stays dead.
type PrincipalRevocation struct {
	ID        string
	RevokedAt *time.Time
	// ExpiresAt is when the entry can be forgotten: nil while it must stay (disabled);
	// else once no token it kills can still be valid.
	ExpiresAt *time.Time
}

// Kills reports whether a token (or grant) issued at issuedAt is revoked by r. An
// access token's iat is whole seconds, the issue time rounded down, so a token issued
// in the same second as the revocation, before or after it, counts as issued before
// it: the conservative side. A grant's own time (a family's creation) is exact.
func (r PrincipalRevocation) Kills(issuedAt time.Time) bool {
	return r.RevokedAt == nil || !issuedAt.After(*r.RevokedAt)
}
