package resourceserver

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/labstack/echo/v4"
)

func TestNew_Discovery(t *testing.T) {
	k := newKey(t, AlgES256, "k1")
	t.Run("openid-configuration", func(t *testing.T) {
		is := newIssuer(t, k)
		if v := newVerifier(t, is, nil); v.JWKSURI() != is.url()+"/keys" {
			t.Fatalf("jwks_uri = %s", v.JWKSURI())
		}
	})
	t.Run("oauth-authorization-server", func(t *testing.T) {
		is := newIssuer(t, k)
		is.noOIDC = true
		if v := newVerifier(t, is, nil); v.JWKSURI() != is.url()+"/keys" {
			t.Fatalf("jwks_uri = %s", v.JWKSURI())
		}
	})
	t.Run("fallback jwks.json", func(t *testing.T) {
		is := newIssuer(t, k)
		is.noMeta = true
		if v := newVerifier(t, is, nil); v.JWKSURI() != is.url()+"/.well-known/jwks.json" {
			t.Fatalf("jwks_uri = %s", v.JWKSURI())
		}
	})
	t.Run("issuer mismatch", func(t *testing.T) {
		is := newIssuer(t, k)
		is.metaIssuer = "https://evil.example"
		if _, err := New(context.Background(), Config{Issuer: is.url(), Audience: testAudience}); err == nil {
			t.Fatal("New accepted metadata of another issuer")
		}
	})
	t.Run("issuer down", func(t *testing.T) {
		is := newIssuer(t, k)
		is.down.Store(true)
		if _, err := New(context.Background(), Config{Issuer: is.url(), Audience: testAudience}); err == nil {
			t.Fatal("New succeeded without any key")
		}
	})
}

func TestNew_Config(t *testing.T) {
	is := newIssuer(t, newKey(t, AlgES256, "k1"))
	for name, cfg := range map[string]Config{
		"no issuer":   {Audience: testAudience},
		"no audience": {Issuer: is.url()},
		"bad issuer":  {Issuer: "ftp://x", Audience: testAudience},
		"alg none":    {Issuer: is.url(), Audience: testAudience, AllowedAlgs: []string{"none"}},
		"alg HS256":   {Issuer: is.url(), Audience: testAudience, AllowedAlgs: []string{"ES256", "HS256"}},
		"alg PS256":   {Issuer: is.url(), Audience: testAudience, AllowedAlgs: []string{"PS256"}},
	} {
		if _, err := New(context.Background(), cfg); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
}

func TestVerify_ValidTokens(t *testing.T) {
	keys := []testKey{newKey(t, AlgES256, "es"), newKey(t, AlgRS256, "rs"), newKey(t, AlgEdDSA, "ed")}
	is := newIssuer(t, keys...)
	v := newVerifier(t, is, nil)
	for _, k := range keys {
		c := is.claims()
		c["auth_time"] = now0.Add(-time.Minute).Unix()
		c["custom"] = "x"
		got, err := v.Verify(context.Background(), mint(t, k, nil, c))
		if err != nil {
			t.Fatalf("%s: %v", k.alg, err)
		}
		if got.Subject != "user-1" || got.ClientID != "client-1" || got.JTI != "jti-1" ||
			!slices.Equal(got.Scope, []string{"openid", "profile", "api:read"}) ||
			!slices.Equal(got.Audience, []string{testAudience}) ||
			!got.IssuedAt.Equal(now0) || !got.ExpiresAt.Equal(now0.Add(15*time.Minute)) ||
			!got.AuthTime.Equal(now0.Add(-time.Minute)) || got.Raw["custom"] != "x" {
			t.Fatalf("%s: claims = %+v", k.alg, got)
		}
	}
}

func mustReject(t *testing.T, v *Verifier, name, raw, wantDesc string) {
	t.Helper()
	_, err := v.Verify(context.Background(), raw)
	if err == nil {
		t.Fatalf("%s: token accepted", name)
	}
	var te *TokenError
	if !errors.Is(err, ErrInvalidToken) || !errors.As(err, &te) {
		t.Fatalf("%s: err = %v, want a *TokenError", name, err)
	}
	if wantDesc != "" && te.Description != wantDesc {
		t.Fatalf("%s: description %q, want %q (%v)", name, te.Description, wantDesc, err)
	}
	t.Logf("%s: %v", name, err)
}

func TestSecurity_S35_ResourceServerRejects(t *testing.T) {
	es, rs, ed := newKey(t, AlgES256, "es"), newKey(t, AlgRS256, "rs"), newKey(t, AlgEdDSA, "ed")
	is := newIssuer(t, es, rs, ed)
	v := newVerifier(t, is, func(c *Config) { c.RefreshInterval = time.Hour })
	c := is.claims

	t.Run("alg none", func(t *testing.T) {
		raw := mintWith(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "es", nil, c())
		mustReject(t, v, "none", raw, descAlg)
		for _, alg := range []string{"None", "NONE", ""} {
			h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"` + alg + `","typ":"at+jwt","kid":"es"}`))
			mustReject(t, v, "alg "+alg, h+raw[strings.IndexByte(raw, '.'):], descAlg)
		}
	})
	t.Run("HS256 with the public key as secret", func(t *testing.T) {
		for _, k := range []testKey{es, rs, ed} {
			jwkJSON, _ := json.Marshal(k.jwk())
			der, _ := x509.MarshalPKIXPublicKey(k.signer.Public())
			pemBytes := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
			for _, secret := range [][]byte{jwkJSON, der, pemBytes} {
				raw := mintWith(t, jwt.SigningMethodHS256, secret, k.kid, nil, c())
				mustReject(t, v, "HS256", raw, descAlg)
			}
		}
	})
	t.Run("alg outside the allow-list", func(t *testing.T) {
		mustReject(t, v, "PS256 with our RSA key", mintWith(t, jwt.SigningMethodPS256, rs.signer, "rs", nil, c()), descAlg)
		mustReject(t, v, "RS512 with our RSA key", mintWith(t, jwt.SigningMethodRS512, rs.signer, "rs", nil, c()), descAlg)
		p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		mustReject(t, v, "ES384", mintWith(t, jwt.SigningMethodES384, p384, "es", nil, c()), descAlg)
		narrow := newVerifier(t, is, func(c *Config) { c.AllowedAlgs = []string{AlgES256} })
		mustReject(t, narrow, "RS256 when only ES256 is allowed", mint(t, rs, nil, c()), descAlg)
		if _, err := narrow.Verify(context.Background(), mint(t, es, nil, c())); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("alg of another key", func(t *testing.T) {
		mustReject(t, v, "RS256 under the ES256 kid", mintWith(t, jwt.SigningMethodRS256, rs.signer, "es", nil, c()), descAlg)
	})
	t.Run("unknown kid", func(t *testing.T) {
		other := newKey(t, AlgES256, "nobody")
		mustReject(t, v, "unknown kid", mint(t, other, nil, c()), descKey)
		mustReject(t, v, "no kid", mint(t, es, map[string]any{"kid": nil}, c()), descKey)
		mustReject(t, v, "numeric kid", mint(t, es, map[string]any{"kid": 7}, c()), descMalformed)
	})
	t.Run("jku x5u jwk headers ignored", func(t *testing.T) {
		attacker := newKey(t, AlgES256, "attacker")
		evil := newIssuer(t, attacker)
		hitsBefore := evil.jwksHits.Load()
		for name, h := range map[string]map[string]any{
			"jku own kid": {"jku": evil.url() + "/keys", "kid": "attacker"},
			"jku our kid": {"jku": evil.url() + "/keys", "kid": "es"},
			"x5u our kid": {"x5u": evil.url() + "/keys", "kid": "es"},
			"jwk own kid": {"jwk": attacker.jwk(), "kid": "attacker"},
			"jwk our kid": {"jwk": attacker.jwk(), "kid": "es"},
			"jwk no kid":  {"jwk": attacker.jwk(), "kid": nil},
		} {
			mustReject(t, v, name, mint(t, attacker, h, c()), "")
		}
		if evil.jwksHits.Load() != hitsBefore {
			t.Fatal("a key URL from a token header was fetched")
		}
	})
	t.Run("typ", func(t *testing.T) {
		for _, typ := range []any{"JWT", "jwt", "application/jwt", "", "at+jwt ", nil} {
			mustReject(t, v, "typ", mint(t, es, map[string]any{"typ": typ}, c()), descType)
		}
		for _, typ := range []string{"AT+JWT", "application/at+jwt"} {
			if _, err := v.Verify(context.Background(), mint(t, es, map[string]any{"typ": typ}, c())); err != nil {
				t.Fatalf("typ %s: %v", typ, err)
			}
		}
	})
	t.Run("iss", func(t *testing.T) {
		for _, iss := range []any{"https://evil.example", is.url() + "/", strings.ToUpper(is.url()), 1, nil} {
			cl := c()
			cl["iss"] = iss
			if iss == nil {
				delete(cl, "iss")
			}
			mustReject(t, v, "iss", mint(t, ed, nil, cl), descIssuer)
		}
	})
	t.Run("aud", func(t *testing.T) {
		for _, aud := range []any{"https://other.example", []string{"https://a.example", "https://b.example"}, []string{}, nil, testAudience + "/"} {
			cl := c()
			cl["aud"] = aud
			if aud == nil {
				delete(cl, "aud")
			}
			mustReject(t, v, "aud", mint(t, es, nil, cl), descAudience)
		}
		cl := c()
		cl["aud"] = []string{"https://a.example", testAudience}
		got, err := v.Verify(context.Background(), mint(t, es, nil, cl))
		if err != nil || !slices.Equal(got.Audience, []string{"https://a.example", testAudience}) {
			t.Fatalf("aud array containing us: %+v, %v", got, err)
		}
	})
	t.Run("exp nbf iat", func(t *testing.T) {
		set := func(name string, d time.Duration) jwt.MapClaims {
			cl := c()
			cl[name] = now0.Add(d).Unix()
			return cl
		}
		mustReject(t, v, "expired", mint(t, es, nil, set("exp", -time.Minute)), descExpired)
		mustReject(t, v, "expired by 31s", mint(t, es, nil, set("exp", -31*time.Second)), descExpired)
		if _, err := v.Verify(context.Background(), mint(t, es, nil, set("exp", -29*time.Second))); err != nil {
			t.Fatalf("expired within leeway: %v", err)
		}
		mustReject(t, v, "future nbf", mint(t, es, nil, set("nbf", time.Minute)), descNotYet)
		if _, err := v.Verify(context.Background(), mint(t, es, nil, set("nbf", 20*time.Second))); err != nil {
			t.Fatalf("nbf within leeway: %v", err)
		}
		mustReject(t, v, "future iat", mint(t, es, nil, set("iat", time.Minute)), descNotYet)
		for _, name := range []string{"exp", "iat"} {
			cl := c()
			delete(cl, name)
			mustReject(t, v, "no "+name, mint(t, es, nil, cl), descClaims)
		}
		cl := c()
		cl["exp"] = "tomorrow"
		mustReject(t, v, "string exp", mint(t, es, nil, cl), descClaims)
		short := newVerifier(t, is, func(c *Config) { c.Leeway = time.Second })
		mustReject(t, short, "expired by 5s with 1s leeway", mint(t, es, nil, set("exp", -5*time.Second)), descExpired)
	})
	t.Run("required claims", func(t *testing.T) {
		for _, name := range []string{"sub", "client_id", "jti"} {
			cl := c()
			delete(cl, name)
			mustReject(t, v, "no "+name, mint(t, es, nil, cl), descClaims)
		}
	})
	t.Run("crit", func(t *testing.T) {
		mustReject(t, v, "crit", mint(t, es, map[string]any{"crit": []string{"b64"}, "b64": false}, c()), descMalformed)
	})
	t.Run("flipped byte", func(t *testing.T) {
		for _, k := range []testKey{es, rs, ed} {
			raw := mint(t, k, nil, c())
			if _, err := v.Verify(context.Background(), raw); err != nil {
				t.Fatal(err)
			}
			parts := strings.Split(raw, ".")
			for seg := range parts {
				dec, _ := base64.RawURLEncoding.DecodeString(parts[seg])
				for i := range dec {
					bad := slices.Clone(dec)
					bad[i] ^= 0x01
					p := slices.Clone(parts)
					p[seg] = base64.RawURLEncoding.EncodeToString(bad)
					if _, err := v.Verify(context.Background(), strings.Join(p, ".")); !errors.Is(err, ErrInvalidToken) {
						t.Fatalf("%s: flipped byte %d of part %d accepted (%v)", k.alg, i, seg, err)
					}
				}
			}
			// A second spelling of the same signature (non-zero unused base64 bits).
			const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
			sig := parts[2]
			alt := sig[:len(sig)-1] + string(alphabet[strings.IndexByte(alphabet, sig[len(sig)-1])^1])
			mustReject(t, v, k.alg+" non-canonical base64", parts[0]+"."+parts[1]+"."+alt, descMalformed)
			for name, s := range map[string]string{
				"two parts": parts[0] + "." + parts[1], "four parts": raw + ".x", "padded": raw + "=",
				"empty": "", "huge": raw + strings.Repeat("A", MaxTokenSize), "swapped": parts[0] + "." + parts[1] + "." + parts[0],
			} {
				mustReject(t, v, k.alg+" "+name, s, "")
			}
		}
	})
}

func TestUnknownKIDRefetchIsRateLimited(t *testing.T) {
	old, next := newKey(t, AlgES256, "old"), newKey(t, AlgES256, "next")
	is := newIssuer(t, old)
	v := newVerifier(t, is, func(c *Config) { c.RefreshInterval = 10 * time.Second })
	clock := fakeMono(v)
	if is.jwksHits.Load() != 1 {
		t.Fatalf("JWKS fetched %d times by New", is.jwksHits.Load())
	}
	// The issuer rotates; a token of the new key arrives within the interval:
	// refused, and no fetch.
	is.setKeys(old, next)
	rotated := mint(t, next, nil, is.claims())
	mustReject(t, v, "rotated-in key within the interval", rotated, descKey)
	if n := is.jwksHits.Load(); n != 1 {
		t.Fatalf("JWKS fetched %d times, want 1", n)
	}
	clock.Add(int64(10 * time.Second))
	if _, err := v.Verify(context.Background(), rotated); err != nil {
		t.Fatalf("token of a rotated-in key: %v", err)
	}
	if n := is.jwksHits.Load(); n != 2 {
		t.Fatalf("JWKS fetched %d times, want 2", n)
	}
	// A flood of made-up kids, concurrently: no fetch within the interval.
	var bogus []string
	for i := range 100 {
		bogus = append(bogus, mint(t, newKey(t, AlgEdDSA, fmt.Sprintf("bogus-%d", i)), nil, is.claims()))
	}
	flood := func() {
		var wg sync.WaitGroup
		for _, raw := range bogus {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := v.Verify(context.Background(), raw); err == nil {
					t.Error("bogus kid accepted")
				}
			}()
		}
		wg.Wait()
	}
	clock.Add(int64(9 * time.Second))
	flood()
	if n := is.jwksHits.Load(); n != 2 {
		t.Fatalf("made-up kids caused %d fetches in total, want 2", n)
	}
	// After the interval, a flood causes exactly one fetch.
	clock.Add(int64(time.Second))
	flood()
	if n := is.jwksHits.Load(); n != 3 {
		t.Fatalf("after the interval: %d fetches, want 3", n)
	}
}

// A background refresh of old keys just before the issuer rotates does not hold off
// the fetch that a token of the new key causes: the issuer's new key verifies at once.
func TestBackgroundRefreshDoesNotBlockRotatedKey(t *testing.T) {
	old, next := newKey(t, AlgES256, "old"), newKey(t, AlgES256, "next")
	is := newIssuer(t, old)
	v := newVerifier(t, is, func(c *Config) { c.RefreshInterval = 10 * time.Second; c.MaxKeyAge = 5 * time.Minute })
	clock := fakeMono(v)
	clock.Add(int64(6 * time.Minute))
	if _, err := v.Verify(context.Background(), mint(t, old, nil, is.claims())); err != nil {
		t.Fatal(err)
	}
	// That request started a refresh of the old keys; wait for it.
	deadline := time.Now().Add(2 * time.Second)
	for is.jwksHits.Load() != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("no background refresh: %d fetches", is.jwksHits.Load())
		}
		time.Sleep(time.Millisecond)
	}
	for v.refreshing.Load() {
		time.Sleep(time.Millisecond)
	}
	// The issuer rotates a second later.
	clock.Add(int64(time.Second))
	is.setKeys(old, next)
	if _, err := v.Verify(context.Background(), mint(t, next, nil, is.claims())); err != nil {
		t.Fatalf("a token of the rotated-in key after a background refresh: %v", err)
	}
	if n := is.jwksHits.Load(); n != 3 {
		t.Fatalf("JWKS fetched %d times, want 3", n)
	}
}

func TestIssuerDownServesCachedKeys(t *testing.T) {
	k := newKey(t, AlgES256, "k")
	is := newIssuer(t, k)
	v := newVerifier(t, is, func(c *Config) { c.RefreshInterval = time.Millisecond; c.MaxKeyAge = time.Millisecond })
	raw := mint(t, k, nil, is.claims())
	is.down.Store(true)
	time.Sleep(5 * time.Millisecond)
	for range 5 {
		if _, err := v.Verify(context.Background(), raw); err != nil {
			t.Fatalf("issuer down: %v", err)
		}
		// Unknown kids try the issuer, fail, and keep the cache.
		mustReject(t, v, "unknown kid while down", mint(t, newKey(t, AlgES256, "new"), nil, is.claims()), descKey)
		time.Sleep(2 * time.Millisecond)
	}
	// Even with the server gone entirely.
	is.srv.Close()
	time.Sleep(5 * time.Millisecond)
	mustReject(t, v, "unknown kid, server gone", mint(t, newKey(t, AlgES256, "new2"), nil, is.claims()), descKey)
	if _, err := v.Verify(context.Background(), raw); err != nil {
		t.Fatalf("issuer gone: %v", err)
	}
}

// Keys the issuer withdrew stop being trusted after MaxKeyAge.
func TestOldKeysAreRefreshed(t *testing.T) {
	withdrawn, kept := newKey(t, AlgES256, "withdrawn"), newKey(t, AlgEdDSA, "kept")
	is := newIssuer(t, withdrawn, kept)
	v := newVerifier(t, is, func(c *Config) { c.RefreshInterval = 10 * time.Millisecond; c.MaxKeyAge = 50 * time.Millisecond })
	raw := mint(t, withdrawn, nil, is.claims())
	if _, err := v.Verify(context.Background(), raw); err != nil {
		t.Fatal(err)
	}
	is.setKeys(kept)
	time.Sleep(60 * time.Millisecond)
	v.Verify(context.Background(), mint(t, kept, nil, is.claims())) // starts the background refresh
	deadline := time.Now().Add(2 * time.Second)
	for {
		if _, err := v.Verify(context.Background(), raw); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a withdrawn key is still trusted")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestJWKSParsing(t *testing.T) {
	good := newKey(t, AlgES256, "good")
	dup1, dup2 := newKey(t, AlgES256, "dup"), newKey(t, AlgEdDSA, "dup")
	is := newIssuer(t, good, dup1, dup2)
	enc := newKey(t, AlgES256, "enc").jwk()
	enc["use"] = "enc"
	offCurve := newKey(t, AlgES256, "offcurve").jwk()
	offCurve["y"] = offCurve["x"]
	wrongAlg := newKey(t, AlgES256, "wrongalg").jwk()
	wrongAlg["alg"] = "RS256"
	hmac := map[string]any{"kty": "oct", "kid": "hmac", "k": "c2VjcmV0", "alg": "HS256"}
	noAlg := newKey(t, AlgEdDSA, "noalg")
	noAlgJWK := noAlg.jwk()
	delete(noAlgJWK, "alg")
	is.extra = []map[string]any{enc, offCurve, wrongAlg, hmac, noAlgJWK, {"kty": "EC"}}
	v := newVerifier(t, is, nil)
	got := v.keys.Load().byKID
	if len(got) != 2 || got["good"] == nil || got["noalg"] == nil {
		t.Fatalf("usable kids = %v, want good and noalg", keysOf(got))
	}
	mustReject(t, v, "duplicate kid", mint(t, dup1, nil, is.claims()), descKey)
	if _, err := v.Verify(context.Background(), mint(t, noAlg, nil, is.claims())); err != nil {
		t.Fatalf("key without alg: %v", err)
	}
}

func keysOf[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// --- Echo middleware ---

func serve(v *Verifier, authz ...string) *httptest.ResponseRecorder {
	e := echo.New()
	api := e.Group("/secured", v.Middleware())
	api.GET("/profile", func(c echo.Context) error {
		cl, ok := FromContext(c)
		if !ok {
			return c.NoContent(http.StatusInternalServerError)
		}
		return c.JSON(http.StatusOK, cl.Raw)
	})
	api.GET("/admin", func(c echo.Context) error { return c.String(http.StatusOK, "admin") }, RequireScope("admin"))
	api.GET("/both", func(c echo.Context) error { return c.String(http.StatusOK, "ok") }, RequireScope("api:read", "api:write"))
	path := "/secured/profile"
	if len(authz) > 0 && strings.HasPrefix(authz[0], "/") {
		path, authz = authz[0], authz[1:]
	}
	req := httptest.NewRequest(http.MethodGet, path, nil)
	for _, a := range authz {
		req.Header.Add("Authorization", a)
	}
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	return rec
}

func body(t *testing.T, rec *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
		t.Fatalf("body %q: %v", rec.Body, err)
	}
	return m
}

func TestMiddleware(t *testing.T) {
	k := newKey(t, AlgES256, "k")
	is := newIssuer(t, k)
	v := newVerifier(t, is, func(c *Config) { c.Realm = "example-api" })
	token := mint(t, k, nil, is.claims())

	t.Run("valid token: claims on the context", func(t *testing.T) {
		rec := serve(v, "Bearer "+token)
		if rec.Code != http.StatusOK || body(t, rec)["sub"] != "user-1" || body(t, rec)["client_id"] != "client-1" {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
		if rec := serve(v, "bearer "+token); rec.Code != http.StatusOK {
			t.Fatalf("lower-case scheme: %d", rec.Code)
		}
	})
	t.Run("no token: 401 without error code", func(t *testing.T) {
		for _, authz := range [][]string{nil, {"Basic dXNlcjpwYXNz"}} {
			rec := serve(v, authz...)
			if rec.Code != http.StatusUnauthorized {
				t.Fatalf("status %d", rec.Code)
			}
			if got := rec.Header().Get("WWW-Authenticate"); got != `Bearer realm="example-api"` {
				t.Fatalf("WWW-Authenticate = %q", got)
			}
			if b := body(t, rec); b["error"] == nil || b["error_description"] == nil {
				t.Fatalf("body = %v", b)
			}
		}
	})
	t.Run("malformed authorization: 400 invalid_request", func(t *testing.T) {
		for _, authz := range [][]string{{"Bearer "}, {"Bearer", "Bearer " + token}, {"Bearer a b"}, {"Bearer " + token, "Bearer " + token}} {
			rec := serve(v, authz...)
			if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Header().Get("WWW-Authenticate"), `error="invalid_request"`) ||
				body(t, rec)["error"] != "invalid_request" {
				t.Fatalf("%q: %d %q %s", authz, rec.Code, rec.Header().Get("WWW-Authenticate"), rec.Body)
			}
		}
	})
	t.Run("invalid token: 401 invalid_token", func(t *testing.T) {
		cl := is.claims()
		cl["exp"] = now0.Add(-time.Hour).Unix()
		rec := serve(v, "Bearer "+mint(t, k, nil, cl))
		want := `Bearer realm="example-api", error="invalid_token", error_description="` + descExpired + `"`
		if rec.Code != http.StatusUnauthorized || rec.Header().Get("WWW-Authenticate") != want {
			t.Fatalf("%d %q", rec.Code, rec.Header().Get("WWW-Authenticate"))
		}
		if b := body(t, rec); b["error"] != "invalid_token" || b["error_description"] != descExpired {
			t.Fatalf("body = %v", b)
		}
		if rec.Header().Get("Content-Type") != "application/json" && !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
			t.Fatalf("content type %q", rec.Header().Get("Content-Type"))
		}
		if strings.Contains(rec.Body.String(), "exp ") {
			t.Fatalf("internal detail leaked: %s", rec.Body)
		}
		rec = serve(v, "Bearer not.a.jwt")
		if rec.Code != http.StatusUnauthorized || body(t, rec)["error"] != "invalid_token" {
			t.Fatalf("garbage: %d %s", rec.Code, rec.Body)
		}
	})
	t.Run("RequireScope", func(t *testing.T) {
		rec := serve(v, "/secured/admin", "Bearer "+token)
		want := `Bearer realm="example-api", error="insufficient_scope", error_description="the access token lacks the scope this request needs", scope="admin"`
		if rec.Code != http.StatusForbidden || rec.Header().Get("WWW-Authenticate") != want {
			t.Fatalf("%d %q", rec.Code, rec.Header().Get("WWW-Authenticate"))
		}
		if body(t, rec)["error"] != "insufficient_scope" {
			t.Fatalf("body %s", rec.Body)
		}
		cl := is.claims()
		cl["scope"] = "openid admin"
		if rec := serve(v, "/secured/admin", "Bearer "+mint(t, k, nil, cl)); rec.Code != http.StatusOK {
			t.Fatalf("with admin: %d %s", rec.Code, rec.Body)
		}
		rec = serve(v, "/secured/both", "Bearer "+token) // has api:read, lacks api:write
		if rec.Code != http.StatusForbidden || !strings.Contains(rec.Header().Get("WWW-Authenticate"), `scope="api:read api:write"`) {
			t.Fatalf("both: %d %q", rec.Code, rec.Header().Get("WWW-Authenticate"))
		}
		if rec := serve(v, "/secured/admin"); rec.Code != http.StatusUnauthorized {
			t.Fatalf("no token on a scoped route: %d", rec.Code)
		}
	})
	t.Run("RequireScope without Middleware fails closed", func(t *testing.T) {
		e := echo.New()
		e.GET("/x", func(c echo.Context) error { return c.String(http.StatusOK, "leak") }, RequireScope("admin"))
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/x", nil))
		if rec.Code != http.StatusUnauthorized {
			t.Fatalf("status %d", rec.Code)
		}
	})
}

func TestQuoteEscape(t *testing.T) {
	if got := quoteEscape("a\"b\\c\r\nd"); got != `a\"b\\cd` {
		t.Fatalf("quoteEscape = %q", got)
	}
}

// TestSecurity_S35_ECDSASignatureMalleability: (r, n-s) verifies whenever (r, s)
// does; only the low-s form, the one Gatehouse signs, is accepted, so a token has
// one spelling (found by FuzzVerify).
func TestSecurity_S35_ECDSASignatureMalleability(t *testing.T) {
	k := newKey(t, AlgES256, "es")
	is := newIssuer(t, k)
	v := newVerifier(t, is, nil)
	n := elliptic.P256().Params().N
	for range 16 {
		raw := mint(t, k, nil, is.claims()) // low s
		if _, err := v.Verify(context.Background(), raw); err != nil {
			t.Fatal(err)
		}
		dot := strings.LastIndexByte(raw, '.')
		sig, _ := base64.RawURLEncoding.DecodeString(raw[dot+1:])
		s := new(big.Int).SetBytes(sig[32:])
		s.Sub(n, s).FillBytes(sig[32:])
		mustReject(t, v, "high-s twin", raw[:dot+1]+base64.RawURLEncoding.EncodeToString(sig), descSignature)
	}
}
