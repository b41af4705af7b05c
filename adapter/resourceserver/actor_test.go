package resourceserver

import (
	"context"
	"testing"
)

// TestVerify_ActorClaim: the act claim of an exchanged token (RFC 8693 §4.1) is on
// Claims, nested actors included; a token without act has none; a malformed act is
// refused as a malformed token.
func TestVerify_ActorClaim(t *testing.T) {
	k := newKey(t, AlgES256, "es")
	is := newIssuer(t, k)
	v := newVerifier(t, is, nil)

	plain, err := v.Verify(context.Background(), mint(t, k, nil, is.claims()))
	if err != nil {
		t.Fatal(err)
	}
	if plain.Actor != nil {
		t.Fatalf("token without act: Actor = %+v", plain.Actor)
	}

	c := is.claims()
	c["act"] = map[string]any{"sub": "orders-rs", "act": map[string]any{"sub": "web-app"}}
	got, err := v.Verify(context.Background(), mint(t, k, nil, c))
	if err != nil {
		t.Fatal(err)
	}
	if got.Actor == nil || got.Actor.Subject != "orders-rs" || got.Actor.Actor == nil ||
		got.Actor.Actor.Subject != "web-app" || got.Actor.Actor.Actor != nil {
		t.Fatalf("Actor = %+v", got.Actor)
	}

	deep := map[string]any{"sub": "a0"}
	for i := 1; i <= maxActorDepth; i++ {
		deep = map[string]any{"sub": "a", "act": deep}
	}
	for name, act := range map[string]any{
		"string":       "orders-rs",
		"null":         nil,
		"no sub":       map[string]any{"client_id": "x"},
		"empty sub":    map[string]any{"sub": ""},
		"numeric sub":  map[string]any{"sub": 7},
		"nested bad":   map[string]any{"sub": "x", "act": []any{"y"}},
		"nested empty": map[string]any{"sub": "x", "act": map[string]any{}},
		"too deep":     deep,
	} {
		c := is.claims()
		c["act"] = act
		mustReject(t, v, "act "+name, mint(t, k, nil, c), descMalformed)
	}
}
