package e2e

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// basicEscape encodes a client id or secret for HTTP Basic as RFC 6749 §2.3.1 says:
// application/x-www-form-urlencoded, then base64 (done by SetBasicAuth).
func basicEscape(s string) string { return url.QueryEscape(s) }

// jwk is one key of a JWKS (RFC 7517), the fields we read.
type jwk struct {
	Kty string `json:"kty"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
	N   string `json:"n"`
	E   string `json:"e"`
	// Private parts must never be published (SECURITY S36).
	D string `json:"d"`
	P string `json:"p"`
	Q string `json:"q"`
}

// fetchJWKS reads /.well-known/jwks.json and returns the keys by kid.
func fetchJWKS(t testing.TB, srv *Server) map[string]jwk {
	t.Helper()
	resp := srv.Get(t, nil, "/.well-known/jwks.json")
	if resp.Status != http.StatusOK {
		t.Fatalf("GET jwks.json: %d %s", resp.Status, resp.Body)
	}
	var set struct {
		Keys []jwk `json:"keys"`
	}
	if err := json.Unmarshal(resp.Body, &set); err != nil {
		t.Fatalf("jwks.json: %v\n%s", err, resp.Body)
	}
	keys := map[string]jwk{}
	for _, k := range set.Keys {
		if k.Kid == "" || k.Alg == "" || k.Use != "sig" {
			t.Errorf("jwks.json: key without kid, alg or use sig: %+v", k)
		}
		if k.D != "" || k.P != "" || k.Q != "" {
			t.Errorf("jwks.json: key %s publishes private parts", k.Kid)
		}
		if _, dup := keys[k.Kid]; dup {
			t.Errorf("jwks.json: kid %s twice", k.Kid)
		}
		keys[k.Kid] = k
	}
	return keys
}

func b64(t testing.TB, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("jwk: bad base64url %q: %v", s, err)
	}
	return b
}

// publicKey turns a JWK into a Go public key, by hand.
func (k jwk) publicKey(t testing.TB) crypto.PublicKey {
	t.Helper()
	switch k.Kty {
	case "EC":
		if k.Crv != "P-256" {
			t.Fatalf("jwk %s: curve %q", k.Kid, k.Crv)
		}
		x, y := new(big.Int).SetBytes(b64(t, k.X)), new(big.Int).SetBytes(b64(t, k.Y))
		pub := &ecdsa.PublicKey{Curve: elliptic.P256(), X: x, Y: y}
		if _, err := pub.ECDH(); err != nil { // rejects points off the curve
			t.Fatalf("jwk %s: %v", k.Kid, err)
		}
		return pub
	case "RSA":
		e := new(big.Int).SetBytes(b64(t, k.E))
		return &rsa.PublicKey{N: new(big.Int).SetBytes(b64(t, k.N)), E: int(e.Int64())}
	case "OKP":
		if k.Crv != "Ed25519" {
			t.Fatalf("jwk %s: curve %q", k.Kid, k.Crv)
		}
		x := b64(t, k.X)
		if len(x) != ed25519.PublicKeySize {
			t.Fatalf("jwk %s: Ed25519 key of %d bytes", k.Kid, len(x))
		}
		return ed25519.PublicKey(x)
	}
	t.Fatalf("jwk %s: kty %q", k.Kid, k.Kty)
	return nil
}

// accessClaims are the RFC 9068 claims of our access tokens.
type accessClaims struct {
	jwt.RegisteredClaims
	ClientID string `json:"client_id"`
	Scope    string `json:"scope"`
}

// verifyAccessToken checks raw against the server's JWKS like a resource server:
// signature with the key of its kid, alg from the allow-list and equal to the key's,
// typ at+jwt, iss, exp, iat; and that every RFC 9068 claim is there.
func verifyAccessToken(t testing.TB, srv *Server, raw string) (*jwt.Token, accessClaims) {
	t.Helper()
	keys := fetchJWKS(t, srv)
	var c accessClaims
	tok, err := jwt.ParseWithClaims(raw, &c, func(tok *jwt.Token) (any, error) {
		if typ, _ := tok.Header["typ"].(string); typ != "at+jwt" {
			return nil, fmt.Errorf("typ %q, want at+jwt", typ)
		}
		kid, _ := tok.Header["kid"].(string)
		k, ok := keys[kid]
		if !ok {
			return nil, fmt.Errorf("kid %q is not in the JWKS", kid)
		}
		if k.Alg != tok.Method.Alg() {
			return nil, fmt.Errorf("alg %s but the key is %s", tok.Method.Alg(), k.Alg)
		}
		return k.publicKey(t), nil
	},
		jwt.WithValidMethods([]string{"ES256", "RS256", "EdDSA"}),
		jwt.WithIssuer(srv.URL),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
	)
	if err != nil {
		t.Fatalf("access token does not verify against the JWKS: %v", err)
	}
	if c.Subject == "" || c.ID == "" || c.ClientID == "" || len(c.Audience) == 0 || c.IssuedAt == nil || c.ExpiresAt == nil {
		t.Fatalf("access token lacks an RFC 9068 claim: %+v", c)
	}
	// scope must be present as a claim (even when empty it is a string).
	var raws map[string]any
	parts := strings.Split(raw, ".")
	if err := json.Unmarshal(b64(t, parts[1]), &raws); err != nil {
		t.Fatalf("claims: %v", err)
	}
	for _, name := range []string{"iss", "sub", "aud", "exp", "iat", "jti", "client_id", "scope"} {
		if _, ok := raws[name]; !ok {
			t.Errorf("access token has no %q claim: %v", name, raws)
		}
	}
	return tok, c
}

// ctxWith returns a context making golang.org/x/oauth2 use client.
func ctxWith(client *http.Client) context.Context {
	return context.WithValue(context.Background(), oauth2.HTTPClient, client)
}

// ccConfig is a client credentials configuration against srv.
func ccConfig(srv *Server, id, secret string, scopes ...string) *clientcredentials.Config {
	return &clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: srv.URL + "/oauth/token",
		Scopes: scopes, AuthStyle: oauth2.AuthStyleInHeader}
}

// userConfig is an oauth2.Config for the password and refresh grants against srv.
func userConfig(srv *Server, id, secret string, scopes ...string) *oauth2.Config {
	style := oauth2.AuthStyleInHeader
	if secret == "" {
		style = oauth2.AuthStyleInParams
	}
	return &oauth2.Config{ClientID: id, ClientSecret: secret, Scopes: scopes,
		Endpoint: oauth2.Endpoint{TokenURL: srv.URL + "/oauth/token", AuthStyle: style}}
}

// retrieveError returns the OAuth error code of err (an *oauth2.RetrieveError).
func retrieveError(t testing.TB, err error) (int, string) {
	t.Helper()
	if err == nil {
		t.Fatalf("want an OAuth error, got success")
	}
	re, ok := err.(*oauth2.RetrieveError)
	if !ok {
		t.Fatalf("want *oauth2.RetrieveError, got %T: %v", err, err)
	}
	return re.Response.StatusCode, re.ErrorCode
}

// refresh exchanges a refresh token once, through oauth2.Config.TokenSource (with an
// expired access token, so it refreshes at once).
func refresh(ctx context.Context, cfg *oauth2.Config, rt string) (*oauth2.Token, error) {
	old := &oauth2.Token{AccessToken: "expired", RefreshToken: rt, Expiry: time.Now().Add(-time.Hour)}
	return cfg.TokenSource(ctx, old).Token()
}

// form encodes key/value pairs in order (url.Values sorts; the order rarely matters,
// but repeated keys must stay repeated).
func form(kv ...string) string {
	var b strings.Builder
	for i := 0; i+1 < len(kv); i += 2 {
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(kv[i]) + "=" + url.QueryEscape(kv[i+1]))
	}
	return b.String()
}

// introspect asks srv about token as the client id/secret and returns the JSON.
func introspect(t testing.TB, srv *Server, client *http.Client, id, secret, token string) map[string]any {
	t.Helper()
	resp := srv.PostForm(t, client, "/oauth/introspect", form("token", token), id, secret)
	if resp.Status != http.StatusOK {
		t.Fatalf("introspect: %d %s", resp.Status, resp.Body)
	}
	return resp.JSON(t)
}

// wantInactive checks an introspection answer is exactly {"active":false} (RFC 7662
// §2.2, SECURITY S38).
func wantInactive(t testing.TB, m map[string]any) {
	t.Helper()
	if len(m) != 1 || m["active"] != false {
		t.Errorf("introspection: want exactly {\"active\":false}, got %v", m)
	}
}

// revoke posts token to /oauth/revoke as id/secret and returns the status.
func revoke(t testing.TB, srv *Server, client *http.Client, id, secret, token, hint string) Response {
	t.Helper()
	body := form("token", token)
	if hint != "" {
		body += "&" + form("token_type_hint", hint)
	}
	return srv.PostForm(t, client, "/oauth/revoke", body, id, secret)
}

func readAll(resp *http.Response) ([]byte, error) { return io.ReadAll(resp.Body) }

func jsonInto(b []byte, v any) error { return json.Unmarshal(b, v) }

// wrongSecret changes the last character of a secret, so that it is certainly wrong.
func wrongSecret(s string) string {
	last := byte('A')
	if s[len(s)-1] == last {
		last = 'B'
	}
	return s[:len(s)-1] + string(last)
}
