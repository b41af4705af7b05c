package server

import (
	"context"
	"net"
	"net/http"
	"sync/atomic"
)

// turns bounds how long one keep-alive connection keeps a processor to itself when the
// server is saturated.
//
// Go's scheduler hands the processor straight from a connection's goroutine to
// net/http's background reader and back (each one readied into the processor's
// runnext slot, sharing one time slice), and it polls the network only when a
// processor runs out of work or when sysmon does, every 10 ms. So a client that sends
// its next request within microseconds of each answer can have request after request
// served by the same processor for a whole 10 ms slice, while the goroutines of other
// connections, whose requests arrived meanwhile, wait a slice or more for answers
// that take a fraction of a millisecond to make (an execution trace under wrk,
// BENCHMARKS.md "Scheduling fairness"). Every few requests on a connection, one
// therefore begins by yielding (runtime.Gosched): the goroutine goes to the global run
// queue, and the processor takes the next goroutine that is waiting. When nothing
// waits, the yield returns at once.
type turns struct {
	every uint32 // a request in this many yields first
	yield func() // runtime.Gosched; tests count the calls instead
}

// connCount is a connection's request count. HTTP/1.1 serves one request at a time per
// connection; it is atomic so that it stays right if requests ever overlap.
type connCount struct{ n atomic.Uint32 }

type connCountKey struct{}

// connContext gives each connection its own count (http.Server.ConnContext).
func (t turns) connContext(ctx context.Context, _ net.Conn) context.Context {
	return context.WithValue(ctx, connCountKey{}, &connCount{})
}

// handler wraps h: every t.every-th request of a connection yields before h runs.
func (t turns) handler(h http.Handler) http.Handler {
	if t.every == 0 || t.yield == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, ok := r.Context().Value(connCountKey{}).(*connCount); ok && c.n.Add(1)%t.every == 0 {
			t.yield()
		}
		h.ServeHTTP(w, r)
	})
}
