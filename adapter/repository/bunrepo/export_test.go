package bunrepo

import (
	"context"

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

// PreparedReads counts the statements UserRepository's batched reads prepared.
func PreparedReads(r *UserRepository) int { return r.reads.prepared() }

// PreparedRevocationReads counts the statements TokenRepository's batched reads
// prepared.
func PreparedRevocationReads(r *TokenRepository) int { return r.reads.prepared() }

// prepared counts the statements k prepared (none where it does not prepare).
func (k *keyedReads) prepared() int {
	if k.stmts == nil {
		return 0
	}
	return k.stmts.count()
}

// FillUsernameSkeletons runs the skeleton fill of migration 20261207000002 with pages
// of page users.
func FillUsernameSkeletons(ctx context.Context, db *bun.DB, page int) error {
	return fillSkeletonsBy(ctx, db, page)
}
