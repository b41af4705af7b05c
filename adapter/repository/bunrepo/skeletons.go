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

// usernameSkeleton is the username_skeleton of a username: SHA-256 of its TR39
// skeleton, lower-cased (usernames are case-insensitive: "0scar", whose 0 maps to a
// capital O, is drawn like "oscar"). A hash keeps the key short (a skeleton can be
// longer than its name: m maps to rn). nil for "".
func usernameSkeleton(username string) []byte {
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

// fillUsernameSkeletons sets username_skeleton where it is NULL, a page of users at
// a time, each row in a statement of its own (a collision must not undo the others).
func fillUsernameSkeletons(ctx context.Context, db *bun.DB) error {
	const page = 500
	after := ""
	for {
		var rows []struct {
			ID       string `bun:"id"`
			Username string `bun:"username"`
		}
		err := db.NewSelect().Table("users").Column("id", "username").
			Where("id > ?", after).Where("username_skeleton IS NULL").OrderExpr("id ASC").Limit(page).Scan(ctx, &rows)
		if err != nil {
			return fmt.Errorf("read users without a username skeleton: %w", err)
		}
		for _, r := range rows {
			_, err := db.NewRaw("UPDATE users SET username_skeleton = ? WHERE id = ? AND username_skeleton IS NULL",
				usernameSkeleton(r.Username), r.ID).Exec(ctx)
			if err != nil && !database.IsUniqueViolation(err) {
				return fmt.Errorf("set the username skeleton of user %q: %w", r.ID, err)
			}
		}
		if len(rows) < page {
			return nil
		}
		after = rows[len(rows)-1].ID
	}
}
