package token

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"gatehouse/domain"
)

// TestIDTokenUserClaims: every standard claim the signer writes comes out as the JSON
// OpenID Connect Core §5.1 says (strings, booleans, updated_at in seconds, groups an
// array), escaped, and nothing more.
func TestIDTokenUserClaims(t *testing.T) {
	f := newFixture(t, domain.AlgES256)
	ctx := context.Background()
	yes, no := true, false
	updated := t0.Add(-48 * time.Hour)
	raw, err := f.signer.SignIDToken(ctx, domain.IDToken{
		Subject: "u", Audience: "c", IssuedAt: t0, ExpiresAt: t0.Add(time.Hour),
		Claims: domain.UserClaims{
			Name: `Ada "the Countess" Lovelace`, GivenName: "Ada", FamilyName: "Lovelace", PreferredUsername: "ada",
			Picture: "https://example.test/ada.png", Locale: "en-GB", Zoneinfo: "Europe/London", UpdatedAt: updated,
			Email: "ada@example.test", EmailVerified: &yes, PhoneNumber: "+441234567890", PhoneNumberVerified: &no,
			Groups: []string{"admins", "team:math"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	_, c := decodeParts(t, raw)
	want := map[string]any{
		"name": `Ada "the Countess" Lovelace`, "given_name": "Ada", "family_name": "Lovelace",
		"preferred_username": "ada", "picture": "https://example.test/ada.png", "locale": "en-GB",
		"zoneinfo": "Europe/London", "updated_at": float64(updated.Unix()), "email": "ada@example.test",
		"email_verified": true, "phone_number": "+441234567890", "phone_number_verified": false,
	}
	for k, v := range want {
		if c[k] != v {
			t.Errorf("claim %s = %#v, want %#v", k, c[k], v)
		}
	}
	if g, _ := json.Marshal(c["groups"]); string(g) != `["admins","team:math"]` {
		t.Errorf("groups = %s", g)
	}
	if len(c) != len(want)+1+5 { // groups, and iss sub aud exp iat
		t.Errorf("claims = %v", c)
	}

	// A user in no group, with the groups claim asked: an empty array.
	raw, err = f.signer.SignIDToken(ctx, domain.IDToken{Subject: "u", Audience: "c", IssuedAt: t0,
		ExpiresAt: t0.Add(time.Hour), Claims: domain.User{}.Claims(domain.ClaimGroups)})
	if err != nil {
		t.Fatal(err)
	}
	if _, c := decodeParts(t, raw); c["groups"] == nil || len(c["groups"].([]any)) != 0 {
		t.Fatalf("groups of a user in none = %#v", c["groups"])
	}
}

// TestAccessTokenGroupsAndUserInfoClaims: groups and the userinfo claims of a claims
// request go into the access token and come back from the verifier; a token without
// them carries neither claim.
func TestAccessTokenGroupsAndUserInfoClaims(t *testing.T) {
	f := newFixture(t, domain.AlgES256)
	ctx := context.Background()
	plain, err := f.signer.SignAccessToken(ctx, sampleAccessToken(t0))
	if err != nil {
		t.Fatal(err)
	}
	if _, c := decodeParts(t, plain); c["groups"] != nil || c[userInfoClaim] != nil {
		t.Fatalf("plain token has groups or %s: %v", userInfoClaim, c)
	}
	at := sampleAccessToken(t0)
	at.Groups = []string{"admins", `we"ird`}
	at.UserInfoClaims = domain.ClaimEmail | domain.ClaimPhoneNumber
	raw, err := f.signer.SignAccessToken(ctx, at)
	if err != nil {
		t.Fatal(err)
	}
	_, c := decodeParts(t, raw)
	if g, _ := json.Marshal(c["groups"]); string(g) != `["admins","we\"ird"]` {
		t.Fatalf("groups = %s", g)
	}
	if c[userInfoClaim] != "email phone_number" {
		t.Fatalf("%s = %v", userInfoClaim, c[userInfoClaim])
	}
	got, err := f.verifier.VerifyAccessToken(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Groups) != 2 || got.Groups[1] != `we"ird` || got.UserInfoClaims != at.UserInfoClaims {
		t.Fatalf("verified: groups %v, userinfo claims %v", got.Groups, got.UserInfoClaims)
	}
}

// TestSignIDTokenClaimsAllocations: writing every user claim costs no allocation
// beyond those of a bare ID token (the claims are appended into the pooled buffer).
func TestSignIDTokenClaimsAllocations(t *testing.T) {
	f := newFixture(t, domain.AlgEdDSA)
	ctx := context.Background()
	yes := true
	bare := domain.IDToken{Subject: "u", Audience: "c", IssuedAt: t0, ExpiresAt: t0.Add(time.Hour), Alg: domain.AlgEdDSA}
	full := bare
	full.Claims = domain.UserClaims{Name: "Ada Lovelace", GivenName: "Ada", FamilyName: "Lovelace", PreferredUsername: "ada",
		Picture: "https://example.test/ada.png", Locale: "en-GB", Zoneinfo: "Europe/London", UpdatedAt: t0,
		Email: "ada@example.test", EmailVerified: &yes, PhoneNumber: "+441234567890", PhoneNumberVerified: &yes,
		Groups: []string{"admins", "team:math"}}
	allocs := func(idt domain.IDToken) float64 {
		return testing.AllocsPerRun(50, func() {
			if _, err := f.signer.SignIDToken(ctx, idt); err != nil {
				t.Fatal(err)
			}
		})
	}
	if a, b := allocs(bare), allocs(full); b > a {
		t.Fatalf("an ID token with every claim takes %v allocations, a bare one %v", b, a)
	}
}
