package e2e

import (
	"net/http"
	"strings"
	"testing"
)

// TestSecurity_S46_NoSecretsInLogs runs a whole flow, failures included, against a
// server logging at debug level, then checks that none of the secrets, passwords and
// tokens involved appears in its log. (Every server the harness stops gets the same
// check for the values the tests registered; this one is explicit and verbose.)
func TestSecurity_S46_NoSecretsInLogs(t *testing.T) {
	t.Parallel()
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			srv := startServer(t, Options{Env: map[string]string{"GATEHOUSE_LOG_LEVEL": "debug", "GATEHOUSE_LOG_FORMAT": format}})
			secrets := runWholeFlow(t, srv)
			srv.Stop(t)
			log := srv.Log()
			if strings.Count(log, "\n") < 20 {
				t.Fatalf("the server logged almost nothing; the check would prove nothing:\n%s", log)
			}
			for what, v := range secrets {
				if v == "" {
					t.Errorf("%s: empty", what)
					continue
				}
				if strings.Contains(log, v) {
					t.Errorf("the log contains the %s", what)
				}
			}
		})
	}
}

// runWholeFlow exercises the token, revocation and introspection endpoints and the
// CLI, successes and failures, and returns every secret value it used, by name.
func runWholeFlow(t *testing.T, srv *Server) map[string]string {
	t.Helper()
	s := map[string]string{}
	hc := srv.HTTPClient()
	ctx := ctxWith(hc)

	ccID, ccSecret := srv.CreateClient(t, "--grant-type", "client_credentials", "--scope", "api")
	s["client secret"] = ccSecret
	cfg, pwID, pwSecret := newPasswordClient(t, srv)
	s["password client secret"] = pwSecret
	user, pwd, uid := newUser(t, srv)
	s["password"] = pwd

	cc, err := ccConfig(srv, ccID, ccSecret).Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s["client credentials access token"] = cc.AccessToken
	tok := passwordToken(t, srv, hc, cfg, user, pwd)
	s["access token"], s["refresh token"] = tok.AccessToken, tok.RefreshToken
	s["id token"], _ = tok.Extra("id_token").(string)
	tok2, err := refresh(ctx, cfg, tok.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	srv.Sensitive(tok2.AccessToken, tok2.RefreshToken)
	s["rotated refresh token"] = tok2.RefreshToken
	introspect(t, srv, hc, pwID, pwSecret, tok2.AccessToken)
	introspect(t, srv, hc, pwID, pwSecret, tok2.RefreshToken)
	_, _ = refresh(ctx, cfg, tok.RefreshToken) // reuse: revokes the family
	revoke(t, srv, hc, pwID, pwSecret, tok2.AccessToken, "")

	// Failures that carry secrets in every place a request can.
	wrongPwd := "wrong-" + randomString(16)
	s["wrong password"] = wrongPwd
	srv.Sensitive(wrongPwd)
	_, _ = cfg.PasswordCredentialsToken(ctx, user, wrongPwd)
	_, _ = cfg.PasswordCredentialsToken(ctx, "nobody-"+randomString(6), wrongPwd)
	wrongSecret := "wrong-secret-" + randomString(16)
	s["wrong client secret"] = wrongSecret
	srv.Sensitive(wrongSecret)
	srv.PostForm(t, nil, "/oauth/token", form("grant_type", "client_credentials"), ccID, wrongSecret)
	srv.PostForm(t, nil, "/oauth/token?client_id="+ccID+"&client_secret="+ccSecret, form("grant_type", "client_credentials"), "", "")
	srv.PostForm(t, nil, "/oauth/token", form("grant_type", "client_credentials", "client_secret", ccSecret, "x", "%zz"), ccID, ccSecret)
	srv.PostForm(t, nil, "/oauth/token", "grant_type=password&username="+user+"&password="+pwd+"&bad=%zz", pwID, pwSecret)
	srv.PostForm(t, nil, "/oauth/token", "grant_type=refresh_token&refresh_token="+tok.RefreshToken+"&refresh_token=x", pwID, pwSecret)
	srv.PostForm(t, nil, "/oauth/token", form("grant_type", "urn:x:"+ccSecret), ccID, ccSecret)
	srv.PostForm(t, nil, "/oauth/token", form("grant_type", "client_credentials", "scope", `"`+ccSecret), ccID, ccSecret)
	srv.PostForm(t, nil, "/oauth/token", form("grant_type", "password", "username", pwd, "password", "x"), pwID, pwSecret)
	srv.PostForm(t, nil, "/oauth/token", form("grant_type", "client_credentials", "pad", strings.Repeat(ccSecret, 2000)), ccID, ccSecret)
	srv.PostForm(t, nil, "/oauth/revoke", form("token", tok.RefreshToken), "", "")
	srv.PostForm(t, nil, "/oauth/introspect", form("token", tok.AccessToken), ccID, wrongSecret)
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/oauth/token?refresh_token="+tok2.RefreshToken+"&password="+pwd, nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	srv.Do(t, nil, req)
	req, _ = http.NewRequest(http.MethodGet, srv.URL+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	srv.Do(t, nil, req)
	req, _ = http.NewRequest(http.MethodPost, srv.URL+"/oauth/token", strings.NewReader(form("grant_type", "client_credentials")))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Leak", ccSecret+strings.Repeat("x", 64<<10))
	srv.Do(t, nil, req)

	// The CLI: a new password and a rotated secret.
	newPwd := "new-" + randomString(16)
	srv.Sensitive(newPwd)
	s["new password"] = newPwd
	if _, errOut, code := srv.CLI(t, newPwd+"\n", "users", "set-password", uid, "--password-stdin"); code != 0 {
		t.Fatalf("set-password: %s", errOut)
	}
	var rot struct {
		Secret string `json:"client_secret"`
	}
	srv.CLIJSON(t, &rot, "", "clients", "rotate-secret", ccID)
	srv.Sensitive(rot.Secret)
	s["rotated client secret"] = rot.Secret
	if tok, err := ccConfig(srv, ccID, rot.Secret).Token(ctx); err != nil {
		t.Errorf("rotated secret: %v", err)
	} else {
		srv.Sensitive(tok.AccessToken)
	}
	return s
}
