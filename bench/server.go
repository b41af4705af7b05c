package bench

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// Server is one real `gatehouse serve` process on a free loopback port, with its own
// database and environment. The CLI runs with the same environment, so clients and
// users made with it land in the server's database.
type Server struct {
	Bin       string
	Dir       string // working directory and home of the log (and the SQLite file)
	URL       string // http://127.0.0.1:PORT
	PprofAddr string // empty unless profiling
	env       []string
	cmd       *exec.Cmd
	log       *os.File
	exited    chan error
}

// NewServer prepares (but does not start) a server on a free loopback port. extraEnv
// holds GATEHOUSE_* settings (the database URL, the secret key); every GATEHOUSE_*
// variable of this process's own environment is dropped, so a developer's settings
// cannot leak into the measurement.
func NewServer(bin, dir string, extraEnv []string, pprof bool) (*Server, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	s := &Server{Bin: bin, Dir: dir, URL: fmt.Sprintf("http://127.0.0.1:%d", port)}
	env := []string{}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GATEHOUSE_") {
			env = append(env, kv)
		}
	}
	// extraEnv comes first: for a repeated variable the last one counts, so the
	// harness's settings below win over an experiment's.
	env = append(env, extraEnv...)
	env = append(env,
		"GATEHOUSE_HTTP_ADDR=127.0.0.1:"+strconv.Itoa(port),
		"GATEHOUSE_ISSUER="+s.URL,
		// So that per-request logging does not dominate what is measured.
		"GATEHOUSE_LOG_LEVEL=warn",
		// Codes are pre-minted in a pool before the exchange is measured.
		"GATEHOUSE_AUTH_CODE_TTL=10m",
	)
	if pprof {
		pp, err := FreePort()
		if err != nil {
			return nil, err
		}
		s.PprofAddr = "127.0.0.1:" + strconv.Itoa(pp)
		env = append(env, "GATEHOUSE_PPROF_ADDR="+s.PprofAddr)
	}
	s.env = env
	return s, nil
}

// Setenv adds NAME=value settings to the server's and the CLI's environment, over the
// harness's own (the last value of a variable counts); before Start.
func (s *Server) Setenv(kv ...string) { s.env = append(s.env, kv...) }

// FreePort asks the kernel for a free loopback TCP port.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// CLI runs a gatehouse command (e.g. "clients", "create", "--json", ...) against the
// server's database, with stdin as its standard input and extraEnv added.
func (s *Server) CLI(ctx context.Context, stdin string, extraEnv []string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, s.Bin, args...)
	cmd.Dir = s.Dir
	cmd.Env = append(append([]string{}, s.env...), extraEnv...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("gatehouse %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.Bytes(), nil
}

// Start runs `gatehouse serve` and waits until /healthz answers.
func (s *Server) Start(ctx context.Context) error {
	f, err := os.Create(filepath.Join(s.Dir, "server.log"))
	if err != nil {
		return err
	}
	s.log = f
	s.cmd = exec.Command(s.Bin, "serve")
	s.cmd.Dir = s.Dir
	s.cmd.Env = s.env
	s.cmd.Stdout, s.cmd.Stderr = f, f
	if err := s.cmd.Start(); err != nil {
		f.Close()
		return fmt.Errorf("start %s serve: %w", s.Bin, err)
	}
	s.exited = make(chan error, 1)
	go func() { s.exited <- s.cmd.Wait() }()
	c := NewClient(1, 2*time.Second)
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-s.exited:
			s.exited <- err
			return fmt.Errorf("server exited during start-up (%v): %s", err, s.LogTail(20))
		case <-ctx.Done():
			s.Stop()
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		resp, err := c.Get(s.URL + "/healthz")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
	}
	s.Stop()
	return fmt.Errorf("server did not become healthy in 60 s: %s", s.LogTail(20))
}

// Exited reports whether the server has stopped by itself, and how.
func (s *Server) Exited() (bool, error) {
	select {
	case err := <-s.exited:
		s.exited <- err
		return true, err
	default:
		return false, nil
	}
}

// PID is the server's process id.
func (s *Server) PID() int {
	if s.cmd == nil || s.cmd.Process == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// Stop asks the server to shut down (SIGTERM) and waits, killing it after 25 s.
func (s *Server) Stop() error {
	if s.cmd == nil || s.cmd.Process == nil {
		return nil
	}
	defer func() {
		if s.log != nil {
			s.log.Close()
		}
	}()
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.exited:
		s.exited <- err
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return fmt.Errorf("server exited with %v", err)
		}
		return err
	case <-time.After(25 * time.Second):
		_ = s.cmd.Process.Kill()
		return errors.New("server did not stop within 25 s of SIGTERM; killed")
	}
}

// LogTail returns the last n lines of the server's log.
func (s *Server) LogTail(n int) string {
	b, err := os.ReadFile(filepath.Join(s.Dir, "server.log"))
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Baseline is the Echo baseline running in a process of its own, so that it shares
// the machine with the load generator exactly as the real server does.
type Baseline struct {
	URL    string
	cmd    *exec.Cmd
	cancel context.CancelFunc
	done   chan error
}

// StartBaseline runs argv (a command serving ServeBaseline, such as
// `loadgen baseline`) with "-addr 127.0.0.1:0 -size N" added, and waits for its
// "listening ADDR" line. With an empty argv the baseline is served in this process.
func StartBaseline(ctx context.Context, argv []string, size int) (*Baseline, int, error) {
	if len(argv) == 0 {
		bctx, cancel := context.WithCancel(ctx)
		pr, pw := io.Pipe()
		b := &Baseline{cancel: cancel, done: make(chan error, 1)}
		go func() { b.done <- ServeBaseline(bctx, "127.0.0.1:0", size, pw) }()
		addr, err := readListening(pr)
		go io.Copy(io.Discard, pr)
		if err != nil {
			cancel()
			return nil, 0, err
		}
		b.URL = "http://" + addr
		return b, os.Getpid(), nil
	}
	cmd := exec.Command(argv[0], append(argv[1:], "-addr", "127.0.0.1:0", "-size", strconv.Itoa(size))...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, 0, err
	}
	if err := cmd.Start(); err != nil {
		return nil, 0, fmt.Errorf("start baseline %v: %w", argv, err)
	}
	b := &Baseline{cmd: cmd, done: make(chan error, 1)}
	addr, err := readListening(out)
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, 0, err
	}
	go io.Copy(io.Discard, out)
	go func() { b.done <- cmd.Wait() }()
	b.URL = "http://" + addr
	return b, cmd.Process.Pid, nil
}

func readListening(r io.Reader) (string, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("baseline did not report its address: %w", err)
	}
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "listening ")
	if !ok {
		return "", fmt.Errorf("baseline said %q", line)
	}
	return addr, nil
}

// Stop ends the baseline.
func (b *Baseline) Stop() {
	if b.cancel != nil {
		b.cancel()
	}
	if b.cmd != nil && b.cmd.Process != nil {
		_ = b.cmd.Process.Signal(syscall.SIGTERM)
	}
	select {
	case <-b.done:
	case <-time.After(10 * time.Second):
		if b.cmd != nil && b.cmd.Process != nil {
			_ = b.cmd.Process.Kill()
		}
	}
}

// TempPostgres creates a database with a random name on the server adminURL points
// at, returns its URL and a function that drops it. A server that cannot be reached
// within a few seconds is reported as an error, and the caller skips PostgreSQL.
func TempPostgres(ctx context.Context, adminURL string) (string, func() error, error) {
	cfg, err := pgx.ParseConfig(withoutPoolParams(adminURL))
	if err != nil {
		return "", nil, fmt.Errorf("parse %s: %w", adminURL, err)
	}
	if !loopbackHost(cfg.Host) && !strings.HasPrefix(cfg.Host, "/") {
		return "", nil, fmt.Errorf("PostgreSQL host %q: %w", cfg.Host, ErrNotLoopback)
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(cctx, cfg)
	if err != nil {
		return "", nil, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	defer conn.Close(context.Background())
	rnd := make([]byte, 6)
	_, _ = rand.Read(rnd)
	name := "gatehouse_bench_" + hex.EncodeToString(rnd)
	if _, err := conn.Exec(cctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", nil, fmt.Errorf("create database %s: %w", name, err)
	}
	drop := func() error {
		dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.ConnectConfig(dctx, cfg)
		if err != nil {
			return fmt.Errorf("drop database %s: %w", name, err)
		}
		defer c.Close(context.Background())
		if _, err := c.Exec(dctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			return fmt.Errorf("drop database %s: %w", name, err)
		}
		return nil
	}
	u, err := url.Parse(adminURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		_ = drop()
		return "", nil, fmt.Errorf("cannot derive a URL for database %s from %s (use postgres://...)", name, adminURL)
	}
	u.Path = "/" + name
	return u.String(), drop, nil
}

// RandomSecret returns n random hex characters.
func RandomSecret(n int) string {
	b := make([]byte, (n+1)/2)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)[:n]
}

// poolParams are Gatehouse's own pool settings on a database URL: the server reads
// them, PostgreSQL would refuse them as unknown run-time parameters.
var poolParams = []string{"max_open_conns", "max_idle_conns", "conn_max_lifetime", "conn_max_idle_time"}

// withoutPoolParams returns raw without poolParams, for connecting as the admin; the
// server's URL keeps them.
func withoutPoolParams(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	q := u.Query()
	for _, p := range poolParams {
		q.Del(p)
	}
	u.RawQuery = q.Encode()
	return u.String()
}
