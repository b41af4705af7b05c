// Package e2e tests the real gatehouse binary from outside: TestMain builds it once,
// each test starts `gatehouse serve` on a free loopback port against a fresh database
// (SQLite, PostgreSQL, MariaDB through dbtest), drives it over HTTP and through its CLI,
// and stops it with SIGTERM. Nothing is mocked.
//
// The harness (this file) is shared by every end-to-end test, the browser tests too:
//
//	srv := sharedServer(t)                              // one SQLite server for the package
//	srv := startServer(t, Options{})                    // its own SQLite in t.TempDir()
//	srv := startServer(t, Options{DatabaseURL: b.URL})  // for _, b := range backends(t)
//	forEachBackend(t, Options{}, func(t *testing.T, srv *Server) { … })
//	id, secret := srv.CreateClient(t, "--grant-type", "client_credentials")
//	uid := srv.CreateUser(t, "alice", "correct horse battery")
//	resp := srv.Do(t, nil, req)                          // from a fresh address; or srv.HTTPClient()
//	resp := srv.PostForm(t, hc, "/oauth/token", body, id, secret)
//	out, errOut, code := srv.CLI(t, "", "clients", "list", "--json")
//
// Concurrency: tests call t.Parallel; forEachBackend and runConcurrently start their
// subtests from goroutines so that backends and independent subtests overlap even with
// the default -parallel (GOMAXPROCS). Tests on the shared server create their own
// clients and users and must not change what others see (signing keys, say): a test
// that needs that starts its own server.
//
// Client addresses: the server throttles client authentication and password attempts
// per caller address, so HTTPClient gives each caller its own loopback source address
// (127.x.y.z; Linux routes all of 127/8 to lo). Tests that provoke failures do not lock
// each other out; tests that want throttling reuse one client.
//
// Secrets in logs (SECURITY S46): every secret, password and token the harness or a
// test hands to srv.Sensitive is checked to be absent from the server's log when the
// server stops.
//
// -parallel defaults to minParallel here, not GOMAXPROCS (see there).
//
// Environment: GATEHOUSE_E2E_BINARY runs a prebuilt binary instead of building one;
// the database variables are dbtest's (GATEHOUSE_TEST_POSTGRES_URL,
// GATEHOUSE_TEST_MYSQL_URL, GATEHOUSE_TEST_REQUIRE_DBS).
package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"gatehouse/infrastructure/database/dbtest"
)

// binPath is the gatehouse binary under test, built by TestMain.
var binPath string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

// minParallel is the -parallel these tests run with unless the flag is given: they
// spend their time waiting on server processes, databases and sleeps (an access token
// must outlive the verifier's 30 s leeway), not on this process's CPU, so GOMAXPROCS,
// the default, would leave a small machine idle while tests queue.
const minParallel = 6

func runMain(m *testing.M) int {
	flag.Parse()
	explicit := false
	flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "test.parallel" })
	if !explicit && runtime.GOMAXPROCS(0) < minParallel {
		_ = flag.Set("test.parallel", strconv.Itoa(minParallel))
	}
	if p := os.Getenv("GATEHOUSE_E2E_BINARY"); p != "" {
		binPath = p
		code := m.Run()
		stopChromium()
		if !stopShared() && code == 0 {
			code = 1
		}
		return code
	}
	dir, err := os.MkdirTemp("", "gatehouse-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	binPath = filepath.Join(dir, "gatehouse")
	build := exec.Command(goTool(), "build", "-o", binPath, "./cmd/gatehouse")
	build.Dir = ".." // the module root
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: go build ./cmd/gatehouse: %v\n%s", err, out)
		return 1
	}
	code := m.Run()
	stopChromium()
	if !stopShared() && code == 0 {
		code = 1
	}
	return code
}

// goTool finds the go command that runs these tests.
func goTool() string {
	if p := filepath.Join(runtime.GOROOT(), "bin", "go"); fileExists(p) {
		return p
	}
	return "go"
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// Backend is a database the server can run on, with a fresh, empty database.
type Backend struct {
	Name string // sqlite, postgres, mysql
	URL  string // GATEHOUSE_DATABASE_URL
}

// backends returns a fresh database per backend (SQLite always; PostgreSQL and MariaDB
// when reachable, or a failure with GATEHOUSE_TEST_REQUIRE_DBS=1: dbtest's rules), in a
// fixed order. The databases are dropped when t ends, after servers started in t or its
// subtests have stopped.
func backends(t *testing.T) []Backend {
	t.Helper()
	all := dbtest.All(t)
	var out []Backend
	for _, name := range []string{"sqlite", "postgres", "mysql"} {
		if u, ok := all[name]; ok {
			out = append(out, Backend{Name: name, URL: u})
		}
	}
	return out
}

// forEachBackend runs f in a subtest per backend, each with its own server started
// with opts. The backends run concurrently: their subtests are started from separate
// goroutines (which testing allows) rather than with t.Parallel, so they overlap even
// when -parallel (GOMAXPROCS by default) is small; most of their time is spent
// waiting on a server or a database, not on a CPU.
func forEachBackend(t *testing.T, opts Options, f func(t *testing.T, srv *Server)) {
	t.Helper()
	var wg sync.WaitGroup
	for _, b := range backends(t) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t.Run(b.Name, func(t *testing.T) {
				o := opts
				o.DatabaseURL = b.URL
				f(t, startServer(t, o))
			})
		}()
	}
	wg.Wait()
}

// subtest is a named subtest for runConcurrently.
type subtest struct {
	name string
	f    func(t *testing.T)
}

// runConcurrently runs independent subtests at the same time, each from its own
// goroutine (not t.Parallel: see forEachBackend), and returns when all are done.
// They must not depend on each other's effects on a shared server.
func runConcurrently(t *testing.T, tests ...subtest) {
	t.Helper()
	var wg sync.WaitGroup
	for _, st := range tests {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t.Run(st.name, st.f)
		}()
	}
	wg.Wait()
}

// Options configure a server.
type Options struct {
	// DatabaseURL is GATEHOUSE_DATABASE_URL; empty means a new SQLite file in t.TempDir().
	DatabaseURL string
	// Env is added to (and overrides) the harness's environment, e.g.
	// {"GATEHOUSE_ACCESS_TOKEN_TTL": "1s"}. Also passed to srv.CLI.
	Env map[string]string
	// Localhost makes the issuer (and URL) http://localhost:PORT instead of
	// 127.0.0.1: WebAuthn needs a domain for its relying party id (passkeys).
	Localhost bool
	// Host is the loopback address to listen on (default 127.0.0.1). A second server
	// on another address (127.0.0.2) keeps its cookies apart in one browser: cookies
	// do not tell ports apart.
	Host string
}

// Server is a running `gatehouse serve`.
type Server struct {
	// URL is the base URL and the issuer: http://127.0.0.1:PORT, no trailing slash.
	URL string
	// Addr is the listen address, 127.0.0.1:PORT.
	Addr        string
	DatabaseURL string

	env  []string // the full environment of the server and of CLI runs
	cmd  *exec.Cmd
	log  *syncBuffer
	done chan struct{} // closed when the process has exited
	exit error         // cmd.Wait's result, set before done closes

	stopOnce sync.Once

	mu        sync.Mutex
	sensitive []string
}

// startServer starts `gatehouse serve` and waits until /readyz answers 200. At cleanup
// it sends SIGTERM, checks the exit status is 0, and checks that no value given to
// Sensitive appears in the log; the log is printed when the test failed.
func startServer(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.DatabaseURL == "" {
		opts.DatabaseURL = dbtest.SQLite(t)
	}
	srv, err := launch(opts, t.TempDir())
	if err != nil {
		t.Fatalf("e2e: %v", err)
	}
	t.Cleanup(func() {
		srv.Stop(t)
		if t.Failed() {
			t.Logf("e2e: end of the log of the server at %s:\n%s", srv.URL, tail(srv.Log(), 40))
		}
	})
	return srv
}

// The shared server: one SQLite server for the whole package, for tests that need no
// server of their own (nothing they do depends on, or changes, what other tests see).
// TestMain stops it and checks its exit status and log.
var shared struct {
	once sync.Once
	srv  *Server
	err  error
	dir  string
}

// sharedServer returns the package's shared SQLite server, starting it on first use.
// Tests using it create their own clients and users and use their own HTTPClient.
func sharedServer(t testing.TB) *Server {
	t.Helper()
	shared.once.Do(func() {
		shared.dir, shared.err = os.MkdirTemp("", "gatehouse-e2e-shared-")
		if shared.err == nil {
			shared.srv, shared.err = launch(Options{DatabaseURL: "sqlite:" + filepath.Join(shared.dir, "gatehouse.db")}, shared.dir)
		}
	})
	if shared.err != nil {
		t.Fatalf("e2e: shared server: %v", shared.err)
	}
	return shared.srv
}

// stopShared stops the shared server (if it ran) and reports problems on stderr;
// false means the package must fail.
func stopShared() bool {
	if shared.srv == nil {
		if shared.dir != "" {
			os.RemoveAll(shared.dir)
		}
		return shared.err == nil
	}
	problems := shared.srv.stop()
	if len(problems) > 0 {
		fmt.Fprintf(os.Stderr, "e2e: shared server: %s\nlog:\n%s\n", strings.Join(problems, "; "), shared.srv.Log())
	}
	os.RemoveAll(shared.dir)
	return len(problems) == 0
}

var errPortTaken = errors.New("port taken")

// launch starts a server with a working directory of dir, retrying when the free port
// it picked was taken before the server could listen on it.
func launch(opts Options, dir string) (*Server, error) {
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		var srv *Server
		if srv, err = tryLaunch(opts, dir); err == nil {
			return srv, nil
		}
		if !errors.Is(err, errPortTaken) {
			return nil, err
		}
	}
	return nil, err
}

func tryLaunch(opts Options, dir string) (*Server, error) {
	host := opts.Host
	if host == "" {
		host = "127.0.0.1"
	}
	port, err := freePortOn(host)
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("%s:%d", host, port)
	srv := &Server{
		URL:         "http://" + addr,
		Addr:        addr,
		DatabaseURL: opts.DatabaseURL,
		log:         &syncBuffer{},
		done:        make(chan struct{}),
	}
	if opts.Localhost {
		srv.URL = fmt.Sprintf("http://localhost:%d", port)
	}
	env := map[string]string{
		"GATEHOUSE_DATABASE_URL":      opts.DatabaseURL,
		"GATEHOUSE_HTTP_ADDR":         addr,
		"GATEHOUSE_ISSUER":            srv.URL,
		"GATEHOUSE_ARGON2_MEMORY":     "8192", // the minimum: user creation and logins stay fast
		"GATEHOUSE_ARGON2_ITERATIONS": "1",
	}
	if !strings.HasPrefix(opts.DatabaseURL, "sqlite:") {
		env["GATEHOUSE_SECRET_KEY"] = randomString(48)
	}
	for k, v := range opts.Env {
		env[k] = v
	}
	srv.env = buildEnv(env)
	if err := srv.start(dir, "start server"); err != nil {
		return nil, err
	}
	return srv, nil
}

// start runs `gatehouse serve` with srv's environment in dir and waits until it is
// ready; what names the step in errors. errPortTaken when the port was taken.
func (srv *Server) start(dir, what string) error {
	srv.cmd = exec.Command(binPath, "serve")
	srv.cmd.Env = srv.env
	srv.cmd.Dir = dir // a stray relative path lands here, not in the repository
	srv.cmd.Stdout = srv.log
	srv.cmd.Stderr = srv.log
	if err := srv.cmd.Start(); err != nil {
		return fmt.Errorf("exec %s: %w", binPath, err)
	}
	go func() {
		srv.exit = srv.cmd.Wait()
		close(srv.done)
	}()
	if err := srv.waitReady(60 * time.Second); err != nil {
		select {
		case <-srv.done:
			if strings.Contains(srv.Log(), "address already in use") {
				return fmt.Errorf("%w: %s", errPortTaken, srv.Log())
			}
		default:
			_ = srv.cmd.Process.Kill()
			<-srv.done
		}
		return fmt.Errorf("%s: %v; log:\n%s", what, err, srv.Log())
	}
	return nil
}

// waitReady polls /readyz until it answers 200 after the process logged that it
// serves, the process exits, or timeout. The log line matters: a port the harness
// found free can be taken by another test's server before this one binds it, and
// that server's /readyz answers 200 while this process fails with "address already
// in use" (start then tries another port).
func (s *Server) waitReady(timeout time.Duration) error {
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			return fmt.Errorf("gatehouse serve exited early: %v", s.exit)
		default:
		}
		resp, err := client.Get(s.URL + "/readyz")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && s.serving() {
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("gatehouse serve not ready after %s", timeout)
}

// serving reports whether the process logged that it listens (infrastructure/server
// logs "serving" once its listener is open), in either log format.
func (s *Server) serving() bool {
	l := s.Log()
	return strings.Contains(l, `msg=serving `) || strings.Contains(l, `"msg":"serving"`)
}

// Stop sends SIGTERM, waits for the process, and checks that it exited 0 and that its
// log holds no sensitive value. It runs at cleanup; calling it earlier (to inspect the
// whole log, say) is fine, and later calls do nothing.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	for _, p := range s.stop() {
		t.Errorf("e2e: %s", p)
	}
}

// stop is Stop returning the problems; only the first call does anything.
func (s *Server) stop() (problems []string) {
	s.stopOnce.Do(func() {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(30 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.done
			problems = append(problems, fmt.Sprintf("server at %s did not stop within 30s of SIGTERM", s.URL))
			return
		}
		if s.exit != nil {
			problems = append(problems, fmt.Sprintf("server at %s exited with %v after SIGTERM (want status 0)", s.URL, s.exit))
		}
		log := s.Log()
		for _, v := range s.sensitiveValues() {
			if strings.Contains(log, v) {
				problems = append(problems, fmt.Sprintf("SECURITY S46: the log of the server at %s contains a secret or token (%.6s…)", s.URL, v))
			}
		}
	})
	return problems
}

// Log returns what the server wrote to stdout and stderr so far.
func (s *Server) Log() string { return s.log.String() }

// Sensitive registers values (secrets, passwords, tokens) that must never appear in
// the server's log; they are checked when the server stops. Empty values are ignored.
func (s *Server) Sensitive(values ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range values {
		if v != "" {
			s.sensitive = append(s.sensitive, v)
		}
	}
}

func (s *Server) sensitiveValues() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.sensitive)
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.SplitAfter(s, "\n")
	if len(lines) > n {
		lines = append([]string{"…\n"}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "")
}

// Env returns the server's environment (for running the binary another way).
func (s *Server) Env() []string { return slices.Clone(s.env) }

// CLI runs the gatehouse binary with args, the server's environment and stdin, and
// returns its stdout, stderr and exit status.
func (s *Server) CLI(t testing.TB, stdin string, args ...string) (stdout, stderr string, exit int) {
	t.Helper()
	return runCLI(t, s.env, stdin, args...)
}

// CLIWith is CLI with extra environment variables (overriding the server's).
func (s *Server) CLIWith(t testing.TB, env map[string]string, stdin string, args ...string) (stdout, stderr string, exit int) {
	t.Helper()
	return runCLI(t, overrideEnv(s.env, env), stdin, args...)
}

// CLIJSON runs the CLI with --json, requires exit status 0 and decodes stdout into v.
func (s *Server) CLIJSON(t testing.TB, v any, stdin string, args ...string) {
	t.Helper()
	out, errOut, code := s.CLI(t, stdin, append(args, "--json")...)
	if code != 0 {
		t.Fatalf("gatehouse %s: exit %d, stderr: %s", strings.Join(args, " "), code, errOut)
	}
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("gatehouse %s: stdout is not the expected JSON: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func runCLI(t testing.TB, env []string, stdin string, args ...string) (string, string, int) {
	t.Helper()
	r, err := execCLI(env, t.TempDir(), CLICall{Stdin: stdin, Args: args})
	if err != nil {
		t.Fatal(err)
	}
	return r.Stdout, r.Stderr, r.Exit
}

// CLICall is one run of the binary for CLIAll.
type CLICall struct {
	Stdin string
	Args  []string
}

// CLIResult is what a run printed and its exit status.
type CLIResult struct {
	Stdout, Stderr string
	Exit           int
}

// CLIAll runs independent CLI calls at the same time, with the server's environment,
// and returns their results in order.
func (s *Server) CLIAll(t testing.TB, calls ...CLICall) []CLIResult {
	t.Helper()
	results := make([]CLIResult, len(calls))
	errs := make([]error, len(calls))
	var wg sync.WaitGroup
	for i, c := range calls {
		dir := t.TempDir()
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = execCLI(s.env, dir, c)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	return results
}

// execCLI runs the binary in dir; an error means it could not run or did not exit.
func execCLI(env []string, dir string, c CLICall) (CLIResult, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binPath, c.Args...)
	cmd.Env = env
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(c.Stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return CLIResult{Stdout: out.String(), Stderr: errOut.String()}, nil
	case errors.As(err, &ee) && ee.Exited():
		return CLIResult{Stdout: out.String(), Stderr: errOut.String(), Exit: ee.ExitCode()}, nil
	}
	return CLIResult{}, fmt.Errorf("gatehouse %s: %v (stderr: %s)", strings.Join(c.Args, " "), err, errOut.String())
}

// CreatedClient is the JSON of `clients create --json`.
type CreatedClient struct {
	ClientID     string   `json:"client_id"`
	ClientSecret string   `json:"client_secret"`
	Name         string   `json:"name"`
	Public       bool     `json:"public"`
	GrantTypes   []string `json:"grant_types"`
	Scope        string   `json:"scope"`
	Audiences    []string `json:"audiences"`
}

var nameSeq atomic.Int64

// uniqueName returns a fresh name with prefix, for clients and users.
func uniqueName(prefix string) string {
	return fmt.Sprintf("%s%d", prefix, nameSeq.Add(1))
}

// CreateClient registers a client with `clients create --json` and the given flags
// (a unique --name is added unless given) and returns its id and secret (empty for a
// public client). The secret is registered as sensitive.
func (s *Server) CreateClient(t testing.TB, args ...string) (id, secret string) {
	t.Helper()
	c := s.CreateClientJSON(t, args...)
	return c.ClientID, c.ClientSecret
}

// CreateClientJSON is CreateClient returning the whole JSON answer.
func (s *Server) CreateClientJSON(t testing.TB, args ...string) CreatedClient {
	t.Helper()
	if !slices.Contains(args, "--name") {
		args = append([]string{"--name", uniqueName("client-")}, args...)
	}
	var c CreatedClient
	s.CLIJSON(t, &c, "", append([]string{"clients", "create"}, args...)...)
	if c.ClientID == "" {
		t.Fatalf("clients create: no client_id in the answer")
	}
	s.Sensitive(c.ClientSecret)
	return c
}

// CreateUser creates a user with `users create --password-stdin --json` and returns
// its id. The password is registered as sensitive.
func (s *Server) CreateUser(t testing.TB, name, password string) string {
	t.Helper()
	s.Sensitive(password)
	var u struct {
		ID       string `json:"id"`
		Username string `json:"username"`
	}
	s.CLIJSON(t, &u, password+"\n", "users", "create", "--username", name, "--password-stdin")
	if u.ID == "" || u.Username != name {
		t.Fatalf("users create: got %+v", u)
	}
	return u.ID
}

// sourceSeq numbers the loopback source addresses handed out by HTTPClient.
var sourceSeq atomic.Uint32

// HTTPClient returns a client that connects from its own loopback address (127.x.y.z),
// so that the server's per-address throttling of one test does not reach another.
// It follows no redirects (tests look at them) and times out after 30 s.
func (s *Server) HTTPClient() *http.Client {
	n := sourceSeq.Add(1)
	src := net.IPv4(127, byte(1+n>>16), byte(n>>8), byte(n))
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: src}, Timeout: 10 * time.Second}
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			DialContext:         dialer.DialContext,
			MaxIdleConnsPerHost: 64,
			DisableCompression:  true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Response is a finished HTTP exchange with the body read.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into a map.
func (r Response) JSON(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("body is not a JSON object: %v\n%s", err, r.Body)
	}
	return m
}

// Do sends req with client (a fresh HTTPClient, so a fresh address, when nil) and
// reads the whole answer.
func (s *Server) Do(t testing.TB, client *http.Client, req *http.Request) Response {
	t.Helper()
	if client == nil {
		client = s.HTTPClient()
		defer client.CloseIdleConnections()
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", req.Method, req.URL, err)
	}
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: body}
}

// PostForm posts body (already encoded) as application/x-www-form-urlencoded to path,
// with HTTP Basic when user is not empty.
func (s *Server) PostForm(t testing.TB, client *http.Client, path, body, user, pass string) Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.SetBasicAuth(basicEscape(user), basicEscape(pass))
	}
	return s.Do(t, client, req)
}

// Get fetches path.
func (s *Server) Get(t testing.TB, client *http.Client, path string) Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s.Do(t, client, req)
}

// syncBuffer is a bytes.Buffer safe for the process's writers and the test's readers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// freePort asks the kernel for a free loopback port.
func freePort() (int, error) { return freePortOn("127.0.0.1") }

// freePortOn asks the kernel for a free port on the loopback address host.
func freePortOn(host string) (int, error) {
	ln, err := net.Listen("tcp", host+":0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// refusingPort returns a loopback port that refuses connections until the test
// ends: a TCP socket bound to it that never listens. A port found free and closed
// again could be taken by another test's server meanwhile; this one cannot, since
// the socket holds it without SO_REUSEADDR.
func refusingPort(t testing.TB) int {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	return sa.(*syscall.SockaddrInet4).Port
}

// buildEnv is the process environment without any GATEHOUSE_* variable of the test's
// own environment (they would leak into the server), plus env.
func buildEnv(env map[string]string) []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GATEHOUSE_") {
			out = append(out, kv)
		}
	}
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}

// overrideEnv returns base with the variables of env replaced or added.
func overrideEnv(base []string, env map[string]string) []string {
	out := make([]string, 0, len(base)+len(env))
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		if _, ok := env[k]; !ok {
			out = append(out, kv)
		}
	}
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}

func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)[:n]
}

// TestHarness_PortTakenByAnotherServer: when the port the harness picked answers
// /readyz with 200 from another process, start does not take that for its own server:
// the new process fails to bind, and start says the port was taken, so launch tries
// another.
func TestHarness_PortTakenByAnotherServer(t *testing.T) {
	t.Parallel()
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(other.Close)
	addr := other.Listener.Addr().String()
	srv := &Server{URL: "http://" + addr, Addr: addr, log: &syncBuffer{}, done: make(chan struct{})}
	srv.env = buildEnv(map[string]string{
		"GATEHOUSE_DATABASE_URL": dbtest.SQLite(t),
		"GATEHOUSE_HTTP_ADDR":    addr,
		"GATEHOUSE_ISSUER":       srv.URL,
	})
	err := srv.start(t.TempDir(), "start server")
	if !errors.Is(err, errPortTaken) {
		if err == nil {
			srv.Stop(t)
		}
		t.Fatalf("start on a port another server answers on: %v, want errPortTaken", err)
	}
}

// TestHarness_RefusingPort: the reserved port refuses connections, and no listener
// can take it while the test runs.
func TestHarness_RefusingPort(t *testing.T) {
	t.Parallel()
	port := refusingPort(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	if c, err := net.DialTimeout("tcp", addr, 5*time.Second); err == nil {
		c.Close()
		t.Fatalf("dial %s succeeded, want connection refused", addr)
	} else if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial %s: %v, want connection refused", addr, err)
	}
	if ln, err := net.Listen("tcp", addr); err == nil {
		ln.Close()
		t.Fatalf("another listener took %s", addr)
	}
}
