package server_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"gatehouse/infrastructure/server"
)

// serve runs a handler that answers "ok" on a loopback listener until the test ends.
func serve(t *testing.T) string {
	t.Helper()
	ln, err := server.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = w.Write([]byte("ok"))
	})
	go func() { done <- server.Serve(ctx, ln, h, slog.New(slog.DiscardHandler), time.Second) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return ln.Addr().String()
}

// begin opens a connection to addr (closed when the test ends) and sends head: the
// start of a request the test then trickles. It returns when head was sent.
func begin(t *testing.T, addr, head string) (net.Conn, time.Time) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	start := time.Now()
	if _, err := io.WriteString(conn, head); err != nil {
		t.Fatal(err)
	}
	return conn, start
}

// TestServe_SlowHeadersAreCutOff (slow loris, SECURITY S45): a client that sends its
// request headers a line at a time, each within a second of the last, is cut off
// once the header timeout (5 s) has passed since it began: trickling does not
// extend it. Meanwhile another client is served.
func TestServe_SlowHeadersAreCutOff(t *testing.T) {
	t.Parallel()
	addr := serve(t)
	conn, start := begin(t, addr, "POST /oauth/token HTTP/1.1\r\nHost: gatehouse\r\n")
	closed := make(chan time.Duration, 1)
	go func() {
		_, _ = io.Copy(io.Discard, conn) // returns when the server closes the connection
		closed <- time.Since(start)
	}()

	// Another client is served while the slow one holds its connection.
	resp, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("another client got %d", resp.StatusCode)
	}

	tick := time.NewTicker(700 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case took := <-closed:
			if took < 4*time.Second || took > 9*time.Second {
				t.Errorf("the slow client was cut off after %v, want about 5 s", took)
			}
			return
		case <-tick.C:
			if time.Since(start) > 20*time.Second {
				t.Fatal("a client trickling header lines kept its connection for 20 s")
			}
			// Each line arrives in time for a per-line timeout; only a deadline for
			// the whole header ends it. Writes after the close may fail: that is fine.
			_, _ = io.WriteString(conn, "X-Trickle: "+strings.Repeat("a", i%10+1)+"\r\n")
		}
	}
}

// TestServe_SlowBodyIsCutOff: a client that sent its headers but trickles its body is
// cut off by the read timeout (15 s from the start of the request): whatever the
// handler answers once its read fails (Gatehouse: 400 "could not read the request
// body"), the connection ends there.
func TestServe_SlowBodyIsCutOff(t *testing.T) {
	if testing.Short() {
		t.Skip("takes 15 s")
	}
	t.Parallel()
	conn, start := begin(t, serve(t),
		"POST /oauth/token HTTP/1.1\r\nHost: gatehouse\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\n")
	closed := make(chan error, 1)
	go func() {
		r := bufio.NewReader(conn)
		resp, err := http.ReadResponse(r, nil)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			_, err = r.ReadByte()
			if err == nil {
				err = errors.New("the connection stayed open after the answer")
			}
		}
		closed <- err
	}()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case err := <-closed:
			took := time.Since(start)
			if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !isReset(err) {
				t.Errorf("the connection ended with %v", err)
			}
			if took < 14*time.Second || took > 22*time.Second {
				t.Errorf("the slow body was cut off after %v, want about 15 s", took)
			}
			return
		case <-tick.C:
			if time.Since(start) > 40*time.Second {
				t.Fatal("a client trickling its body kept its connection for 40 s")
			}
			_, _ = io.WriteString(conn, "a=b&")
		}
	}
}

func isReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op)
}
