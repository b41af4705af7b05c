package token

import (
	"errors"
	"fmt"

	"gatehouse/domain"
)

// actClaim is the RFC 8693 §4.1 act claim as it is read: the actor's sub and the
// actor before it.
type actClaim struct {
	Subject string    `json:"sub"`
	Actor   *actClaim `json:"act,omitempty"`
}

// appendActor appends ,"act":{"sub":…,"act":{…}} for a (nothing when nil).
func appendActor(b []byte, a *domain.Actor) []byte {
	if a == nil {
		return b
	}
	b = append(b, `,"act":{"sub":`...)
	b = appendString(b, a.Subject)
	b = appendActor(b, a.Actor)
	return append(b, '}')
}

// toActor checks an act claim read from a token and turns it into a domain.Actor:
// every actor needs a sub, and the chain is at most domain.MaxActorDepth long (the
// signer never writes a longer one).
func (c *actClaim) toActor() (*domain.Actor, error) {
	if c == nil {
		return nil, nil
	}
	var head domain.Actor
	cur, n := &head, 0
	for a := c; a != nil; a = a.Actor {
		n++
		if n > domain.MaxActorDepth {
			return nil, fmt.Errorf("act: more than %d nested actors", domain.MaxActorDepth)
		}
		if a.Subject == "" {
			return nil, errors.New("act: an actor without sub")
		}
		cur.Actor = &domain.Actor{Subject: a.Subject}
		cur = cur.Actor
	}
	return head.Actor, nil
}
