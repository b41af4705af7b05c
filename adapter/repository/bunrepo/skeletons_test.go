package bunrepo_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"gatehouse/adapter/repository/bunrepo"
	"gatehouse/domain"
	"gatehouse/infrastructure/database/dbtest"
)

// TestMigration_UsernameSkeleton upgrades a database whose users came before the
// confusable-name rule, two of them already drawn alike ("bam", "barn": m and rn):
// both keep signing in, and afterwards no new name drawn like any of them is free
// ("alıce" beside "alice", "barm" beside both), on every backend.
func TestMigration_UsernameSkeleton(t *testing.T) {
	for name, url := range dbtest.All(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			db := openAtRelease(t, url, "20261207000001")
			now := time.Now().UTC().Truncate(time.Second)
			for i, n := range []string{"alice", "bam", "barn", "ohn"} {
				// Rows as the previous release wrote them: no username_skeleton column.
				if _, err := db.ExecContext(ctx, `INSERT INTO users (id, username, email, email_verified, password_hash,
					created_at, updated_at) VALUES (?, ?, NULL, ?, ?, ?, ?)`,
					"u-"+string(rune('a'+i)), n, false, "x", now, now); err != nil {
					t.Fatalf("insert %s: %v", n, err)
				}
			}
			if err := bunrepo.Migrate(ctx, db); err != nil {
				t.Fatalf("migrate: %v", err)
			}
			users := bunrepo.NewUserRepository(db)
			for _, n := range []string{"bam", "barn"} {
				if u, err := users.UserByUsername(ctx, n); err != nil || u.Username != n {
					t.Errorf("%s after the migration: %+v, %v", n, u, err)
				}
			}
			for _, tc := range []struct {
				name  string
				taken bool
			}{
				{"alice", true}, {"al\u0131ce", true}, {"\u0251lice", true}, {"b\u0251m", true}, {"b\u0251rn", true}, {"\u0585\u0570\u0578", true},
				{"alicia", false}, {"bar", false},
			} {
				taken, _, err := users.Taken(ctx, tc.name, "")
				if err != nil || taken != tc.taken {
					t.Errorf("Taken(%q) = %v, %v; want %v", tc.name, taken, err, tc.taken)
				}
			}
			err := users.CreateUser(ctx, domain.User{ID: "u-new", Username: "al\u0131ce", PasswordHash: "x", CreatedAt: now, UpdatedAt: now})
			if !errors.Is(err, domain.ErrDuplicate) {
				t.Errorf("a user drawn like alice: %v, want ErrDuplicate", err)
			}

			// The fill in pages of 2: names drawn alike within a page and across pages,
			// and one whose skeleton a user holds already.
			for i, n := range []string{"carl", "cari", "rnary", "mary", "ohm", "\u0585hm", "zed"} {
				if _, err := db.ExecContext(ctx, `INSERT INTO users (id, username, email, email_verified, password_hash,
					created_at, updated_at) VALUES (?, ?, NULL, ?, ?, ?, ?)`,
					"v-"+string(rune('a'+i)), n, false, "x", now, now); err != nil {
					t.Fatalf("insert %s: %v", n, err)
				}
			}
			if err := bunrepo.FillUsernameSkeletons(ctx, db, 2); err != nil {
				t.Fatalf("fill: %v", err)
			}
			var filled []string
			if err := db.NewSelect().Table("users").Column("username").Where("id LIKE 'v-%'").
				Where("username_skeleton IS NOT NULL").OrderExpr("id").Scan(ctx, &filled); err != nil {
				t.Fatal(err)
			}
			// carl and cari differ (l, i); rnary takes its skeleton before mary; ohm before
			// its Armenian twin.
			if got := fmt.Sprint(filled); got != "[carl cari rnary ohm zed]" {
				t.Errorf("filled %s", got)
			}
			if err := bunrepo.FillUsernameSkeletons(ctx, db, 2); err != nil {
				t.Fatalf("a second fill: %v", err)
			}
			for _, n := range []string{"mary", "ohrn", "zed"} {
				if taken, _, err := users.Taken(ctx, n, ""); err != nil || !taken {
					t.Errorf("Taken(%q) after the fill = %v, %v", n, taken, err)
				}
			}
		})
	}
}
