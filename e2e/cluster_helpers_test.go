package e2e

// Helpers for several instances of `gatehouse serve` on one database, as they run
// behind a load balancer: the same GATEHOUSE_DATABASE_URL, GATEHOUSE_SECRET_KEY and
// GATEHOUSE_ISSUER (the public URL). Nothing listens on the issuer URL here: each test
// picks the instance of every request itself, which is what a round-robin balancer
// without sticky sessions may do. Names start with cl to stay out of the way of the
// other end-to-end files.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/uptrace/bun"

	"gatehouse/infrastructure/database"
)

// clIssuer is the public URL of the cluster. It is http, so cookies are not Secure and
// the test's cookie jar sends them to every instance on 127.0.0.1 (cookies ignore the
// port, as a load balancer's single host name would make them shared).
const clIssuer = "http://gatehouse.test"

// clCluster is N instances on one database.
type clCluster struct {
	Issuer      string
	DatabaseURL string
	Nodes       []*Server
}

// startCluster starts n instances on dbURL at the same time (all migrating on start,
// GATEHOUSE_AUTO_MIGRATE defaulting to true), with env added to each one's
// environment, and waits until every one is ready. They are stopped (SIGTERM, exit
// status 0, no secret in the log) when t ends.
func startCluster(t *testing.T, dbURL string, n int, env map[string]string) *clCluster {
	t.Helper()
	shared := map[string]string{
		"GATEHOUSE_ISSUER":     clIssuer,
		"GATEHOUSE_SECRET_KEY": randomString(48),
	}
	for k, v := range env {
		shared[k] = v
	}
	nodes := make([]*Server, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		dir := t.TempDir()
		wg.Go(func() {
			<-start
			nodes[i], errs[i] = launch(Options{DatabaseURL: dbURL, Env: shared}, dir)
		})
	}
	close(start)
	wg.Wait()
	c := &clCluster{Issuer: clIssuer, DatabaseURL: dbURL}
	for _, srv := range nodes {
		if srv == nil {
			continue
		}
		c.Nodes = append(c.Nodes, srv)
		t.Cleanup(func() {
			srv.Stop(t)
			if t.Failed() {
				t.Logf("e2e: end of the log of the instance at %s:\n%s", srv.URL, tail(srv.Log(), 40))
			}
		})
	}
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("e2e: start %d instances at once: %v", n, err)
	}
	return c
}

// name is how the tests call instance i: A, B, C…
func (c *clCluster) name(srv *Server) string {
	for i, n := range c.Nodes {
		if n == srv {
			return string(rune('A' + i))
		}
	}
	return srv.URL
}

// sensitive registers values that no instance may log.
func (c *clCluster) sensitive(values ...string) {
	for _, n := range c.Nodes {
		n.Sensitive(values...)
	}
}

// createClient registers a client through the CLI (on the shared database) and returns
// its id and secret.
func (c *clCluster) createClient(t testing.TB, args ...string) (id, secret string) {
	t.Helper()
	id, secret = c.Nodes[0].CreateClient(t, args...)
	c.sensitive(secret)
	return id, secret
}

// createUser creates a user with a fresh name and returns name, password and id.
func (c *clCluster) createUser(t testing.TB) (name, password, id string) {
	t.Helper()
	name, password = uniqueName("cluser"), "pw-"+randomString(20)
	c.sensitive(password)
	return name, password, c.Nodes[0].CreateUser(t, name, password)
}

// verifyAccessToken checks raw like a resource server of the cluster would: signed by
// a key that every instance publishes in the same JWKS, typ at+jwt, iss the cluster's
// public URL (never an instance's own address).
func (c *clCluster) verifyAccessToken(t testing.TB, raw string) accessClaims {
	t.Helper()
	keys := fetchJWKS(t, c.Nodes[0])
	for _, n := range c.Nodes[1:] {
		other := fetchJWKS(t, n)
		if len(other) != len(keys) {
			t.Fatalf("instance %s publishes %d keys, %s %d", c.name(n), len(other), c.name(c.Nodes[0]), len(keys))
		}
		for kid, k := range keys {
			if o, ok := other[kid]; !ok || o != k {
				t.Fatalf("instance %s publishes key %s differently, or not at all", c.name(n), kid)
			}
		}
	}
	var claims accessClaims
	_, err := jwt.ParseWithClaims(raw, &claims, func(tok *jwt.Token) (any, error) {
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
	}, jwt.WithValidMethods([]string{"ES256", "RS256", "EdDSA"}), jwt.WithIssuer(c.Issuer), jwt.WithExpirationRequired())
	if err != nil {
		t.Fatalf("access token does not verify against the cluster's JWKS: %v", err)
	}
	return claims
}

// clOn returns a browser for srv that shares b's cookie jar and address: the same
// browser, its next request sent to another instance.
func clOn(b *azBrowser, srv *Server) *azBrowser {
	return &azBrowser{t: b.t, srv: srv, hc: b.hc}
}

// clDevice is clOn for the device page's browser.
func clDevice(b *azBrowser, srv *Server) *dvBrowser {
	return &dvBrowser{t: b.t, srv: srv, hc: b.hc}
}

// kill ends the instance with SIGKILL, a crash: no graceful shutdown, no lease given
// back. Its later Stop does nothing; its log is still checked for secrets.
func (s *Server) kill(t testing.TB) {
	t.Helper()
	s.stopOnce.Do(func() {
		_ = s.cmd.Process.Kill()
		<-s.done
		log := s.Log()
		for _, v := range s.sensitiveValues() {
			if strings.Contains(log, v) {
				t.Errorf("SECURITY S46: the log of the server at %s contains a secret or token (%.6s…)", s.URL, v)
			}
		}
	})
}

// clDB opens the cluster's database for the test to look at (the leases table, say).
func clDB(t testing.TB, dbURL string) *bun.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, closeDB, err := database.Open(ctx, dbURL)
	if err != nil {
		t.Fatalf("open the cluster's database: %v", err)
	}
	t.Cleanup(closeDB)
	return db
}

// clEventually calls f every 100 ms until it returns nil or timeout passes, and then
// fails with f's last error.
func clEventually(t testing.TB, timeout time.Duration, what string, f func() error) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		err := f()
		if err == nil {
			return time.Since(start)
		}
		if time.Since(start) > timeout {
			t.Fatalf("%s: not within %s: %v", what, timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// clBearer sends a GET to path on srv with an access token.
func clBearer(t testing.TB, srv *Server, hc *http.Client, path, token string) Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	return srv.Do(t, hc, req)
}
