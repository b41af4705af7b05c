package e2e

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// DPoP (RFC 9449) against the real server: the flows, and every attack its §11 and
// §4.3 checks name, each over HTTP.

// dpopKey is a client's DPoP key pair.
type dpopKey struct {
	priv   crypto.Signer
	method jwt.SigningMethod
	jwk    map[string]any
}

func b64url(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func newDPoPKey(t testing.TB, alg string) dpopKey {
	t.Helper()
	switch alg {
	case "ES256":
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return dpopKey{k, jwt.SigningMethodES256, map[string]any{"kty": "EC", "crv": "P-256",
			"x": b64url(k.X.FillBytes(make([]byte, 32))), "y": b64url(k.Y.FillBytes(make([]byte, 32)))}}
	case "RS256":
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		return dpopKey{k, jwt.SigningMethodRS256, map[string]any{"kty": "RSA", "n": b64url(k.N.Bytes()),
			"e": b64url(big.NewInt(int64(k.E)).Bytes())}}
	case "EdDSA":
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return dpopKey{priv, jwt.SigningMethodEdDSA, map[string]any{"kty": "OKP", "crv": "Ed25519", "x": b64url(pub)}}
	}
	t.Fatalf("unknown alg %s", alg)
	return dpopKey{}
}

// thumbprint is the RFC 7638 thumbprint of the key, computed here from the required
// members in lexicographic order, independently of the server.
func (k dpopKey) thumbprint() string {
	var canonical string
	switch k.jwk["kty"] {
	case "EC":
		canonical = `{"crv":"P-256","kty":"EC","x":"` + k.jwk["x"].(string) + `","y":"` + k.jwk["y"].(string) + `"}`
	case "RSA":
		canonical = `{"e":"` + k.jwk["e"].(string) + `","kty":"RSA","n":"` + k.jwk["n"].(string) + `"}`
	case "OKP":
		canonical = `{"crv":"Ed25519","kty":"OKP","x":"` + k.jwk["x"].(string) + `"}`
	}
	sum := sha256.Sum256([]byte(canonical))
	return b64url(sum[:])
}

// proof makes a DPoP proof for method and url; claims and hdr override or (nil)
// delete members.
func (k dpopKey) proof(t testing.TB, method, url string, claims, hdr map[string]any) string {
	t.Helper()
	c := jwt.MapClaims{"jti": randomString(22), "htm": method, "htu": url, "iat": time.Now().Unix()}
	for n, v := range claims {
		if v == nil {
			delete(c, n)
		} else {
			c[n] = v
		}
	}
	tok := jwt.NewWithClaims(k.method, c)
	tok.Header["typ"] = "dpop+jwt"
	tok.Header["jwk"] = k.jwk
	for n, v := range hdr {
		if v == nil {
			delete(tok.Header, n)
		} else {
			tok.Header[n] = v
		}
	}
	s, err := tok.SignedString(k.priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// ath is the proof claim binding it to an access token.
func ath(token string) string {
	sum := sha256.Sum256([]byte(token))
	return b64url(sum[:])
}

// postDPoP posts a form to path with Basic credentials (when user is set) and one
// DPoP header per proof.
func postDPoP(t testing.TB, srv *Server, hc *http.Client, path, body, user, pass string, proofs ...string) Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.SetBasicAuth(basicEscape(user), basicEscape(pass))
	}
	for _, p := range proofs {
		req.Header.Add("DPoP", p)
	}
	return srv.Do(t, hc, req)
}

// userinfoDPoP calls GET /userinfo with the Authorization scheme and proofs.
func userinfoDPoP(t testing.TB, srv *Server, hc *http.Client, scheme, token string, proofs ...string) Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, srv.URL+"/userinfo", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", scheme+" "+token)
	for _, p := range proofs {
		req.Header.Add("DPoP", p)
	}
	return srv.Do(t, hc, req)
}

// wantDPoPError checks status and error code.
func wantDPoPError(t testing.TB, what string, r Response, status int, code string) {
	t.Helper()
	var body struct {
		Error string `json:"error"`
	}
	_ = json.Unmarshal(r.Body, &body)
	if r.Status != status || body.Error != code {
		t.Errorf("%s: %d %s, want %d %s", what, r.Status, r.Body, status, code)
	}
}

// tokenJSON decodes a successful token response.
func tokenJSON(t testing.TB, srv *Server, what string, r Response) map[string]any {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("%s: %d %s", what, r.Status, r.Body)
	}
	m := r.JSON(t)
	for _, k := range []string{"access_token", "refresh_token", "id_token"} {
		if s, ok := m[k].(string); ok {
			srv.Sensitive(s)
		}
	}
	return m
}

func TestDPoP(t *testing.T) {
	t.Parallel()
	forEachBackend(t, Options{}, func(t *testing.T, srv *Server) {
		runConcurrently(t,
			subtest{"ClientCredentialsBound", func(t *testing.T) { testDPoPClientCredentials(t, srv) }},
			subtest{"ProofAttacks", func(t *testing.T) { testDPoPProofAttacks(t, srv) }},
			subtest{"RequireDPoP", func(t *testing.T) { testDPoPRequired(t, srv) }},
			subtest{"UserInfo", func(t *testing.T) { testDPoPUserInfo(t, srv) }},
			subtest{"PublicRefreshBound", func(t *testing.T) { testDPoPPublicRefresh(t, srv) }},
			subtest{"ConfidentialRefreshUnbound", func(t *testing.T) { testDPoPConfidentialRefresh(t, srv) }},
			subtest{"AuthorizationCode", func(t *testing.T) { testDPoPAuthorizationCode(t, srv) }},
		)
	})
}

// testDPoPClientCredentials: a valid proof gets token_type DPoP and cnf.jkt = the
// key's thumbprint (RFC 9449 §5, §6.1); introspection shows both (§6.2); discovery
// lists the proof algs.
func testDPoPClientCredentials(t *testing.T, srv *Server) {
	id, secret := srv.CreateClient(t, "--grant-type", "client_credentials", "--scope", "api:read")
	hc := srv.HTTPClient()
	tokenURL := srv.URL + "/oauth/token"
	for _, alg := range []string{"ES256", "RS256", "EdDSA"} {
		k := newDPoPKey(t, alg)
		m := tokenJSON(t, srv, alg, postDPoP(t, srv, hc, "/oauth/token", form("grant_type", "client_credentials"), id, secret,
			k.proof(t, "POST", tokenURL, nil, nil)))
		if m["token_type"] != "DPoP" {
			t.Errorf("%s: token_type %v, want DPoP", alg, m["token_type"])
		}
		at := m["access_token"].(string)
		_, claims := verifyAccessToken(t, srv, at)
		_ = claims
		payload := jwtPayload(t, at)
		if cnf, _ := payload["cnf"].(map[string]any); cnf["jkt"] != k.thumbprint() {
			t.Errorf("%s: cnf %v, want jkt %s", alg, payload["cnf"], k.thumbprint())
		}
		in := introspect(t, srv, hc, id, secret, at)
		if cnf, _ := in["cnf"].(map[string]any); in["active"] != true || in["token_type"] != "DPoP" || cnf["jkt"] != k.thumbprint() {
			t.Errorf("%s: introspection %v, want active, token_type DPoP, cnf.jkt", alg, in)
		}
	}
	// Without a proof the same client still gets a bearer token, without cnf.
	m := tokenJSON(t, srv, "no proof", srv.PostForm(t, hc, "/oauth/token", form("grant_type", "client_credentials"), id, secret))
	if m["token_type"] != "Bearer" || jwtPayload(t, m["access_token"].(string))["cnf"] != nil {
		t.Errorf("without a proof: %v", m)
	}
	meta := srv.Get(t, hc, "/.well-known/oauth-authorization-server").JSON(t)
	algs, _ := meta["dpop_signing_alg_values_supported"].([]any)
	if !slices.Contains(algs, any("ES256")) || slices.Contains(algs, any("HS256")) || slices.Contains(algs, any("none")) {
		t.Errorf("dpop_signing_alg_values_supported = %v", meta["dpop_signing_alg_values_supported"])
	}
}

func jwtPayload(t testing.TB, raw string) map[string]any {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", raw)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// testDPoPProofAttacks: every bad proof at the token endpoint is 400
// invalid_dpop_proof, and issues nothing.
func testDPoPProofAttacks(t *testing.T, srv *Server) {
	id, secret := srv.CreateClient(t, "--grant-type", "client_credentials", "--scope", "api:read")
	hc := srv.HTTPClient()
	tokenURL := srv.URL + "/oauth/token"
	k, other := newDPoPKey(t, "ES256"), newDPoPKey(t, "ES256")
	body := form("grant_type", "client_credentials")
	send := func(proofs ...string) Response {
		return postDPoP(t, srv, hc, "/oauth/token", body, id, secret, proofs...)
	}

	// Replay: the same proof twice; the second is refused (§11.1).
	p := k.proof(t, "POST", tokenURL, nil, nil)
	tokenJSON(t, srv, "first use of a proof", send(p))
	wantDPoPError(t, "replayed proof", send(p), 400, "invalid_dpop_proof")

	// The query and fragment of htu are ignored (§4.3), scheme and host case too.
	tokenJSON(t, srv, "htu with query", send(k.proof(t, "POST", tokenURL+"?a=b#f", nil, nil)))
	tokenJSON(t, srv, "htu in upper case host", send(k.proof(t, "POST", strings.Replace(tokenURL, "http://", "HTTP://", 1), nil, nil)))

	none := func() string {
		tok := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{"jti": randomString(20), "htm": "POST", "htu": tokenURL, "iat": time.Now().Unix()})
		tok.Header["typ"], tok.Header["jwk"] = "dpop+jwt", k.jwk
		s, _ := tok.SignedString(jwt.UnsafeAllowNoneSignatureType)
		return s
	}
	hs256 := func() string {
		tok := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"jti": randomString(20), "htm": "POST", "htu": tokenURL, "iat": time.Now().Unix()})
		tok.Header["typ"], tok.Header["jwk"] = "dpop+jwt", map[string]any{"kty": "oct", "k": b64url([]byte("shared"))}
		s, _ := tok.SignedString([]byte("shared"))
		return s
	}
	withPrivate := map[string]any{"d": b64url(k.priv.(*ecdsa.PrivateKey).D.Bytes())}
	for n, v := range k.jwk {
		withPrivate[n] = v
	}
	for _, tc := range []struct {
		name   string
		proofs []string
	}{
		{"HTUMismatch", []string{k.proof(t, "POST", srv.URL+"/oauth/introspect", nil, nil)}},
		{"HTUOtherHost", []string{k.proof(t, "POST", "https://evil.example/oauth/token", nil, nil)}},
		{"HTMMismatch", []string{k.proof(t, "GET", tokenURL, nil, nil)}},
		{"StaleIAT", []string{k.proof(t, "POST", tokenURL, map[string]any{"iat": time.Now().Add(-5 * time.Minute).Unix()}, nil)}},
		{"FutureIAT", []string{k.proof(t, "POST", tokenURL, map[string]any{"iat": time.Now().Add(5 * time.Minute).Unix()}, nil)}},
		{"KeySubstitution", []string{other.proof(t, "POST", tokenURL, nil, map[string]any{"jwk": k.jwk})}},
		{"AlgNone", []string{none()}},
		{"HS256", []string{hs256()}},
		{"PrivateKeyInJWK", []string{k.proof(t, "POST", tokenURL, nil, map[string]any{"jwk": withPrivate})}},
		{"WrongTyp", []string{k.proof(t, "POST", tokenURL, nil, map[string]any{"typ": "JWT"})}},
		{"NoJTI", []string{k.proof(t, "POST", tokenURL, map[string]any{"jti": nil}, nil)}},
		{"TwoHeaders", []string{k.proof(t, "POST", tokenURL, nil, nil), k.proof(t, "POST", tokenURL, nil, nil)}},
		{"Garbage", []string{"not-a-jwt"}},
	} {
		wantDPoPError(t, tc.name, send(tc.proofs...), 400, "invalid_dpop_proof")
	}
}

// testDPoPRequired: a client registered with --require-dpop gets nothing without a
// proof; clients list --json shows the setting.
func testDPoPRequired(t *testing.T, srv *Server) {
	c := srv.CreateClientJSON(t, "--grant-type", "client_credentials", "--require-dpop")
	hc := srv.HTTPClient()
	wantDPoPError(t, "required, no proof", srv.PostForm(t, hc, "/oauth/token", form("grant_type", "client_credentials"), c.ClientID, c.ClientSecret),
		400, "invalid_dpop_proof")
	k := newDPoPKey(t, "EdDSA")
	m := tokenJSON(t, srv, "required, with proof", postDPoP(t, srv, hc, "/oauth/token", form("grant_type", "client_credentials"),
		c.ClientID, c.ClientSecret, k.proof(t, "POST", srv.URL+"/oauth/token", nil, nil)))
	if m["token_type"] != "DPoP" {
		t.Errorf("token_type %v", m["token_type"])
	}
	out, _, code := srv.CLI(t, "", "clients", "list", "--json")
	var list []map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &list) != nil {
		t.Fatalf("clients list --json: exit %d\n%s", code, out)
	}
	for _, cl := range list {
		if cl["client_id"] == c.ClientID && cl["require_dpop"] != true {
			t.Errorf("clients list shows %v, want require_dpop true", cl)
		}
		if _, ok := cl["require_dpop"]; !ok {
			t.Errorf("clients list: no require_dpop in %v", cl)
		}
	}
}

// testDPoPUserInfo: a bound token works at /userinfo only with the DPoP scheme and
// a proof by its key over this request and this token (RFC 9449 §7).
func testDPoPUserInfo(t *testing.T, srv *Server) {
	id, secret := srv.CreateClient(t, "--grant-type", "password", "--scope", "openid profile")
	user, pw, uid := newUser(t, srv)
	hc := srv.HTTPClient()
	k, other := newDPoPKey(t, "ES256"), newDPoPKey(t, "ES256")
	m := tokenJSON(t, srv, "password grant with DPoP", postDPoP(t, srv, hc, "/oauth/token",
		form("grant_type", "password", "username", user, "password", pw, "scope", "openid profile"), id, secret,
		k.proof(t, "POST", srv.URL+"/oauth/token", nil, nil)))
	at := m["access_token"].(string)
	ui := srv.URL + "/userinfo"

	r := userinfoDPoP(t, srv, hc, "Bearer", at)
	wantDPoPError(t, "bound token as Bearer", r, 401, "invalid_token")
	// The challenge names the scheme to use and its algorithms (RFC 9449 §7.1), as
	// the resource-server package's does.
	if wa := r.Header.Get("WWW-Authenticate"); !strings.HasPrefix(wa, "DPoP ") || !strings.Contains(wa, `algs="`) {
		t.Errorf("bound token as Bearer: WWW-Authenticate %q, want a DPoP challenge with algs", wa)
	}
	r = userinfoDPoP(t, srv, hc, "DPoP", at)
	wantDPoPError(t, "DPoP scheme without proof", r, 401, "invalid_dpop_proof")
	if !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "DPoP ") {
		t.Errorf("WWW-Authenticate %q, want the DPoP scheme", r.Header.Get("WWW-Authenticate"))
	}
	wantDPoPError(t, "proof by another key", userinfoDPoP(t, srv, hc, "DPoP", at,
		other.proof(t, "GET", ui, map[string]any{"ath": ath(at)}, nil)), 401, "invalid_dpop_proof")
	wantDPoPError(t, "proof without ath", userinfoDPoP(t, srv, hc, "DPoP", at,
		k.proof(t, "GET", ui, nil, nil)), 401, "invalid_dpop_proof")
	wantDPoPError(t, "proof with the ath of another token", userinfoDPoP(t, srv, hc, "DPoP", at,
		k.proof(t, "GET", ui, map[string]any{"ath": ath(at + "x")}, nil)), 401, "invalid_dpop_proof")
	wantDPoPError(t, "proof for the token endpoint", userinfoDPoP(t, srv, hc, "DPoP", at,
		k.proof(t, "POST", srv.URL+"/oauth/token", map[string]any{"ath": ath(at)}, nil)), 401, "invalid_dpop_proof")

	good := k.proof(t, "GET", ui, map[string]any{"ath": ath(at)}, nil)
	r = userinfoDPoP(t, srv, hc, "DPoP", at, good)
	if r.Status != 200 || r.JSON(t)["sub"] != uid {
		t.Fatalf("userinfo with a valid proof: %d %s", r.Status, r.Body)
	}
	wantDPoPError(t, "userinfo proof replayed", userinfoDPoP(t, srv, hc, "DPoP", at, good), 401, "invalid_dpop_proof")

	// An unbound token sent with the DPoP scheme is refused too.
	cc, sec := srv.CreateClient(t, "--grant-type", "password", "--scope", "openid")
	m = tokenJSON(t, srv, "bearer token", srv.PostForm(t, hc, "/oauth/token",
		form("grant_type", "password", "username", user, "password", pw, "scope", "openid"), cc, sec))
	bearer := m["access_token"].(string)
	wantDPoPError(t, "unbound token as DPoP", userinfoDPoP(t, srv, hc, "DPoP", bearer,
		k.proof(t, "GET", ui, map[string]any{"ath": ath(bearer)}, nil)), 401, "invalid_token")
	if r := userinfoDPoP(t, srv, hc, "Bearer", bearer); r.Status != 200 {
		t.Errorf("bearer token at userinfo: %d %s", r.Status, r.Body)
	}
}

// testDPoPPublicRefresh: a public client's refresh token is bound to its DPoP key
// (RFC 9449 §5): refreshing without a proof, or with another key's, fails. (A public
// client gets its first tokens by the code flow: it cannot use the password grant.)
func testDPoPPublicRefresh(t *testing.T, srv *Server) {
	az := newAZClient(t, srv, "http://127.0.0.1/cb", "--public", "--grant-type", "authorization_code", "--grant-type", "refresh_token",
		"--scope", "openid offline_access")
	user, pw, _ := newUser(t, srv)
	hc := srv.HTTPClient()
	tokenURL := srv.URL + "/oauth/token"
	k, other := newDPoPKey(t, "ES256"), newDPoPKey(t, "RS256")
	p := newAZPKCE()
	f := newAZBrowser(t, srv).authorize(azQuery(az, p, "st", "scope", "openid offline_access"), user, pw, "allow")
	if f.Query.Get("code") == "" {
		t.Fatalf("no code: %s", f.Location)
	}
	m := tokenJSON(t, srv, "code exchange", postDPoP(t, srv, hc, "/oauth/token", form("grant_type", "authorization_code",
		"code", f.Query.Get("code"), "redirect_uri", az.RedirectURI, "code_verifier", p.Verifier, "client_id", az.ID), "", "",
		k.proof(t, "POST", tokenURL, nil, nil)))
	rt := m["refresh_token"].(string)
	refreshBody := form("grant_type", "refresh_token", "refresh_token", rt, "client_id", az.ID)

	wantDPoPError(t, "bound refresh without proof", srv.PostForm(t, hc, "/oauth/token", refreshBody, "", ""), 400, "invalid_grant")
	wantDPoPError(t, "bound refresh with another key", postDPoP(t, srv, hc, "/oauth/token", refreshBody, "", "",
		other.proof(t, "POST", tokenURL, nil, nil)), 400, "invalid_grant")

	// The failures did not spend the token: with the right key it rotates.
	m = tokenJSON(t, srv, "bound refresh with its key", postDPoP(t, srv, hc, "/oauth/token", refreshBody, "", "",
		k.proof(t, "POST", tokenURL, nil, nil)))
	if m["token_type"] != "DPoP" {
		t.Errorf("refreshed token_type %v", m["token_type"])
	}
	if cnf, _ := jwtPayload(t, m["access_token"].(string))["cnf"].(map[string]any); cnf["jkt"] != k.thumbprint() {
		t.Errorf("refreshed access token cnf %v", cnf)
	}
	// The next refresh token is bound to the same key.
	rt2 := m["refresh_token"].(string)
	wantDPoPError(t, "rotated refresh without proof", srv.PostForm(t, hc, "/oauth/token",
		form("grant_type", "refresh_token", "refresh_token", rt2, "client_id", az.ID), "", ""), 400, "invalid_grant")
}

// testDPoPConfidentialRefresh: a confidential client's refresh token is not bound
// (RFC 9449 §5): it refreshes without a proof, and then gets a bearer token.
func testDPoPConfidentialRefresh(t *testing.T, srv *Server) {
	id, secret := srv.CreateClient(t, "--grant-type", "password", "--grant-type", "refresh_token", "--scope", "openid offline_access")
	user, pw, _ := newUser(t, srv)
	hc := srv.HTTPClient()
	k := newDPoPKey(t, "ES256")
	m := tokenJSON(t, srv, "password grant", postDPoP(t, srv, hc, "/oauth/token",
		form("grant_type", "password", "username", user, "password", pw), id, secret,
		k.proof(t, "POST", srv.URL+"/oauth/token", nil, nil)))
	if m["token_type"] != "DPoP" {
		t.Errorf("token_type %v", m["token_type"])
	}
	m = tokenJSON(t, srv, "refresh without proof", srv.PostForm(t, hc, "/oauth/token",
		form("grant_type", "refresh_token", "refresh_token", m["refresh_token"].(string)), id, secret))
	if m["token_type"] != "Bearer" {
		t.Errorf("refresh without proof: token_type %v, want Bearer", m["token_type"])
	}
}

// testDPoPAuthorizationCode: a public client redeeming its code with a proof gets a
// bound access token and a bound refresh token (RFC 9449 §5).
func testDPoPAuthorizationCode(t *testing.T, srv *Server) {
	c := newAZClient(t, srv, "http://127.0.0.1/cb", "--public", "--grant-type", "authorization_code", "--grant-type", "refresh_token")
	user, pw, uid := newUser(t, srv)
	b := newAZBrowser(t, srv)
	p := newAZPKCE()
	f := b.authorize(azQuery(c, p, "st"), user, pw, "allow")
	code := f.Query.Get("code")
	if code == "" {
		t.Fatalf("no code: %s", f.Location)
	}
	k := newDPoPKey(t, "ES256")
	tokenURL := srv.URL + "/oauth/token"
	hc := srv.HTTPClient()
	m := tokenJSON(t, srv, "code with DPoP", postDPoP(t, srv, hc, "/oauth/token", form("grant_type", "authorization_code", "code", code,
		"redirect_uri", c.RedirectURI, "code_verifier", p.Verifier, "client_id", c.ID), "", "", k.proof(t, "POST", tokenURL, nil, nil)))
	at := m["access_token"].(string)
	if m["token_type"] != "DPoP" || jwtPayload(t, at)["sub"] != uid {
		t.Fatalf("code exchange: %v", m)
	}
	if r := userinfoDPoP(t, srv, hc, "DPoP", at, k.proof(t, "GET", srv.URL+"/userinfo", map[string]any{"ath": ath(at)}, nil)); r.Status != 200 {
		t.Errorf("userinfo: %d %s", r.Status, r.Body)
	}
	rt, _ := m["refresh_token"].(string)
	if rt == "" {
		t.Fatalf("no refresh token: %v", m)
	}
	wantDPoPError(t, "code-flow refresh token without proof", srv.PostForm(t, hc, "/oauth/token",
		form("grant_type", "refresh_token", "refresh_token", rt, "client_id", c.ID), "", ""), 400, "invalid_grant")
	tokenJSON(t, srv, "code-flow refresh with its key", postDPoP(t, srv, hc, "/oauth/token",
		form("grant_type", "refresh_token", "refresh_token", rt, "client_id", c.ID), "", "", k.proof(t, "POST", tokenURL, nil, nil)))
}

// TestDPoPNonce: with GATEHOUSE_DPOP_NONCE_REQUIRED the token endpoint answers a
// proof without a nonce with 400 use_dpop_nonce and a DPoP-Nonce header, and accepts
// the retry carrying it; a made-up nonce is refused (RFC 9449 §8).
func TestDPoPNonce(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Options{Env: map[string]string{"GATEHOUSE_DPOP_NONCE_REQUIRED": "true"}})
	id, secret := srv.CreateClient(t, "--grant-type", "client_credentials")
	hc := srv.HTTPClient()
	tokenURL := srv.URL + "/oauth/token"
	k := newDPoPKey(t, "ES256")
	body := form("grant_type", "client_credentials")

	r := postDPoP(t, srv, hc, "/oauth/token", body, id, secret, k.proof(t, "POST", tokenURL, nil, nil))
	wantDPoPError(t, "no nonce", r, 400, "use_dpop_nonce")
	nonce := r.Header.Get("DPoP-Nonce")
	if nonce == "" {
		t.Fatal("no DPoP-Nonce header with use_dpop_nonce")
	}
	wantDPoPError(t, "forged nonce", postDPoP(t, srv, hc, "/oauth/token", body, id, secret,
		k.proof(t, "POST", tokenURL, map[string]any{"nonce": forgedNonce(nonce)}, nil)), 400, "use_dpop_nonce")
	m := tokenJSON(t, srv, "with nonce", postDPoP(t, srv, hc, "/oauth/token", body, id, secret,
		k.proof(t, "POST", tokenURL, map[string]any{"nonce": nonce}, nil)))
	if m["token_type"] != "DPoP" {
		t.Errorf("token_type %v", m["token_type"])
	}
}

// TestDPoPExampleAPI: the example API (adapter/resourceserver) accepts a DPoP-bound
// token only with the DPoP scheme and a fresh proof by the token's key for the
// request it gets, checked against its --public-url.
func TestDPoPExampleAPI(t *testing.T) {
	t.Parallel()
	srv := rsServer(t, nil)
	api := startExampleAPI(t, srv)
	id, secret := srv.CreateClient(t, "--grant-type", "client_credentials", "--scope", "api:read")
	hc := srv.HTTPClient()
	k, other := newDPoPKey(t, "ES256"), newDPoPKey(t, "EdDSA")
	m := tokenJSON(t, srv, "client credentials with DPoP", postDPoP(t, srv, hc, "/oauth/token",
		form("grant_type", "client_credentials"), id, secret, k.proof(t, "POST", srv.URL+"/oauth/token", nil, nil)))
	at := m["access_token"].(string)
	profile := api.URL + "/secured/profile"
	call := func(scheme string, proofs ...string) Response {
		req, err := http.NewRequest(http.MethodGet, profile, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", scheme+" "+at)
		for _, p := range proofs {
			req.Header.Add("DPoP", p)
		}
		return srv.Do(t, api.hc, req)
	}
	wantRefused := func(what string, r Response, code string) {
		t.Helper()
		wa := r.Header.Get("WWW-Authenticate")
		if r.Status != 401 || !strings.HasPrefix(wa, "DPoP ") || !strings.Contains(wa, `error="`+code+`"`) {
			t.Errorf("%s: %d %q %s, want 401 DPoP error=%s", what, r.Status, wa, r.Body, code)
		}
	}

	good := k.proof(t, "GET", profile, map[string]any{"ath": ath(at)}, nil)
	if r := call("DPoP", good); r.Status != 200 || r.JSON(t)["client_id"] != id {
		t.Fatalf("valid proof: %d %s", r.Status, r.Body)
	}
	wantRefused("replayed proof", call("DPoP", good), "invalid_dpop_proof")
	wantRefused("bound token as Bearer", call("Bearer"), "invalid_token")
	wantRefused("no proof", call("DPoP"), "invalid_dpop_proof")
	wantRefused("proof by another key", call("DPoP", other.proof(t, "GET", profile, map[string]any{"ath": ath(at)}, nil)), "invalid_dpop_proof")
	wantRefused("htu of another host", call("DPoP", k.proof(t, "GET", "http://evil.example/secured/profile", map[string]any{"ath": ath(at)}, nil)), "invalid_dpop_proof")
	wantRefused("htm mismatch", call("DPoP", k.proof(t, "POST", profile, map[string]any{"ath": ath(at)}, nil)), "invalid_dpop_proof")
	wantRefused("no ath", call("DPoP", k.proof(t, "GET", profile, nil, nil)), "invalid_dpop_proof")
}

// forgedNonce changes one character in the middle of nonce, where every bit of it
// counts (replacing the last two with "AA" left a nonce that already ended so, or
// whose last character carries padding bits, as valid as before).
func forgedNonce(nonce string) string {
	b := []byte(nonce)
	mid := len(b) / 2
	if b[mid] == 'A' {
		b[mid] = 'B'
	} else {
		b[mid] = 'A'
	}
	return string(b)
}
