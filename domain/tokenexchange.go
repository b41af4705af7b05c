package domain

import (
	"slices"
	"time"
)

// Token type identifiers (RFC 8693 §3).
const (
	TokenTypeAccessToken  = "urn:ietf:params:oauth:token-type:access_token"
	TokenTypeRefreshToken = "urn:ietf:params:oauth:token-type:refresh_token"
	TokenTypeIDToken      = "urn:ietf:params:oauth:token-type:id_token"
	TokenTypeJWT          = "urn:ietf:params:oauth:token-type:jwt"
)

// Actor is an RFC 8693 §4.1 act claim: who acts for the token's subject. Actor holds
// the actor before it (nested act), nil for the first.
type Actor struct {
	Subject string
	Actor   *Actor
}

// MaxActorDepth bounds a delegation chain: a token exchanged again and again carries
// one nested act per exchange, and tokens must stay small.
const MaxActorDepth = 5

// Depth is the number of actors in the chain starting at a (0 for nil).
func (a *Actor) Depth() int {
	n := 0
	for ; a != nil; a = a.Actor {
		n++
	}
	return n
}

// ExchangeTarget resolves the target of a token exchange (RFC 8693 §2.1 resource and
// audience) into the `aud` of the issued token. A target is required, and each value
// must be one of the client's registered audiences (RFC 8707 style), else
// invalid_target.
func ExchangeTarget(client Client, resources []string, audience string) ([]string, error) {
	targets := DistinctResources(resources)
	if audience != "" && !slices.Contains(targets, audience) {
		targets = append(targets, audience)
	}
	if len(targets) == 0 {
		return nil, ErrInvalidRequest.WithDescription("name the target of the exchange with resource or audience")
	}
	for _, t := range targets {
		if !slices.Contains(client.Audiences, t) {
			return nil, ErrInvalidTarget.WithDescription("the client may not ask for a token for %q", t)
		}
	}
	return targets, nil
}

// SubjectTokenMeantFor reports whether a subject token was issued for the exchanging
// client: its aud contains the client's id, or one of the client's registered
// audiences other than defaultAudience. The server-wide default audience is what
// every token asked without a resource carries; it names no one API, so it never
// makes a token exchangeable. A token meant for another API is refused, so that a
// client cannot trade a token it merely intercepted (RFC 8693 §5).
func SubjectTokenMeantFor(at AccessToken, client Client, defaultAudience string) bool {
	for _, a := range at.Audience {
		if a == defaultAudience {
			continue
		}
		if a == client.ID || slices.Contains(client.Audiences, a) {
			return true
		}
	}
	return false
}

// ExchangeScope decides the scope of an exchanged token: the requested scope when it
// is within both the subject token's scope and what the client may ask; when none is
// requested, their intersection. An empty result is invalid_scope.
func ExchangeScope(subject []string, client Client, requested []string) ([]string, error) {
	if len(requested) == 0 {
		var out []string
		for _, s := range subject {
			if slices.Contains(client.Scopes, s) {
				out = append(out, s)
			}
		}
		if len(out) == 0 {
			return nil, ErrInvalidScope.WithDescription("the subject token and the client have no scope in common")
		}
		return out, nil
	}
	for _, s := range requested {
		if !slices.Contains(subject, s) {
			return nil, ErrInvalidScope.WithDescription("scope %q exceeds the scope of the subject token", s)
		}
		if !slices.Contains(client.Scopes, s) {
			return nil, ErrInvalidScope.WithDescription("the client may not ask for scope %q", s)
		}
	}
	return slices.Clone(requested), nil
}

// ExchangedAccessToken builds the token a token exchange issues (RFC 8693 §2.2): for
// the subject token's user, meant for aud with scope, issued to the exchanging client,
// with that client as the current actor (act, nested over the subject token's own),
// and expiring no later than the subject token. It carries the subject token's
// auth_time and token family, so revoking the user's grant revokes it too. Nothing
// else is copied: in particular no confirmation (cnf) of a sender-constrained subject
// token, which binds a key the exchanging client does not hold.
//
// The subject token must represent a user (not a client's own token), and the token
// must have at least a second to live; both failures are invalid_request (RFC 8693 §2.2.2).
func ExchangedAccessToken(subject AccessToken, client Client, aud, scope []string, jti string, now time.Time, ttl time.Duration) (AccessToken, error) {
	if subject.Subject == subject.ClientID {
		// Client credentials tokens: sub is the client (SECURITY S26 keeps the id
		// formats apart); there is no user to act for.
		return AccessToken{}, ErrInvalidRequest.WithDescription("the subject token does not represent a user")
	}
	now = now.Truncate(time.Second)
	exp := now.Add(ttl)
	if subject.ExpiresAt.Before(exp) {
		exp = subject.ExpiresAt.Truncate(time.Second)
	}
	if exp.Sub(now) < time.Second {
		return AccessToken{}, ErrInvalidRequest.WithDescription("the subject token has expired")
	}
	if subject.Actor.Depth() >= MaxActorDepth {
		return AccessToken{}, ErrInvalidRequest.WithDescription("the subject token's delegation chain is too long")
	}
	return AccessToken{
		ID:        jti,
		ClientID:  client.ID,
		Subject:   subject.Subject,
		Audience:  slices.Clone(aud),
		Scope:     slices.Clone(scope),
		AuthTime:  subject.AuthTime,
		IssuedAt:  now,
		ExpiresAt: exp,
		FamilyID:  subject.FamilyID,
		Actor:     &Actor{Subject: client.SubjectID(), Actor: subject.Actor},
	}, nil
}
