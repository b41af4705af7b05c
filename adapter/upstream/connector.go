package upstream

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"gatehouse/domain"
	"gatehouse/usecase"
)

const (
	// requestTimeout bounds each call to an upstream.
	requestTimeout = 10 * time.Second
	// maxBody bounds each answer of an upstream.
	maxBody = 1 << 20
	// providerTTL is how long a discovery document (and its key set) is kept.
	providerTTL = 10 * time.Minute
)

// Connector implements usecase.UpstreamConnector.
type Connector struct {
	client *http.Client
	now    func() time.Time

	mu        sync.Mutex
	providers map[string]cachedProvider
}

type cachedProvider struct {
	p       *oidc.Provider
	fetched time.Time
}

var _ usecase.UpstreamConnector = (*Connector)(nil)

// NewConnector returns a connector with its own HTTP client: each request at most
// requestTimeout, each answer at most maxBody bytes.
func NewConnector() *Connector {
	base := http.DefaultTransport.(*http.Transport).Clone()
	return &Connector{
		client:    &http.Client{Timeout: requestTimeout, Transport: limitedTransport{base}},
		now:       time.Now,
		providers: map[string]cachedProvider{},
	}
}

// limitedTransport cuts every answer at maxBody bytes (an error past it).
type limitedTransport struct{ next http.RoundTripper }

func (t limitedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	resp.Body = &limitedBody{r: resp.Body, left: maxBody}
	return resp, nil
}

type limitedBody struct {
	r    io.ReadCloser
	left int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, errors.New("the answer is larger than 1 MiB")
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.r.Close() }

// provider returns the discovered provider of issuer, from the cache while fresh.
// Its key set lives beyond the request, so it is built on a context of its own.
func (c *Connector) provider(ctx context.Context, issuer string) (*oidc.Provider, error) {
	c.mu.Lock()
	cp, ok := c.providers[issuer]
	c.mu.Unlock()
	if ok && c.now().Sub(cp.fetched) < providerTTL {
		return cp.p, nil
	}
	dctx, cancel := context.WithTimeout(oidc.ClientContext(context.WithoutCancel(ctx), c.client), requestTimeout)
	defer cancel()
	// The key set keeps the context it was made with: a long-lived one with the client.
	p, err := oidc.NewProvider(dctx, issuer)
	if err != nil {
		return nil, fmt.Errorf("its discovery document at %s could not be read or does not match the issuer", issuer)
	}
	var meta struct {
		JWKSURI string `json:"jwks_uri"`
	}
	if err := p.Claims(&meta); err != nil || meta.JWKSURI == "" {
		return nil, fmt.Errorf("its discovery document names no jwks_uri")
	}
	cfg := &oidc.ProviderConfig{}
	if err := p.Claims(cfg); err != nil {
		return nil, fmt.Errorf("its discovery document could not be read")
	}
	cfg.IssuerURL, cfg.JWKSURL = issuer, meta.JWKSURI
	p = cfg.NewProvider(oidc.ClientContext(context.Background(), c.client))
	c.mu.Lock()
	c.providers[issuer] = cachedProvider{p: p, fetched: c.now()}
	c.mu.Unlock()
	return p, nil
}

func (c *Connector) oauthConfig(ctx context.Context, up domain.Upstream, secret, redirectURI string) (*oauth2.Config, *oidc.Provider, error) {
	cfg := &oauth2.Config{ClientID: up.ClientID, ClientSecret: secret, RedirectURL: redirectURI, Scopes: up.Scopes}
	switch up.Type {
	case domain.UpstreamOIDC:
		p, err := c.provider(ctx, up.Issuer)
		if err != nil {
			return nil, nil, err
		}
		cfg.Endpoint = p.Endpoint()
		return cfg, p, nil
	case domain.UpstreamGitHub:
		cfg.Endpoint = oauth2.Endpoint{AuthURL: up.WebURL + "/login/oauth/authorize", TokenURL: up.WebURL + "/login/oauth/access_token",
			AuthStyle: oauth2.AuthStyleInParams}
		return cfg, nil, nil
	}
	return nil, nil, fmt.Errorf("its type %q is unknown", up.Type)
}

// AuthCodeURL: see usecase.UpstreamConnector.
func (c *Connector) AuthCodeURL(ctx context.Context, up domain.Upstream, r usecase.UpstreamAuthRequest) (string, error) {
	cfg, _, err := c.oauthConfig(ctx, up, "", r.RedirectURI)
	if err != nil {
		return "", err
	}
	opts := []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("code_challenge", r.CodeChallenge),
		oauth2.SetAuthURLParam("code_challenge_method", "S256")}
	if up.Type == domain.UpstreamOIDC {
		opts = append(opts, oidc.Nonce(r.Nonce))
	}
	return cfg.AuthCodeURL(r.State, opts...), nil
}

// Exchange: see usecase.UpstreamConnector.
func (c *Connector) Exchange(ctx context.Context, up domain.Upstream, secret, redirectURI, code, verifier, nonce string) (usecase.UpstreamIdentity, error) {
	cfg, p, err := c.oauthConfig(ctx, up, secret, redirectURI)
	if err != nil {
		return usecase.UpstreamIdentity{}, err
	}
	ctx, cancel := context.WithTimeout(oidc.ClientContext(ctx, c.client), 2*requestTimeout)
	defer cancel()
	tok, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		err = exchangeError(err)
		var refused *usecase.UpstreamCodeRefused
		if up.Type == domain.UpstreamGitHub && errors.As(err, &refused) && refused.Code == "bad_verification_code" {
			// GitHub's word (with HTTP 200) for a code that is wrong, used or expired:
			// RFC 6749's invalid_grant.
			refused.Code = "invalid_grant"
		}
		return usecase.UpstreamIdentity{}, err
	}
	if up.Type == domain.UpstreamGitHub {
		return c.github(ctx, up, tok.AccessToken)
	}
	return c.verifyIDToken(ctx, p, up, tok, nonce)
}

// exchangeError says why the code exchange failed, without the upstream's whole answer.
func exchangeError(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		if re.ErrorCode != "" {
			return &usecase.UpstreamCodeRefused{Code: printable(re.ErrorCode)}
		}
		if re.Response != nil {
			return fmt.Errorf("its token endpoint answered HTTP %d", re.Response.StatusCode)
		}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return errors.New("its token endpoint did not answer in time")
	}
	return errors.New("its token endpoint could not be reached or gave no access token")
}

// printable keeps an upstream's word short and printable.
func printable(s string) string {
	if len(s) > 64 {
		s = s[:64]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return '_'
		}
		return r
	}, s)
}

// idClaims are the claims read from an ID token (and from userinfo).
type idClaims struct {
	Subject           string          `json:"sub"`
	Email             string          `json:"email"`
	EmailVerified     json.RawMessage `json:"email_verified"`
	PreferredUsername string          `json:"preferred_username"`
	Name              string          `json:"name"`
	AMR               []string        `json:"amr"`
	ACR               string          `json:"acr"`
}

// verified reads email_verified: true, or "true" as some providers send it.
func (c idClaims) verified() bool {
	s := strings.TrimSpace(string(c.EmailVerified))
	return s == "true" || s == `"true"`
}

// idTokenAlgs are the signatures an upstream's ID token may carry, whatever its
// discovery document lists: public-key ones only (RFC 8725 §3.1), never "none" or an
// HMAC keyed with our client secret.
var idTokenAlgs = []string{oidc.RS256, oidc.RS384, oidc.RS512, oidc.ES256, oidc.ES384, oidc.ES512,
	oidc.PS256, oidc.PS384, oidc.PS512, oidc.EdDSA}

// verifyIDToken checks the ID token (OpenID Connect Core §3.1.3.7): its signature
// against the upstream's JWKS, iss, aud (and azp), exp, and its nonce; at_hash when
// present. Then the identity, with userinfo's email when the token has none.
func (c *Connector) verifyIDToken(ctx context.Context, p *oidc.Provider, up domain.Upstream, tok *oauth2.Token, nonce string) (usecase.UpstreamIdentity, error) {
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return usecase.UpstreamIdentity{}, errors.New("it sent no ID token")
	}
	idt, err := p.Verifier(&oidc.Config{ClientID: up.ClientID, Now: c.now, SupportedSigningAlgs: idTokenAlgs}).Verify(ctx, raw)
	if err != nil {
		return usecase.UpstreamIdentity{}, fmt.Errorf("its ID token did not verify (%s)", idTokenProblem(err))
	}
	// OpenID Connect Core §3.1.3.7 steps 4 and 5 (the verifier checks only that aud
	// holds our id): a token for several audiences names the one it was issued to
	// (azp), and that must be us, or another client of the upstream could sign in
	// here with a token issued to it.
	var party struct {
		AZP string `json:"azp"`
	}
	if err := idt.Claims(&party); err != nil {
		return usecase.UpstreamIdentity{}, errors.New("its ID token's claims could not be read")
	}
	if (party.AZP != "" && party.AZP != up.ClientID) || (party.AZP == "" && len(idt.Audience) > 1) {
		return usecase.UpstreamIdentity{}, errors.New("its ID token did not verify (issued to another client: azp)")
	}
	if idt.Nonce == "" || subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(nonce)) != 1 {
		return usecase.UpstreamIdentity{}, errors.New("its ID token did not verify (the nonce is not the one sent)")
	}
	if idt.AccessTokenHash != "" {
		if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
			return usecase.UpstreamIdentity{}, errors.New("its ID token did not verify (at_hash does not match the access token)")
		}
	}
	var cl idClaims
	if err := idt.Claims(&cl); err != nil {
		return usecase.UpstreamIdentity{}, errors.New("its ID token's claims could not be read")
	}
	cl.Subject = idt.Subject
	if cl.Email == "" && p.UserInfoEndpoint() != "" {
		// Some providers put the email only in userinfo: taken only for the same sub.
		if ui, err := p.UserInfo(ctx, oauth2.StaticTokenSource(tok)); err == nil && ui.Subject == idt.Subject {
			var uc idClaims
			if ui.Claims(&uc) == nil {
				cl.Email, cl.EmailVerified = uc.Email, uc.EmailVerified
				if cl.PreferredUsername == "" {
					cl.PreferredUsername = uc.PreferredUsername
				}
				if cl.Name == "" {
					cl.Name = uc.Name
				}
			}
		}
	}
	return usecase.UpstreamIdentity{Subject: cl.Subject, Email: cl.Email, EmailVerified: cl.Email != "" && cl.verified(),
		Username: cl.PreferredUsername, Name: cl.Name, AMR: cl.AMR, ACR: cl.ACR}, nil
}

// idTokenProblem names what failed in go-oidc's words, which hold no secret.
func idTokenProblem(err error) string {
	var expired *oidc.TokenExpiredError
	if errors.As(err, &expired) {
		return "it has expired"
	}
	msg := strings.TrimPrefix(err.Error(), "oidc: ")
	switch {
	case strings.Contains(msg, "issued by a different provider"):
		return "wrong issuer"
	case strings.Contains(msg, "expected audience"):
		return "wrong audience"
	case strings.Contains(msg, "signature"):
		return "bad signature"
	}
	return printable(msg)
}

type githubUser struct {
	ID    int64  `json:"id"`
	Login string `json:"login"`
	Name  string `json:"name"`
	Email string `json:"email"`
}

type githubEmail struct {
	Email    string `json:"email"`
	Primary  bool   `json:"primary"`
	Verified bool   `json:"verified"`
}

// github reads the identity from GitHub's REST API: the user (its numeric id is the
// subject; logins can change hands) and the primary email with its verification.
func (c *Connector) github(ctx context.Context, up domain.Upstream, accessToken string) (usecase.UpstreamIdentity, error) {
	var u githubUser
	if err := c.getJSON(ctx, up.APIURL+"/user", accessToken, &u); err != nil {
		return usecase.UpstreamIdentity{}, fmt.Errorf("its API did not give the user (%w)", err)
	}
	if u.ID <= 0 {
		return usecase.UpstreamIdentity{}, errors.New("its API gave a user without an id")
	}
	id := usecase.UpstreamIdentity{Subject: strconv.FormatInt(u.ID, 10), Username: u.Login, Name: u.Name, Email: u.Email}
	var emails []githubEmail
	if err := c.getJSON(ctx, up.APIURL+"/user/emails", accessToken, &emails); err == nil {
		id.Email = ""
		for _, e := range emails {
			if e.Primary {
				id.Email, id.EmailVerified = e.Email, e.Verified
			}
		}
	}
	// Without the emails (scope user:email not granted) the profile's public email
	// is taken, never as verified.
	return id, nil
}

func (c *Connector) getJSON(ctx context.Context, target, accessToken string, v any) error {
	if _, err := url.Parse(target); err != nil {
		return errors.New("bad URL")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return errors.New("bad URL")
	}
	req.Header.Set("Authorization", "Bearer "+accessToken)
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
	resp, err := c.client.Do(req)
	if err != nil {
		return errors.New("unreachable")
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return errors.New("not JSON")
	}
	return nil
}
