package e2e

// Helpers for the fault tests (faults_test.go): killing a server without a graceful
// shutdown, starting it again where it ran, and a TCP proxy that can cut a server off
// its database. They live apart from harness_test.go, which they extend without
// changing.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// Kill ends the server with SIGKILL: no graceful shutdown, no deferred write, exactly
// what a crash or the OOM killer does. It waits for the process, and checks the log
// for secrets as Stop would; the harness's SIGTERM at cleanup is skipped for it.
func (s *Server) Kill(t testing.TB) {
	t.Helper()
	var problems []string
	s.stopOnce.Do(func() {
		if err := s.cmd.Process.Kill(); err != nil {
			problems = append(problems, fmt.Sprintf("SIGKILL the server at %s: %v", s.URL, err))
		}
		select {
		case <-s.done:
		case <-time.After(30 * time.Second):
			problems = append(problems, fmt.Sprintf("server at %s still running 30 s after SIGKILL", s.URL))
			return
		}
		problems = append(problems, s.leakedSecrets()...)
	})
	for _, p := range problems {
		t.Errorf("e2e: %s", p)
	}
}

// leakedSecrets lists the sensitive values found in the log (SECURITY S46), abridged.
func (s *Server) leakedSecrets() []string {
	var problems []string
	log := s.Log()
	for _, v := range s.sensitiveValues() {
		if strings.Contains(log, v) {
			problems = append(problems, fmt.Sprintf("SECURITY S46: the log of the server at %s contains a secret or token (%.6s…)", s.URL, v))
		}
	}
	return problems
}

// Exited reports whether the process has ended, and its cmd.Wait result.
func (s *Server) Exited() (bool, error) {
	select {
	case <-s.done:
		return true, s.exit
	default:
		return false, nil
	}
}

// restartServer starts `gatehouse serve` again on what old ran on: the same database,
// the same environment (so the same address, issuer and secret key; with SQLite the
// generated key file sits beside the database file), in a fresh working directory.
// old must have stopped. The new server inherits old's sensitive values and is stopped
// and checked at cleanup like any other.
func restartServer(t testing.TB, old *Server) *Server {
	t.Helper()
	if gone, _ := old.Exited(); !gone {
		t.Fatalf("e2e: restart of the server at %s while it still runs", old.URL)
	}
	var srv *Server
	var err error
	// The port was the old process's; the kernel frees it when the process ends, but
	// another program may take it in between: retry, then give up.
	deadline := time.Now().Add(60 * time.Second)
	for attempt := 1; ; attempt++ {
		srv, err = relaunch(old, t.TempDir())
		if err == nil || !errors.Is(err, errPortTaken) || attempt == 5 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("e2e: restart: %v", err)
	}
	t.Cleanup(func() {
		srv.Stop(t)
		if t.Failed() {
			t.Logf("e2e: end of the log of the restarted server at %s:\n%s", srv.URL, tail(srv.Log(), 40))
		}
	})
	return srv
}

// relaunch is tryLaunch with old's environment instead of a new one.
func relaunch(old *Server, dir string) (*Server, error) {
	srv := &Server{
		URL:         old.URL,
		Addr:        old.Addr,
		DatabaseURL: old.DatabaseURL,
		env:         old.Env(),
		log:         &syncBuffer{},
		done:        make(chan struct{}),
	}
	srv.Sensitive(old.sensitiveValues()...)
	if err := srv.start(dir, "restart server"); err != nil {
		return nil, err
	}
	return srv, nil
}

// tcpProxy forwards connections from a loopback port to a target address (a database
// server), and can cut them all: the listener closes, so new connections are refused,
// and every forwarded connection is closed in both directions. Restore listens on the
// same port again.
type tcpProxy struct {
	target string
	addr   string // 127.0.0.1:PORT, stable across Cut and Restore

	mu     sync.Mutex
	ln     net.Listener
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// startProxy listens on a free loopback port and forwards to target. It is closed
// when t ends.
func startProxy(t testing.TB, target string) *tcpProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxy: %v", err)
	}
	p := &tcpProxy{target: target, addr: ln.Addr().String(), conns: map[net.Conn]struct{}{}}
	p.serve(ln)
	t.Cleanup(p.close)
	return p
}

func (p *tcpProxy) serve(ln net.Listener) {
	p.ln = ln
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return // the listener was closed: cut or closed
			}
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				p.forward(c)
			}()
		}
	}()
}

// forward pipes c to a new connection to the target until either side ends or the
// proxy cuts them.
func (p *tcpProxy) forward(c net.Conn) {
	up, err := net.DialTimeout("tcp", p.target, 10*time.Second)
	if err != nil {
		c.Close()
		return
	}
	if !p.track(c, up) {
		c.Close()
		up.Close()
		return
	}
	defer p.untrack(c, up)
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(up, c); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, up); done <- struct{}{} }()
	<-done
	c.Close()
	up.Close()
	<-done
}

// track registers a pair of connections, unless the proxy is cut or closed.
func (p *tcpProxy) track(cs ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln == nil || p.closed {
		return false
	}
	for _, c := range cs {
		p.conns[c] = struct{}{}
	}
	return true
}

func (p *tcpProxy) untrack(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		delete(p.conns, c)
	}
}

// Cut closes the listener and every forwarded connection; connecting to the proxy is
// refused until Restore.
func (p *tcpProxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

// Restore listens on the proxy's port again.
func (p *tcpProxy) Restore(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		ln, err := net.Listen("tcp", p.addr)
		if err == nil {
			p.mu.Lock()
			if p.closed {
				p.mu.Unlock()
				ln.Close()
				return
			}
			p.serve(ln)
			p.mu.Unlock()
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("proxy: listen again on %s: %v", p.addr, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (p *tcpProxy) close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.Cut()
	p.wg.Wait()
}
