package e2e

// Fault tests (issue #7): the real binary under load while it is killed, cut off its
// database, or asked to stop. What they prove is stated on each test; the helpers that
// kill, restart and proxy are in restart_helpers_test.go.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"

	"gatehouse/infrastructure/database"
	"gatehouse/infrastructure/database/dbtest"
)

// ftAnswer is one HTTP exchange as the fault tests see it: err is a transport error
// (the request may or may not have reached the server); otherwise status and the whole
// body. truncated means the status line arrived but the body was cut short.
type ftAnswer struct {
	status    int
	body      []byte
	err       error
	truncated bool
}

// ftPost posts a form to srv's path with HTTP Basic (when id is not empty), without
// failing the test: the fault tests call it from goroutines and judge the answer.
func ftPost(ctx context.Context, hc *http.Client, srv *Server, path, body, id, secret string, header http.Header) ftAnswer {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+path, strings.NewReader(body))
	if err != nil {
		return ftAnswer{err: err}
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if id != "" {
		req.SetBasicAuth(basicEscape(id), basicEscape(secret))
	}
	resp, err := hc.Do(req)
	if err != nil {
		return ftAnswer{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return ftAnswer{status: resp.StatusCode, body: b, err: err, truncated: true}
	}
	return ftAnswer{status: resp.StatusCode, body: b}
}

// ftGet is ftPost for a GET without credentials.
func ftGet(ctx context.Context, hc *http.Client, srv *Server, path string) ftAnswer {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+path, nil)
	if err != nil {
		return ftAnswer{err: err}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return ftAnswer{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return ftAnswer{status: resp.StatusCode, body: b, err: err, truncated: true}
	}
	return ftAnswer{status: resp.StatusCode, body: b}
}

// oauthError is the "error" member of a JSON error answer ("" when there is none).
func (a ftAnswer) oauthError() string {
	var m struct {
		Error string `json:"error"`
	}
	_ = json.Unmarshal(a.body, &m)
	return m.Error
}

// tokens parses a token answer; ok is false unless it carries an access token (and a
// refresh token when wantRefresh).
func (a ftAnswer) tokens(wantRefresh bool) (access, refresh string, ok bool) {
	var m struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	if a.status != http.StatusOK || json.Unmarshal(a.body, &m) != nil || m.AccessToken == "" {
		return "", "", false
	}
	if wantRefresh && m.RefreshToken == "" {
		return "", "", false
	}
	return m.AccessToken, m.RefreshToken, true
}

func (a ftAnswer) String() string {
	if a.err != nil {
		if a.truncated {
			return fmt.Sprintf("%d with a truncated body (%v)", a.status, a.err)
		}
		return "transport error: " + a.err.Error()
	}
	return fmt.Sprintf("%d %.200s", a.status, a.body)
}

// ftMintRefresh runs the password grant for user and returns its refresh token (a new
// family each time).
func ftMintRefresh(t *testing.T, srv *Server, hc *http.Client, id, secret, user, pw, scope string) string {
	t.Helper()
	r := srv.PostForm(t, hc, "/oauth/token", form("grant_type", "password", "username", user, "password", pw, "scope", scope), id, secret)
	a := ftAnswer{status: r.Status, body: r.Body}
	access, refresh, ok := a.tokens(true)
	if !ok {
		t.Fatalf("password grant: %s", a)
	}
	srv.Sensitive(access, refresh)
	return refresh
}

// openDB opens the server's database directly (no migrations: the server ran them).
func openDB(t testing.TB, dbURL string) *bun.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, closeDB, err := database.Open(ctx, dbURL)
	if err != nil {
		t.Fatalf("open the server's database: %v", err)
	}
	t.Cleanup(closeDB)
	return db
}

// liveRefreshTokens counts, per token family, the refresh tokens that could still be
// redeemed: not rotated, not revoked, not expired.
func liveRefreshTokens(t testing.TB, db *bun.DB) map[string]int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var rows []struct {
		FamilyID string `bun:"family_id"`
		N        int    `bun:"n"`
	}
	if err := db.NewRaw("SELECT family_id, COUNT(*) AS n FROM refresh_tokens "+
		"WHERE rotated_at IS NULL AND revoked_at IS NULL AND expires_at > ? GROUP BY family_id",
		time.Now().UTC()).Scan(ctx, &rows); err != nil {
		t.Fatalf("count live refresh tokens: %v", err)
	}
	out := map[string]int{}
	for _, r := range rows {
		out[r.FamilyID] = r.N
	}
	return out
}

// waitForDeadClientsStatements waits until no other session on db's database is
// running a statement (PostgreSQL, MariaDB): after a client is killed, the server
// finishes, and commits, what it had received. SQLite runs inside the client.
func waitForDeadClientsStatements(t testing.TB, db *bun.DB) {
	t.Helper()
	var q string
	switch db.Dialect().Name() {
	case dialect.PG:
		q = "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() " +
			"AND backend_type = 'client backend' AND pid <> pg_backend_pid() AND state <> 'idle'"
	case dialect.MySQL:
		q = "SELECT COUNT(*) FROM information_schema.processlist WHERE db = DATABASE() " +
			"AND id <> CONNECTION_ID() AND command <> 'Sleep'"
	default:
		return
	}
	var n int
	done := waitFor(30*time.Second, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := db.NewRaw(q).Scan(ctx, &n); err != nil {
			t.Fatalf("sessions still running statements: %v", err)
		}
		return n == 0
	})
	if !done {
		t.Fatalf("%d sessions of the killed server still run statements after 30 s", n)
	}
}

// countRows counts the rows of table.
func countRows(t testing.TB, db *bun.DB, table string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var n int
	if err := db.NewRaw("SELECT COUNT(*) FROM ?", bun.Ident(table)).Scan(ctx, &n); err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}

// waitFor polls cond every 50 ms until it holds or timeout passes; it reports whether
// it held.
func waitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ftChain is one refresh-token family driven by one goroutine: its last refresh
// token answered with a 200, and whether a request was in flight when the server died.
type ftChain struct {
	last     string
	inFlight bool
	rotated  int
	problem  string
}

// TestFaultSIGKILLDuringRefresh: 16 refresh-token families rotate as fast as they
// can (half of them pause between refreshes, so that some are idle when it happens)
// until the server is killed with SIGKILL, then it starts again on the same database.
// Every family whose last request had completed still refreshes with the last token
// it was given; a family whose request was in flight gets either 200 (the rotation
// did not commit) or invalid_grant (it committed but the answer never arrived, and
// the old token is now a reuse); the database never holds two live refresh tokens in
// one family; no answer is ever a 5xx.
func TestFaultSIGKILLDuringRefresh(t *testing.T) {
	t.Parallel()
	forEachBackend(t, Options{}, func(t *testing.T, srv *Server) {
		const families = 16
		id, secret := srv.CreateClient(t, "--grant-type", "password", "--grant-type", "refresh_token", "--scope", "api:read")
		user, pw, _ := newUser(t, srv)
		setup := srv.HTTPClient()
		chains := make([]*ftChain, families)
		for i := range chains {
			chains[i] = &ftChain{last: ftMintRefresh(t, srv, setup, id, secret, user, pw, "api:read")}
		}
		db := openDB(t, srv.DatabaseURL)
		if n := countRows(t, db, "token_families"); n != families {
			t.Fatalf("%d token families in the database, want %d", n, families)
		}

		var killed atomic.Bool
		var total atomic.Int64
		var wg sync.WaitGroup
		for i, c := range chains {
			wg.Add(1)
			go func() {
				defer wg.Done()
				hc := srv.HTTPClient()
				defer hc.CloseIdleConnections()
				for {
					if killed.Load() {
						return // nothing in flight: the kill came between two refreshes
					}
					c.inFlight = true
					a := ftPost(context.Background(), hc, srv, "/oauth/token",
						form("grant_type", "refresh_token", "refresh_token", c.last), id, secret, nil)
					if a.err != nil && !a.truncated {
						if !killed.Load() {
							c.problem = "before the kill: " + a.String()
						}
						return // the server is gone; the request stays in flight
					}
					_, next, ok := a.tokens(true)
					if !ok {
						c.problem = fmt.Sprintf("refresh %d (killed: %v): %s", c.rotated+1, killed.Load(), a)
						return
					}
					c.last, c.inFlight = next, false
					c.rotated++
					total.Add(1)
					if i%2 == 1 {
						// A client that uses its access token a while before refreshing.
						time.Sleep(time.Duration(5+i) * time.Millisecond)
					}
				}
			}()
		}
		// About 1.5 s of load, and at least a few rotations per family on average
		// (a loaded machine is slower), bounded.
		start := time.Now()
		waitFor(30*time.Second, func() bool {
			return time.Since(start) > 1500*time.Millisecond && total.Load() >= 4*families
		})
		killed.Store(true)
		srv.Kill(t)
		wg.Wait()
		// The database may still be running what the dead server sent last: a pipelined
		// batch of rotations, sent whole, commits without anyone to answer. Measured
		// before it ends, a probe would race that rotation and lose it like a concurrent
		// refresh (invalid_grant, no revocation), leaving a live token nobody holds.
		waitForDeadClientsStatements(t, db)
		t.Logf("%d rotations in %v before SIGKILL", total.Load(), time.Since(start).Round(time.Millisecond))
		for i, c := range chains {
			if c.problem != "" {
				t.Errorf("family %d: %s", i, c.problem)
			}
			srv.Sensitive(c.last)
		}
		if t.Failed() {
			return
		}

		srv2 := restartServer(t, srv)

		// Straight after the crash: one live refresh token in each family, never two.
		live := liveRefreshTokens(t, db)
		if len(live) != families {
			t.Errorf("after the restart, %d families have a live refresh token, want all %d", len(live), families)
		}
		for fam, n := range live {
			if n != 1 {
				t.Errorf("family %s has %d live refresh tokens after the crash, want 1", fam, n)
			}
		}

		var completed, inFlight, inFlight200, inFlightReuse int
		ok200 := 0
		hc := srv2.HTTPClient()
		for i, c := range chains {
			a := ftPost(context.Background(), hc, srv2, "/oauth/token",
				form("grant_type", "refresh_token", "refresh_token", c.last), id, secret, nil)
			if a.err != nil {
				t.Errorf("family %d after the restart: %s", i, a)
				continue
			}
			access, next, good := a.tokens(true)
			srv2.Sensitive(access, next)
			switch {
			case !c.inFlight:
				completed++
				if !good {
					t.Errorf("family %d (last request completed) after the restart: %s, want 200 with a new refresh token", i, a)
				}
			case good:
				inFlight++
				inFlight200++
			case a.status == http.StatusBadRequest && a.oauthError() == "invalid_grant":
				inFlight++
				inFlightReuse++
			default:
				inFlight++
				t.Errorf("family %d (a request in flight at the kill) after the restart: %s, want 200 or 400 invalid_grant", i, a)
			}
			if good {
				ok200++
			}
		}
		t.Logf("at the kill: %d families idle (all refreshed again), %d with a request in flight (%d refreshed, %d invalid_grant)",
			completed, inFlight, inFlight200, inFlightReuse)

		// After the probes: a family that refreshed has exactly one live token; one
		// whose old token was a reuse was revoked whole.
		live = liveRefreshTokens(t, db)
		withOne := 0
		for fam, n := range live {
			if n > 1 {
				t.Errorf("family %s has %d live refresh tokens, want at most 1", fam, n)
			}
			if n == 1 {
				withOne++
			}
		}
		if withOne != ok200 {
			t.Errorf("%d families with a live refresh token after the probes, want %d (one per 200)", withOne, ok200)
		}
	})
}

// ftOutcomes counts the answers of a background load by kind ("200", "503",
// "400 invalid_grant", "transport", …) and keeps the first few unexpected ones.
type ftOutcomes struct {
	mu     sync.Mutex
	counts map[string]int
	bad    []string
}

func newOutcomes() *ftOutcomes { return &ftOutcomes{counts: map[string]int{}} }

func (o *ftOutcomes) add(kind string) {
	o.mu.Lock()
	o.counts[kind]++
	o.mu.Unlock()
}

func (o *ftOutcomes) unexpected(what string, a ftAnswer) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.counts["unexpected"]++
	if len(o.bad) < 10 {
		o.bad = append(o.bad, what+": "+a.String())
	}
}

func (o *ftOutcomes) count(kind string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.counts[kind]
}

func (o *ftOutcomes) report(t *testing.T, what string) {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	t.Logf("%s: %v", what, o.counts)
	for _, b := range o.bad {
		t.Errorf("%s: unexpected answer %s", what, b)
	}
}

// wantUnavailable checks a 503 temporarily_unavailable with Retry-After.
func wantUnavailable(t *testing.T, what string, a ftAnswer, header http.Header) {
	t.Helper()
	if a.err != nil || a.status != http.StatusServiceUnavailable || a.oauthError() != "temporarily_unavailable" {
		t.Errorf("%s while the database is cut off: %s, want 503 temporarily_unavailable", what, a)
		return
	}
	if header != nil && header.Get("Retry-After") == "" {
		t.Errorf("%s: 503 without Retry-After", what)
	}
}

// TestFaultDatabaseCut: the server reaches PostgreSQL through a TCP proxy in the test;
// cutting it (the listener closes and every forwarded connection with it) makes
// /readyz 503, and every token request that needs the database 503
// temporarily_unavailable, never a 500, while client credentials keep being served
// from the client cache; a background load sees only 200 and 503 throughout.
// Restoring the proxy brings /readyz and the token endpoint back without a restart.
// (TestSecurity_S37_StorageFailureIsNot200 refuses connections at the database
// instead; this one breaks the network under live connections.)
func TestFaultDatabaseCut(t *testing.T) {
	t.Parallel()
	realURL := dbtest.Postgres(t)
	u, err := url.Parse(realURL)
	if err != nil {
		t.Fatal(err)
	}
	target := u.Host
	if u.Port() == "" {
		target = net.JoinHostPort(u.Hostname(), "5432")
	}
	proxy := startProxy(t, target)
	proxied := *u
	proxied.Host = proxy.addr
	// A long client cache makes "client credentials need no database" deterministic.
	srv := startServer(t, Options{DatabaseURL: proxied.String(), Env: map[string]string{"GATEHOUSE_CLIENT_CACHE_TTL": "10m"}})

	ccID, ccSecret := srv.CreateClient(t, "--grant-type", "client_credentials", "--scope", "api:read")
	pwID, pwSecret := srv.CreateClient(t, "--grant-type", "password", "--grant-type", "refresh_token", "--scope", "api:read")
	user, pw, _ := newUser(t, srv)
	hc := srv.HTTPClient()
	ctx := context.Background()
	ccBody := form("grant_type", "client_credentials")
	refreshBody := func(rt string) string { return form("grant_type", "refresh_token", "refresh_token", rt) }
	passwordBody := form("grant_type", "password", "username", user, "password", pw, "scope", "api:read")
	kept := ftMintRefresh(t, srv, hc, pwID, pwSecret, user, pw, "api:read") // used after the cut only
	if a := ftPost(ctx, hc, srv, "/oauth/token", ccBody, ccID, ccSecret, nil); a.status != http.StatusOK {
		t.Fatalf("client credentials before the cut: %s", a)
	}

	// Background load through the cut and back: client credentials, introspection and
	// two refresh chains. A refresh answered 503 is retried with the same token, as a
	// client would; if the rotation had committed before the connection died, the
	// retry is a reuse, so invalid_grant is expected there and only there.
	out := newOutcomes()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	load := func(f func(hc *http.Client) bool) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			hc := srv.HTTPClient()
			defer hc.CloseIdleConnections()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if !f(hc) {
					return
				}
			}
		}()
	}
	judge := func(what string, a ftAnswer) string {
		switch {
		case a.err != nil:
			out.unexpected(what, a)
		case a.status == http.StatusOK:
			out.add("200")
			return "200"
		case a.status == http.StatusServiceUnavailable && a.oauthError() == "temporarily_unavailable":
			out.add("503")
			return "503"
		default:
			out.unexpected(what, a)
		}
		return ""
	}
	ccAccess, _, _ := ftPost(ctx, hc, srv, "/oauth/token", ccBody, ccID, ccSecret, nil).tokens(false)
	srv.Sensitive(ccAccess)
	for range 2 {
		load(func(hc *http.Client) bool {
			judge("client_credentials", ftPost(ctx, hc, srv, "/oauth/token", ccBody, ccID, ccSecret, nil))
			return true
		})
	}
	load(func(hc *http.Client) bool {
		judge("introspection", ftPost(ctx, hc, srv, "/oauth/introspect", form("token", ccAccess), ccID, ccSecret, nil))
		return true
	})
	for range 2 {
		rt := ftMintRefresh(t, srv, hc, pwID, pwSecret, user, pw, "api:read")
		retrying := false
		load(func(hc *http.Client) bool {
			a := ftPost(ctx, hc, srv, "/oauth/token", refreshBody(rt), pwID, pwSecret, nil)
			if retrying && a.status == http.StatusBadRequest && a.oauthError() == "invalid_grant" {
				out.add("400 invalid_grant after a 503")
				return false // the chain ends here, as it would for a real client
			}
			switch judge("refresh", a) {
			case "200":
				_, next, ok := a.tokens(true)
				if !ok {
					out.unexpected("refresh without a refresh token", a)
					return false
				}
				rt, retrying = next, false
			case "503":
				retrying = true
				time.Sleep(20 * time.Millisecond)
			default:
				return false
			}
			return true
		})
	}
	if !waitFor(30*time.Second, func() bool { return out.count("200") >= 20 }) {
		t.Fatalf("the background load made no progress before the cut: %d answers 200", out.count("200"))
	}

	proxy.Cut()
	cutAt := out.count("503")
	if !waitFor(15*time.Second, func() bool { return ftGet(ctx, hc, srv, "/readyz").status == http.StatusServiceUnavailable }) {
		t.Errorf("/readyz never answered 503 while the database was cut off")
	}
	if a := ftGet(ctx, hc, srv, "/healthz"); a.status != http.StatusOK {
		t.Errorf("/healthz while the database is cut off: %s (liveness must hold)", a)
	}
	for _, tc := range []struct{ what, body string }{
		{"password grant", passwordBody},
		{"refresh", refreshBody(kept)},
	} {
		r := srv.PostForm(t, hc, "/oauth/token", tc.body, pwID, pwSecret)
		wantUnavailable(t, tc.what, ftAnswer{status: r.Status, body: r.Body}, r.Header)
	}
	// Client credentials need no database while the client is cached: still served.
	if a := ftPost(ctx, hc, srv, "/oauth/token", ccBody, ccID, ccSecret, nil); a.status != http.StatusOK {
		t.Errorf("client credentials while the database is cut off (client cached): %s, want 200", a)
	}
	// Let the background load meet the cut too.
	if !waitFor(15*time.Second, func() bool { return out.count("503") >= cutAt+10 }) {
		t.Errorf("the background load saw no 503 while the database was cut off (%d)", out.count("503")-cutAt)
	}

	proxy.Restore(t)
	restored := time.Now()
	if !waitFor(30*time.Second, func() bool { return ftGet(ctx, hc, srv, "/readyz").status == http.StatusOK }) {
		t.Fatalf("/readyz not 200 within 30 s of the database coming back")
	}
	var last ftAnswer
	if !waitFor(30*time.Second, func() bool {
		last = ftPost(ctx, hc, srv, "/oauth/token", passwordBody, pwID, pwSecret, nil)
		return last.status == http.StatusOK
	}) {
		t.Fatalf("password grant not 200 within 30 s of the database coming back: %s", last)
	}
	if access, next, ok := last.tokens(true); ok {
		srv.Sensitive(access, next)
	}
	// The refresh token that met the cut was never rotated: it still works.
	a := ftPost(ctx, hc, srv, "/oauth/token", refreshBody(kept), pwID, pwSecret, nil)
	access, next, ok := a.tokens(true)
	srv.Sensitive(access, next)
	if !ok {
		t.Errorf("refresh after the database came back: %s, want 200", a)
	}
	t.Logf("ready and serving again %v after the proxy was restored", time.Since(restored).Round(time.Millisecond))
	// A little more load on the restored database, then stop it.
	after := out.count("200")
	if !waitFor(30*time.Second, func() bool { return out.count("200") >= after+20 }) {
		t.Errorf("the background load did not recover: %d answers 200 since the restore", out.count("200")-after)
	}
	close(stop)
	wg.Wait()
	out.report(t, "background load through the cut")
}

// TestFaultSIGTERMDuringLoad: while 32 connections load the server with client
// credentials and refreshes, 16 password-grant requests are started (argon2id at its
// default cost, 19 MiB and 2 passes, a few at a time: slow). Once each has been
// written and the server has begun handling it (its handler asked for the body: 100
// Continue; a request net/http reads only after Shutdown began would be dropped,
// which is not what is tested here), SIGTERM. Every one of those requests finishes
// with 200; the background load sees only 200s, and connection errors after the
// shutdown began (never a 5xx, never a truncated answer); the process exits 0 within
// its 20 s drain.
func TestFaultSIGTERMDuringLoad(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Options{})
	ccID, ccSecret := srv.CreateClient(t, "--grant-type", "client_credentials", "--scope", "api:read")
	pwID, pwSecret := srv.CreateClient(t, "--grant-type", "password", "--grant-type", "refresh_token", "--scope", "api:read")
	fastUser, fastPW, _ := newUser(t, srv)
	slowUser, slowPW := uniqueName("slow"), "pw-"+randomString(20)
	srv.Sensitive(slowPW)
	if _, errOut, code := srv.CLIWith(t, map[string]string{"GATEHOUSE_ARGON2_MEMORY": "19456", "GATEHOUSE_ARGON2_ITERATIONS": "2"},
		slowPW+"\n", "users", "create", "--username", slowUser, "--password-stdin"); code != 0 {
		t.Fatalf("users create: exit %d: %s", code, errOut)
	}
	setup := srv.HTTPClient()
	ctx := context.Background()

	const background, slow = 32, 16
	var termed atomic.Bool
	out := newOutcomes()
	var wg sync.WaitGroup
	for i := range background {
		rt := ""
		if i%2 == 1 {
			rt = ftMintRefresh(t, srv, setup, pwID, pwSecret, fastUser, fastPW, "api:read")
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			hc := srv.HTTPClient()
			defer hc.CloseIdleConnections()
			for {
				var a ftAnswer
				what := "client_credentials"
				if rt == "" {
					a = ftPost(ctx, hc, srv, "/oauth/token", form("grant_type", "client_credentials"), ccID, ccSecret, nil)
				} else {
					what = "refresh"
					a = ftPost(ctx, hc, srv, "/oauth/token", form("grant_type", "refresh_token", "refresh_token", rt), pwID, pwSecret, nil)
				}
				switch {
				case a.err != nil && !a.truncated:
					if !termed.Load() {
						out.unexpected(what+" before SIGTERM", a)
						return
					}
					out.add("connection error after SIGTERM")
					return // the server stops accepting; so does this worker
				case a.truncated:
					out.unexpected(what+" (truncated)", a)
					return
				}
				_, next, ok := a.tokens(rt != "")
				if !ok {
					out.unexpected(what, a)
					return
				}
				out.add("200")
				if rt != "" {
					rt = next
				}
			}
		}()
	}
	if !waitFor(30*time.Second, func() bool { return out.count("200") >= 100 }) {
		t.Fatalf("the background load made no progress: %d answers 200", out.count("200"))
	}

	// The slow requests, each on its own new connection. Expect: 100-continue makes
	// the server say when its handler starts reading the body: from then on the
	// request is the server's, and a graceful shutdown must finish it.
	type slowReq struct {
		started, wrote chan struct{}
		answer         ftAnswer
		doneAt         time.Time
	}
	reqs := make([]*slowReq, slow)
	var slowWG sync.WaitGroup
	for i := range reqs {
		r := &slowReq{started: make(chan struct{}), wrote: make(chan struct{})}
		reqs[i] = r
		slowWG.Add(1)
		go func() {
			defer slowWG.Done()
			hc := srv.HTTPClient()
			defer hc.CloseIdleConnections()
			hc.Transport.(*http.Transport).ExpectContinueTimeout = time.Minute
			var once1, once2 sync.Once
			trace := &httptrace.ClientTrace{
				Got100Continue: func() { once1.Do(func() { close(r.started) }) },
				WroteRequest:   func(httptrace.WroteRequestInfo) { once2.Do(func() { close(r.wrote) }) },
			}
			h := http.Header{"Expect": {"100-continue"}}
			r.answer = ftPost(httptrace.WithClientTrace(ctx, trace), hc, srv, "/oauth/token",
				form("grant_type", "password", "username", slowUser, "password", slowPW, "scope", "api:read"), pwID, pwSecret, h)
			r.doneAt = time.Now()
		}()
	}
	deadline := time.After(60 * time.Second)
	for i, r := range reqs {
		for _, ch := range []chan struct{}{r.started, r.wrote} {
			select {
			case <-ch:
			case <-deadline:
				termed.Store(true)
				srv.Stop(t)
				t.Fatalf("password request %d: the server had not begun handling it after 60 s", i)
			}
		}
	}
	termed.Store(true)
	termAt := time.Now()
	if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	select {
	case <-srv.done:
	case <-time.After(25 * time.Second):
		t.Errorf("the server did not exit within 25 s of SIGTERM (its drain is 20 s)")
	}
	exitedAfter := time.Since(termAt)
	slowWG.Wait()
	wg.Wait()
	if gone, err := srv.Exited(); gone && err != nil {
		t.Errorf("the server exited with %v after SIGTERM, want status 0", err)
	}

	inFlight := 0
	for i, r := range reqs {
		access, refresh, ok := r.answer.tokens(true)
		srv.Sensitive(access, refresh)
		if !ok {
			t.Errorf("password request %d, in the server's hands at SIGTERM: %s, want 200", i, r.answer)
		}
		if r.doneAt.After(termAt) {
			inFlight++
		}
	}
	if inFlight == 0 {
		t.Errorf("every password request had finished before SIGTERM: the test proved nothing")
	}
	t.Logf("SIGTERM with %d of %d password requests unfinished; all 200; exit after %v",
		inFlight, slow, exitedAfter.Round(time.Millisecond))
	out.report(t, "background load")
	if !strings.Contains(srv.Log(), "shutting down") {
		t.Errorf("no 'shutting down' line in the log")
	}
}
