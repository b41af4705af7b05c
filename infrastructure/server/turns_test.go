package server

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// start runs run on a loopback listener until the test ends and returns its URL.
func start(t *testing.T, run func(ctx context.Context, ln net.Listener) error) string {
	t.Helper()
	ln, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return "http://" + ln.Addr().String()
}

// serveTurns serves h over loopback until the test ends; every-th request of a
// connection first adds one to yields.
func serveTurns(t *testing.T, yields *atomic.Int64, every uint32, h http.Handler) string {
	t.Helper()
	yield := func() { yields.Add(1) }
	return start(t, func(ctx context.Context, ln net.Listener) error {
		return serve(ctx, ln, h, slog.New(slog.DiscardHandler), time.Second, turns{every: every, yield: yield})
	})
}

// connection is a client with one keep-alive connection of its own.
func connection(t *testing.T) *http.Client {
	tr := &http.Transport{MaxConnsPerHost: 1, MaxIdleConnsPerHost: 1}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 5 * time.Second}
}

func get(t *testing.T, c *http.Client, url string) int64 {
	t.Helper()
	res, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("GET: %d %q %v", res.StatusCode, b, err)
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestTurns_EveryThirdRequestOfAConnectionYieldsFirst: the count is per connection: a
// connection's every-th request yields before its handler runs, requests on another
// connection do not advance it, and a new connection starts from zero.
func TestTurns_EveryThirdRequestOfAConnectionYieldsFirst(t *testing.T) {
	yields := new(atomic.Int64)
	url := serveTurns(t, yields, 3, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, strconv.FormatInt(yields.Load(), 10))
	}))
	a, b := connection(t), connection(t)
	// What each request's handler saw: the yields before it ran.
	steps := []struct {
		c    *http.Client
		want int64
	}{
		{a, 0}, {a, 0}, {a, 1}, // a's third request yielded first
		{b, 1}, {b, 1}, // b's first two do not count towards a's
		{a, 1}, {a, 1}, {a, 2}, // a's sixth
		{b, 3}, // b's third
	}
	for i, s := range steps {
		if got := get(t, s.c, url); got != s.want {
			t.Fatalf("request %d: the handler saw %d yields, want %d", i+1, got, s.want)
		}
	}
	// A new connection starts its own count.
	a.Transport.(*http.Transport).CloseIdleConnections()
	for i, want := range []int64{3, 3, 4} {
		if got := get(t, a, url); got != want {
			t.Fatalf("new connection, request %d: the handler saw %d yields, want %d", i+1, got, want)
		}
	}
}

// TestServe_CountsTurnsPerConnection: Serve itself gives every connection its count, so
// the yields are on in the server users run.
func TestServe_CountsTurnsPerConnection(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := r.Context().Value(connCountKey{}).(*connCount)
		if !ok {
			http.Error(w, "no count", http.StatusInternalServerError)
			return
		}
		_, _ = io.WriteString(w, strconv.FormatUint(uint64(c.n.Load()), 10))
	})
	url := start(t, func(ctx context.Context, ln net.Listener) error {
		return Serve(ctx, ln, h, slog.New(slog.DiscardHandler), time.Second)
	})
	c := connection(t)
	for want := int64(1); want <= turnEvery+1; want++ {
		if got := get(t, c, url); got != want {
			t.Fatalf("request %d of the connection: count %d", want, got)
		}
	}
}
