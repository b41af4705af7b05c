package e2e

import (
	"net/http"
	"testing"
	"time"
)

// TestSecurity_S57_RegisteredBackchannelLogoutURI: a dynamically registered client
// may register a back-channel logout URI (Back-Channel Logout 1.0 §2.2), but it is
// the registrant's choice, so Gatehouse calls it at public addresses only: an IP
// literal of a private, loopback or link-local network, or localhost, is refused at
// registration; the operator may allow a network (GATEHOUSE_OUTBOUND_ALLOW_NETWORKS),
// and then the client receives a logout token that verifies.
func TestSecurity_S57_RegisteredBackchannelLogoutURI(t *testing.T) {
	t.Parallel()
	initial := randomString(40)
	env := map[string]string{
		"GATEHOUSE_DYNAMIC_REGISTRATION":              "true",
		"GATEHOUSE_REGISTRATION_INITIAL_ACCESS_TOKEN": initial,
	}
	rp := newLogoutReceiver(t, false)
	meta := func(uri string) map[string]any {
		return map[string]any{
			"client_name": uniqueName("dcr-bcl-"), "redirect_uris": []string{"http://127.0.0.1:9000/cb"},
			"grant_types": []string{"authorization_code", "refresh_token"}, "scope": "openid offline_access",
			"backchannel_logout_uri": uri, "backchannel_logout_session_required": true,
		}
	}

	t.Run("PublicAddressesOnly", func(t *testing.T) {
		t.Parallel()
		srv := startServer(t, Options{Env: env})
		srv.Sensitive(initial)
		hc := srv.HTTPClient()
		for _, uri := range []string{rp.srv.URL + "/bcl", "http://10.1.2.3/bcl", "https://169.254.169.254/latest/meta-data",
			"https://[::1]/bcl", "https://localhost/bcl", "http://[fd00::1]:8080/bcl", "not a url"} {
			r := dcrDo(t, srv, hc, http.MethodPost, "/oauth/register", initial, meta(uri))
			dcrWantError(t, r, http.StatusBadRequest, "invalid_client_metadata")
		}
		// A public client's logout URI must use https (§2.2).
		pub := meta("http://rp.example.com/bcl")
		pub["token_endpoint_auth_method"] = "none"
		dcrWantError(t, dcrDo(t, srv, hc, http.MethodPost, "/oauth/register", initial, pub), http.StatusBadRequest, "invalid_client_metadata")
		// A public address is taken, and shown back; an update cannot move it inside.
		c := dcrRegister(t, srv, hc, initial, meta("https://rp.example.com/bcl"))
		got := dcrDo(t, srv, hc, http.MethodGet, "/oauth/register/"+c.ClientID, c.RegistrationAccessToken, nil).JSON(t)
		if got["backchannel_logout_uri"] != "https://rp.example.com/bcl" || got["backchannel_logout_session_required"] != true {
			t.Errorf("registered: backchannel_logout_uri %v, _session_required %v", got["backchannel_logout_uri"],
				got["backchannel_logout_session_required"])
		}
		upd := meta("http://192.168.1.1/bcl")
		upd["client_id"] = c.ClientID
		rat, _ := got["registration_access_token"].(string) // the read replaced it (RFC 7592 §3)
		srv.Sensitive(rat)
		dcrWantError(t, dcrDo(t, srv, hc, http.MethodPut, "/oauth/register/"+c.ClientID, rat, upd),
			http.StatusBadRequest, "invalid_client_metadata")
	})

	t.Run("AllowedNetworkGetsLogoutTokens", func(t *testing.T) {
		t.Parallel()
		allowEnv := map[string]string{"GATEHOUSE_OUTBOUND_ALLOW_NETWORKS": "127.0.0.1/32"}
		for k, v := range env {
			allowEnv[k] = v
		}
		srv := startServer(t, Options{Env: allowEnv})
		srv.Sensitive(initial)
		browser := newAZBrowser(t, srv)
		reg := dcrRegister(t, srv, browser.hc, initial, meta(rp.srv.URL+"/bcl"))
		c := azClient{ID: reg.ClientID, Secret: reg.ClientSecret, RedirectURI: "http://127.0.0.1:9000/cb"}
		user, pass := azUser(t, srv)
		p := newAZPKCE()
		f := browser.authorize(azQuery(c, p, "bcl", "scope", "openid offline_access"), user, pass, "allow")
		r := c.exchange(t, srv, browser.hc, f.Query.Get("code"), c.RedirectURI, p.Verifier)
		if r.Status != http.StatusOK {
			t.Fatalf("exchange: %d %s", r.Status, r.Body)
		}
		m := r.JSON(t)
		srv.Sensitive(m["access_token"].(string), m["id_token"].(string), m["refresh_token"].(string))
		if out, errOut, code := srv.CLI(t, "", "users", "update", user, "--disabled=true"); code != 0 {
			t.Fatalf("disable: %d %s %s", code, out, errOut)
		}
		start := time.Now()
		claims := verifyLogoutToken(t, srv, rp.wait(t, 1)[0], reg.ClientID)
		if claims.SID == "" {
			t.Errorf("logout token without sid")
		}
		t.Logf("logout token arrived after %v", time.Since(start))
	})
}
