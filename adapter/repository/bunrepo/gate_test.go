package bunrepo_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse/adapter/repository/bunrepo"
	"gatehouse/adapter/repository/bunrepo/bunrepotest"
	"gatehouse/infrastructure/database/dbtest"
	"gatehouse/usecase"
)

// withPool is u with a pool of n connections.
func withPool(t *testing.T, u string, n int) string {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	q := p.Query()
	q.Set("max_open_conns", fmt.Sprint(n))
	p.RawQuery = q.Encode()
	return p.String()
}

// TestConnGate: on PostgreSQL and MariaDB the hot paths wait for a place of the gate
// (one per pooled connection) and give up with their context; a caller that holds a
// place goes through; many callers through a small pool all get their answer. SQLite
// has no gate.
func TestConnGate(t *testing.T) {
	for name, u := range dbtest.All(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			const pool = 3
			db := bunrepotest.Open(t, withPool(t, u, pool))
			gate := bunrepo.NewConnGate(db)
			tokens := bunrepo.NewTokenRepository(db, gate)
			now := time.Now().UTC().Truncate(time.Millisecond)
			if name == "sqlite" {
				if gate != nil {
					t.Fatal("SQLite got a gate; its one connection already serves writes in groups")
				}
				if err := tokens.RevokeFamily(ctx, "fam-sqlite", now); err != nil {
					t.Fatal(err)
				}
				return
			}
			if gate == nil {
				t.Fatalf("%s: no gate for a pool of %d", name, pool)
			}

			var leaves []func()
			var holder context.Context
			for range pool {
				marked, leave, err := bunrepo.EnterGate(ctx, gate)
				if err != nil {
					t.Fatal(err)
				}
				holder, leaves = marked, append(leaves, leave)
			}
			// Every place is taken: a write and a batched read wait, and give up with
			// their context.
			short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
			err := tokens.RevokeFamily(short, "fam-waits", now)
			cancel()
			if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "wait for a database connection") {
				t.Fatalf("revoke with every place taken: err = %v, want a timeout waiting for a connection", err)
			}
			// A caller holding a place does not wait for a second one.
			if err := tokens.RevokeFamily(holder, "fam-holder", now); err != nil {
				t.Fatalf("revoke by a caller holding a place: %v", err)
			}
			// PostgreSQL's batched reads are prepared statements, through the gate: one
			// waits until a place is freed (its query outlives its caller's context).
			read := make(chan error, 1)
			if name == "postgres" {
				go func() {
					revoked, err := tokens.AccessTokenRevoked(ctx, usecase.RevocationCheck{JTI: "jti-read", FamilyID: "fam-holder"})
					if err == nil && !revoked {
						err = errors.New("fam-holder: not revoked")
					}
					read <- err
				}()
				select {
				case err := <-read:
					t.Fatalf("a batched read with every place taken answered: %v", err)
				case <-time.After(150 * time.Millisecond):
				}
			} else {
				read <- nil
			}
			leaves[0]()
			select {
			case err := <-read:
				if err != nil {
					t.Fatalf("batched read after a place was freed: %v", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("a batched read still waits after a place was freed")
			}
			if err := tokens.RevokeFamily(ctx, "fam-after", now); err != nil {
				t.Fatalf("revoke after a place was freed: %v", err)
			}
			for _, leave := range leaves[1:] {
				leave()
			}

			// 64 callers through 3 connections: each revocation is stored and read back.
			const n = 64
			var wg sync.WaitGroup
			errs := make(chan error, n)
			for i := range n {
				wg.Go(func() {
					fam := fmt.Sprint("fam-", i)
					if err := tokens.RevokeFamily(ctx, fam, now); err != nil {
						errs <- fmt.Errorf("revoke %s: %w", fam, err)
						return
					}
					revoked, err := tokens.AccessTokenRevoked(ctx, usecase.RevocationCheck{JTI: fmt.Sprint("jti-", i), FamilyID: fam})
					if err != nil || !revoked {
						errs <- fmt.Errorf("check %s: revoked = %v, err = %v; want revoked", fam, revoked, err)
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			if t.Failed() {
				return
			}
			if revoked, err := tokens.FamilyRevoked(ctx, "fam-waits"); err != nil || revoked {
				t.Errorf("the revocation that gave up waiting: revoked = %v, err = %v; want none stored", revoked, err)
			}
		})
	}
}
