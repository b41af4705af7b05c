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
	running bool  // a query of this reader is in flight
	queries int64 // run so far, for tests
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
	return &readBatcher[K, V]{what: what, query: query}
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

// runBatch answers the reads waiting now; when more arrived meanwhile, another
// goroutine goes on with them, so this caller can answer its own request.
func (b *readBatcher[K, V]) runBatch(ctx context.Context) {
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
	if len(b.pending) == 0 {
		b.running = false
		b.mu.Unlock()
		return
	}
	b.mu.Unlock()
	go b.runBatch(context.WithoutCancel(ctx))
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
