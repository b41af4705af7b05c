package bunrepo

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/migrate"
)

// MigrateUpTo applies the migrations up to and including the one named name, as an
// older release would have: tests of upgrades start from there.
func MigrateUpTo(ctx context.Context, db *bun.DB, name string) error {
	older := migrate.NewMigrations()
	for _, m := range migrations().Sorted() {
		if m.Name <= name {
			older.Add(m)
		}
	}
	m := migrate.NewMigrator(db, older, migrate.WithTableName(migrationsTable),
		migrate.WithLocksTableName(migrationLocksTable), migrate.WithMarkAppliedOnSuccess(true))
	if err := m.Init(ctx); err != nil {
		return err
	}
	_, err := m.Migrate(ctx)
	return err
}

// RevocationQueries counts the queries the repository's revocation checks ran.
func RevocationQueries(r *TokenRepository) int64 { return r.revoked.queryCount() }

// UserQueries counts the queries the repository's user reads ran.
func UserQueries(r *UserRepository) int64 { return r.byID.queryCount() }

// RefreshTokenQueries counts the queries the repository's refresh-token reads ran.
func RefreshTokenQueries(r *TokenRepository) int64 { return r.byHash.queryCount() }

// EnterGate takes a place of g as the hot paths do; leave gives it back.
func EnterGate(ctx context.Context, g *ConnGate) (marked context.Context, leave func(), err error) {
	return g.enter(ctx)
}

// Pipeline is PostgreSQL's batching of one-statement writes, for tests.
type Pipeline = pgPipeline

// NewPipeline returns the pipeline the repositories build over db.
func NewPipeline(db *bun.DB, gate *ConnGate) *Pipeline { return newPGPipeline(db, gate) }

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
