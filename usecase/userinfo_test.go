package usecase_test

import (
	"errors"
	"testing"

	"gatehouse/domain"
	"gatehouse/usecase"
)

func TestUserInfo(t *testing.T) {
	f := newFixture(t)
	ui := usecase.NewUserInfo(f.verifier, f.tokens, f.users, f.dpop)
	_, cr := f.client(t, usecase.NewClient{GrantTypes: []string{domain.GrantPassword, domain.GrantRefreshToken, domain.GrantClientCredentials}})

	full := passwordTokens(t, f, cr, "openid profile email")
	c, err := ui.Execute(f.ctx, full.AccessToken)
	if err != nil || c.Subject == "" || c.PreferredUsername == "" || c.Email == "" || c.EmailVerified == nil {
		t.Fatalf("full claims: %+v %v", c, err)
	}
	bare := passwordTokens(t, f, cr, "openid")
	if c, err := ui.Execute(f.ctx, bare.AccessToken); err != nil || c.PreferredUsername != "" || c.Email != "" {
		t.Fatalf("openid only must give sub alone: %+v %v", c, err)
	}
	noOpenID := passwordTokens(t, f, cr, "profile")
	if _, err := ui.Execute(f.ctx, noOpenID.AccessToken); !errors.Is(err, domain.ErrInsufficientScope) {
		t.Fatalf("without openid: %v", err)
	}
	cc, _ := f.token.Issue(f.ctx, usecase.TokenRequest{GrantType: domain.GrantClientCredentials, Credentials: cr})
	if _, err := ui.Execute(f.ctx, cc.AccessToken); err == nil {
		t.Fatal("a client-credentials token has no user")
	}
	if _, err := ui.Execute(f.ctx, full.AccessToken+"x"); !errors.Is(err, domain.ErrInvalidToken) {
		t.Fatalf("tampered token: %v", err)
	}
	if err := f.revoke.Execute(f.ctx, usecase.RevokeRequest{Credentials: cr, Token: full.RefreshToken}); err != nil {
		t.Fatal(err)
	}
	if _, err := ui.Execute(f.ctx, full.AccessToken); !errors.Is(err, domain.ErrInvalidToken) {
		t.Fatalf("token of a revoked family: %v", err)
	}
}
