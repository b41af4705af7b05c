package batchrepo

import (
	"context"
	"fmt"
	"sync"
	"time"

	"gatehouse/adapter/repository/bunrepo"
)

// readBatcher answers a read that many concurrent callers make, each with its own key,
// with one query per batch ("natural batching"): a caller that finds no query of its
// reader in flight runs one for every key waiting at that moment, its own included;
// keys that arrive meanwhile wait for the next. Under load a round trip then serves
// dozens of requests instead of one; alone, a caller runs its query at once. Every
// answer reflects the database after its caller asked (the query starts later), so
// nothing is stale. It serves the revocation checks of introspection and userinfo,
// the user reads of userinfo, and the refresh-token reads of introspection,
// revocation and PostgreSQL's refresh (tokens.go).
type readBatcher[K comparable, V any] struct {
	what  string // for errors: "check access token revocation"
	query func(ctx context.Context, keys []K) (map[K]V, error)

	mu      sync.Mutex
	pending []*batchRead[K, V]
	running bool          // a batch of this reader is being answered
	worker  bool          // a drain goroutine exists, answering or waiting for work
	wake    chan struct{} // hands pending reads to the waiting worker (capacity 1)
	linger  time.Duration // how long the worker waits for more work (workerLinger)
	queries int64         // run so far, for tests
	workers int64         // drain goroutines started so far, for tests
}

type batchRead[K comparable, V any] struct {
	key   K
	value V
	found bool
	err   error
	done  chan struct{}
}

// maxBatchKeys bounds the IN lists of one query.
const maxBatchKeys = 200

// batchQueryTimeout bounds a batch's query: it serves other callers too, so it does
// not end with the context of the one that runs it.
const batchQueryTimeout = 10 * time.Second

// newReadBatcher returns a reader that runs one batch query at a time. Each query is
// planned anew for its keys, which on PostgreSQL costs more than the lookups; with
// one batch in flight rather than two, each batch is about twice as large and that
// cost per request halves (BENCHMARKS.md, "Both databases"). SQLite's pool has one
// connection, so it ran one anyway. A batch is bounded by maxBatchKeys and
// batchQueryTimeout.
func newReadBatcher[K comparable, V any](what string, query func(ctx context.Context, keys []K) (map[K]V, error)) *readBatcher[K, V] {
	return &readBatcher[K, V]{what: what, query: query, wake: make(chan struct{}, 1), linger: workerLinger}
}

// get returns key's value and whether the query found it.
func (b *readBatcher[K, V]) get(ctx context.Context, key K) (V, bool, error) {
	var zero V
	if err := ctx.Err(); err != nil {
		return zero, false, fmt.Errorf("%s: %w", b.what, err)
	}
	if bunrepo.InUnitOfWork(ctx) {
		// A unit of work reads in its own transaction (it sees its own writes, and a
		// one-connection pool has no other connection to read on).
		m, err := b.query(ctx, []K{key})
		if err != nil {
			return zero, false, fmt.Errorf("%s: %w", b.what, err)
		}
		v, ok := m[key]
		return v, ok, nil
	}
	r := &batchRead[K, V]{key: key, done: make(chan struct{})}
	b.mu.Lock()
	b.pending = append(b.pending, r)
	run := !b.running
	b.running = true
	b.mu.Unlock()
	if run {
		b.runBatch(ctx)
	}
	select {
	case <-r.done:
		return r.value, r.found, r.err
	case <-ctx.Done():
		return zero, false, fmt.Errorf("%s: %w", b.what, ctx.Err())
	}
}

// runBatch answers the reads waiting now; when more arrived meanwhile, the worker
// goes on with them, so this caller can answer its own request.
func (b *readBatcher[K, V]) runBatch(ctx context.Context) {
	if !b.runOne(ctx) {
		return
	}
	// Reads are pending, and the reader is still marked running for them.
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.worker {
		b.wake <- struct{}{} // never blocks: the worker takes each hand-over before the next can come
		return
	}
	b.worker = true
	b.workers++
	go b.drain(context.WithoutCancel(ctx))
}

// workerLinger is how long the worker waits for more work before it ends.
const workerLinger = time.Second

// drain answers batch after batch while reads keep arriving, then waits up to
// b.linger for a caller to hand it more. One long-lived goroutine rather than
// one per batch: SQLite's statements run deep in the stack, and a new goroutine's
// stack grows to that depth anew, copied at each doubling (BENCHMARKS.md, "Both
// databases").
func (b *readBatcher[K, V]) drain(ctx context.Context) {
	idle := time.NewTimer(b.linger)
	defer idle.Stop()
	for {
		for b.runOne(ctx) {
		}
		idle.Reset(b.linger)
		select {
		case <-b.wake:
			continue
		case <-idle.C:
		}
		b.mu.Lock()
		select {
		case <-b.wake: // handed over just as the wait ended
			b.mu.Unlock()
			continue
		default:
		}
		b.worker = false
		b.mu.Unlock()
		return
	}
}

// runOne answers the reads waiting now (at most maxBatchKeys), and reports whether
// more arrived meanwhile; if none did, the reader is no longer running.
func (b *readBatcher[K, V]) runOne(ctx context.Context) (more bool) {
	b.mu.Lock()
	n := min(len(b.pending), maxBatchKeys)
	batch := b.pending[:n:n]
	b.pending = b.pending[n:]
	b.queries++
	b.mu.Unlock()

	keys := make([]K, 0, len(batch))
	seen := make(map[K]bool, len(batch))
	for _, r := range batch {
		if !seen[r.key] {
			seen[r.key] = true
			keys = append(keys, r.key)
		}
	}
	qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), batchQueryTimeout)
	values, err := b.guardedQuery(qctx, keys)
	cancel()
	for _, r := range batch {
		r.err = err
		if err == nil {
			r.value, r.found = values[r.key]
		}
		close(r.done)
	}

	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.pending) == 0 {
		b.running = false
		return false
	}
	return true
}

// guardedQuery runs the query with a panic turned into the batch's error: a panic
// escaping runBatch would leave the reader marked as running, and every later read
// of it waiting for ever.
func (b *readBatcher[K, V]) guardedQuery(ctx context.Context, keys []K) (values map[K]V, err error) {
	defer func() {
		if p := recover(); p != nil {
			values, err = nil, fmt.Errorf("%s panicked: %v", b.what, p)
		}
	}()
	return b.query(ctx, keys)
}

// workerState says whether a drain goroutine exists and how many were started.
func (b *readBatcher[K, V]) workerState() (exists bool, started int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.worker, b.workers
}

// queryCount returns how many batch queries ran.
func (b *readBatcher[K, V]) queryCount() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.queries
}

func (b *readBatcher[K, V]) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return fmt.Sprintf("%s: %d queries, running %v, %d waiting", b.what, b.queries, b.running, len(b.pending))
}
