package bunrepo

import (
	"context"
	"math/bits"
	"strings"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
)

// keyedReads runs the reads of rows by a list of keys, the queries the batched reads
// of batchrepo send (RefreshStates, CodeRedemptions, UsersByID, RefreshTokensByHash),
// on SQLite through statements prepared once per query and list length. The length is
// rounded up to a power of two and the list padded with its first key, which IN
// ignores, so a query has at most nine shapes (maxKeyedRead keys). Every SQLite
// statement runs on the one connection, one after the other, and parsing each read
// anew was a visible share of the refresh run's CPU (BENCHMARKS.md).
//
// Not on PostgreSQL: a prepared statement there keeps a generic plan made with the
// statistics of its time, and one made while a table was small scanned it whole once
// it had grown (BENCHMARKS.md); these reads are planned with their keys instead.
// Nor inside a unit of work: preparing on the one-connection pool while a
// transaction holds that connection would wait for itself.
type keyedReads struct {
	db    *bun.DB
	stmts *Statements // nil: not SQLite
}

// maxKeyedRead is the longest list read through a prepared statement (batchrepo's
// batches hold at most 200 keys); a longer one is formatted by Bun.
const maxKeyedRead = 256

func newKeyedReads(db *bun.DB) *keyedReads {
	k := &keyedReads{db: db}
	if db.Dialect().Name() == dialect.SQLite {
		k.stmts = NewStatements(db.DB)
	}
	return k
}

// prepares says whether scan runs a read of n keys through a prepared statement.
func (k *keyedReads) prepares(ctx context.Context, n int) bool {
	return k.stmts != nil && !InUnitOfWork(ctx) && n > 0 && n <= maxKeyedRead
}

// scan fills dest with the rows of query(list), where list stands for the keys: "?"
// for Bun to write them in, or the placeholders of a prepared statement.
func (k *keyedReads) scan(ctx context.Context, query func(list string) string, keys []any, dest any) error {
	if len(keys) == 0 {
		return nil // no key, no row
	}
	return k.scanLists(ctx, func(lists []string) string { return query(lists[0]) }, [][]any{keys}, dest)
}

// scanLists is scan for a query with several lists of keys: query(lists) names
// lists[i] for keys[i], and leaves out the part of an empty list (lists[i] == "").
// Prepared, every list is padded to the same power of two, so that a query has at
// most nine shapes for each choice of lists that are not empty.
func (k *keyedReads) scanLists(ctx context.Context, query func(lists []string) string, keys [][]any, dest any) error {
	longest := 0
	for _, ks := range keys {
		longest = max(longest, len(ks))
	}
	lists := make([]string, len(keys))
	if !k.prepares(ctx, longest) {
		var args []any
		for i, ks := range keys {
			if len(ks) > 0 {
				lists[i] = "?"
				args = append(args, bun.In(ks))
			}
		}
		return conn(ctx, k.db).NewRaw(query(lists), args...).Scan(ctx, dest)
	}
	n := 1 << bits.Len(uint(longest-1)) // the next power of two
	placeholders := strings.Repeat("?, ", n-1) + "?"
	args := make([]any, 0, n*len(keys))
	for i, ks := range keys {
		if len(ks) == 0 {
			continue
		}
		lists[i] = placeholders
		args = append(args, ks...)
		for range n - len(ks) {
			args = append(args, ks[0])
		}
	}
	st, err := k.stmts.Prepare(ctx, query(lists))
	if err != nil {
		return err
	}
	// Without the caller's deadline: a context that can end costs each SQLite
	// statement a goroutine and a progress handler in the driver, to interrupt it.
	// These are primary-key lookups; busy_timeout bounds a wait for a lock.
	rows, err := st.QueryContext(context.WithoutCancel(ctx), args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	if err := k.db.ScanRows(ctx, rows, dest); err != nil {
		return err
	}
	return rows.Err()
}

// keyList stands for the list of keys in a query's text (withKeys).
const keyList = "/* keys */"

// withKeys is a query function for scan: query with its keyList replaced.
func withKeys(query string) func(list string) string {
	return func(list string) string { return strings.Replace(query, keyList, list, 1) }
}

// keysOf is keys as scan takes them.
func keysOf[K any](keys []K) []any {
	out := make([]any, len(keys))
	for i, k := range keys {
		out[i] = k
	}
	return out
}
