package e2e

// Gatehouse as several stateless instances behind a load balancer (issue 9): three
// real `gatehouse serve` processes A, B and C on one fresh PostgreSQL database, started
// at the same time (so migrating at the same time), and each step of a flow sent to a
// different instance. Nothing may live in one instance's memory but caches with a
// documented bound: the client cache (GATEHOUSE_CLIENT_CACHE_TTL) and the signing keys
// (GATEHOUSE_KEY_REFRESH_INTERVAL). The background housekeeping job runs on one
// instance at a time under a database lease, and moves on when its holder dies.

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"
	"golang.org/x/oauth2"

	"gatehouse/infrastructure/database/dbtest"
)

const (
	// clCacheTTL is GATEHOUSE_CLIENT_CACHE_TTL of the cluster: the documented bound on
	// how long a rotated secret or a deleted client may still work on an instance.
	clCacheTTL = time.Second
	// clHousekeeping is GATEHOUSE_HOUSEKEEPING_INTERVAL; the lease lasts three intervals.
	clHousekeeping = time.Second
	clLeaseTTL     = 3 * clHousekeeping
	// clSlack is added to every bound: scheduling on a loaded two-core machine.
	clSlack = 8 * time.Second
)

func TestMultiInstance(t *testing.T) {
	t.Parallel()
	dbURL := dbtest.Postgres(t) // skips without PostgreSQL; fails with GATEHOUSE_TEST_REQUIRE_DBS=1
	began := time.Now()
	c := startCluster(t, dbURL, 3, map[string]string{
		"GATEHOUSE_CLIENT_CACHE_TTL":      clCacheTTL.String(),
		"GATEHOUSE_HOUSEKEEPING_INTERVAL": clHousekeeping.String(),
	})
	t.Logf("3 instances started at once and ready after %s", time.Since(began).Round(time.Millisecond))
	db := clDB(t, dbURL)

	t.Run("StartedTogetherMigratedOnce", func(t *testing.T) { testClusterStart(t, c, db) })
	if t.Failed() {
		return
	}
	runConcurrently(t,
		subtest{"CodeFlowAcrossInstances", func(t *testing.T) { testClusterCodeFlow(t, c) }},
		subtest{"BrowserStateAcrossInstances", func(t *testing.T) { testClusterBrowserState(t, c) }},
		subtest{"RefreshRaceAcrossInstances", func(t *testing.T) { testClusterRefreshRace(t, c) }},
		subtest{"DeviceFlowAcrossInstances", func(t *testing.T) { testClusterDeviceFlow(t, c) }},
		subtest{"ClientChangesReachEveryInstance", func(t *testing.T) { testClusterClientChanges(t, c) }},
	)
	// Last: it kills an instance.
	t.Run("HousekeepingLeaseMovesOnWhenItsHolderDies", func(t *testing.T) { testClusterLease(t, c, db) })
	t.Logf("whole multi-instance test: %s", time.Since(began).Round(time.Millisecond))
}

// testClusterStart: three instances migrating one empty database at once applied
// every migration exactly once, in one group (the first to take the migration lock
// did it all, the others found nothing to do), and made one active signing key per
// algorithm, which all three publish.
func testClusterStart(t *testing.T, c *clCluster, db *bun.DB) {
	ctx := context.Background()
	var rows []struct {
		Name    string
		GroupID int64
	}
	if err := db.NewRaw("SELECT name, group_id FROM gatehouse_migrations ORDER BY id").Scan(ctx, &rows); err != nil {
		t.Fatalf("read gatehouse_migrations: %v", err)
	}
	var status []struct {
		Name    string `json:"name"`
		Applied bool   `json:"applied"`
	}
	c.Nodes[1].CLIJSON(t, &status, "", "migrate", "status")
	if len(rows) == 0 || len(rows) != len(status) {
		t.Fatalf("%d migration rows for %d migrations", len(rows), len(status))
	}
	seen := map[string]bool{}
	for _, r := range rows {
		if seen[r.Name] {
			t.Errorf("migration %s recorded twice", r.Name)
		}
		seen[r.Name] = true
		if r.GroupID != rows[0].GroupID {
			t.Errorf("migration %s in group %d, %s in %d: more than one instance migrated", r.Name, r.GroupID, rows[0].Name, rows[0].GroupID)
		}
	}
	for _, s := range status {
		if !s.Applied {
			t.Errorf("migration %s not applied", s.Name)
		}
	}

	var keys []keyRow
	c.Nodes[2].CLIJSON(t, &keys, "", "keys", "list")
	active := map[string]int{}
	for _, k := range keys {
		if k.Status == "active" {
			active[k.Alg]++
		}
	}
	if len(active) == 0 {
		t.Fatalf("no active signing key: %+v", keys)
	}
	for alg, n := range active {
		if n != 1 {
			t.Errorf("%d active %s keys after a simultaneous first start, want 1", n, alg)
		}
	}
	published := fetchJWKS(t, c.Nodes[0])
	for _, k := range keys {
		if _, ok := published[k.KID]; !ok {
			t.Errorf("key %s (%s) is not published", k.KID, k.Status)
		}
	}
	for _, n := range c.Nodes {
		m := n.Get(t, nil, "/.well-known/openid-configuration").JSON(t)
		if m["issuer"] != c.Issuer || m["token_endpoint"] != c.Issuer+"/oauth/token" {
			t.Errorf("instance %s: issuer %v, token endpoint %v; want the public URL %s", c.name(n), m["issuer"], m["token_endpoint"], c.Issuer)
		}
	}
}

// testClusterCodeFlow: login and consent page on A, the consent POST on B, the code
// exchanged on C (golang.org/x/oauth2 with PKCE), refreshed on A, userinfo on B,
// introspection on C, revocation on A, and then B and C know the tokens are dead.
func testClusterCodeFlow(t *testing.T, c *clCluster) {
	a, b, cc := c.Nodes[0], c.Nodes[1], c.Nodes[2]
	const redirect = "http://127.0.0.1:9000/callback"
	id, secret := c.createClient(t, "--redirect-uri", redirect, "--scope", "openid profile offline_access")
	user, pw, uid := c.createUser(t)

	pk := newAZPKCE()
	cl := azClient{ID: id, Secret: secret, RedirectURI: redirect}
	q := azQuery(cl, pk, "st-multi", "scope", "openid profile offline_access", "nonce", "n-multi")
	onA := newAZBrowser(t, a)
	resp := onA.get("/oauth/authorize?" + q.Encode())
	if loc := resp.Header.Get("Location"); !strings.HasPrefix(loc, "/login?") {
		t.Fatalf("authorize on A: %d, Location %q; want the login page", resp.Status, loc)
	}
	resp = onA.logIn(resp.Header.Get("Location"), user, pw)
	loc := resp.Header.Get("Location")
	if resp.Status != http.StatusSeeOther || !strings.HasPrefix(loc, "/consent?") {
		t.Fatalf("login on A: %d, Location %q; want the consent page", resp.Status, loc)
	}
	csrf, req := onA.openForm(loc)
	resp = clOn(onA, b).post("/consent", url.Values{"csrf_token": {csrf}, "req": {req}, "decision": {"allow"}})
	f := clOn(onA, b).follow(resp, user, pw, "allow")
	if f.SawLogin || f.SawConsent {
		t.Fatalf("the consent POST on B asked again (login %v, consent %v)", f.SawLogin, f.SawConsent)
	}
	if !strings.HasPrefix(f.Location, redirect+"?") || f.Query.Get("state") != "st-multi" || f.Query.Get("iss") != c.Issuer {
		t.Fatalf("consent on B redirected to %q; want the client with state and iss %s", f.Location, c.Issuer)
	}
	code := f.Query.Get("code")
	c.sensitive(code)

	hc := cc.HTTPClient()
	cfg := func(srv *Server) *oauth2.Config {
		return &oauth2.Config{ClientID: id, ClientSecret: secret, RedirectURL: redirect,
			Scopes: []string{"openid", "profile", "offline_access"},
			Endpoint: oauth2.Endpoint{AuthURL: c.Issuer + "/oauth/authorize", TokenURL: srv.URL + "/oauth/token",
				AuthStyle: oauth2.AuthStyleInHeader}}
	}
	tok, err := cfg(cc).Exchange(ctxWith(hc), code, oauth2.VerifierOption(pk.Verifier))
	if err != nil {
		t.Fatalf("code exchange on C: %v", err)
	}
	c.sensitive(tok.AccessToken, tok.RefreshToken)
	if idt, ok := tok.Extra("id_token").(string); ok {
		c.sensitive(idt)
	} else {
		t.Error("code exchange on C: no ID token for scope openid")
	}
	if claims := c.verifyAccessToken(t, tok.AccessToken); claims.Subject != uid || claims.ClientID != id {
		t.Errorf("access token from C: sub %q client_id %q", claims.Subject, claims.ClientID)
	}
	if tok.RefreshToken == "" {
		t.Fatal("code exchange on C: no refresh token for offline_access")
	}

	refreshed, err := refresh(ctxWith(a.HTTPClient()), cfg(a), tok.RefreshToken)
	if err != nil {
		t.Fatalf("refresh on A of a token issued by C: %v", err)
	}
	c.sensitive(refreshed.AccessToken, refreshed.RefreshToken)
	if refreshed.RefreshToken == "" || refreshed.RefreshToken == tok.RefreshToken {
		t.Fatal("refresh on A: the refresh token was not rotated")
	}
	c.verifyAccessToken(t, refreshed.AccessToken)

	r := clBearer(t, b, nil, "/userinfo", refreshed.AccessToken)
	if r.Status != http.StatusOK || r.JSON(t)["sub"] != uid || r.JSON(t)["preferred_username"] != user {
		t.Fatalf("userinfo on B with A's access token: %d %s", r.Status, r.Body)
	}

	chc := cc.HTTPClient()
	for what, token := range map[string]string{"access": refreshed.AccessToken, "refresh": refreshed.RefreshToken} {
		m := introspect(t, cc, chc, id, secret, token)
		if m["active"] != true || m["sub"] != uid || m["client_id"] != id {
			t.Errorf("introspection on C of the %s token from A: %v", what, m)
		}
	}
	// The rotated-out token is spent everywhere.
	if m := introspect(t, b, nil, id, secret, tok.RefreshToken); m["active"] != false {
		t.Errorf("introspection on B of the refresh token A rotated out: %v", m)
	}

	if r := revoke(t, a, nil, id, secret, refreshed.RefreshToken, "refresh_token"); r.Status != http.StatusOK {
		t.Fatalf("revocation on A: %d %s", r.Status, r.Body)
	}
	bhc := b.HTTPClient()
	wantInactive(t, introspect(t, b, bhc, id, secret, refreshed.RefreshToken))
	wantInactive(t, introspect(t, b, bhc, id, secret, refreshed.AccessToken))
	if r := clBearer(t, cc, nil, "/userinfo", refreshed.AccessToken); r.Status != http.StatusUnauthorized {
		t.Errorf("userinfo on C after revocation on A: %d %s, want 401", r.Status, r.Body)
	}
	if _, err := refresh(ctxWith(cc.HTTPClient()), cfg(cc), refreshed.RefreshToken); err == nil {
		t.Error("refresh on C of the refresh token revoked on A succeeded")
	} else if status, code := retrieveError(t, err); status != http.StatusBadRequest || code != "invalid_grant" {
		t.Errorf("refresh on C of a revoked token: %d %s, want 400 invalid_grant", status, code)
	}
}

// testClusterBrowserState: what a browser holds (session cookie, CSRF token, pending
// authorization request) is in the database, not in the instance that made it.
func testClusterBrowserState(t *testing.T, c *clCluster) {
	a, b, cc := c.Nodes[0], c.Nodes[1], c.Nodes[2]
	const redirect = "http://127.0.0.1:9001/callback"
	id, secret := c.createClient(t, "--redirect-uri", redirect, "--scope", "openid profile")
	cl := azClient{ID: id, Secret: secret, RedirectURI: redirect}
	user, pw, uid := c.createUser(t)

	exchangeOn := func(t *testing.T, cl azClient, srv *Server, f azFlow, pk azPKCE) {
		t.Helper()
		code := f.Query.Get("code")
		if code == "" {
			t.Fatalf("no code in %q", f.Location)
		}
		c.sensitive(code)
		r := cl.exchange(t, srv, nil, code, redirect, pk.Verifier)
		if r.Status != http.StatusOK {
			t.Fatalf("code exchange on %s: %d %s", c.name(srv), r.Status, r.Body)
		}
		m := r.JSON(t)
		at, _ := m["access_token"].(string)
		c.sensitive(at)
		if idt, ok := m["id_token"].(string); ok {
			c.sensitive(idt)
		}
		if claims := c.verifyAccessToken(t, at); claims.Subject != uid {
			t.Errorf("access token for %q, want %q", claims.Subject, uid)
		}
	}

	t.Run("SessionMadeOnAHonouredOnB", func(t *testing.T) {
		onA := newAZBrowser(t, a)
		if r := onA.logIn("/login", user, pw); r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/" {
			t.Fatalf("login on A: %d, Location %q", r.Status, r.Header.Get("Location"))
		}
		c.sensitive(onA.cookie("gatehouse_session"))
		onB := clOn(onA, b)
		pk := newAZPKCE()
		first := onB.get("/oauth/authorize?" + azQuery(cl, pk, "st-session").Encode())
		if loc := first.Header.Get("Location"); strings.HasPrefix(loc, "/login") {
			t.Fatalf("authorize on B with a session made on A sent the browser to %q", loc)
		}
		f := onB.follow(first, user, pw, "allow")
		if f.SawLogin {
			t.Fatal("B asked a browser logged in on A to log in")
		}
		if !f.SawConsent {
			t.Error("B did not ask for consent on the first authorization of this client")
		}
		exchangeOn(t, cl, cc, f, pk)
		// A session cookie B does not know is still refused: B checks, it does not
		// wave every cookie through.
		stranger := clOn(newAZBrowser(t, a), b)
		stranger.setCookie("gatehouse_session", randomString(43))
		r := stranger.get("/oauth/authorize?" + azQuery(cl, newAZPKCE(), "st-stranger").Encode())
		if loc := r.Header.Get("Location"); !strings.HasPrefix(loc, "/login") {
			t.Errorf("an unknown session cookie on B: %d, Location %q; want the login page", r.Status, loc)
		}
	})

	t.Run("CSRFTokenMintedOnAAcceptedOnB", func(t *testing.T) {
		onA := newAZBrowser(t, a)
		csrf, _ := onA.openForm("/login")
		onB := clOn(onA, b)
		forged := onB.post("/login", url.Values{"csrf_token": {randomString(43)}, "username": {user}, "password": {pw}})
		if forged.Status != http.StatusForbidden {
			t.Fatalf("login on B with a made-up CSRF token: %d, want 403", forged.Status)
		}
		r := onB.post("/login", url.Values{"csrf_token": {csrf}, "username": {user}, "password": {pw}})
		if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/" || onB.cookie("gatehouse_session") == "" {
			t.Fatalf("login on B with the CSRF token of A's form: %d, Location %q\n%s", r.Status, r.Header.Get("Location"), r.Body)
		}
		c.sensitive(onB.cookie("gatehouse_session"))
	})

	t.Run("PendingRequestStartedOnAFinishedOnB", func(t *testing.T) {
		// Another client, so that consent (remembered per user and client) is asked.
		id2, secret2 := c.createClient(t, "--redirect-uri", redirect, "--scope", "openid profile")
		cl2 := azClient{ID: id2, Secret: secret2, RedirectURI: redirect}
		onA := newAZBrowser(t, a)
		pk := newAZPKCE()
		r := onA.get("/oauth/authorize?" + azQuery(cl2, pk, "st-pending").Encode())
		loc := r.Header.Get("Location")
		if !strings.HasPrefix(loc, "/login?req=") {
			t.Fatalf("authorize on A: %d, Location %q; want the login page with the request", r.Status, loc)
		}
		// Everything after the authorization request happens on B: the login page and
		// its POST, the consent page and its POST.
		f := clOn(onA, b).follow(r, user, pw, "allow")
		if !f.SawLogin || !f.SawConsent {
			t.Errorf("finishing on B: login %v, consent %v; want both", f.SawLogin, f.SawConsent)
		}
		if f.Query.Get("state") != "st-pending" || f.Query.Get("iss") != c.Issuer {
			t.Fatalf("finished on B: redirect %q", f.Location)
		}
		exchangeOn(t, cl2, a, f, pk)
	})
}

// testClusterRefreshRace: goroutines split over A and B present one refresh token at
// once: exactly one 200, the rest 400 invalid_grant, never two live branches.
func testClusterRefreshRace(t *testing.T, c *clCluster) {
	a, b, cc := c.Nodes[0], c.Nodes[1], c.Nodes[2]
	id, secret := c.createClient(t, "--grant-type", "password", "--grant-type", "refresh_token", "--scope", "openid api")
	user, pw, _ := c.createUser(t)
	tok := passwordToken(t, cc, cc.HTTPClient(), userConfig(cc, id, secret, "openid", "api"), user, pw)
	c.sensitive(tok.AccessToken, tok.RefreshToken)

	const n = 24
	type result struct {
		node   *Server
		status int
		body   []byte
		err    error
	}
	results := make([]result, n)
	clients := map[*Server]*http.Client{a: a.HTTPClient(), b: b.HTTPClient()}
	body := form("grant_type", "refresh_token", "refresh_token", tok.RefreshToken)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		srv := a
		if i%2 == 1 {
			srv = b
		}
		results[i].node = srv
		req, err := http.NewRequest(http.MethodPost, srv.URL+"/oauth/token", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(basicEscape(id), basicEscape(secret))
		wg.Go(func() {
			<-start
			resp, err := clients[srv].Do(req)
			if err != nil {
				results[i].err = err
				return
			}
			defer resp.Body.Close()
			results[i].status = resp.StatusCode
			results[i].body, results[i].err = readAll(resp)
		})
	}
	close(start)
	wg.Wait()

	var winners []map[string]any
	var winner *Server
	for i, r := range results {
		switch {
		case r.err != nil:
			t.Errorf("request %d to %s: %v", i, c.name(r.node), r.err)
		case r.status == http.StatusOK:
			var m map[string]any
			if err := jsonInto(r.body, &m); err != nil {
				t.Fatalf("request %d: %v", i, err)
			}
			at, _ := m["access_token"].(string)
			rt, _ := m["refresh_token"].(string)
			c.sensitive(at, rt)
			winners, winner = append(winners, m), r.node
		case r.status == http.StatusBadRequest && strings.Contains(string(r.body), `"invalid_grant"`):
		default:
			t.Errorf("request %d to %s: %d %s, want 200 or 400 invalid_grant", i, c.name(r.node), r.status, r.body)
		}
	}
	if len(winners) != 1 {
		t.Fatalf("%d of %d refreshes split over A and B succeeded, want exactly 1", len(winners), n)
	}
	t.Logf("the winner was on %s", c.name(winner))

	// At most one live branch, seen the same by every instance: the winner's, whole,
	// or none (a loser that came after the rotation replayed a rotated token, which
	// revokes the family, SECURITY S30).
	at, _ := winners[0]["access_token"].(string)
	rt, _ := winners[0]["refresh_token"].(string)
	var live []bool
	for _, srv := range c.Nodes {
		hc := srv.HTTPClient()
		atActive := introspect(t, srv, hc, id, secret, at)["active"] == true
		rtActive := introspect(t, srv, hc, id, secret, rt)["active"] == true
		if atActive != rtActive {
			t.Fatalf("half a branch on %s: access token active=%v, refresh token active=%v", c.name(srv), atActive, rtActive)
		}
		if m := introspect(t, srv, hc, id, secret, tok.RefreshToken); m["active"] != false {
			t.Errorf("the raced refresh token is still active on %s: %v", c.name(srv), m)
		}
		live = append(live, rtActive)
	}
	if live[0] != live[1] || live[1] != live[2] {
		t.Fatalf("the instances disagree on whether the winner's branch lives: %v", live)
	}
	r := refreshForm(t, cc, nil, id, secret, rt, "")
	switch {
	case live[0] && r.Status != http.StatusOK:
		t.Errorf("the live winner's refresh token does not refresh on C: %d %s", r.Status, r.Body)
	case !live[0] && r.Status != http.StatusBadRequest:
		t.Errorf("a revoked winner's refresh token refreshed on C: %d", r.Status)
	}
	if r.Status == http.StatusOK {
		m := r.JSON(t)
		nat, _ := m["access_token"].(string)
		nrt, _ := m["refresh_token"].(string)
		c.sensitive(nat, nrt)
	}
	t.Logf("after %d refreshes split over A and B: 1 winner, its branch live=%v", n, live[0])
}

// testClusterDeviceFlow: device authorization on A, the user code entered on B, the
// device polling C.
func testClusterDeviceFlow(t *testing.T, c *clCluster) {
	a, b, cc := c.Nodes[0], c.Nodes[1], c.Nodes[2]
	dc := dvClient{}
	dc.ID, _ = c.createClient(t, "--public", "--grant-type", dvGrant, "--grant-type", "refresh_token", "--scope", "openid profile")
	user, pw, uid := c.createUser(t)

	da := dc.authorize(t, a, a.HTTPClient(), "openid profile")
	c.sensitive(da.DeviceCode, da.UserCode)
	if da.VerificationURI != c.Issuer+"/device" || da.VerificationURIComplete != c.Issuer+"/device?user_code="+da.UserCode {
		t.Errorf("verification URIs %q, %q; want the public URL %s", da.VerificationURI, da.VerificationURIComplete, c.Issuer)
	}
	poller := cc.HTTPClient()
	dvWantError(t, "first poll on C", dc.poll(t, cc, poller, da.DeviceCode), http.StatusBadRequest, "authorization_pending")

	// The user opens the verification URI; the load balancer sends it to B.
	onB := clDevice(newAZBrowser(t, b), b)
	f := onB.decide(strings.Replace(da.VerificationURIComplete, c.Issuer, b.URL, 1), user, pw, "allow")
	if !f.SawLogin {
		t.Error("a browser without a session was not asked to log in")
	}
	dvPageShows(t, "after approval on B", f.Final, http.StatusOK, "You may return to your device")

	r := dc.poll(t, cc, poller, da.DeviceCode)
	if r.Status != http.StatusOK {
		t.Fatalf("poll on C after approval on B: %d %s", r.Status, r.Body)
	}
	m := r.JSON(t)
	at, _ := m["access_token"].(string)
	rt, _ := m["refresh_token"].(string)
	c.sensitive(at, rt)
	if idt, ok := m["id_token"].(string); ok {
		c.sensitive(idt)
	}
	if claims := c.verifyAccessToken(t, at); claims.Subject != uid || claims.ClientID != dc.ID {
		t.Errorf("device access token: sub %q client_id %q", claims.Subject, claims.ClientID)
	}
	dvWantError(t, "poll on A after the device got its tokens", dc.poll(t, a, nil, da.DeviceCode), http.StatusBadRequest, "invalid_grant")
}

// testClusterClientChanges: with GATEHOUSE_CLIENT_CACHE_TTL=1s, a secret rotated or a
// client deleted through the CLI is refused by every instance within that bound
// (plus slack), although each had the client in memory, and a new secret works at once
// everywhere.
func testClusterClientChanges(t *testing.T, c *clCluster) {
	body := form("grant_type", "client_credentials")
	// Each subtest calls from its own addresses, one per instance: the failures it
	// provokes do not count towards another's throttling.
	addrs := map[*testing.T]map[*Server]*http.Client{}
	var mu sync.Mutex
	token := func(t *testing.T, srv *Server, id, secret string) Response {
		t.Helper()
		mu.Lock()
		if addrs[t] == nil {
			addrs[t] = map[*Server]*http.Client{}
			for _, n := range c.Nodes {
				addrs[t][n] = n.HTTPClient()
			}
		}
		hc := addrs[t][srv]
		mu.Unlock()
		r := srv.PostForm(t, hc, "/oauth/token", body, id, secret)
		if r.Status == http.StatusOK {
			at, _ := r.JSON(t)["access_token"].(string)
			c.sensitive(at)
		}
		return r
	}
	newClient := func(t *testing.T) (id, secret string) {
		t.Helper()
		id, secret = c.createClient(t, "--grant-type", "client_credentials")
		for _, n := range c.Nodes { // every instance now has it in memory
			if r := token(t, n, id, secret); r.Status != http.StatusOK {
				t.Fatalf("client credentials on %s: %d %s", c.name(n), r.Status, r.Body)
			}
		}
		return id, secret
	}
	rotate := func(t *testing.T, id string) string {
		t.Helper()
		var out struct {
			ClientSecret string `json:"client_secret"`
		}
		c.Nodes[2].CLIJSON(t, &out, "", "clients", "rotate-secret", id)
		if out.ClientSecret == "" {
			t.Fatal("rotate-secret printed no secret")
		}
		c.sensitive(out.ClientSecret)
		return out.ClientSecret
	}
	// refusedEverywhere polls each instance with the stale credentials until it
	// answers 401 invalid_client, which must happen within the cache TTL plus slack
	// of changed, and checks that it stays refused.
	refusedEverywhere := func(t *testing.T, changed time.Time, id, secret string) {
		t.Helper()
		bound := clCacheTTL + clSlack
		for _, n := range c.Nodes {
			clEventually(t, bound-time.Since(changed), "stale credentials refused on "+c.name(n), func() error {
				r := token(t, n, id, secret)
				if r.Status == http.StatusUnauthorized && r.JSON(t)["error"] == "invalid_client" {
					return nil
				}
				if r.Status == http.StatusOK {
					return fmt.Errorf("200, tokens issued") // the body holds a token: not in the test log
				}
				return fmt.Errorf("%d %s", r.Status, r.Body)
			})
		}
		t.Logf("stale credentials refused by every instance %s after the change (bound %s)",
			time.Since(changed).Round(time.Millisecond), clCacheTTL)
		for _, n := range c.Nodes {
			if r := token(t, n, id, secret); r.Status != http.StatusUnauthorized {
				t.Errorf("stale credentials on %s after being refused: %d", c.name(n), r.Status)
			}
		}
	}

	t.Run("NewSecretWorksAtOnceEverywhere", func(t *testing.T) {
		id, _ := newClient(t)
		fresh := rotate(t, id)
		for _, n := range c.Nodes {
			if r := token(t, n, id, fresh); r.Status != http.StatusOK {
				t.Errorf("the new secret on %s right after rotation: %d %s", c.name(n), r.Status, r.Body)
			}
		}
	})
	t.Run("OldSecretRefusedEverywhereWithinTheCacheTTL", func(t *testing.T) {
		id, old := newClient(t)
		rotate(t, id)
		refusedEverywhere(t, time.Now(), id, old)
	})
	t.Run("DeletedClientRefusedEverywhereWithinTheCacheTTL", func(t *testing.T) {
		id, secret := newClient(t)
		if _, errOut, code := c.Nodes[1].CLI(t, "", "clients", "delete", id); code != 0 {
			t.Fatalf("clients delete: exit %d: %s", code, errOut)
		}
		refusedEverywhere(t, time.Now(), id, secret)
	})
}

// testClusterLease: the housekeeping lease is held by one instance, which says so in
// its log; killed with SIGKILL (so it cannot give the lease back), it is replaced by
// another instance within the lease TTL (three intervals) plus one interval, and the
// new holder purges expired rows.
func testClusterLease(t *testing.T, c *clCluster, db *bun.DB) {
	ctx := context.Background()
	type lease struct {
		Holder    string
		ExpiresAt time.Time
	}
	readLease := func() (lease, error) {
		var l lease
		err := db.NewRaw("SELECT holder, expires_at FROM leases WHERE name = ?", "housekeeping").Scan(ctx, &l.Holder, &l.ExpiresAt)
		return l, err
	}
	// holderNode finds the instance that logged taking the lease as holder.
	holderNode := func(holder string, among []*Server) (*Server, error) {
		var found []*Server
		for _, n := range among {
			for _, line := range strings.Split(n.Log(), "\n") {
				if strings.Contains(line, "housekeeping lease acquired") && strings.Contains(line, "holder="+holder) {
					found = append(found, n)
					break
				}
			}
		}
		if len(found) != 1 {
			return nil, fmt.Errorf("%d instances logged taking the lease as %q", len(found), holder)
		}
		return found[0], nil
	}
	purged := func(jti string) func() error {
		return func() error {
			var n int
			if err := db.NewRaw("SELECT COUNT(*) FROM revoked_access_tokens WHERE jti = ?", jti).Scan(ctx, &n); err != nil {
				return err
			}
			if n != 0 {
				return fmt.Errorf("the expired row %s is still there", jti)
			}
			return nil
		}
	}
	insertExpired := func(jti string, expires time.Time) {
		t.Helper()
		if _, err := db.NewRaw("INSERT INTO revoked_access_tokens (jti, expires_at) VALUES (?, ?)", jti, expires.UTC()).Exec(ctx); err != nil {
			t.Fatalf("insert a deny-list row: %v", err)
		}
	}

	var first lease
	var holder *Server
	clEventually(t, clLeaseTTL+clSlack, "an instance holds the housekeeping lease and logged it", func() error {
		l, err := readLease()
		if err != nil {
			return err
		}
		if !l.ExpiresAt.After(time.Now()) {
			return fmt.Errorf("the lease of %q expired at %s", l.Holder, l.ExpiresAt)
		}
		n, err := holderNode(l.Holder, c.Nodes)
		if err != nil {
			return err
		}
		first, holder = l, n
		return nil
	})
	t.Logf("instance %s holds the housekeeping lease as %q; killing it", c.name(holder), first.Holder)

	holder.kill(t)
	killed := time.Now()
	var survivors []*Server
	for _, n := range c.Nodes {
		if n != holder {
			survivors = append(survivors, n)
		}
	}
	expired := "cl-expired-1-" + randomString(8)
	insertExpired(expired, time.Now().Add(-time.Hour))
	live := "cl-live-" + randomString(8)
	insertExpired(live, time.Now().Add(time.Hour))

	// The dead holder's lease ran out at most clLeaseTTL after it was last renewed,
	// which was before the kill; a survivor tries every interval.
	var next lease
	var taker *Server
	clEventually(t, clLeaseTTL+clHousekeeping+clSlack, "another instance takes the lease", func() error {
		l, err := readLease()
		if err != nil {
			return err
		}
		if l.Holder == first.Holder {
			return fmt.Errorf("still held by the dead instance, until %s", l.ExpiresAt.Format(time.RFC3339Nano))
		}
		n, err := holderNode(l.Holder, survivors)
		if err != nil {
			return err
		}
		next, taker = l, n
		return nil
	})
	t.Logf("instance %s took the lease as %q %s after the kill (lease TTL %s, interval %s)",
		c.name(taker), next.Holder, time.Since(killed).Round(time.Millisecond), clLeaseTTL, clHousekeeping)

	// The new holder purges: the row inserted after the kill, and one inserted now.
	clEventually(t, 2*clHousekeeping+clSlack, "the new holder purges an expired row", purged(expired))
	second := "cl-expired-2-" + randomString(8)
	insertExpired(second, time.Now().Add(-time.Hour))
	clEventually(t, 2*clHousekeeping+clSlack, "the new holder keeps purging", purged(second))
	if err := purged(live)(); err == nil {
		t.Error("housekeeping deleted a deny-list row that has not expired")
	}
	if l, err := readLease(); err != nil || l.Holder != next.Holder {
		t.Errorf("after purging: lease %+v, %v; want it still with %q", l, err, next.Holder)
	}
}
