package bunrepotest

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"gatehouse/adapter/repository/bunrepo"
	"gatehouse/infrastructure/database"
	"gatehouse/infrastructure/database/dbtest"
)

// migrateTimeout bounds the migrations; it is not a wait: they crawl on a loaded
// machine.
const migrateTimeout = 60 * time.Second

// Open opens url (usually from dbtest.SQLite, dbtest.Postgres, dbtest.MySQL or
// dbtest.All), applies every migration, and closes the pool when the test ends.
//
// A SQLite file that does not exist yet starts as a copy of a database this process
// migrated once: the pure-Go SQLite runs the migrations far slower under the race
// detector than without it, and most tests want a fresh database.
// Migrate then runs on the copy too, finding nothing to do, so a copy that lacked a
// migration would still end up complete.
func Open(t testing.TB, url string) *bun.DB {
	t.Helper()
	if path, ok := newSQLiteFile(url); ok {
		img, err := migratedImage()
		if err != nil {
			t.Fatalf("bunrepotest: migrated template: %v", err)
		}
		if err := os.WriteFile(path, img, 0o600); err != nil {
			t.Fatalf("bunrepotest: copy the migrated template: %v", err)
		}
	}
	db := dbtest.Open(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), migrateTimeout)
	defer cancel()
	if err := bunrepo.Migrate(ctx, db); err != nil {
		t.Fatalf("bunrepotest: migrate: %v", err)
	}
	return db
}

// newSQLiteFile returns the path of url when it names a SQLite file that does not
// exist yet (an in-memory database has no file to copy into).
func newSQLiteFile(url string) (string, bool) {
	rest, ok := strings.CutPrefix(url, "sqlite:")
	if !ok {
		return "", false
	}
	path, _, _ := strings.Cut(rest, "?")
	if path == "" || strings.Contains(path, ":memory:") || strings.HasPrefix(path, "file:") {
		return "", false
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		return "", false
	}
	return path, true
}

// template is the bytes of a SQLite file with every migration applied, made once per
// process.
var template struct {
	once sync.Once
	img  []byte
	err  error
}

func migratedImage() ([]byte, error) {
	template.once.Do(func() { template.img, template.err = makeMigratedImage() })
	return template.img, template.err
}

// makeMigratedImage migrates a SQLite file in a temporary directory, closes it (the
// last connection's close checkpoints the WAL into the file and removes it), and
// returns the file's bytes.
func makeMigratedImage() ([]byte, error) {
	dir, err := os.MkdirTemp("", "gatehouse-bunrepotest-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "template.db")
	ctx, cancel := context.WithTimeout(context.Background(), migrateTimeout)
	defer cancel()
	db, closeDB, err := database.Open(ctx, "sqlite:"+path)
	if err != nil {
		return nil, err
	}
	err = bunrepo.Migrate(ctx, db)
	closeDB()
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	if _, err := os.Stat(path + "-wal"); err == nil {
		return nil, errors.New("the WAL outlived the last connection: the file alone is not the database")
	}
	return os.ReadFile(path)
}
