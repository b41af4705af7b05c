package token

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"gatehouse/domain"
)

// TestActorClaimRoundTrip: the signer writes act (RFC 8693 §4.1) as nested objects of
// sub, the verifier reads it back; tokens without an actor have no act claim.
func TestActorClaimRoundTrip(t *testing.T) {
	f := newFixture(t, domain.AlgES256)
	ctx := context.Background()

	plain, err := f.signer.SignAccessToken(ctx, sampleAccessToken(t0))
	if err != nil {
		t.Fatal(err)
	}
	if _, c := decodeParts(t, plain); c["act"] != nil {
		t.Fatalf("token without actor has act: %v", c["act"])
	}
	got, err := f.verifier.VerifyAccessToken(ctx, plain)
	if err != nil || got.Actor != nil {
		t.Fatalf("verify: %+v, %v", got.Actor, err)
	}

	at := sampleAccessToken(t0)
	at.Actor = &domain.Actor{Subject: "orders-rs", Actor: &domain.Actor{Subject: `we"ird`}}
	raw, err := f.signer.SignAccessToken(ctx, at)
	if err != nil {
		t.Fatal(err)
	}
	_, c := decodeParts(t, raw)
	b, _ := json.Marshal(c["act"])
	if want := `{"act":{"sub":"we\"ird"},"sub":"orders-rs"}`; string(b) != want {
		t.Fatalf("act = %s, want %s", b, want)
	}
	got, err = f.verifier.VerifyAccessToken(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	if got.Actor == nil || got.Actor.Subject != "orders-rs" || got.Actor.Actor == nil ||
		got.Actor.Actor.Subject != `we"ird` || got.Actor.Actor.Actor != nil {
		t.Fatalf("Actor = %+v", got.Actor)
	}
}

// TestActorClaimMalformedRefused: an act the signer would never write (no sub, not an
// object, deeper than domain.MaxActorDepth) makes the token invalid, even signed
// with our key.
func TestActorClaimMalformedRefused(t *testing.T) {
	f := newFixture(t, domain.AlgES256)
	ctx := context.Background()
	k, err := f.ring.ActiveKey(ctx, domain.AlgES256)
	if err != nil {
		t.Fatal(err)
	}
	deep := `{"sub":"a"}`
	for range domain.MaxActorDepth {
		deep = `{"sub":"a","act":` + deep + `}`
	}
	for name, act := range map[string]string{
		"string":    `"orders-rs"`,
		"no sub":    `{"client_id":"x"}`,
		"empty sub": `{"sub":""}`,
		"nested":    `{"sub":"x","act":{}}`,
		"too deep":  deep,
	} {
		base := `{"iss":"` + testIssuer + `","sub":"u","aud":"https://api.example.test","exp":` +
			jsonInt(t0.Unix()+600) + `,"iat":` + jsonInt(t0.Unix()) + `,"jti":"j","client_id":"c","act":` + act + `}`
		raw, err := sign(k, k.atHeader, []byte(base), false)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.verifier.VerifyAccessToken(ctx, raw); !errors.Is(err, domain.ErrInvalidToken) {
			t.Errorf("act %s: err = %v, want invalid token", name, err)
		}
	}
}

func jsonInt(n int64) string { b, _ := json.Marshal(n); return string(b) }
