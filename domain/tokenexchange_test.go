package domain

import (
	"errors"
	"slices"
	"testing"
	"time"
)

var exchanger = Client{
	ID:        "ordersrsclientid0000000000",
	Scopes:    []string{"inventory:read", "orders:read", "openid"},
	Audiences: []string{"https://orders.example", "https://inventory.example", "https://default.example"},
}

func TestExchangeTarget(t *testing.T) {
	cases := []struct {
		name      string
		resources []string
		audience  string
		want      []string
		err       error
	}{
		{"audience", nil, "https://inventory.example", []string{"https://inventory.example"}, nil},
		{"resource", []string{"https://inventory.example"}, "", []string{"https://inventory.example"}, nil},
		{"both, merged", []string{"https://inventory.example"}, "https://orders.example", []string{"https://inventory.example", "https://orders.example"}, nil},
		{"both, same", []string{"https://inventory.example"}, "https://inventory.example", []string{"https://inventory.example"}, nil},
		{"none", nil, "", nil, ErrInvalidRequest},
		{"audience not registered", nil, "https://billing.example", nil, ErrInvalidTarget},
		{"one resource not registered", []string{"https://inventory.example", "https://billing.example"}, "", nil, ErrInvalidTarget},
		{"client id is no target", nil, exchanger.ID, nil, ErrInvalidTarget},
	}
	for _, tc := range cases {
		got, err := ExchangeTarget(exchanger, tc.resources, tc.audience)
		if !errors.Is(err, tc.err) || (tc.err == nil && err != nil) || !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %q, %v; want %q, %v", tc.name, got, err, tc.want, tc.err)
		}
	}
}

func TestSubjectTokenMeantFor(t *testing.T) {
	const def = "https://default.example"
	cases := []struct {
		aud  []string
		want bool
	}{
		{[]string{"https://orders.example"}, true},                            // a registered audience of the client
		{[]string{exchanger.ID}, true},                                        // the client's id
		{[]string{"https://billing.example", "https://orders.example"}, true}, // one of several
		{[]string{"https://billing.example"}, false},                          // another API
		{[]string{def}, false},                                                // the server default names no API, even registered
		{[]string{"https://Orders.example"}, false},                           // exact comparison
		{nil, false},
	}
	for _, tc := range cases {
		if got := SubjectTokenMeantFor(AccessToken{Audience: tc.aud}, exchanger, def); got != tc.want {
			t.Errorf("aud %q: got %v, want %v", tc.aud, got, tc.want)
		}
	}
}

func TestExchangeScope(t *testing.T) {
	subject := []string{"openid", "orders:read", "orders:write", "inventory:read"}
	cases := []struct {
		name      string
		requested []string
		want      []string
		err       error
	}{
		{"omitted: intersection", nil, []string{"openid", "orders:read", "inventory:read"}, nil},
		{"narrower", []string{"inventory:read"}, []string{"inventory:read"}, nil},
		{"wider than the subject token", []string{"inventory:read", "admin"}, nil, ErrInvalidScope},
		{"in the subject token but not the client's", []string{"orders:write"}, nil, ErrInvalidScope},
	}
	for _, tc := range cases {
		got, err := ExchangeScope(subject, exchanger, tc.requested)
		if !errors.Is(err, tc.err) || (tc.err == nil && err != nil) || !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %q, %v; want %q, %v", tc.name, got, err, tc.want, tc.err)
		}
	}
	if _, err := ExchangeScope([]string{"orders:write"}, exchanger, nil); !errors.Is(err, ErrInvalidScope) {
		t.Errorf("nothing in common: err = %v, want invalid_scope", err)
	}
}

func TestExchangedAccessToken(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 600_000_000, time.UTC)
	subject := AccessToken{
		ID: "subject-jti", ClientID: "webappclientid000000000000", Subject: "0b7a4b8e-6a5e-4a57-9b1e-2f4d7f5a9c11",
		Audience: []string{"https://orders.example"}, Scope: []string{"openid", "orders:read", "inventory:read"},
		AuthTime: now.Add(-time.Hour), IssuedAt: now.Add(-time.Minute), ExpiresAt: now.Add(10 * time.Minute),
		FamilyID: "family-1",
	}
	aud, scope := []string{"https://inventory.example"}, []string{"inventory:read"}

	got, err := ExchangedAccessToken(subject, exchanger, aud, scope, "new-jti", now, 15*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	want := AccessToken{
		ID: "new-jti", ClientID: exchanger.ID, Subject: subject.Subject, Audience: aud, Scope: scope,
		AuthTime: subject.AuthTime, IssuedAt: now.Truncate(time.Second), ExpiresAt: subject.ExpiresAt.Truncate(time.Second),
		FamilyID: "family-1",
	}
	if got.Actor == nil || got.Actor.Subject != exchanger.ID || got.Actor.Actor != nil {
		t.Fatalf("act = %+v, want {sub: the exchanging client}", got.Actor)
	}
	got.Actor = nil
	if got.ID != want.ID || got.ClientID != want.ClientID || got.Subject != want.Subject ||
		!slices.Equal(got.Audience, want.Audience) || !slices.Equal(got.Scope, want.Scope) ||
		!got.AuthTime.Equal(want.AuthTime) || !got.IssuedAt.Equal(want.IssuedAt) ||
		!got.ExpiresAt.Equal(want.ExpiresAt) || got.FamilyID != want.FamilyID {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}

	// A long-lived subject token: the usual TTL applies.
	long := subject
	long.ExpiresAt = now.Add(time.Hour)
	if got, _ := ExchangedAccessToken(long, exchanger, aud, scope, "j", now, 15*time.Minute); !got.ExpiresAt.Equal(now.Truncate(time.Second).Add(15 * time.Minute)) {
		t.Errorf("exp = %s, want iat + ttl", got.ExpiresAt)
	}

	// Nested act: the new actor outermost, the subject token's actors below it.
	chained := subject
	chained.Actor = &Actor{Subject: "first-rs", Actor: &Actor{Subject: "zeroth-rs"}}
	got, err = ExchangedAccessToken(chained, exchanger, aud, scope, "j", now, 15*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if a := got.Actor; a.Subject != exchanger.ID || a.Actor.Subject != "first-rs" || a.Actor.Actor.Subject != "zeroth-rs" || a.Actor.Actor.Actor != nil {
		t.Fatalf("nested act wrong: %+v", got.Actor)
	}

	deep := subject
	for range MaxActorDepth {
		deep.Actor = &Actor{Subject: "rs", Actor: deep.Actor}
	}
	if _, err := ExchangedAccessToken(deep, exchanger, aud, scope, "j", now, 15*time.Minute); !errors.Is(err, ErrInvalidRequest) {
		t.Errorf("chain of %d actors: err = %v, want invalid_request", MaxActorDepth, err)
	}

	for name, exp := range map[string]time.Time{
		"expired":                   now.Add(-time.Second),
		"expires now":               now,
		"less than a second left":   now.Truncate(time.Second).Add(999 * time.Millisecond),
		"expired within the leeway": now.Add(-10 * time.Second),
	} {
		s := subject
		s.ExpiresAt = exp
		if _, err := ExchangedAccessToken(s, exchanger, aud, scope, "j", now, 15*time.Minute); !errors.Is(err, ErrInvalidRequest) {
			t.Errorf("%s: err = %v, want invalid_request", name, err)
		}
	}

	cc := subject
	cc.Subject = cc.ClientID // a client credentials token
	if _, err := ExchangedAccessToken(cc, exchanger, aud, scope, "j", now, 15*time.Minute); !errors.Is(err, ErrInvalidRequest) {
		t.Errorf("client credentials subject token: err = %v, want invalid_request", err)
	}
}

func TestValidateClient_TokenExchangeNotForPublicClients(t *testing.T) {
	c := Client{Name: "x", Public: true, GrantTypes: []string{GrantTokenExchange}}
	if err := ValidateClient(c); err == nil {
		t.Fatal("a public client registered for token exchange")
	}
	c.Public = false
	if err := ValidateClient(c); err != nil {
		t.Fatalf("confidential client: %v", err)
	}
}
