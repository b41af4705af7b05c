package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The workers' HTTP client is written by hand (rawhttp.go): these tests hold it to
// what net/http's server writes and reads, over real loopback connections.

// newTestConn is a worker's connection with the loopback dialer, counting its dials,
// closed when the test ends.
func newTestConn(t *testing.T, timeout time.Duration) (*rawConn, *atomic.Int64) {
	t.Helper()
	dials := new(atomic.Int64)
	rc := newRawConn(loopbackDialer(dials), timeout)
	t.Cleanup(rc.Close)
	return rc, dials
}

func TestRawConn_SendsWhatTheServerParses(t *testing.T) {
	type seen struct {
		method, uri, host, ctype, auth string
		body                           string
		length                         int64
	}
	got := make(chan seen, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- seen{r.Method, r.RequestURI, r.Host, r.Header.Get("Content-Type"), r.Header.Get("Authorization"), string(b), r.ContentLength}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	defer srv.Close()
	rc, dials := newTestConn(t, 5*time.Second)
	buf := new(bytes.Buffer)

	form := []byte("grant_type=refresh_token&refresh_token=a%2Bb")
	st, body, err := rc.Do(context.Background(), Request{
		Method: http.MethodPost, URL: srv.URL + "/oauth/token?x=1&y=%20",
		Header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Authorization": {"Basic YTpi"}},
		Body:   form,
	}, buf)
	if err != nil || st != 200 || string(body) != `{"ok":true}` {
		t.Fatalf("POST: %d %q %v", st, body, err)
	}
	s := <-got
	want := seen{"POST", "/oauth/token?x=1&y=%20", strings.TrimPrefix(srv.URL, "http://"), "application/x-www-form-urlencoded", "Basic YTpi", string(form), int64(len(form))}
	if s != want {
		t.Errorf("server saw %+v\nwant        %+v", s, want)
	}

	// A GET on the same connection: no body, no Content-Length.
	st, _, err = rc.Do(context.Background(), Request{Method: http.MethodGet, URL: srv.URL + "/userinfo"}, buf)
	if err != nil || st != 200 {
		t.Fatalf("GET: %d %v", st, err)
	}
	if s := <-got; s.method != "GET" || s.uri != "/userinfo" || s.length != 0 || s.body != "" {
		t.Errorf("GET seen as %+v", s)
	}
	// An empty POST still says its length, as net/http's client does.
	if _, _, err = rc.Do(context.Background(), Request{Method: http.MethodPost, URL: srv.URL + "/"}, buf); err != nil {
		t.Fatal(err)
	}
	if s := <-got; s.method != "POST" || s.length != 0 {
		t.Errorf("empty POST seen as %+v", s)
	}
	if dials.Load() != 1 {
		t.Errorf("dials = %d, want 1 (keep-alive)", dials.Load())
	}
}

func TestRawConn_ReadsEveryFramingNetHTTPWrites(t *testing.T) {
	big := strings.Repeat("x", 100<<10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/length":
			_, _ = io.WriteString(w, "hello")
		case "/chunked": // flushed in parts, so net/http chunks it
			f := w.(http.Flusher)
			_, _ = io.WriteString(w, "he")
			f.Flush()
			_, _ = io.WriteString(w, big)
			f.Flush()
			_, _ = io.WriteString(w, "llo")
		case "/trailer":
			w.Header().Set("Trailer", "X-Sum")
			_, _ = io.WriteString(w, "body")
			w.(http.Flusher).Flush()
			w.Header().Set("X-Sum", "4")
		case "/close":
			w.Header().Set("Connection", "close")
			_, _ = io.WriteString(w, "bye")
		case "/nocontent":
			w.WriteHeader(http.StatusNoContent)
		case "/continue": // an interim 103, then the answer
			w.Header().Set("Link", "</a.css>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
			w.WriteHeader(http.StatusTeapot)
			_, _ = io.WriteString(w, "tea")
		}
	}))
	defer srv.Close()
	rc, dials := newTestConn(t, 5*time.Second)
	buf := new(bytes.Buffer)
	for _, tc := range []struct {
		path   string
		status int
		body   string
		dials  int64 // after the request
	}{
		{"/length", 200, "hello", 1},
		{"/chunked", 200, "he" + big + "llo", 1},
		{"/trailer", 200, "body", 1},
		{"/nocontent", 204, "", 1},
		{"/continue", 418, "tea", 1},
		{"/close", 200, "bye", 1},
		{"/length", 200, "hello", 2}, // the server closed: a new connection
	} {
		st, body, err := rc.Do(context.Background(), Request{Method: http.MethodGet, URL: srv.URL + tc.path}, buf)
		if err != nil || st != tc.status || string(body) != tc.body {
			t.Errorf("%s: %d %.40q %v, want %d %.40q", tc.path, st, body, err, tc.status, tc.body)
		}
		if dials.Load() != tc.dials {
			t.Errorf("%s: dials = %d, want %d", tc.path, dials.Load(), tc.dials)
		}
	}
}

func TestReadAnswer_RefusesWhatIsNotHTTP(t *testing.T) {
	for name, raw := range map[string]string{
		"no status":          "hello\r\n\r\n",
		"short status":       "HTTP/1.1 20\r\n\r\n",
		"HTTP/2 text":        "HTTP/2 200 OK\r\n\r\n",
		"letters as status":  "HTTP/1.1 2x0 OK\r\n\r\n",
		"header sans colon":  "HTTP/1.1 200 OK\r\nContent-Length 5\r\n\r\nhello",
		"bad length":         "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
		"two lengths":        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
		"gzip encoding":      "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
		"bad chunk size":     "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
		"chunk without CRLF": "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloX\r\n0\r\n\r\n",
		"cut body":           "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello",
		"cut headers":        "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n",
		"too large":          "HTTP/1.1 200 OK\r\nContent-Length: 2000000\r\n\r\n",
		"switching":          "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
		"empty":              "",
	} {
		_, _, _, err := readAnswer(bufio.NewReader(strings.NewReader(raw)), false, new(bytes.Buffer))
		if err == nil {
			t.Errorf("%s: accepted %q", name, raw)
		}
	}
	// What it must accept: bare LF line ends, HTTP/1.0 (not kept alive), a body ended
	// by the close, odd header case.
	for _, tc := range []struct {
		raw, body string
		keep      bool
	}{
		{"HTTP/1.1 200 OK\ncontent-length: 2\n\nok", "ok", true},
		{"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", "ok", false},
		{"HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\nok", "ok", true},
		{"HTTP/1.1 200\r\n\r\nuntil close", "until close", false},
		{"HTTP/1.1 200 OK\r\nTRANSFER-ENCODING: Chunked\r\n\r\n2;ext=1\r\nok\r\n0\r\nX-T: 1\r\n\r\n", "ok", true},
	} {
		st, body, keep, err := readAnswer(bufio.NewReader(strings.NewReader(tc.raw)), false, new(bytes.Buffer))
		if err != nil || st != 200 || string(body) != tc.body || keep != tc.keep {
			t.Errorf("%q: %d %q keep=%v %v", tc.raw, st, body, keep, err)
		}
	}
}

func TestRawConn_ServerDroppingTheConnectionIsAnErrorThenRedials(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 { // the first answer is cut short
			c, bw, _ := w.(http.Hijacker).Hijack()
			_, _ = bw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhel")
			_ = bw.Flush()
			c.Close()
			return
		}
		_, _ = io.WriteString(w, "hello")
	}))
	defer srv.Close()
	rc, dials := newTestConn(t, 5*time.Second)
	buf := new(bytes.Buffer)
	if _, _, err := rc.Do(context.Background(), Request{URL: srv.URL}, buf); err == nil {
		t.Fatal("a cut answer was accepted")
	}
	st, body, err := rc.Do(context.Background(), Request{URL: srv.URL}, buf)
	if err != nil || st != 200 || string(body) != "hello" || dials.Load() != 2 {
		t.Errorf("after the drop: %d %q %v, dials %d", st, body, err, dials.Load())
	}
}

func TestRawConn_TimeoutAndCancelEndARequestInFlight(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	rc, _ := newTestConn(t, 200*time.Millisecond)
	t0 := time.Now()
	_, _, err := rc.Do(context.Background(), Request{URL: srv.URL}, new(bytes.Buffer))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || time.Since(t0) > 5*time.Second {
		t.Errorf("timeout: err %v after %v", err, time.Since(t0))
	}
	rc.Close()

	rc, _ = newTestConn(t, time.Minute)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	t0 = time.Now()
	if _, _, err := rc.Do(ctx, Request{URL: srv.URL}, new(bytes.Buffer)); err == nil || time.Since(t0) > 5*time.Second {
		t.Errorf("cancel: err %v after %v", err, time.Since(t0))
	}
}

func TestRun_RefusesHTTPS(t *testing.T) {
	wl := Workload{Name: "tls", Next: func(int) (Request, bool) {
		return Request{Method: http.MethodGet, URL: "https://127.0.0.1:9/"}, true
	}}
	_, err := Run(context.Background(), wl, Options{Concurrency: 1, Duration: time.Second})
	if err == nil || !strings.Contains(err.Error(), "plain http only") {
		t.Errorf("err = %v", err)
	}
}
