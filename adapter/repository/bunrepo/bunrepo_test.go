package bunrepo_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"

	"gatehouse/adapter/repository/bunrepo"
	"gatehouse/adapter/repository/bunrepo/bunrepotest"
	"gatehouse/adapter/repository/repotest"
	"gatehouse/domain"
	"gatehouse/infrastructure/database"
	"gatehouse/infrastructure/database/dbtest"
)

// TestContract runs the storage contract on every reachable backend, in parallel.
func TestContract(t *testing.T) {
	for name, url := range dbtest.All(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			repotest.RunAll(t, bunrepotest.Open(t, url))
		})
	}
}

// TestMigrateUpDownUp checks that every migration can be undone and redone, that
// migrating twice is harmless, and that HasSchema and MigrationStatus follow (and
// create nothing on a database never migrated).
func TestMigrateUpDownUp(t *testing.T) {
	for name, url := range dbtest.All(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			db := openTestDB(t, url)

			wantApplied(t, db, false)
			// Neither the status nor HasSchema created anything on the fresh database.
			if _, err := db.NewSelect().Table("gatehouse_migrations").ColumnExpr("count(*)").Exec(ctx); err == nil {
				t.Error("reading the status of a fresh database created the migrations table")
			}
			for range 2 {
				if err := bunrepo.Migrate(ctx, db); err != nil {
					t.Fatalf("migrate up: %v", err)
				}
			}
			wantApplied(t, db, true)
			users := bunrepo.NewUserRepository(db)
			if _, err := users.ListUsers(ctx); err != nil {
				t.Fatalf("list users after migrating: %v", err)
			}

			if err := bunrepo.Rollback(ctx, db); err != nil {
				t.Fatalf("migrate down: %v", err)
			}
			wantApplied(t, db, false)
			if _, err := users.ListUsers(ctx); err == nil {
				t.Fatal("the users table survived the rollback")
			}

			if err := bunrepo.Migrate(ctx, db); err != nil {
				t.Fatalf("migrate up again: %v", err)
			}
			wantApplied(t, db, true)
			u := domain.User{ID: "u1", Username: "alice", PasswordHash: "h", CreatedAt: time.Now(), UpdatedAt: time.Now()}
			if err := users.CreateUser(ctx, u); err != nil {
				t.Fatalf("create user after re-migrating: %v", err)
			}
		})
	}
}

func wantApplied(t *testing.T, db *bun.DB, applied bool) {
	t.Helper()
	states, err := bunrepo.MigrationStatus(t.Context(), db)
	if err != nil {
		t.Fatalf("migration status: %v", err)
	}
	if len(states) == 0 {
		t.Fatal("no migrations known")
	}
	if has, err := bunrepo.HasSchema(t.Context(), db); err != nil || has != applied {
		t.Errorf("HasSchema = %v, %v; want %v", has, err, applied)
	}
	for _, s := range states {
		if s.Applied != applied {
			t.Errorf("migration %s applied = %v, want %v", s.Name, s.Applied, applied)
		}
		if applied && (s.MigratedAt.IsZero() || s.MigratedAt.Location() != time.UTC) {
			t.Errorf("migration %s migrated at %v, want a UTC time", s.Name, s.MigratedAt)
		}
	}
}

// TestConcurrentMigrate: instances starting together must not trip over each other.
func TestConcurrentMigrate(t *testing.T) {
	for name, url := range dbtest.All(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			const n = 4
			errs := make(chan error, n)
			for range n {
				go func() {
					db, closeDB, err := database.Open(t.Context(), url)
					if err != nil {
						errs <- err
						return
					}
					defer closeDB()
					errs <- bunrepo.Migrate(t.Context(), db)
				}()
			}
			for range n {
				if err := <-errs; err != nil {
					t.Errorf("migrate: %v", err)
				}
			}
		})
	}
}

// TestUnreachableDatabaseIsUnavailable: a database that does not answer gives
// domain.ErrUnavailable (HTTP 503), not an internal error.
func TestUnreachableDatabaseIsUnavailable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	cfg, err := pgx.ParseConfig(fmt.Sprintf("postgres://u@127.0.0.1:%d/db?connect_timeout=2", port))
	if err != nil {
		t.Fatal(err)
	}
	db := bun.NewDB(stdlib.OpenDB(*cfg), pgdialect.New())
	defer db.Close()

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, err = bunrepo.NewClientRepository(db).ClientByID(ctx, "c1")
	if !errors.Is(err, domain.ErrUnavailable) {
		t.Errorf("ClientByID: %v, want ErrUnavailable", err)
	}
	err = bunrepo.NewTokenRepository(db, bunrepo.NewTxWriter(db)).RevokeFamily(ctx, "f1", time.Now())
	if !errors.Is(err, domain.ErrUnavailable) {
		t.Errorf("RevokeFamily: %v, want ErrUnavailable", err)
	}
	err = bunrepo.NewThrottleRepository(db, domain.DefaultThrottlePolicy(), nil, nil).Check(ctx, "addr:192.0.2.1")
	if !errors.Is(err, domain.ErrUnavailable) {
		t.Errorf("throttle Check: %v, want ErrUnavailable (fail closed)", err)
	}
}
