package e2e

// Token exchange (RFC 8693) against the real binary: a resource server trades a
// user's token meant for it for a narrower one meant for another API, carrying act;
// and the attacks RFC 8693 §5 and issue #10 name. Names start with tx.

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

const (
	txGrant      = "urn:ietf:params:oauth:grant-type:token-exchange"
	txAccessType = "urn:ietf:params:oauth:token-type:access_token"
	txOrders     = "https://orders.example.test"  // the API the user's token is for; orders-rs is it
	txBilling    = "https://billing.example.test" // another API
	// The downstream API is the example API (rsAudience), run as a real process.
)

// txSetup: a user, the user-facing client (web) that gets her tokens with the password
// grant, and the orders resource server (rs), a confidential client allowed token
// exchange towards the example API.
type txSetup struct {
	srv                    *Server
	user, password, userID string
	webID, webSecret       string
	rsID, rsSecret         string
}

func newTxSetup(t *testing.T, srv *Server) *txSetup {
	t.Helper()
	s := &txSetup{srv: srv}
	s.user, s.password, s.userID = newUser(t, srv)
	s.webID, s.webSecret = srv.CreateClient(t, "--grant-type", "password", "--grant-type", "refresh_token",
		"--scope", "openid orders:read orders:write api:read", "--audience", txOrders, "--audience", txBilling)
	s.rsID, s.rsSecret = srv.CreateClient(t, "--grant-type", txGrant,
		"--scope", "orders:read api:read", "--audience", txOrders, "--audience", rsAudience)
	return s
}

// userToken runs the password grant for the user as web, with extra parameters
// (resource, scope), and returns the token response.
func (s *txSetup) userToken(t *testing.T, extra ...string) map[string]any {
	t.Helper()
	body := form(append([]string{"grant_type", "password", "username", s.user, "password", s.password}, extra...)...)
	r := s.srv.PostForm(t, nil, "/oauth/token", body, s.webID, s.webSecret)
	if r.Status != http.StatusOK {
		t.Fatalf("password grant: %d %s", r.Status, r.Body)
	}
	m := r.JSON(t)
	for _, k := range []string{"access_token", "refresh_token", "id_token"} {
		if v, ok := m[k].(string); ok {
			s.srv.Sensitive(v)
		}
	}
	return m
}

// exchange posts a token exchange as id/secret with the given parameters.
func (s *txSetup) exchange(t *testing.T, id, secret string, kv ...string) Response {
	t.Helper()
	r := s.srv.PostForm(t, nil, "/oauth/token", form(append([]string{"grant_type", txGrant}, kv...)...), id, secret)
	checkTokenHeaders(t, r)
	if r.Status == http.StatusOK {
		if at, ok := r.JSON(t)["access_token"].(string); ok {
			s.srv.Sensitive(at)
		}
	}
	return r
}

// txClaims decodes a JWT's claims (after verifyAccessToken checked it).
func txClaims(t testing.TB, raw string) map[string]any {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %d parts", len(parts))
	}
	var m map[string]any
	if err := json.Unmarshal(b64(t, parts[1]), &m); err != nil {
		t.Fatalf("claims: %v", err)
	}
	return m
}

func txWantError(t *testing.T, what string, r Response, status int, code string) {
	t.Helper()
	if r.Status != status {
		t.Errorf("%s: status %d, want %d: %s", what, r.Status, status, r.Body)
		return
	}
	m := r.JSON(t)
	if m["error"] != code {
		t.Errorf("%s: error %v, want %s: %s", what, m["error"], code, r.Body)
	}
	if d, _ := m["error_description"].(string); d == "" {
		t.Errorf("%s: no error_description: %s", what, r.Body)
	}
	checkDescription(t, m)
}

// TestTokenExchange: the flow and the attacks on every backend.
func TestTokenExchange(t *testing.T) {
	t.Parallel()
	forEachBackend(t, Options{}, func(t *testing.T, srv *Server) {
		s := newTxSetup(t, srv)
		t.Run("narrower audience and scope, verifiable, with act", func(t *testing.T) { testTxFlow(t, s) })
		t.Run("nested act", func(t *testing.T) { testTxNested(t, s) })
		t.Run("discovery", func(t *testing.T) { testTxDiscovery(t, s) })
		t.Run("attacks", func(t *testing.T) { testTxAttacks(t, s) })
		t.Run("revoked subject token", func(t *testing.T) { testTxRevoked(t, s) })
		t.Run("DPoP-bound exchange", func(t *testing.T) { testTxDPoP(t, s) })
	})
}

// testTxDPoP: with a DPoP proof the exchanged token is bound to the exchanging
// client's key (token_type DPoP, cnf.jkt), never to a key the subject token named.
func testTxDPoP(t *testing.T, s *txSetup) {
	subject := s.userToken(t, "scope", "openid orders:read orders:write api:read", "resource", txOrders)
	key := newDPoPKey(t, "ES256")
	body := form("grant_type", txGrant, "subject_token", subject["access_token"].(string),
		"subject_token_type", txAccessType, "audience", rsAudience, "scope", "api:read")
	r := postDPoP(t, s.srv, nil, "/oauth/token", body, s.rsID, s.rsSecret, key.proof(t, "POST", s.srv.URL+"/oauth/token", nil, nil))
	m := tokenJSON(t, s.srv, "DPoP-bound exchange", r)
	if m["token_type"] != "DPoP" {
		t.Fatalf("token_type = %v, want DPoP", m["token_type"])
	}
	cnf, _ := txClaims(t, m["access_token"].(string))["cnf"].(map[string]any)
	if cnf == nil || cnf["jkt"] != key.thumbprint() {
		t.Fatalf("cnf = %v, want the proof key's thumbprint %s", cnf, key.thumbprint())
	}
}

func testTxFlow(t *testing.T, s *txSetup) {
	subject := s.userToken(t, "scope", "openid orders:read orders:write api:read", "resource", txOrders)
	subjectAT := subject["access_token"].(string)
	_, sc := verifyAccessToken(t, s.srv, subjectAT)

	r := s.exchange(t, s.rsID, s.rsSecret, "subject_token", subjectAT, "subject_token_type", txAccessType,
		"audience", rsAudience, "scope", "api:read")
	if r.Status != http.StatusOK {
		t.Fatalf("exchange: %d %s", r.Status, r.Body)
	}
	m := r.JSON(t)
	if m["issued_token_type"] != txAccessType || m["token_type"] != "Bearer" || m["scope"] != "api:read" {
		t.Errorf("response %v", m)
	}
	for _, k := range []string{"refresh_token", "id_token"} {
		if _, ok := m[k]; ok {
			t.Errorf("token exchange issued a %s", k)
		}
	}
	at := m["access_token"].(string)
	_, c := verifyAccessToken(t, s.srv, at) // signature against the JWKS, typ, iss, exp, iat
	raw := txClaims(t, at)
	if c.Subject != s.userID || c.ClientID != s.rsID || !slices.Equal(c.Audience, []string{rsAudience}) || c.Scope != "api:read" {
		t.Errorf("exchanged token: sub %s client_id %s aud %v scope %q; want the user, %s, [%s], api:read",
			c.Subject, c.ClientID, c.Audience, c.Scope, s.rsID, rsAudience)
	}
	act, _ := raw["act"].(map[string]any)
	if act == nil || act["sub"] != s.rsID || len(act) != 1 {
		t.Errorf("act = %v, want {\"sub\": %q}", raw["act"], s.rsID)
	}
	if _, ok := raw["cnf"]; ok {
		t.Errorf("exchanged token carries cnf: %v", raw["cnf"])
	}
	if c.ExpiresAt.After(sc.ExpiresAt.Time) {
		t.Errorf("exp %s after the subject token's %s", c.ExpiresAt, sc.ExpiresAt)
	}
	if e, _ := m["expires_in"].(float64); e <= 0 || time.Duration(e)*time.Second > time.Until(sc.ExpiresAt.Time)+2*time.Second {
		t.Errorf("expires_in %v beyond the subject token's expiry", m["expires_in"])
	}

	// Omitted scope: the intersection of the subject token's and the client's.
	r = s.exchange(t, s.rsID, s.rsSecret, "subject_token", subjectAT, "subject_token_type", txAccessType,
		"resource", rsAudience, "requested_token_type", txAccessType)
	if r.Status != http.StatusOK || r.JSON(t)["scope"] != "orders:read api:read" {
		t.Errorf("omitted scope: %d %s", r.Status, r.Body)
	}

	// Introspection sees it, and the real resource server (example-api, built on
	// adapter/resourceserver) accepts it and shows act.
	in := introspect(t, s.srv, nil, s.rsID, s.rsSecret, at)
	if in["active"] != true || in["client_id"] != s.rsID || in["sub"] != s.userID {
		t.Errorf("introspection of the exchanged token: %v", in)
	}
	api := startExampleAPI(t, s.srv)
	api.wantProfile(t, "exchanged token", at, s.userID, s.rsID)
	if p := api.get(t, "/secured/profile", at).JSON(t); p["act"] == nil {
		t.Errorf("example-api profile without act: %v", p)
	}
	// The subject token itself is not for the example API.
	if r := api.get(t, "/secured/profile", subjectAT); r.Status != http.StatusUnauthorized {
		t.Errorf("subject token (aud %s) at the example API: %d", txOrders, r.Status)
	}
}

func testTxNested(t *testing.T, s *txSetup) {
	subject := s.userToken(t, "scope", "api:read", "resource", txOrders)["access_token"].(string)
	r := s.exchange(t, s.rsID, s.rsSecret, "subject_token", subject, "subject_token_type", txAccessType, "audience", rsAudience)
	if r.Status != http.StatusOK {
		t.Fatalf("first exchange: %d %s", r.Status, r.Body)
	}
	first := r.JSON(t)["access_token"].(string)
	// The example API's own client exchanges the token meant for it, for a third API.
	apiID, apiSecret := s.srv.CreateClient(t, "--grant-type", txGrant, "--scope", "api:read",
		"--audience", rsAudience, "--audience", "https://stock.example.test")
	r = s.exchange(t, apiID, apiSecret, "subject_token", first, "subject_token_type", txAccessType, "audience", "https://stock.example.test")
	if r.Status != http.StatusOK {
		t.Fatalf("second exchange: %d %s", r.Status, r.Body)
	}
	at := r.JSON(t)["access_token"].(string)
	_, c := verifyAccessToken(t, s.srv, at)
	raw := txClaims(t, at)
	act, _ := raw["act"].(map[string]any)
	inner, _ := act["act"].(map[string]any)
	if c.Subject != s.userID || c.ClientID != apiID || act["sub"] != apiID || inner["sub"] != s.rsID || inner["act"] != nil {
		t.Errorf("twice exchanged: sub %s client_id %s act %v; want the user, %s, {sub %s, act {sub %s}}",
			c.Subject, c.ClientID, raw["act"], apiID, apiID, s.rsID)
	}
}

func testTxDiscovery(t *testing.T, s *txSetup) {
	for _, path := range []string{"/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"} {
		grants, _ := s.srv.Get(t, nil, path).JSON(t)["grant_types_supported"].([]any)
		if !slices.Contains(grants, any(txGrant)) {
			t.Errorf("%s: grant_types_supported %v lacks token exchange", path, grants)
		}
	}
}

func testTxAttacks(t *testing.T, s *txSetup) {
	subjectResp := s.userToken(t, "scope", "openid orders:read api:read", "resource", txOrders)
	subject := subjectResp["access_token"].(string)
	refreshToken := subjectResp["refresh_token"].(string)
	idToken := subjectResp["id_token"].(string)
	billing := s.userToken(t, "scope", "orders:read", "resource", txBilling)["access_token"].(string)
	defaultAud := s.userToken(t, "scope", "orders:read")["access_token"].(string)
	ccID, ccSecret := s.srv.CreateClient(t, "--grant-type", "client_credentials", "--scope", "api:read", "--audience", rsAudience)
	pubID, _ := s.srv.CreateClient(t, "--public", "--grant-type", "urn:ietf:params:oauth:grant-type:device_code", "--audience", rsAudience)

	// A token that does not verify: its payload changed (scope widened) under the
	// original signature, and an unsigned one (alg none).
	parts := strings.Split(subject, ".")
	claims := txClaims(t, subject)
	claims["scope"] = "openid orders:read orders:write api:read admin"
	payload, _ := json.Marshal(claims)
	forged := parts[0] + "." + b64url(payload) + "." + parts[2]
	none := b64url([]byte(`{"alg":"none","typ":"at+jwt"}`)) + "." + b64url(payload) + "."

	ok := []string{"subject_token", subject, "subject_token_type", txAccessType, "audience", rsAudience}
	with := func(kv ...string) []string {
		out := slices.Clone(ok)
		for i := 0; i+1 < len(kv); i += 2 {
			if j := slices.Index(out, kv[i]); j >= 0 && j%2 == 0 {
				if kv[i+1] == "" {
					out = slices.Delete(out, j, j+2)
				} else {
					out[j+1] = kv[i+1]
				}
			} else {
				out = append(out, kv[i], kv[i+1])
			}
		}
		return out
	}
	rs := [2]string{s.rsID, s.rsSecret}
	cases := []struct {
		name   string
		client [2]string
		params []string
		status int
		code   string
	}{
		// RFC 8693 §2.1 / 8707: a target the client may not reach.
		{"audience the client may not reach", rs, with("audience", txBilling), 400, "invalid_target"},
		{"resource the client may not reach", rs, with("audience", "", "resource", txBilling), 400, "invalid_target"},
		{"one of two resources out of reach", rs, with("resource", txBilling), 400, "invalid_target"},
		{"no target", rs, with("audience", ""), 400, "invalid_request"},
		// Scope widening.
		{"scope beyond the subject token", rs, with("scope", "api:read orders:write"), 400, "invalid_scope"},
		{"scope the client may not have", rs, with("scope", "openid"), 400, "invalid_scope"},
		// Subject tokens that must not be exchanged.
		{"forged subject token (payload changed)", rs, with("subject_token", forged), 400, "invalid_request"},
		{"unsigned subject token (alg none)", rs, with("subject_token", none), 400, "invalid_request"},
		{"garbage subject token", rs, with("subject_token", "not-a-token"), 400, "invalid_request"},
		{"subject token issued to another API", rs, with("subject_token", billing), 400, "invalid_request"},
		{"subject token for the default audience", rs, with("subject_token", defaultAud), 400, "invalid_request"},
		{"refresh token as subject_token", rs, with("subject_token", refreshToken), 400, "invalid_request"},
		{"ID token as subject_token", rs, with("subject_token", idToken), 400, "invalid_request"},
		{"refresh_token subject_token_type", rs, with("subject_token", refreshToken, "subject_token_type", "urn:ietf:params:oauth:token-type:refresh_token"), 400, "invalid_request"},
		{"jwt subject_token_type", rs, with("subject_token_type", "urn:ietf:params:oauth:token-type:jwt"), 400, "invalid_request"},
		{"missing subject_token_type", rs, with("subject_token_type", ""), 400, "invalid_request"},
		{"missing subject_token", rs, with("subject_token", ""), 400, "invalid_request"},
		{"actor_token (delegation by actor token is not offered)", rs, with("actor_token", subject, "actor_token_type", txAccessType), 400, "invalid_request"},
		{"requested refresh token", rs, with("requested_token_type", "urn:ietf:params:oauth:token-type:refresh_token"), 400, "invalid_request"},
		// Clients that may not exchange.
		{"client without the grant", [2]string{ccID, ccSecret}, ok, 400, "unauthorized_client"},
		{"public client", [2]string{}, append(slices.Clone(ok), "client_id", pubID), 400, "unauthorized_client"},
		{"wrong secret", [2]string{s.rsID, wrongSecret(s.rsSecret)}, ok, 401, "invalid_client"},
		{"no client authentication", [2]string{}, ok, 401, "invalid_client"},
	}
	for _, tc := range cases {
		r := s.exchange(t, tc.client[0], tc.client[1], tc.params...)
		txWantError(t, tc.name, r, tc.status, tc.code)
	}

	// A public client cannot even be registered for the grant.
	if _, stderr, exit := s.srv.CLI(t, "", "clients", "create", "--name", uniqueName("pub-tx-"), "--public", "--grant-type", txGrant); exit != 2 || !strings.Contains(stderr, "public") {
		t.Errorf("clients create --public --grant-type token-exchange: exit %d, stderr %q; want 2", exit, stderr)
	}

	// The untouched request still works: the refusals above were for their reasons.
	if r := s.exchange(t, s.rsID, s.rsSecret, ok...); r.Status != http.StatusOK {
		t.Errorf("the valid exchange: %d %s", r.Status, r.Body)
	}
}

func testTxRevoked(t *testing.T, s *txSetup) {
	// Revoked by its jti (RFC 7009 by the client it was issued to).
	m := s.userToken(t, "scope", "api:read", "resource", txOrders)
	subject := m["access_token"].(string)
	if r := revoke(t, s.srv, nil, s.webID, s.webSecret, subject, "access_token"); r.Status != http.StatusOK {
		t.Fatalf("revoke: %d %s", r.Status, r.Body)
	}
	r := s.exchange(t, s.rsID, s.rsSecret, "subject_token", subject, "subject_token_type", txAccessType, "audience", rsAudience)
	txWantError(t, "subject token revoked by jti", r, 400, "invalid_request")

	// Revoked with its family: the exchanged token shares the user's grant, so it dies
	// with it, and the subject token can no longer be exchanged.
	m = s.userToken(t, "scope", "api:read", "resource", txOrders)
	subject = m["access_token"].(string)
	r = s.exchange(t, s.rsID, s.rsSecret, "subject_token", subject, "subject_token_type", txAccessType, "audience", rsAudience)
	if r.Status != http.StatusOK {
		t.Fatalf("exchange: %d %s", r.Status, r.Body)
	}
	exchanged := r.JSON(t)["access_token"].(string)
	if r := revoke(t, s.srv, nil, s.webID, s.webSecret, m["refresh_token"].(string), ""); r.Status != http.StatusOK {
		t.Fatalf("revoke refresh token: %d %s", r.Status, r.Body)
	}
	wantInactive(t, introspect(t, s.srv, nil, s.rsID, s.rsSecret, exchanged))
	r = s.exchange(t, s.rsID, s.rsSecret, "subject_token", subject, "subject_token_type", txAccessType, "audience", rsAudience)
	txWantError(t, "subject token of a revoked family", r, 400, "invalid_request")
}

// TestTokenExchange_ExpiredSubjectToken: a subject token past its exp is refused, even
// within the clock-skew leeway verifiers allow (access tokens live 2 s here).
func TestTokenExchange_ExpiredSubjectToken(t *testing.T) {
	t.Parallel()
	forEachBackend(t, Options{Env: map[string]string{"GATEHOUSE_ACCESS_TOKEN_TTL": "2s"}}, func(t *testing.T, srv *Server) {
		s := newTxSetup(t, srv)
		subject := s.userToken(t, "scope", "api:read", "resource", txOrders)["access_token"].(string)
		exp, _ := txClaims(t, subject)["exp"].(float64)
		// Wait until the token is certainly past exp (whole seconds), then try.
		for time.Now().Before(time.Unix(int64(exp)+1, 0)) {
			time.Sleep(100 * time.Millisecond)
		}
		r := s.exchange(t, s.rsID, s.rsSecret, "subject_token", subject, "subject_token_type", txAccessType, "audience", rsAudience)
		txWantError(t, "expired subject token", r, 400, "invalid_request")
		if d, _ := r.JSON(t)["error_description"].(string); !strings.Contains(d, "expired") {
			t.Errorf("error_description %q does not say the token expired", d)
		}
	})
}
