package e2e

// Throttling shared by instances (GATEHOUSE_THROTTLE_STORE): two real servers on one
// PostgreSQL database count failures together, so an attacker spreading guesses over
// them gets one allowance, and the lockout shows on both; with SQLite the counters
// stay in memory by default.

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"gatehouse/domain"
	"gatehouse/infrastructure/database"
	"gatehouse/infrastructure/database/dbtest"
)

// throttleRows counts the rows of throttle_counters in the server's database.
func throttleRows(t *testing.T, dbURL string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, closeDB, err := database.Open(ctx, dbURL)
	if err != nil {
		t.Fatalf("open the server's database: %v", err)
	}
	defer closeDB()
	var n int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM throttle_counters").Scan(&n); err != nil {
		t.Fatalf("count throttle counters: %v", err)
	}
	return n
}

// logShows waits until the server's log holds want: the log reaches the test through
// a pipe, a little after the server wrote it.
func logShows(srv *Server, want string) bool {
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if strings.Contains(srv.Log(), want) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}

// lockWatch follows the failures of one username the way the shared counter sees
// them, so that a test can tell "not locked because the lock already ended" (a slow
// machine) from "not locked at all" (counters not shared).
type lockWatch struct {
	t        *testing.T
	policy   domain.ThrottlePolicy
	failures int       // failures counted so far (answers other than 429)
	lastSent time.Time // when the request of the last counted failure was sent
}

// attempt sends one guess with send. A 429 is returned as throttled. Any other answer
// must be want (the guess failed and was counted), and must not have come back
// while the lock set by the previous failures was certainly still running: that lock
// ends no earlier than lastSent plus the policy's delay.
func (w *lockWatch) attempt(what string, want int, send func() Response) (Response, bool) {
	w.t.Helper()
	sent := time.Now()
	r := send()
	back := time.Now()
	if r.Status == http.StatusTooManyRequests {
		return r, true
	}
	if r.Status != want {
		w.t.Fatalf("%s: %d %s, want %d or 429", what, r.Status, r.Body, want)
	}
	if lockEnd := w.lastSent.Add(w.policy.Delay(w.failures)); back.Before(lockEnd) {
		w.t.Fatalf("%s: answered %d while %d failures had locked the user until at least %s (%s before the answer); "+
			"the instances do not share their counters", what, r.Status, w.failures, lockEnd.Format(time.StampMilli), lockEnd.Sub(back))
	}
	w.failures++
	w.lastSent = sent
	return r, false
}

func loginAlert(r Response) string {
	m := regexp.MustCompile(`role="alert">([^<]*)<`).FindStringSubmatch(string(r.Body))
	if m == nil {
		return ""
	}
	return m[1]
}

// TestThrottle_SharedByInstancesOnPostgres: wrong passwords for one username, spread
// over two instances on one database, lock the user after the free failures of one
// instance (SECURITY S28): with counters in each instance's memory it would take
// twice as many. The lock is then seen on both instances, on the token endpoint (429
// with Retry-After) and on the login page (429 with a clear message), from addresses
// that never failed.
func TestThrottle_SharedByInstancesOnPostgres(t *testing.T) {
	t.Parallel()
	dbURL := dbtest.Postgres(t)
	opts := Options{DatabaseURL: dbURL, Env: map[string]string{"GATEHOUSE_SECRET_KEY": randomString(48)}}
	a := startServer(t, opts)
	b := startServer(t, opts)
	for name, srv := range map[string]*Server{"a": a, "b": b} {
		if !logShows(srv, "throttle_store=database") {
			t.Errorf("instance %s on PostgreSQL does not say it throttles through the database:\n%s", name, tail(srv.Log(), 10))
		}
	}
	id, secret := a.CreateClient(t, "--grant-type", "password")
	name, pwd := uniqueName("victim"), "the right password "+randomString(8)
	a.CreateUser(t, name, pwd)
	b.Sensitive(secret, pwd)
	instances := []*Server{a, b}
	token := func(srv *Server, hc *http.Client, pass string) Response {
		return srv.PostForm(t, hc, "/oauth/token", form("grant_type", "password", "username", name, "password", pass), id, secret)
	}

	w := &lockWatch{t: t, policy: domain.DefaultThrottlePolicy()}
	// Each instance alone would allow FreeFailures failures, and answer 429 at the
	// earliest on its own next attempt: attempt 2*(FreeFailures+1)+1 overall.
	perInstance := 2*(w.policy.FreeFailures+1) + 1
	attacker := a.HTTPClient()
	var r Response
	throttled := false
	for i := 1; i < perInstance && !throttled; i++ {
		srv := instances[i%2]
		r, throttled = w.attempt("wrong password "+srv.URL, http.StatusBadRequest, func() Response { return token(srv, attacker, "guess") })
	}
	if !throttled {
		t.Fatalf("%d wrong passwords spread over two instances were never answered 429", perInstance-1)
	}
	checkThrottled(t, r)

	// The lock holds on both instances and on both doors, for any address. Guesses
	// that arrive after the lock ended (a slow machine) count and lock for longer, so
	// every check is eventually made during a lock.
	type door struct {
		name string
		want int // the answer to a wrong password when not locked
		try  func() Response
		ok   func(r Response)
	}
	var doors []door
	for i, srv := range instances {
		inst := string(rune('a' + i))
		doors = append(doors,
			door{"token endpoint of " + inst, http.StatusBadRequest,
				func() Response { return token(srv, nil, "another guess") },
				func(r Response) { checkThrottled(t, r) }},
			door{"login page of " + inst, http.StatusUnauthorized,
				func() Response { return newAZBrowser(t, srv).logIn("/login", name, "another guess") },
				func(r Response) {
					if !strings.Contains(loginAlert(r), "Too many failed sign-in attempts") || r.Header.Get("Retry-After") == "" {
						t.Errorf("login page of %s while locked: %q, Retry-After %q", inst, loginAlert(r), r.Header.Get("Retry-After"))
					}
				}})
	}
	for _, d := range doors {
		seen := false
		for round := 0; round < 10 && !seen; round++ {
			r, seen = w.attempt(d.name, d.want, d.try)
		}
		if !seen {
			t.Fatalf("%s: never answered 429 for the locked user", d.name)
		}
		d.ok(r)
	}
	if n := throttleRows(t, dbURL); n == 0 {
		t.Error("no throttle counter in the shared database")
	}
}

// TestThrottle_SQLiteDefaultsToMemory: with SQLite and no GATEHOUSE_THROTTLE_STORE the
// counters stay in the process (the start-up line says so, and failures write
// nothing to the database), and throttling still works; GATEHOUSE_THROTTLE_STORE=
// database puts them in the SQLite file instead.
func TestThrottle_SQLiteDefaultsToMemory(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		store, wantLog string
		wantRows       bool
	}{
		{"", "throttle_store=memory", false},
		{"database", "throttle_store=database", true},
	} {
		t.Run("store="+tc.store, func(t *testing.T) {
			t.Parallel()
			opts := Options{}
			if tc.store != "" {
				opts.Env = map[string]string{"GATEHOUSE_THROTTLE_STORE": tc.store}
			}
			srv := startServer(t, opts)
			if !logShows(srv, tc.wantLog) {
				t.Errorf("start-up log without %q:\n%s", tc.wantLog, tail(srv.Log(), 10))
			}
			user, _ := azUser(t, srv)
			b := newAZBrowser(t, srv)
			var last Response
			for range 8 {
				if last = b.logIn("/login", user, "wrong password"); last.Status == http.StatusTooManyRequests {
					break
				}
			}
			if last.Status != http.StatusTooManyRequests {
				t.Errorf("8 wrong passwords: %d, want 429", last.Status)
			}
			if got := throttleRows(t, srv.DatabaseURL) > 0; got != tc.wantRows {
				t.Errorf("throttle counters in the SQLite file: %v, want %v", got, tc.wantRows)
			}
		})
	}
}
