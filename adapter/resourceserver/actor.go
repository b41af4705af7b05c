package resourceserver

import (
	"errors"
	"fmt"
)

// Actor is the act claim of a token issued by token exchange (RFC 8693 §4.1): the
// client acting for the token's subject. Actor is the actor before it (nested act,
// RFC 8693 §4.1), nil for the first.
type Actor struct {
	Subject string
	Actor   *Actor
}

// maxActorDepth bounds the nested act claims read from a token.
const maxActorDepth = 16

// parseActor reads the act claim from the decoded claims: absent is nil; present, it
// must be an object with a string sub, its nested act likewise.
func parseActor(m map[string]any) (*Actor, error) {
	v, present := m["act"]
	if !present {
		return nil, nil
	}
	var head Actor
	cur := &head
	for depth := 1; ; depth++ {
		if depth > maxActorDepth {
			return nil, fmt.Errorf("act: more than %d nested actors", maxActorDepth)
		}
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, errors.New("act is not an object")
		}
		sub, ok := obj["sub"].(string)
		if !ok || sub == "" {
			return nil, errors.New("act has no sub string")
		}
		cur.Actor = &Actor{Subject: sub}
		cur = cur.Actor
		if v, present = obj["act"]; !present {
			return head.Actor, nil
		}
	}
}
