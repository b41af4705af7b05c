package e2e

// Changes take effect at once (issue 18): a client deleted or its secret rotated, a
// signing key rotated or revoked — by the CLI, on the shared database — reaches every
// running instance within one second, on three instances on PostgreSQL (LISTEN/NOTIFY),
// two on MariaDB (a polled counter) and one SQLite server with the CLI beside it
// (PRAGMA data_version). The instances keep the default client cache TTL (5 s) and key
// refresh interval (30 s): only the change feed can make the second. Names start with
// ch to stay out of the way of the other end-to-end files.

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse/infrastructure/database/dbtest"
)

// chContract is the bound within which a change reaches every instance.
const chContract = time.Second

// chDeployment is a set of instances on one database, and the CLI beside them.
type chDeployment struct {
	name   string
	issuer string
	nodes  []*Server
	hcs    map[*Server]*http.Client // one address per instance, for the test's own calls
}

func (d *chDeployment) node(i int) string { return string(rune('A' + i)) }

// cli runs the gatehouse CLI with the deployment's environment (any host with the
// same configuration: here the first instance's).
func (d *chDeployment) cli(t *testing.T, args ...string) (stdout, stderr string, exit int) {
	t.Helper()
	return d.nodes[0].CLI(t, "", args...)
}

func (d *chDeployment) sensitive(values ...string) {
	for _, n := range d.nodes {
		n.Sensitive(values...)
	}
}

// chForDeployments runs f on three instances on PostgreSQL, two on MariaDB and one
// SQLite server, each deployment in its own subtest, at the same time. sharedEnv is
// added to the environment of the instances on a shared database (PostgreSQL,
// MariaDB); the SQLite server keeps the defaults.
func chForDeployments(t *testing.T, sharedEnv map[string]string, f func(t *testing.T, d *chDeployment)) {
	t.Helper()
	setups := []struct {
		name  string
		start func(t *testing.T) *chDeployment
	}{
		{"postgres_3_instances", func(t *testing.T) *chDeployment {
			c := startCluster(t, dbtest.Postgres(t), 3, sharedEnv)
			return &chDeployment{issuer: c.Issuer, nodes: c.Nodes}
		}},
		{"mariadb_2_instances", func(t *testing.T) *chDeployment {
			c := startCluster(t, dbtest.MySQL(t), 2, sharedEnv)
			return &chDeployment{issuer: c.Issuer, nodes: c.Nodes}
		}},
		{"sqlite_cli_beside_one_server", func(t *testing.T) *chDeployment {
			srv := startServer(t, Options{})
			return &chDeployment{issuer: srv.URL, nodes: []*Server{srv}}
		}},
	}
	var wg sync.WaitGroup
	for _, s := range setups {
		wg.Go(func() {
			t.Run(s.name, func(t *testing.T) {
				d := s.start(t)
				d.name = s.name
				d.hcs = map[*Server]*http.Client{}
				for _, n := range d.nodes {
					d.hcs[n] = n.HTTPClient()
				}
				f(t, d)
			})
		})
	}
	wg.Wait()
}

// everywhereWithin polls check on every instance every 50 ms until it has passed on
// each, and fails unless that happened within bound of since (a check counts at the
// moment it started). It returns how long the slowest instance took.
func (d *chDeployment) everywhereWithin(t *testing.T, since time.Time, bound time.Duration, what string,
	check func(i int, n *Server) error) time.Duration {
	t.Helper()
	passed := make([]bool, len(d.nodes))
	lastErr := make([]error, len(d.nodes))
	var slowest time.Duration
	for {
		remaining := 0
		for i, n := range d.nodes {
			if passed[i] {
				continue
			}
			started := time.Now()
			if started.Sub(since) > bound {
				remaining++
				continue
			}
			if lastErr[i] = check(i, n); lastErr[i] == nil {
				passed[i] = true
				slowest = max(slowest, started.Sub(since))
				continue
			}
			remaining++
		}
		if remaining == 0 {
			t.Logf("%s: %s on every instance after %s", d.name, what, slowest.Round(time.Millisecond))
			return slowest
		}
		if time.Since(since) > bound {
			var msgs []string
			for i := range d.nodes {
				if !passed[i] {
					msgs = append(msgs, fmt.Sprintf("instance %s: %v", d.node(i), lastErr[i]))
				}
			}
			t.Fatalf("%s: %s: not within %s: %s", d.name, what, bound, strings.Join(msgs, "; "))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ccToken asks instance n for a client credentials token: the status and, on 200, the
// token (registered as sensitive).
func (d *chDeployment) ccToken(t *testing.T, n *Server, id, secret string) (int, string, string) {
	t.Helper()
	r := n.PostForm(t, d.hcs[n], "/oauth/token", form("grant_type", "client_credentials"), id, secret)
	if r.Status != http.StatusOK {
		code, _ := r.JSON(t)["error"].(string)
		return r.Status, code, ""
	}
	at, _ := r.JSON(t)["access_token"].(string)
	d.sensitive(at)
	return r.Status, "", at
}

// chClient registers a client_credentials client and uses it on every instance, so that
// each has it in its cache.
func (d *chDeployment) chClient(t *testing.T) (id, secret string) {
	t.Helper()
	id, secret = d.nodes[0].CreateClient(t, "--grant-type", "client_credentials", "--scope", "api")
	d.sensitive(secret)
	for i, n := range d.nodes {
		if status, code, _ := d.ccToken(t, n, id, secret); status != http.StatusOK {
			t.Fatalf("client credentials on %s: %d %s", d.node(i), status, code)
		}
	}
	return id, secret
}

// refusedClient: instance n answers the credentials with 401 invalid_client.
func (d *chDeployment) refusedClient(t *testing.T, n *Server, id, secret string) error {
	status, code, _ := d.ccToken(t, n, id, secret)
	if status == http.StatusUnauthorized && code == "invalid_client" {
		return nil
	}
	return fmt.Errorf("client credentials: %d %s", status, code)
}

// TestSecurity_S58_DeletedClientCannotAuthenticateAnywhere: a client deleted with the
// CLI, which every instance had just used (and so kept in memory), is refused by every
// instance within a second, and stays refused.
func TestSecurity_S58_DeletedClientCannotAuthenticateAnywhere(t *testing.T) {
	t.Parallel()
	chForDeployments(t, nil, func(t *testing.T, d *chDeployment) {
		id, secret := d.chClient(t)
		if _, errOut, code := d.cli(t, "clients", "delete", id); code != 0 {
			t.Fatalf("clients delete: exit %d: %s", code, errOut)
		}
		d.everywhereWithin(t, time.Now(), chContract, "the deleted client refused", func(_ int, n *Server) error {
			return d.refusedClient(t, n, id, secret)
		})
		for i, n := range d.nodes {
			if err := d.refusedClient(t, n, id, secret); err != nil {
				t.Errorf("instance %s, later: %v", d.node(i), err)
			}
		}
	})
}

// TestChanges_ReachEveryInstanceWithinASecond: a rotated secret (the old one refused,
// the new one accepted) and rotated signing keys reach every instance within a second.
// On a shared database a rotated key is published at once and signs only after the
// activation delay (here 1 h); `keys rotate --now`, and on SQLite any rotation, signs
// at once.
func TestChanges_ReachEveryInstanceWithinASecond(t *testing.T) {
	t.Parallel()
	// The SQLite server keeps its default activation delay (0 s: one instance); the
	// shared databases take an hour, so that a delayed key visibly does not sign.
	shared := map[string]string{"GATEHOUSE_KEY_ACTIVATION_DELAY": "1h"}
	chForDeployments(t, shared, func(t *testing.T, d *chDeployment) {
		shared := len(d.nodes) > 1
		// Each instance says how it follows the changes, and shows it in /metrics.
		mode := "poll"
		if strings.HasPrefix(d.name, "postgres") {
			mode = "listen"
		}
		for i, n := range d.nodes {
			// Logged once the feed follows, which may be a moment after /readyz.
			clEventually(t, 10*time.Second, "instance "+d.node(i)+" logs change feed connected mode="+mode, func() error {
				if !strings.Contains(n.Log(), `msg="change feed connected" mode=`+mode) {
					return errors.New("not in the log")
				}
				return nil
			})
		}
		defer func() {
			for i, n := range d.nodes {
				m := string(n.Get(t, d.hcs[n], "/metrics").Body)
				for _, want := range []string{"\ngatehouse_change_feed_up 1\n", "\ngatehouse_change_notifications_total{topic=\"clients\"} ",
					"\ngatehouse_change_notifications_total{topic=\"keys\"} "} {
					if !strings.Contains(m, want) {
						t.Errorf("instance %s: /metrics lacks %q", d.node(i), strings.TrimSpace(want))
					}
				}
			}
		}()
		t.Run("SecretRotation", func(t *testing.T) {
			id, old := d.chClient(t)
			var out struct {
				ClientSecret string `json:"client_secret"`
			}
			d.nodes[0].CLIJSON(t, &out, "", "clients", "rotate-secret", id)
			d.sensitive(out.ClientSecret)
			d.everywhereWithin(t, time.Now(), chContract, "the old secret refused, the new one accepted", func(_ int, n *Server) error {
				if err := d.refusedClient(t, n, id, old); err != nil {
					return fmt.Errorf("old secret: %w", err)
				}
				if status, code, _ := d.ccToken(t, n, id, out.ClientSecret); status != http.StatusOK {
					return fmt.Errorf("new secret: %d %s", status, code)
				}
				return nil
			})
		})
		t.Run("KeyRotateNow", func(t *testing.T) {
			id, secret := d.chClient(t)
			var k keyListRow
			d.nodes[0].CLIJSON(t, &k, "", "keys", "rotate", "--now")
			if k.State != "active" {
				t.Fatalf("keys rotate --now: %+v", k)
			}
			d.everywhereWithin(t, time.Now(), chContract, "the new key published and signing", func(_ int, n *Server) error {
				jwks := fetchJWKS(t, n)
				if _, ok := jwks[k.KID]; !ok {
					return errors.New("the new key is not in the JWKS")
				}
				_, _, at := d.ccToken(t, n, id, secret)
				if at == "" {
					return errors.New("no token")
				}
				if kid, err := verifyWithJWKS(t, jwks, d.issuer, at); err != nil || kid != k.KID {
					return fmt.Errorf("a new token is signed by %s (%v), want %s", kid, err, k.KID)
				}
				return nil
			})
		})
		t.Run("KeyRotate", func(t *testing.T) {
			id, secret := d.chClient(t)
			_, _, before := d.ccToken(t, d.nodes[0], id, secret)
			oldKID := rsKID(t, before)
			var k keyListRow
			d.nodes[0].CLIJSON(t, &k, "", "keys", "rotate")
			wantState := "active" // SQLite: no activation delay
			if shared {
				wantState = "next"
			}
			if k.State != wantState {
				t.Fatalf("keys rotate: state %q, want %q", k.State, wantState)
			}
			d.everywhereWithin(t, time.Now(), chContract, "the rotated key published", func(_ int, n *Server) error {
				jwks := fetchJWKS(t, n)
				if _, ok := jwks[k.KID]; !ok {
					return errors.New("the new key is not in the JWKS")
				}
				_, _, at := d.ccToken(t, n, id, secret)
				want := k.KID
				if shared {
					want = oldKID // published at once, signing after the activation delay
				}
				if kid, err := verifyWithJWKS(t, jwks, d.issuer, at); err != nil || kid != want {
					return fmt.Errorf("a new token is signed by %s (%v), want %s", kid, err, want)
				}
				return nil
			})
		})
	})
}

// TestAudit18_KeysRevokeRefusesItsTokensEverywhere (finding 9): `keys revoke KID` of the
// key that signed a user's access token. Within a second, on every instance, the key
// is gone from the JWKS, introspection calls the token inactive, userinfo refuses it
// (401), and new tokens are signed by a replacement that verifies and is active —
// at once, although a shared database has an activation delay (here the default,
// 95 s). Revoking again is harmless and says so; an unknown kid is a one-line error
// (exit 2); `keys list` shows the key as revoked.
func TestAudit18_KeysRevokeRefusesItsTokensEverywhere(t *testing.T) {
	t.Parallel()
	chForDeployments(t, nil, func(t *testing.T, d *chDeployment) {
		a := d.nodes[0]
		ccID, ccSecret := d.chClient(t)
		name, pass := uniqueName("revuser"), "pw-"+randomString(16)
		d.sensitive(pass)
		a.CreateUser(t, name, pass)
		pid, psecret := a.CreateClient(t, "--grant-type", "password", "--scope", "openid profile")
		d.sensitive(psecret)
		tok, err := userConfig(a, pid, psecret, "openid", "profile").PasswordCredentialsToken(ctxWith(d.hcs[a]), name, pass)
		if err != nil {
			t.Fatalf("password grant on A: %v", err)
		}
		d.sensitive(tok.AccessToken, tok.RefreshToken)
		if idt, _ := tok.Extra("id_token").(string); idt != "" {
			d.sensitive(idt)
		}
		kid := rsKID(t, tok.AccessToken)
		for i, n := range d.nodes {
			if m := introspect(t, n, d.hcs[n], ccID, ccSecret, tok.AccessToken); m["active"] != true {
				t.Fatalf("before the revocation, instance %s: introspection %v", d.node(i), m)
			}
			if r := clBearer(t, n, d.hcs[n], "/userinfo", tok.AccessToken); r.Status != http.StatusOK {
				t.Fatalf("before the revocation, instance %s: userinfo %d %s", d.node(i), r.Status, r.Body)
			}
		}

		out, errOut, code := d.cli(t, "keys", "revoke", kid, "--json")
		revokedAt := time.Now()
		if code != 0 {
			t.Fatalf("keys revoke: exit %d: %s", code, errOut)
		}
		m, keys := jsonKeys(t, out)
		if want := "alg already_revoked kid replacement revoked revoked_at"; strings.Join(keys, " ") != want {
			t.Errorf("keys revoke --json has members %v, want %s", keys, want)
		}
		repl, _ := m["replacement"].(map[string]any)
		replKID, _ := repl["kid"].(string)
		if m["kid"] != kid || m["alg"] != "ES256" || m["revoked"] != true || m["already_revoked"] != false ||
			replKID == "" || repl["alg"] != "ES256" || repl["state"] != "active" {
			t.Fatalf("keys revoke --json: %s", out)
		}
		if !strings.Contains(errOut, "cached JWKS") {
			t.Errorf("keys revoke says nothing of resource servers' cached JWKS: %q", errOut)
		}

		d.everywhereWithin(t, revokedAt, chContract, "the revoked key's token refused, its replacement signing", func(_ int, n *Server) error {
			jwks := fetchJWKS(t, n)
			if _, ok := jwks[kid]; ok {
				return errors.New("the revoked key is still in the JWKS")
			}
			if _, ok := jwks[replKID]; !ok {
				return errors.New("the replacement is not in the JWKS")
			}
			if m := introspect(t, n, d.hcs[n], ccID, ccSecret, tok.AccessToken); len(m) != 1 || m["active"] != false {
				return fmt.Errorf("introspection of the revoked key's token: %v", m)
			}
			if r := clBearer(t, n, d.hcs[n], "/userinfo", tok.AccessToken); r.Status != http.StatusUnauthorized {
				return fmt.Errorf("userinfo with the revoked key's token: %d", r.Status)
			}
			_, _, fresh := d.ccToken(t, n, ccID, ccSecret)
			if got, err := verifyWithJWKS(t, jwks, d.issuer, fresh); err != nil || got != replKID {
				return fmt.Errorf("a new token is signed by %s (%v), want the replacement %s", got, err, replKID)
			}
			if m := introspect(t, n, d.hcs[n], ccID, ccSecret, fresh); m["active"] != true {
				return fmt.Errorf("a token of the replacement is not active: %v", m)
			}
			return nil
		})
		// A new user token works at userinfo everywhere.
		tok2, err := userConfig(a, pid, psecret, "openid", "profile").PasswordCredentialsToken(ctxWith(d.hcs[a]), name, pass)
		if err != nil {
			t.Fatal(err)
		}
		d.sensitive(tok2.AccessToken, tok2.RefreshToken)
		if idt, _ := tok2.Extra("id_token").(string); idt != "" {
			d.sensitive(idt)
		}
		for i, n := range d.nodes {
			if r := clBearer(t, n, d.hcs[n], "/userinfo", tok2.AccessToken); r.Status != http.StatusOK {
				t.Errorf("instance %s: userinfo with a token of the replacement: %d %s", d.node(i), r.Status, r.Body)
			}
		}

		// Twice: harmless, and said so.
		out, errOut, code = d.cli(t, "keys", "revoke", kid)
		if code != 0 || !strings.Contains(out, "already revoked") || errOut != "" {
			t.Errorf("keys revoke twice: exit %d, stdout %q, stderr %q", code, out, errOut)
		}
		var again struct {
			Revoked        bool            `json:"revoked"`
			AlreadyRevoked bool            `json:"already_revoked"`
			Replacement    *map[string]any `json:"replacement"`
		}
		d.nodes[0].CLIJSON(t, &again, "", "keys", "revoke", kid)
		if !again.Revoked || !again.AlreadyRevoked || again.Replacement != nil {
			t.Errorf("keys revoke --json twice: %+v", again)
		}
		out, errOut, code = d.cli(t, "keys", "revoke", "no-such-kid")
		wantUsage(t, "keys revoke of an unknown kid", out, errOut, code, "no-such-kid")
		out, errOut, code = d.cli(t, "keys", "revoke")
		wantUsage(t, "keys revoke without a kid", out, errOut, code, "kid")

		var rows []keyListRow
		d.nodes[0].CLIJSON(t, &rows, "", "keys", "list")
		found := false
		for _, r := range rows {
			if r.KID == kid {
				found = true
				if r.Status != "revoked" || r.State != "revoked" {
					t.Errorf("keys list --json: the revoked key is %+v", r)
				}
			}
		}
		if !found {
			t.Errorf("keys list --json lacks the revoked key")
		}
		text, _, _ := d.cli(t, "keys", "list")
		if !strings.Contains(text, kid) || !strings.Contains(text, " revoked ") {
			t.Errorf("keys list does not show the key as revoked:\n%s", text)
		}
		// Still gone from every JWKS after it all.
		for i, n := range d.nodes {
			if _, ok := fetchJWKS(t, n)[kid]; ok {
				t.Errorf("instance %s publishes the revoked key again", d.node(i))
			}
		}
	})
}
