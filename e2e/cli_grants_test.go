package e2e

import (
	"strings"
	"testing"
)

// TestCLI_GrantTypeAliases: the short names people type for the URN grant types are
// accepted and stored as the RFC names; an unknown name is answered with the list.
func TestCLI_GrantTypeAliases(t *testing.T) {
	t.Parallel()
	srv := sharedServer(t)
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"--public", "--grant-type", "device_code", "--grant-type", "refresh_token"},
			[]string{"urn:ietf:params:oauth:grant-type:device_code", "refresh_token"}},
		{[]string{"--grant-type", "token_exchange", "--audience", "https://api.example.com"},
			[]string{"urn:ietf:params:oauth:grant-type:token-exchange"}},
		{[]string{"--grant-type", "token-exchange", "--grant-type", "urn:ietf:params:oauth:grant-type:token-exchange", "--audience", "https://api.example.com"},
			[]string{"urn:ietf:params:oauth:grant-type:token-exchange"}},
	} {
		c := srv.CreateClientJSON(t, tc.args...)
		if strings.Join(c.GrantTypes, " ") != strings.Join(tc.want, " ") {
			t.Errorf("clients create %v: grant_types %v, want %v", tc.args, c.GrantTypes, tc.want)
		}
	}
	// The device flow works for a client made with the alias.
	dev := srv.CreateClientJSON(t, "--public", "--grant-type", "device_code")
	r := srv.PostForm(t, nil, "/oauth/device_authorization", form("client_id", dev.ClientID), "", "")
	if r.Status != 200 || r.JSON(t)["device_code"] == nil {
		t.Errorf("device authorization for the alias-made client: %d %s", r.Status, r.Body)
	}

	want := "gatehouse: --grant-type \"device-code\": unknown grant type; use one of authorization_code, refresh_token, " +
		"client_credentials, password, urn:ietf:params:oauth:grant-type:device_code (device_code), " +
		"urn:ietf:params:oauth:grant-type:token-exchange (token-exchange or token_exchange)\n"
	out, errOut, code := srv.CLI(t, "", "clients", "create", "--name", uniqueName("c"), "--grant-type", "device-code")
	wantUsage(t, "clients create --grant-type device-code", out, errOut, code)
	if errOut != want {
		t.Errorf("unknown grant type: stderr\n%q, want\n%q", errOut, want)
	}
}

// TestCLI_AudienceMustBeAbsoluteURI: a client's --audience is what it asks for as
// resource and gets as aud, an RFC 8707 §2 absolute URI; anything else is refused
// (exit 2, one line), as `resources create --uri` refuses it.
func TestCLI_AudienceMustBeAbsoluteURI(t *testing.T) {
	t.Parallel()
	srv := sharedServer(t)
	for _, a := range []string{"not a uri", "/api", "api", "https:///api", "https://api.example.com/#x"} {
		out, errOut, code := srv.CLI(t, "", "clients", "create", "--name", uniqueName("aud-"), "--grant-type", "client_credentials",
			"--audience", a)
		wantUsage(t, "--audience "+a, out, errOut, code, "absolute URI")
	}
	if _, errOut, code := srv.CLI(t, "", "clients", "create", "--name", uniqueName("aud-"), "--grant-type", "client_credentials",
		"--audience", "urn:example:inventory"); code != 0 {
		t.Errorf("a URN audience: exit %d %s", code, errOut)
	}
}
