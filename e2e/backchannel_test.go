package e2e

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// logoutReceiver is a relying party's back-channel logout endpoint: it records every
// logout_token POSTed to it; while hold is open it keeps every request waiting.
type logoutReceiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	tokens []string
	got    chan struct{}
	hold   chan struct{}
}

func newLogoutReceiver(t *testing.T, hold bool) *logoutReceiver {
	r := &logoutReceiver{got: make(chan struct{}, 64)}
	if hold {
		r.hold = make(chan struct{})
	}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if r.hold != nil {
			select {
			case <-r.hold:
			case <-req.Context().Done():
				return
			}
		}
		body, _ := io.ReadAll(req.Body)
		v, _ := url.ParseQuery(string(body))
		if req.Method != http.MethodPost || req.Header.Get("Content-Type") != "application/x-www-form-urlencoded" || v.Get("logout_token") == "" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		r.tokens = append(r.tokens, v.Get("logout_token"))
		r.mu.Unlock()
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
		r.got <- struct{}{}
	}))
	t.Cleanup(func() {
		if r.hold != nil {
			select {
			case <-r.hold:
			default:
				close(r.hold)
			}
		}
		r.srv.Close()
	})
	return r
}

func (r *logoutReceiver) wait(t *testing.T, n int) []string {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		r.mu.Lock()
		got := slices.Clone(r.tokens)
		r.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-r.got:
		case <-deadline:
			t.Fatalf("%d logout tokens arrived, want %d", len(got), n)
		}
	}
}

type logoutClaims struct {
	jwt.RegisteredClaims
	SID    string                    `json:"sid"`
	Nonce  *string                   `json:"nonce"`
	Events map[string]map[string]any `json:"events"`
}

// verifyLogoutToken checks a logout token as a relying party must (Back-Channel
// Logout 1.0 §2.6): signature by a key of the JWKS, typ logout+jwt, iss, aud, iat,
// jti, sub, sid, the event, and no nonce.
func verifyLogoutToken(t *testing.T, srv *Server, raw, clientID string) logoutClaims {
	t.Helper()
	keys := fetchJWKS(t, srv)
	var c logoutClaims
	tok, err := jwt.ParseWithClaims(raw, &c, func(tok *jwt.Token) (any, error) {
		k, ok := keys[tok.Header["kid"].(string)]
		if !ok || k.Alg != tok.Method.Alg() {
			t.Fatalf("logout token signed with kid %v alg %s: not in the JWKS", tok.Header["kid"], tok.Method.Alg())
		}
		return k.publicKey(t), nil
	}, jwt.WithValidMethods([]string{"RS256", "ES256", "EdDSA"}), jwt.WithIssuer(srv.URL), jwt.WithAudience(clientID),
		jwt.WithIssuedAt(), jwt.WithExpirationRequired())
	if err != nil {
		t.Fatalf("logout token: %v", err)
	}
	if tok.Header["typ"] != "logout+jwt" {
		t.Errorf("typ %v, want logout+jwt", tok.Header["typ"])
	}
	if c.ID == "" || c.Subject == "" || c.SID == "" || c.Nonce != nil {
		t.Errorf("claims %+v: want jti, sub, sid and no nonce", c)
	}
	if _, ok := c.Events["http://schemas.openid.net/event/backchannel-logout"]; !ok || len(c.Events) != 1 {
		t.Errorf("events %v", c.Events)
	}
	return c
}

// TestBackchannelLogout: OpenID Connect Back-Channel Logout 1.0. ID tokens carry sid;
// when the session ends (logout, the user disabled) every client that got tokens in it
// and registered a back-channel logout URI receives a signed logout token with that
// sid; a client that never answers does not hold up the logout.
func TestBackchannelLogout(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Options{})
	rp := newLogoutReceiver(t, false)
	stuck := newLogoutReceiver(t, true)
	a := newAZClient(t, srv, "https://a.example/cb", "--backchannel-logout-uri", rp.srv.URL+"/bcl?x=1")
	b := newAZClient(t, srv, "https://b.example/cb", "--backchannel-logout-uri", stuck.srv.URL+"/bcl")
	plain := newAZClient(t, srv, "https://plain.example/cb")
	user, pass := azUser(t, srv)
	browser := newAZBrowser(t, srv)

	// Discovery says so.
	disc := srv.Get(t, nil, "/.well-known/openid-configuration").JSON(t)
	if disc["backchannel_logout_supported"] != true || disc["backchannel_logout_session_supported"] != true {
		t.Fatalf("discovery: backchannel_logout_supported %v, _session_supported %v",
			disc["backchannel_logout_supported"], disc["backchannel_logout_session_supported"])
	}

	signIn := func(c azClient) string {
		t.Helper()
		p := newAZPKCE()
		flow := browser.authorize(azQuery(c, p, "bcl"), user, pass, "allow")
		r := c.exchange(t, srv, browser.hc, flow.Query.Get("code"), c.RedirectURI, p.Verifier)
		if r.Status != http.StatusOK {
			t.Fatalf("exchange: %d %s", r.Status, r.Body)
		}
		m := r.JSON(t)
		idt := m["id_token"].(string)
		srv.Sensitive(m["access_token"].(string), idt)
		var claims jwt.MapClaims
		if _, _, err := jwt.NewParser().ParseUnverified(idt, &claims); err != nil {
			t.Fatal(err)
		}
		sid, _ := claims["sid"].(string)
		if sid == "" {
			t.Fatalf("ID token without sid: %v", claims)
		}
		return sid
	}
	sidA, sidB := signIn(a), signIn(b)
	signIn(plain)
	if sidA != sidB {
		t.Fatalf("one browser session, two sids: %s, %s", sidA, sidB)
	}

	// Log out; the stuck client holds its request until the logout has answered.
	page := browser.get("/logout")
	form := oiLogoutForm(t, page)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/logout", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := browser.hc.Do(req)
	if err != nil {
		t.Fatalf("the logout waited for a client that never answers: %v", err)
	}
	resp.Body.Close()
	close(stuck.hold)

	got := verifyLogoutToken(t, srv, rp.wait(t, 1)[0], a.ID)
	if got.SID != sidA {
		t.Errorf("logout token sid %q, want the ID token's %q", got.SID, sidA)
	}
	stuckGot := verifyLogoutToken(t, srv, stuck.wait(t, 1)[0], b.ID)
	if stuckGot.SID != sidA || stuckGot.Subject != got.Subject {
		t.Errorf("the other client's token: %+v", stuckGot)
	}

	// A new session; disabling the user ends it, and the client hears of it.
	sid2 := signIn(a)
	if sid2 == sidA {
		t.Fatalf("a new session kept the old sid")
	}
	if out, errOut, code := srv.CLI(t, "", "users", "update", user, "--disabled=true"); code != 0 {
		t.Fatalf("disable: %d %s %s", code, out, errOut)
	}
	second := verifyLogoutToken(t, srv, rp.wait(t, 2)[1], a.ID)
	if second.SID != sid2 || second.ID == got.ID {
		t.Errorf("after disabling: sid %q (want %q), jti %q", second.SID, sid2, second.ID)
	}
	time.Sleep(1500 * time.Millisecond)
	if n := len(rp.wait(t, 2)); n != 2 {
		t.Errorf("%d logout tokens for two ended sessions", n)
	}
}
