package batchrepo

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/uptrace/bun"
)

// RevocationQueries counts the queries the revocation checks ran.
func RevocationQueries(t *Tokens) int64 { return t.revoked.queryCount() }

// RefreshTokenQueries counts the queries the refresh-token reads ran.
func RefreshTokenQueries(t *Tokens) int64 { return t.byHash.queryCount() }

// UserQueries counts the queries the user reads ran.
func UserQueries(u *Users) int64 { return u.byID.queryCount() }

// Pipeline is PostgreSQL's batching of one-statement writes, for tests.
type Pipeline = pgPipeline

// NewPipeline returns a pipeline over db.
func NewPipeline(db *bun.DB) *Pipeline { return newPGPipeline(db) }

// Exec sends query through p as a write does and returns the rows it changed.
func (p *Pipeline) Exec(ctx context.Context, key, query string, args ...any) (int64, error) {
	return p.exec(ctx, []byte(key), pipelineStmt{query, args})
}

// Counts returns how many batches of more than one write ran, and how many writes ran
// again alone after their batch was rolled back.
func (p *Pipeline) Counts() (batches, reruns int64) { return p.counts() }

// Waiting returns how many writes wait for a batch.
func (p *Pipeline) Waiting() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.pending)
}

// QueryRow sends query through p as a write that reads a row does; scan reads it.
func (p *Pipeline) QueryRow(ctx context.Context, key, query string, scan func(pgx.Rows) error, args ...any) (bool, error) {
	return p.queryRow(ctx, []byte(key), query, args, scan)
}
