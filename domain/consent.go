package domain

import "time"

// Consent records that a user let a client act with a set of scopes.
type Consent struct {
	UserID    string
	ClientID  string
	Scope     []string
	GrantedAt time.Time
}

// Covers reports whether the consent includes every requested scope.
func (c Consent) Covers(scope []string) bool { return ScopeCovers(c.Scope, scope) }
