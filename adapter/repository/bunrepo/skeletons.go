package bunrepo

import (
	"context"
	"crypto/sha256"
	"fmt"
	"strings"

	"github.com/mtibben/confusables"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/migrate"

	"gatehouse/infrastructure/database"
)

// Confusable usernames (SECURITY S49). Two usernames that are drawn alike, "alice"
// and "alıce" (a dotless ı), "ɑlice" (a Latin alpha), "daᴠe" (a small capital V) or
// "օհո" (Armenian) beside "ohn", have the same skeleton (Unicode TR39 §4: each
// character mapped to the one it is confused with). users.username_skeleton holds a
// hash of it under a unique index, so the database refuses a name drawn like one
// already taken as it refuses the same name (ErrDuplicate), and Taken reports it.
// The rule lives here, beside the unique index on the name itself, because it is
// one: which names may exist side by side.

// UsernameSkeleton is the username_skeleton of a username: SHA-256 of its TR39
// skeleton, lower-cased (usernames are case-insensitive: "0scar", whose 0 maps to a
// capital O, is drawn like "oscar"). A hash keeps the key short (a skeleton can be
// longer than its name: m maps to rn). nil for "". Exported for the benchmark's bulk
// loader, which writes users as the repository does.
func UsernameSkeleton(username string) []byte {
	if username == "" {
		return nil
	}
	sum := sha256.Sum256([]byte(strings.ToLower(confusables.Skeleton(username))))
	return sum[:]
}

// userSkeleton is migration 20261207000002's column: NULL for a user whose name's
// skeleton another user held first when the column was filled (names drawn alike
// that existed before the rule keep working; the first one's skeleton still stops
// new ones).
func userSkeleton() (table string, c column) {
	return "users", nullCol("username_skeleton", typeHash)
}

// usernameSkeletonMigration is 20261207000002: the column, its unique index, then
// the skeleton of every user stored before (in id order; one that collides with an
// earlier one is left NULL). The index comes first so that the database, not this
// loop, decides what collides.
func usernameSkeletonMigration() migrate.Migration {
	colUp, colDown := addColumn(userSkeleton)
	ixUp, ixDown := addIndex("users", uniq("username_skeleton"))
	return migrate.Migration{Name: "20261207000002", Comment: "username_skeleton",
		Up: sequence([]migrationFunc{colUp, ixUp, goMigration(fillUsernameSkeletons)}), Down: sequence([]migrationFunc{ixDown, colDown})}
}

// fillUsernameSkeletons sets username_skeleton where it is NULL, 500 users at a time.
func fillUsernameSkeletons(ctx context.Context, db *bun.DB) error {
	return fillSkeletonsBy(ctx, db, 500)
}

// skeletonRow is a user whose skeleton the fill sets.
type skeletonRow struct {
	ID       string `bun:"id"`
	Username string `bun:"username"`
	skeleton []byte
}

// fillSkeletonsBy fills the skeletons page users at a time, in id order: those that
// no user holds yet (nor an earlier one of the page) in one transaction per page, so
// a table of millions costs thousands of commits, not millions.
func fillSkeletonsBy(ctx context.Context, db *bun.DB, page int) error {
	after := ""
	for {
		var rows []skeletonRow
		err := db.NewSelect().Table("users").Column("id", "username").
			Where("id > ?", after).Where("username_skeleton IS NULL").OrderExpr("id ASC").Limit(int64(page)).Scan(ctx, &rows)
		if err != nil {
			return fmt.Errorf("read users without a username skeleton: %w", err)
		}
		if len(rows) == 0 {
			return nil
		}
		after = rows[len(rows)-1].ID
		free, err := freeSkeletons(ctx, db, rows)
		if err != nil {
			return err
		}
		err = inTx(ctx, db, nil, func(ctx context.Context, tx bun.Tx) error {
			return setSkeletons(ctx, tx, free)
		})
		if database.IsUniqueViolation(err) {
			// Taken meanwhile (a user made by an instance already upgraded): row by
			// row, leaving the one that collides NULL.
			err = setSkeletons(ctx, db, free)
		}
		if err != nil {
			return err
		}
		if len(rows) < page {
			return nil
		}
	}
}

// freeSkeletons are the rows of a page whose skeleton neither another user nor an
// earlier row of the page holds, with their skeletons.
func freeSkeletons(ctx context.Context, db *bun.DB, rows []skeletonRow) ([]skeletonRow, error) {
	seen := map[string]bool{}
	var mine []skeletonRow
	var keys [][]byte
	for _, r := range rows {
		r.skeleton = UsernameSkeleton(r.Username)
		if r.skeleton == nil || seen[string(r.skeleton)] {
			continue
		}
		seen[string(r.skeleton)] = true
		mine, keys = append(mine, r), append(keys, r.skeleton)
	}
	if len(keys) == 0 {
		return nil, nil
	}
	var held [][]byte
	if err := db.NewSelect().Table("users").Column("username_skeleton").Where("username_skeleton IN (?)", bun.In(keys)).
		Scan(ctx, &held); err != nil {
		return nil, fmt.Errorf("read the username skeletons held: %w", err)
	}
	taken := map[string]bool{}
	for _, h := range held {
		taken[string(h)] = true
	}
	free := mine[:0]
	for _, r := range mine {
		if !taken[string(r.skeleton)] {
			free = append(free, r)
		}
	}
	return free, nil
}

// setSkeletons writes the rows' skeletons through db (a transaction or not); outside
// a transaction, one that collides is left NULL.
func setSkeletons(ctx context.Context, db bun.IDB, rows []skeletonRow) error {
	_, inTx := db.(bun.Tx)
	for _, r := range rows {
		_, err := db.NewRaw("UPDATE users SET username_skeleton = ? WHERE id = ? AND username_skeleton IS NULL",
			r.skeleton, r.ID).Exec(ctx)
		if err != nil && (inTx || !database.IsUniqueViolation(err)) {
			return fmt.Errorf("set the username skeleton of user %q: %w", r.ID, err)
		}
	}
	return nil
}
