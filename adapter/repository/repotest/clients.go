package repotest

import (
	"slices"
	"testing"
	"time"

	"gatehouse/domain"
)

func (s *suite) clients(t *testing.T) {
	t.Run("IDTokenAlgs", func(t *testing.T) {
		// Two clients of each of two algs, besides the suite's others: each alg once.
		for _, alg := range []string{domain.AlgEdDSA, domain.AlgRS256, domain.AlgEdDSA, domain.AlgRS256} {
			c := s.newClient(t)
			c.ID, c.Name, c.IDTokenAlg = newID("c"), newID(alg+"-client"), alg
			noErr(t, s.Clients.CreateClient(t.Context(), c))
		}
		algs, err := s.Clients.IDTokenAlgs(t.Context())
		noErr(t, err)
		if !slices.Contains(algs, domain.AlgEdDSA) || !slices.Contains(algs, domain.AlgRS256) || !slices.IsSorted(algs) ||
			len(slices.Compact(slices.Clone(algs))) != len(algs) {
			t.Fatalf("IDTokenAlgs = %v, want each alg of the clients once, sorted", algs)
		}
	})
	t.Run("CreateAndRead", func(t *testing.T) {
		c := domain.Client{
			ID: newID("c"), Name: newID("full client"), SecretHash: newHash(),
			RedirectURIs: []string{"https://app.example.com/cb", "http://127.0.0.1/cb?x=1&y=2", "com.example.app:/cb"},
			GrantTypes:   []string{domain.GrantAuthorizationCode, domain.GrantRefreshToken, domain.GrantDeviceCode},
			// Lists survive whatever their strings contain.
			Scopes:      []string{"openid", "api:read", `odd,"quoted"[scope]`, "ünïcode"},
			Audiences:   []string{"https://api.example.com", "urn:example:a b"},
			SkipConsent: true, IDTokenAlg: domain.AlgES256,
			PostLogoutRedirectURIs: []string{"https://app.example.com/bye?from=gatehouse&x=1", "http://127.0.0.1:8080/bye"},
			CreatedAt:              base, UpdatedAt: base.Add(time.Minute),
			RequireDPoP: true, RequireMFA: true, PKCEOptional: true, TokenEndpointAuthMethod: domain.AuthPrivateKeyJWT,
			JWKSURI: "https://app.example.com/jwks.json?v=1", JWKS: `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`,
		}
		noErr(t, s.Clients.CreateClient(t.Context(), c))
		got, err := s.Clients.ClientByID(t.Context(), c.ID)
		noErr(t, err)
		checkClient(t, c, got)
	})

	t.Run("PublicClientWithEmptyLists", func(t *testing.T) {
		c := domain.Client{
			ID: newID("c"), Name: newID("public"), Public: true,
			GrantTypes: []string{domain.GrantDeviceCode}, CreatedAt: base, UpdatedAt: base,
		}
		noErr(t, s.Clients.CreateClient(t.Context(), c))
		got, err := s.Clients.ClientByID(t.Context(), c.ID)
		noErr(t, err)
		checkClient(t, c, got)
		if got.SecretHash != nil || len(got.RedirectURIs) != 0 || len(got.Scopes) != 0 || len(got.Audiences) != 0 ||
			len(got.PostLogoutRedirectURIs) != 0 {
			t.Errorf("empty fields came back as %+v", got)
		}
	})

	t.Run("NotFound", func(t *testing.T) {
		_, err := s.Clients.ClientByID(t.Context(), newID("missing"))
		wantErr(t, err, domain.ErrNotFound)
		wantErr(t, s.Clients.DeleteClient(t.Context(), newID("missing")), domain.ErrNotFound)
		wantErr(t, s.Clients.UpdateClientSecret(t.Context(), newID("missing"), newHash(), base), domain.ErrNotFound)
	})

	t.Run("DuplicateName", func(t *testing.T) {
		c := s.newClient(t)
		c.ID = newID("c")
		wantErr(t, s.Clients.CreateClient(t.Context(), c), domain.ErrDuplicate)
		// Names are exact: another case is another name.
		c.Name = "CLIENT" + c.Name[len("client"):]
		noErr(t, s.Clients.CreateClient(t.Context(), c))
	})

	t.Run("DuplicateID", func(t *testing.T) {
		c := s.newClient(t)
		c.Name = newID("another name")
		wantErr(t, s.Clients.CreateClient(t.Context(), c), domain.ErrDuplicate)
	})

	t.Run("UpdateSecret", func(t *testing.T) {
		c := s.newClient(t)
		h, later := newHash(), base.Add(2*time.Hour)
		noErr(t, s.Clients.UpdateClientSecret(t.Context(), c.ID, h, later))
		noErr(t, s.Clients.UpdateClientSecret(t.Context(), c.ID, h, later)) // same values: still found
		got, err := s.Clients.ClientByID(t.Context(), c.ID)
		noErr(t, err)
		sameBytes(t, "secret hash", h, got.SecretHash)
		sameTime(t, "updated_at", later, got.UpdatedAt)
		sameTime(t, "created_at", base, got.CreatedAt)
	})

	t.Run("ListOldestFirst", func(t *testing.T) {
		var ids []string
		for _, offset := range []time.Duration{2 * time.Hour, 3 * time.Hour, time.Hour} {
			c := domain.Client{ID: newID("c"), Name: newID("list"), GrantTypes: []string{domain.GrantClientCredentials},
				SecretHash: newHash(), Scopes: []string{"api"}, PostLogoutRedirectURIs: []string{"https://list.example/bye"},
				CreatedAt: base.Add(offset), UpdatedAt: base.Add(offset)}
			noErr(t, s.Clients.CreateClient(t.Context(), c))
			ids = append(ids, c.ID)
		}
		all, err := s.Clients.ListClients(t.Context())
		noErr(t, err)
		var got []string
		for _, c := range all {
			if slices.Contains(ids, c.ID) {
				got = append(got, c.ID)
				sameList(t, "scopes", []string{"api"}, c.Scopes)
				sameList(t, "post-logout redirect URIs", []string{"https://list.example/bye"}, c.PostLogoutRedirectURIs)
			}
		}
		sameList(t, "listed ids", []string{ids[2], ids[0], ids[1]}, got)
	})

	t.Run("DeleteCascades", func(t *testing.T) {
		u, c := s.newUser(t), s.newClient(t)
		code := s.code(t, u, c)
		noErr(t, s.Codes.CreateCode(t.Context(), code))
		for _, uri := range []string{"", loopbackCB} { // consents for every URI and for one
			noErr(t, s.Consents.SaveConsent(t.Context(), domain.Consent{UserID: u.ID, ClientID: c.ID, RedirectURI: uri, Scope: []string{"openid"}, GrantedAt: base}))
		}
		_, rt := s.newFamily(t, u, c, "")

		noErr(t, s.Clients.DeleteClient(t.Context(), c.ID))
		_, err := s.Clients.ClientByID(t.Context(), c.ID)
		wantErr(t, err, domain.ErrNotFound)
		_, err = s.consume(t, code.Hash, base)
		wantErr(t, err, domain.ErrNotFound)
		for _, uri := range []string{"", loopbackCB} {
			_, err = s.Consents.ConsentFor(t.Context(), u.ID, c.ID, uri)
			wantErr(t, err, domain.ErrNotFound)
		}
		_, err = s.Tokens.RefreshTokenByHash(t.Context(), rt.Hash)
		wantErr(t, err, domain.ErrNotFound)
		// The user is untouched.
		_, err = s.Users.UserByID(t.Context(), u.ID)
		noErr(t, err)
	})
}

func checkClient(t *testing.T, want, got domain.Client) {
	t.Helper()
	if got.ID != want.ID || got.Name != want.Name || got.Public != want.Public ||
		got.SkipConsent != want.SkipConsent || got.IDTokenAlg != want.IDTokenAlg || got.RequireDPoP != want.RequireDPoP || got.RequireMFA != want.RequireMFA ||
		got.TokenEndpointAuthMethod != want.TokenEndpointAuthMethod || got.JWKS != want.JWKS || got.JWKSURI != want.JWKSURI ||
		got.RequirePAR != want.RequirePAR || got.Disabled != want.Disabled || got.PKCEOptional != want.PKCEOptional {
		t.Errorf("client = %+v, want %+v", got, want)
	}
	sameBytes(t, "secret hash", want.SecretHash, got.SecretHash)
	sameList(t, "redirect URIs", want.RedirectURIs, got.RedirectURIs)
	sameList(t, "grant types", want.GrantTypes, got.GrantTypes)
	sameList(t, "scopes", want.Scopes, got.Scopes)
	sameList(t, "audiences", want.Audiences, got.Audiences)
	sameList(t, "post-logout redirect URIs", want.PostLogoutRedirectURIs, got.PostLogoutRedirectURIs)
	sameTime(t, "created_at", want.CreatedAt, got.CreatedAt)
	sameTime(t, "updated_at", want.UpdatedAt, got.UpdatedAt)
}
