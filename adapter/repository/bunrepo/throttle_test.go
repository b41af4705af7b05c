package bunrepo_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"gatehouse/adapter/repository/bunrepo"
	"gatehouse/adapter/repository/bunrepo/bunrepotest"
	"gatehouse/domain"
	"gatehouse/infrastructure/database"
	"gatehouse/infrastructure/database/dbtest"
)

// TestThrottleStoresOnlyKeyHashes: a counter's row holds the SHA-256 of its key, and
// neither the username nor the address appears anywhere in the table.
func TestThrottleStoresOnlyKeyHashes(t *testing.T) {
	for name, url := range dbtest.All(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			db := bunrepotest.Open(t, url)
			th := bunrepo.NewThrottleRepository(db, domain.DefaultThrottlePolicy(), nil, nil)
			key := "user:alice-" + name
			if err := th.RecordFailure(t.Context(), key); err != nil {
				t.Fatal(err)
			}
			rows, err := db.QueryContext(t.Context(), "SELECT key_hash, failures FROM throttle_counters")
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			want := sha256.Sum256([]byte(key))
			n := 0
			for rows.Next() {
				var hash []byte
				var failures int
				if err := rows.Scan(&hash, &failures); err != nil {
					t.Fatal(err)
				}
				n++
				if !bytes.Equal(hash, want[:]) || failures != 1 {
					t.Errorf("row (%x, %d), want (%x, 1)", hash, failures, want)
				}
				if bytes.Contains(hash, []byte("alice")) {
					t.Error("the raw key is stored")
				}
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			if n != 1 {
				t.Fatalf("%d rows, want 1", n)
			}
		})
	}
}

// TestThrottleFailsClosed: when the counters cannot be read (the table is missing
// here, as on a database not yet migrated), Check refuses with ErrUnavailable (a
// 503) instead of letting the attempt through; Failure and Success log what went
// wrong, without the key, and do not panic.
func TestThrottleFailsClosed(t *testing.T) {
	for name, url := range dbtest.All(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			db, closeDB, err := database.Open(t.Context(), url) // not migrated
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(closeDB)
			var logs bytes.Buffer
			log := slog.New(slog.NewTextHandler(&logs, nil))
			th := bunrepo.NewThrottleRepository(db, domain.DefaultThrottlePolicy(), time.Now, log)
			const key = "user:mallory@example.com"
			err = th.Check(t.Context(), key)
			var te *domain.ThrottledError
			if !errors.Is(err, domain.ErrUnavailable) || errors.As(err, &te) {
				t.Errorf("Check on a broken store: %v, want ErrUnavailable", err)
			}
			th.Failure(t.Context(), key)
			th.Success(t.Context(), key)
			out := logs.String()
			if strings.Count(out, "level=WARN") != 2 || !strings.Contains(out, "throttle: failure not counted") ||
				!strings.Contains(out, "throttle: success not recorded") {
				t.Errorf("want two warnings, got:\n%s", out)
			}
			if strings.Contains(out, "mallory") {
				t.Errorf("the key reached the log:\n%s", out)
			}
		})
	}
}
