package repotest

import (
	"testing"
	"time"
)

// replay is the contract of usecase.ReplayStore: a jti is fresh once per namespace,
// exactly once under a race, and fresh again only after housekeeping purged it.
func (s *suite) replay(t *testing.T) {
	if s.Replay == nil {
		t.Skip("no replay store")
	}
	ctx := t.Context()
	later := base.Add(time.Hour)

	t.Run("OncePerNamespace", func(t *testing.T) {
		jti := randomHex(16)
		fresh, err := s.Replay.MarkUsed(ctx, "dpop", jti, later)
		noErr(t, err)
		if !fresh {
			t.Fatal("a new jti is not fresh")
		}
		fresh, err = s.Replay.MarkUsed(ctx, "dpop", jti, later)
		noErr(t, err)
		if fresh {
			t.Fatal("a jti was fresh twice")
		}
		fresh, err = s.Replay.MarkUsed(ctx, "client:"+newID("c"), jti, later)
		noErr(t, err)
		if !fresh {
			t.Fatal("a jti used in one namespace is refused in another")
		}
		// Long and odd values are keys like any other.
		odd := string(make([]byte, 3000)) + "\x00é"
		for i, want := range []bool{true, false} {
			fresh, err = s.Replay.MarkUsed(ctx, "dpop", odd, later)
			noErr(t, err)
			if fresh != want {
				t.Fatalf("odd jti, call %d: fresh = %v", i, fresh)
			}
		}
	})

	t.Run("RaceOneWinner", func(t *testing.T) {
		jti := randomHex(16)
		raceOneWinner(t, "a fresh jti", func() (bool, error) {
			return s.Replay.MarkUsed(ctx, "dpop", jti, later)
		})
	})

	t.Run("Purged", func(t *testing.T) {
		if s.Purger == nil {
			t.Skip("no purger")
		}
		expired, live := randomHex(16), randomHex(16)
		for _, j := range []struct {
			jti string
			exp time.Time
		}{{expired, base.Add(-time.Minute)}, {live, later}} {
			fresh, err := s.Replay.MarkUsed(ctx, "dpop", j.jti, j.exp)
			noErr(t, err)
			if !fresh {
				t.Fatal("a new jti is not fresh")
			}
		}
		deleted, err := s.Purger.PurgeExpired(ctx, base, 500)
		noErr(t, err)
		if deleted["replay_jtis"] < 1 {
			t.Fatalf("purge deleted %v: want the expired jti gone", deleted)
		}
		fresh, err := s.Replay.MarkUsed(ctx, "dpop", live, later)
		noErr(t, err)
		if fresh {
			t.Fatal("housekeeping deleted a jti that has not expired")
		}
		fresh, err = s.Replay.MarkUsed(ctx, "dpop", expired, later)
		noErr(t, err)
		if !fresh {
			t.Fatal("an expired, purged jti is still refused")
		}
	})
}
