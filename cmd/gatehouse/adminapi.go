package main

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/google/wire"

	"gatehouse/adapter/adminapi"
	"gatehouse/adapter/httpapi"
	"gatehouse/adapter/repository/bunrepo"
	"gatehouse/adapter/resourceserver"
	"gatehouse/domain"
	"gatehouse/usecase"
)

// adminAPISet builds the admin REST API (/admin/api/v1).
var adminAPISet = wire.NewSet(
	usecase.NewAdminAccess, usecase.NewAdminResources,
	provideSessionDirectory, provideUserDirectory, provideClientDirectory, provideAdminAPI,
)

func provideSessionDirectory(r *bunrepo.SessionRepository) usecase.SessionDirectory { return r }
func provideUserDirectory(r *bunrepo.UserRepository) usecase.UserDirectory          { return r }
func provideClientDirectory(r *bunrepo.ClientRepository) usecase.ClientDirectory    { return r }

func provideAdminAPI(settings usecase.Settings, log *slog.Logger, access *usecase.AdminAccess, admin *usecase.Admin,
	resources *usecase.AdminResources, keys *usecase.Keys, factors *usecase.Factors, clock usecase.Clock,
	cache usecase.ClientForgetter) httpapi.SubMounter {
	v := &selfVerifier{issuer: string(settings.Issuer), log: log}
	return adminapi.New(adminapi.Config{Issuer: string(settings.Issuer), Verifier: v, Access: access, Admin: admin,
		Resources: resources, Keys: keys, Factors: factors, Clock: clock, Cache: cache, Log: log, OnMount: v.bind})
}

// selfVerifier verifies admin API tokens with the resource-server package, exactly as
// any resource server of this issuer does (SECURITY S55), reading the issuer's
// discovery document and JWKS from this very server in-process: the server need not
// reach its own public URL, which behind a proxy it may not.
type selfVerifier struct {
	issuer  string
	log     *slog.Logger
	handler atomic.Pointer[http.Handler]

	mu sync.Mutex
	v  *resourceserver.Verifier
}

func (s *selfVerifier) bind(h http.Handler) { s.handler.Store(&h) }

// verifier builds the resource-server verifier on first use (the server must be
// serving to answer its discovery requests), and again after a failure.
func (s *selfVerifier) verifier(ctx context.Context) (*resourceserver.Verifier, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.v != nil {
		return s.v, nil
	}
	h := s.handler.Load()
	if h == nil {
		return nil, errors.New("the admin API is not mounted")
	}
	v, err := resourceserver.New(ctx, resourceserver.Config{Issuer: s.issuer,
		Audience:   strings.TrimRight(s.issuer, "/") + domain.AdminAPIAudiencePath,
		HTTPClient: &http.Client{Transport: inProcess{*h}}, Logger: s.log})
	if err != nil {
		return nil, err
	}
	s.v = v
	return v, nil
}

// VerifyAdminToken is adminapi.TokenVerifier.
func (s *selfVerifier) VerifyAdminToken(ctx context.Context, raw string) ([]string, error) {
	v, err := s.verifier(ctx)
	if err != nil {
		s.log.ErrorContext(ctx, "admin api: cannot verify tokens", "err", err)
		return nil, errors.New("the server cannot verify tokens now")
	}
	claims, err := v.Verify(ctx, raw)
	if err != nil {
		var te *resourceserver.TokenError
		if errors.As(err, &te) && te.Description != "" {
			return nil, errors.New(te.Description)
		}
		return nil, errors.New("the access token is invalid")
	}
	if claims.JKT != "" {
		// A DPoP-bound token is worth nothing without its key's proof (RFC 9449 §7.1),
		// which the admin API does not take: such a token is not a Bearer token.
		return nil, errors.New("the access token is DPoP-bound; the admin API takes Bearer tokens")
	}
	return claims.Scope, nil
}

// inProcess serves HTTP requests with a handler of this process.
type inProcess struct{ h http.Handler }

func (t inProcess) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(req.Context())
	r.RemoteAddr = "127.0.0.1:0"
	r.RequestURI = r.URL.RequestURI()
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, r)
	return rec.Result(), nil
}
