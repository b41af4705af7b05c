package usecase_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"gatehouse/adapter/repository/bunrepo"
	"gatehouse/adapter/token"
	"gatehouse/domain"
	"gatehouse/usecase"
)

// TestClientAssertionClaims: RFC 7523 §3's rules on the claims of a verified
// assertion, at the edges of the fixed clock: iss = sub = client_id, aud the issuer
// or the token endpoint, exp present, not past (30 s leeway) and at most 5 minutes
// ahead (+ leeway), nbf and iat not in the future, jti once per client.
func TestClientAssertionClaims(t *testing.T) {
	f := newFixture(t)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	set, _ := json.Marshal(map[string]any{"keys": []any{map[string]any{"kty": "EC", "crv": "P-256",
		"x": b64(key.X.FillBytes(make([]byte, 32))), "y": b64(key.Y.FillBytes(make([]byte, 32)))}}})
	client := domain.Client{ID: "pkjwt-client", Name: "pkjwt", GrantTypes: []string{domain.GrantClientCredentials},
		TokenEndpointAuthMethod: domain.AuthPrivateKeyJWT, JWKS: string(set), CreatedAt: f.clock.Now(), UpdatedAt: f.clock.Now()}
	if err := f.clients.CreateClient(f.ctx, client); err != nil {
		t.Fatal(err)
	}
	auth := usecase.NewClientAuthenticatorWithAssertions(f.clients, f.hasher, f.throttle, token.NewAssertionVerifier(nil, nil),
		bunrepo.NewReplayRepository(f.db), f.clock, usecase.DefaultClientAssertionConfig(), f.settings)
	now := f.clock.Now()
	seq := 0
	assertion := func(mutate func(jwt.MapClaims)) usecase.Credentials {
		seq++
		c := jwt.MapClaims{"iss": client.ID, "sub": client.ID, "aud": "https://auth.test/oauth/token",
			"jti": "jti-" + string(rune('A'+seq)), "exp": now.Add(time.Minute).Unix()}
		if mutate != nil {
			mutate(c)
		}
		raw, err := jwt.NewWithClaims(jwt.SigningMethodES256, c).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return usecase.Credentials{Method: usecase.AuthMethodPrivateKeyJWT, Assertion: raw,
			Address: fmt.Sprintf("192.0.2.%d", seq)} // each its own address: the throttle counts failures per address
	}
	set2 := func(name string, v any) func(jwt.MapClaims) { return func(c jwt.MapClaims) { c[name] = v } }
	for _, tc := range []struct {
		name   string
		mutate func(jwt.MapClaims)
		ok     bool
	}{
		{"valid", nil, true},
		{"aud the issuer", set2("aud", "https://auth.test"), true},
		{"aud a list with the token endpoint", set2("aud", []string{"https://x.test", "https://auth.test/oauth/token"}), true},
		{"exp 5m30s ahead", set2("exp", now.Add(5*time.Minute+30*time.Second).Unix()), true},
		{"exp 5m31s ahead", set2("exp", now.Add(5*time.Minute+31*time.Second).Unix()), false},
		{"exp 29s past", set2("exp", now.Add(-29*time.Second).Unix()), true},
		{"exp 30s past", set2("exp", now.Add(-30*time.Second).Unix()), false},
		{"no exp", func(c jwt.MapClaims) { delete(c, "exp") }, false},
		{"nbf 31s ahead", set2("nbf", now.Add(31*time.Second).Unix()), false},
		{"iat 31s ahead", set2("iat", now.Add(31*time.Second).Unix()), false},
		{"iat an hour ago", set2("iat", now.Add(-time.Hour).Unix()), true},
		{"aud another server", set2("aud", "https://other.test/oauth/token"), false},
		{"aud missing", func(c jwt.MapClaims) { delete(c, "aud") }, false},
		{"iss another", set2("iss", "someone"), false},
		{"sub another", set2("sub", "someone"), false},
		{"no jti", func(c jwt.MapClaims) { delete(c, "jti") }, false},
	} {
		_, err := auth.Authenticate(f.ctx, assertion(tc.mutate))
		if tc.ok && err != nil {
			t.Errorf("%s: refused: %v", tc.name, err)
		}
		if !tc.ok {
			id, reason := client.ID, usecase.ClientAuthAssertionClaims
			if tc.name == "sub another" { // the sub names the client to look up
				id, reason = "someone", usecase.ClientAuthUnknownClient
			}
			wantAuthFailure(t, tc.name, err, id, reason)
		}
	}

	// The same jti twice: the second is refused; in another client's namespace it
	// would be new (the contract suite checks namespaces).
	cr := assertion(set2("jti", "once"))
	if _, err := auth.Authenticate(f.ctx, cr); err != nil {
		t.Fatalf("first use: %v", err)
	}
	_, err = auth.Authenticate(f.ctx, cr)
	wantAuthFailure(t, "replay", err, client.ID, usecase.ClientAuthAssertionReplayed)
	// A secret never authenticates this client, an assertion no secret client.
	_, err = auth.Authenticate(f.ctx, usecase.Credentials{ClientID: client.ID, Secret: "x", Method: usecase.AuthMethodBasic, Address: "198.51.100.1"})
	wantAuthFailure(t, "secret for a key client", err, client.ID, usecase.ClientAuthWrongMethod)
	_, secretCr := f.client(t, usecase.NewClient{GrantTypes: []string{domain.GrantClientCredentials}})
	a := assertion(nil)
	a.ClientID = secretCr.ClientID
	_, err = auth.Authenticate(f.ctx, a)
	wantAuthFailure(t, "assertion for a secret client", err, secretCr.ClientID, usecase.ClientAuthWrongMethod)
	// Signed by another key, or not a JWT at all.
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	forged, _ := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{"iss": client.ID, "sub": client.ID,
		"aud": "https://auth.test", "jti": "forged", "exp": now.Add(time.Minute).Unix()}).SignedString(other)
	_, err = auth.Authenticate(f.ctx, usecase.Credentials{Method: usecase.AuthMethodPrivateKeyJWT, Assertion: forged, Address: "198.51.100.2"})
	wantAuthFailure(t, "another key's signature", err, client.ID, usecase.ClientAuthInvalidAssertion)
	_, err = auth.Authenticate(f.ctx, usecase.Credentials{Method: usecase.AuthMethodPrivateKeyJWT, Assertion: "not.a.jwt", Address: "198.51.100.3"})
	wantAuthFailure(t, "no readable sub", err, "", usecase.ClientAuthInvalidAssertion)
	// The authenticator without assertion support refuses them (fail closed).
	plain := usecase.NewClientAuthenticator(f.clients, f.hasher, f.throttle)
	_, err = plain.Authenticate(f.ctx, assertion(nil))
	wantAuthFailure(t, "no verifier", err, client.ID, usecase.ClientAuthInvalidAssertion)
}
