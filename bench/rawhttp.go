package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// maxAnswer bounds the body of one answer the workers read.
const maxAnswer = 1 << 20

// rawConn is one worker's keep-alive HTTP/1.1 connection, spoken directly: the
// request written with one write, the answer read from a buffered reader on the same
// goroutine. The load generator shares the cores with the server it measures, and
// net/http's client (a reading and a writing goroutine per connection, channels
// between them and the caller, a header map and a context per request) spent about
// as much CPU per request as the answer's system calls; what the harness spends is
// taken from the server. It speaks only what the workers need: no redirects, no
// compression, no 100-continue, no HTTP/2; answers with Content-Length, chunked or
// ended by closing the connection.
type rawConn struct {
	dial    func(ctx context.Context, network, addr string) (net.Conn, error)
	timeout time.Duration

	c    net.Conn
	r    *bufio.Reader
	addr string // host:port c is connected to
	stop func() bool

	out     []byte
	targets map[string]*target // by URL
}

// target is a request URL split once: where to connect and what to write.
type target struct {
	addr, host, path string
}

func newRawConn(dial func(ctx context.Context, network, addr string) (net.Conn, error), timeout time.Duration) *rawConn {
	return &rawConn{dial: dial, timeout: timeout, out: make([]byte, 0, 4096), targets: map[string]*target{}}
}

// Close closes the connection, if one is open.
func (rc *rawConn) Close() {
	if rc.c != nil {
		rc.stop()
		rc.c.Close()
		rc.c, rc.r = nil, nil
	}
}

func (rc *rawConn) target(raw string) (*target, error) {
	if t, ok := rc.targets[raw]; ok {
		return t, nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" {
		return nil, fmt.Errorf("target %q: the load generator speaks plain http only", raw)
	}
	port := u.Port()
	if port == "" {
		port = "80"
	}
	t := &target{addr: net.JoinHostPort(u.Hostname(), port), host: u.Host, path: u.RequestURI()}
	rc.targets[raw] = t
	return t, nil
}

// Do sends r and reads the whole answer into buf. On any error the connection is
// closed, and the next request dials a new one.
func (rc *rawConn) Do(ctx context.Context, r Request, buf *bytes.Buffer) (int, []byte, error) {
	t, err := rc.target(r.URL)
	if err != nil {
		return 0, nil, err
	}
	if rc.c != nil && rc.addr != t.addr {
		rc.Close()
	}
	if rc.c == nil {
		c, err := rc.dial(ctx, "tcp", t.addr)
		if err != nil {
			return 0, nil, err
		}
		rc.c, rc.addr = c, t.addr
		rc.r = bufio.NewReaderSize(c, 16<<10)
		// A cancelled run ends the request in flight at once.
		rc.stop = context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
	}
	status, body, keep, err := rc.roundTrip(t, r, buf)
	if err != nil || !keep {
		rc.Close()
	}
	return status, body, err
}

func (rc *rawConn) roundTrip(t *target, r Request, buf *bytes.Buffer) (status int, body []byte, keep bool, err error) {
	if rc.timeout > 0 {
		if err := rc.c.SetDeadline(time.Now().Add(rc.timeout)); err != nil {
			return 0, nil, false, err
		}
	}
	method := r.Method
	if method == "" {
		method = http.MethodGet
	}
	b := rc.out[:0]
	b = append(b, method...)
	b = append(b, ' ')
	b = append(b, t.path...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, t.host...)
	b = append(b, "\r\nUser-Agent: gatehouse-loadgen\r\n"...)
	for k, vs := range r.Header {
		for _, v := range vs {
			b = append(b, k...)
			b = append(b, ": "...)
			b = append(b, v...)
			b = append(b, "\r\n"...)
		}
	}
	if r.Body != nil || method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch {
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, int64(len(r.Body)), 10)
		b = append(b, "\r\n"...)
	}
	b = append(b, "\r\n"...)
	b = append(b, r.Body...)
	rc.out = b
	if _, err := rc.c.Write(b); err != nil {
		return 0, nil, false, fmt.Errorf("write request: %w", err)
	}
	return readAnswer(rc.r, method == http.MethodHead, buf)
}

var errBadAnswer = errors.New("malformed HTTP answer")

// readAnswer reads one HTTP/1.1 answer (after any 1xx) into buf. keep says whether the
// connection may carry another request.
func readAnswer(r *bufio.Reader, head bool, buf *bytes.Buffer) (status int, body []byte, keep bool, err error) {
	for {
		line, err := readLine(r)
		if err != nil {
			return 0, nil, false, fmt.Errorf("read status line: %w", err)
		}
		// "HTTP/1.1 200 OK": the version, a space, three digits, then a space or nothing.
		if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' || (len(line) > 12 && line[12] != ' ') {
			return 0, nil, false, fmt.Errorf("%w: status line %q", errBadAnswer, line)
		}
		status, err = strconv.Atoi(string(line[9:12]))
		if err != nil || status < 100 {
			return 0, nil, false, fmt.Errorf("%w: status line %q", errBadAnswer, line)
		}
		keep = line[7] == '1'
		length, chunked := int64(-1), false
		for {
			h, err := readLine(r)
			if err != nil {
				return 0, nil, false, fmt.Errorf("read header: %w", err)
			}
			if len(h) == 0 {
				break
			}
			name, value, ok := bytes.Cut(h, []byte(":"))
			if !ok {
				return 0, nil, false, fmt.Errorf("%w: header line %q", errBadAnswer, h)
			}
			value = bytes.TrimSpace(value)
			switch {
			case bytes.EqualFold(name, []byte("Content-Length")):
				n, err := strconv.ParseInt(string(value), 10, 64)
				if err != nil || n < 0 || (length >= 0 && n != length) {
					return 0, nil, false, fmt.Errorf("%w: Content-Length %q", errBadAnswer, value)
				}
				length = n
			case bytes.EqualFold(name, []byte("Transfer-Encoding")):
				if !bytes.EqualFold(value, []byte("chunked")) {
					return 0, nil, false, fmt.Errorf("%w: Transfer-Encoding %q", errBadAnswer, value)
				}
				chunked = true
			case bytes.EqualFold(name, []byte("Connection")):
				if bytes.EqualFold(value, []byte("close")) {
					keep = false
				} else if bytes.EqualFold(value, []byte("keep-alive")) {
					keep = true
				}
			}
		}
		if status >= 100 && status < 200 {
			if status == http.StatusSwitchingProtocols {
				return 0, nil, false, fmt.Errorf("%w: 101 Switching Protocols", errBadAnswer)
			}
			continue // an interim answer; the real one follows
		}
		buf.Reset()
		switch {
		case head || status == http.StatusNoContent || status == http.StatusNotModified:
		case chunked:
			if err := readChunked(r, buf); err != nil {
				return 0, nil, false, err
			}
		case length >= 0:
			if length > maxAnswer {
				return 0, nil, false, fmt.Errorf("answer of %d bytes: larger than %d", length, maxAnswer)
			}
			buf.Grow(int(length))
			if _, err := io.CopyN(buf, r, length); err != nil {
				return 0, nil, false, fmt.Errorf("read body: %w", err)
			}
		default: // the body runs until the server closes the connection
			n, err := buf.ReadFrom(io.LimitReader(r, maxAnswer+1))
			if err != nil {
				return 0, nil, false, fmt.Errorf("read body: %w", err)
			}
			if n > maxAnswer {
				return 0, nil, false, fmt.Errorf("answer larger than %d bytes", maxAnswer)
			}
			keep = false
		}
		return status, buf.Bytes(), keep, nil
	}
}

func readChunked(r *bufio.Reader, buf *bytes.Buffer) error {
	for {
		line, err := readLine(r)
		if err != nil {
			return fmt.Errorf("read chunk size: %w", err)
		}
		size, _, _ := bytes.Cut(line, []byte(";"))
		n, err := strconv.ParseInt(string(bytes.TrimSpace(size)), 16, 64)
		if err != nil || n < 0 {
			return fmt.Errorf("%w: chunk size %q", errBadAnswer, line)
		}
		if n == 0 {
			for { // trailers, then the empty line
				t, err := readLine(r)
				if err != nil {
					return fmt.Errorf("read trailer: %w", err)
				}
				if len(t) == 0 {
					return nil
				}
			}
		}
		if int64(buf.Len())+n > maxAnswer {
			return fmt.Errorf("answer larger than %d bytes", maxAnswer)
		}
		if _, err := io.CopyN(buf, r, n); err != nil {
			return fmt.Errorf("read chunk: %w", err)
		}
		if end, err := readLine(r); err != nil || len(end) != 0 {
			return fmt.Errorf("%w: no line end after a chunk", errBadAnswer)
		}
	}
}

// readLine returns one line without its CRLF (or bare LF); the slice is valid until
// the next read.
func readLine(r *bufio.Reader) ([]byte, error) {
	line, err := r.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			return nil, fmt.Errorf("%w: line longer than %d bytes", errBadAnswer, r.Size())
		}
		if errors.Is(err, io.EOF) {
			return nil, io.ErrUnexpectedEOF
		}
		return nil, err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}
