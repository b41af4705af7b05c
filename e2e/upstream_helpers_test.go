package e2e

// Helpers for the upstream identity provider tests (issue 22): a fake OpenID Connect
// provider and a fake GitHub, both real HTTP peers (httptest) whose answers the
// tests control, so that each way an upstream can lie (SECURITY S54) can be made.

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// fakeOP is an OpenID Connect provider: discovery, JWKS, an authorization endpoint
// that approves at once (redirecting back with a code), and a token endpoint that
// checks the client, the code, the redirect URI and the PKCE verifier, then signs an
// ID token. Claims and Lie let a test make the ID token say what it wants.
type fakeOP struct {
	t            testing.TB
	srv          *httptest.Server
	Issuer       string
	ClientID     string
	ClientSecret string
	key          *rsa.PrivateKey

	mu sync.Mutex
	// Claims are the identity's claims (sub, email, email_verified, ...).
	Claims map[string]any
	// Lie changes the ID token's claims just before signing (nil: none).
	Lie func(claims map[string]any)
	// SignWith signs with another key than the one in the JWKS (nil: the right one).
	SignWith *rsa.PrivateKey
	// Unsigned makes the ID token alg "none".
	Unsigned bool
	// LastAuthorize is the query of the last authorization request.
	LastAuthorize url.Values
	// TokenFailure makes the token endpoint answer this status with an error.
	TokenFailure int
	// AuthorizeError makes the authorization endpoint send the browser back with this
	// error (access_denied: the user clicked Deny) instead of a code.
	AuthorizeError string
	codes          map[string]url.Values
}

func newRSAKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newFakeOP(t testing.TB) *fakeOP {
	t.Helper()
	op := &fakeOP{t: t, ClientID: "downstream-" + randomString(6), ClientSecret: randomString(24), key: newRSAKey(t),
		codes: map[string]url.Values{}, Claims: map[string]any{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", op.discovery)
	mux.HandleFunc("GET /jwks", op.jwks)
	mux.HandleFunc("GET /authorize", op.authorize)
	mux.HandleFunc("POST /token", op.token)
	op.srv = httptest.NewServer(mux)
	op.Issuer = op.srv.URL
	t.Cleanup(op.srv.Close)
	return op
}

func (op *fakeOP) discovery(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer": op.Issuer, "authorization_endpoint": op.Issuer + "/authorize", "token_endpoint": op.Issuer + "/token",
		"jwks_uri": op.Issuer + "/jwks", "response_types_supported": []string{"code"}, "subject_types_supported": []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
	})
}

func (op *fakeOP) jwks(w http.ResponseWriter, _ *http.Request) {
	pub := op.key.PublicKey
	writeJSON(w, http.StatusOK, map[string]any{"keys": []map[string]any{{
		"kty": "RSA", "kid": "k1", "use": "sig", "alg": "RS256",
		"n": base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
	}}})
}

func (op *fakeOP) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	op.mu.Lock()
	op.LastAuthorize = q
	code := randomString(20)
	op.codes[code] = q
	deny := op.AuthorizeError
	op.mu.Unlock()
	target := q.Get("redirect_uri") + "?" + url.Values{"code": {code}, "state": {q.Get("state")}}.Encode()
	if deny != "" {
		target = q.Get("redirect_uri") + "?" + url.Values{"error": {deny}, "state": {q.Get("state")}}.Encode()
	}
	http.Redirect(w, r, target, http.StatusFound)
}

func (op *fakeOP) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request"})
		return
	}
	id, secret, ok := r.BasicAuth()
	if ok {
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
	} else {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if id != op.ClientID || subtle.ConstantTimeCompare([]byte(secret), []byte(op.ClientSecret)) != 1 {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client"})
		return
	}
	op.mu.Lock()
	auth, found := op.codes[r.PostForm.Get("code")]
	delete(op.codes, r.PostForm.Get("code"))
	failure, claims, lie, signer, unsigned := op.TokenFailure, map[string]any{}, op.Lie, op.SignWith, op.Unsigned
	for k, v := range op.Claims {
		claims[k] = v
	}
	op.mu.Unlock()
	if failure != 0 {
		writeJSON(w, failure, map[string]string{"error": "server_error"})
		return
	}
	sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
	if !found || auth.Get("redirect_uri") != r.PostForm.Get("redirect_uri") || auth.Get("code_challenge_method") != "S256" ||
		base64.RawURLEncoding.EncodeToString(sum[:]) != auth.Get("code_challenge") {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant"})
		return
	}
	now := time.Now()
	claims["iss"], claims["aud"], claims["iat"], claims["exp"] = op.Issuer, op.ClientID, now.Unix(), now.Add(5*time.Minute).Unix()
	if n := auth.Get("nonce"); n != "" {
		claims["nonce"] = n
	}
	if lie != nil {
		lie(claims)
	}
	if signer == nil {
		signer = op.key
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims(claims))
	tok.Header["kid"] = "k1"
	var idToken string
	var err error
	if unsigned {
		tok = jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims(claims))
		idToken, err = tok.SignedString(jwt.UnsafeAllowNoneSignatureType)
	} else {
		idToken, err = tok.SignedString(signer)
	}
	if err != nil {
		op.t.Errorf("fake OP: sign: %v", err)
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "server_error"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"access_token": randomString(24), "token_type": "Bearer", "expires_in": 300,
		"id_token": idToken})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// fakeGitHub is a GitHub OAuth app's side of GitHub: the authorization page
// (approving at once), the token endpoint and the REST API's /user and /user/emails.
type fakeGitHub struct {
	srv          *httptest.Server
	ClientID     string
	ClientSecret string

	mu     sync.Mutex
	User   map[string]any
	Emails []map[string]any
	codes  map[string]url.Values
	tokens map[string]bool
}

func newFakeGitHub(t testing.TB) *fakeGitHub {
	t.Helper()
	gh := &fakeGitHub{ClientID: "Iv1." + randomString(8), ClientSecret: randomString(32), codes: map[string]url.Values{},
		tokens: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login/oauth/authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		code := randomString(20)
		gh.mu.Lock()
		gh.codes[code] = q
		gh.mu.Unlock()
		http.Redirect(w, r, q.Get("redirect_uri")+"?"+url.Values{"code": {code}, "state": {q.Get("state")}}.Encode(), http.StatusFound)
	})
	mux.HandleFunc("POST /login/oauth/access_token", func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		gh.mu.Lock()
		defer gh.mu.Unlock()
		auth, ok := gh.codes[r.PostForm.Get("code")]
		delete(gh.codes, r.PostForm.Get("code"))
		sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
		// GitHub answers 200 with an error field.
		if !ok || r.PostForm.Get("client_id") != gh.ClientID || r.PostForm.Get("client_secret") != gh.ClientSecret ||
			base64.RawURLEncoding.EncodeToString(sum[:]) != auth.Get("code_challenge") {
			writeJSON(w, http.StatusOK, map[string]string{"error": "bad_verification_code"})
			return
		}
		tok := "gho_" + randomString(30)
		gh.tokens[tok] = true
		writeJSON(w, http.StatusOK, map[string]string{"access_token": tok, "token_type": "bearer", "scope": "read:user,user:email"})
	})
	authed := func(r *http.Request) bool {
		gh.mu.Lock()
		defer gh.mu.Unlock()
		return gh.tokens[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
	}
	mux.HandleFunc("GET /api/v3/user", func(w http.ResponseWriter, r *http.Request) {
		if !authed(r) {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "Bad credentials"})
			return
		}
		gh.mu.Lock()
		defer gh.mu.Unlock()
		writeJSON(w, http.StatusOK, gh.User)
	})
	mux.HandleFunc("GET /api/v3/user/emails", func(w http.ResponseWriter, r *http.Request) {
		if !authed(r) {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "Bad credentials"})
			return
		}
		gh.mu.Lock()
		defer gh.mu.Unlock()
		writeJSON(w, http.StatusOK, gh.Emails)
	})
	gh.srv = httptest.NewServer(mux)
	t.Cleanup(gh.srv.Close)
	return gh
}

// createUpstream registers an upstream with the CLI; the secret goes on stdin.
func createUpstream(t testing.TB, srv *Server, secret string, args ...string) map[string]any {
	t.Helper()
	srv.Sensitive(secret)
	var out map[string]any
	srv.CLIJSON(t, &out, secret+"\n", append([]string{"upstreams", "create"}, args...)...)
	return out
}

// upstreamSignIn starts at start (a "Continue with" link) and follows the browser
// through the upstream (which approves at once) back to the callback; it returns the
// callback's answer and the URL the browser was sent to at the upstream.
func (b *azBrowser) upstreamSignIn(start string) (callback Response, atUpstream *url.URL) {
	b.t.Helper()
	r := b.get(start)
	if r.Status != http.StatusFound {
		b.t.Fatalf("GET %s: %d, want a redirect to the upstream\n%s", start, r.Status, r.Body)
	}
	loc, err := url.Parse(r.Header.Get("Location"))
	if err != nil {
		b.t.Fatal(err)
	}
	r = b.get(loc.String())
	if r.Status != http.StatusFound && r.Status != http.StatusSeeOther {
		b.t.Fatalf("GET %s: %d, want the upstream's redirect back\n%s", loc, r.Status, r.Body)
	}
	back := r.Header.Get("Location")
	if !strings.HasPrefix(back, b.srv.URL+"/login/upstream/") {
		b.t.Fatalf("the upstream sent the browser to %q, not to the callback", back)
	}
	return b.get(back), loc
}

// userCount is how many users the server has (`users list --json`).
func userCount(t testing.TB, srv *Server) int {
	t.Helper()
	var users []map[string]any
	srv.CLIJSON(t, &users, "", "users", "list")
	return len(users)
}
