package repotest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"gatehouse/domain"
	"gatehouse/usecase"
)

// audit is the contract of usecase.AuditStore: events come back as appended, newest
// first, filtered by user (actor or target), type and time, at most the limit; the
// housekeeping deletes them past the retention and keeps the others.
func (s *suite) audit(t *testing.T) {
	if s.Audit == nil {
		t.Skip("no audit log")
	}
	ctx := t.Context()
	// Far in the past and apart from other runs: the filters see only these.
	t0 := time.Date(2003, 4, 5, 6, 7, 8, 912345678, time.FixedZone("UTC+2", 2*3600))
	user, other := newID("auditu"), newID("auditu")
	event := func(typ, actor, target string, at time.Time) domain.AuditEvent {
		e := domain.AuditEvent{ID: newID("ev"), Time: at, Type: typ, Actor: actor, Target: target, IP: "192.0.2.7"}
		noErr(t, s.Audit.Record(ctx, e))
		return e
	}
	ids := func(es []domain.AuditEvent) []string {
		out := make([]string, len(es))
		for i, e := range es {
			out[i] = e.ID
		}
		return out
	}
	list := func(f usecase.AuditFilter) []domain.AuditEvent {
		got, err := s.Audit.ListAuditEvents(ctx, f)
		noErr(t, err)
		return got
	}

	t.Run("AppendAndFilter", func(t *testing.T) {
		created := event(domain.AuditUserCreated, "cli", user, t0)
		failed := domain.AuditEvent{ID: newID("ev"), Time: t0.Add(time.Minute), Type: domain.AuditUserLoginFailed,
			Actor: user, Target: user, IP: "2001:db8::1", Reason: domain.AuditReasonWrongPassword}
		noErr(t, s.Audit.Record(ctx, failed))
		updated := domain.AuditEvent{ID: newID("ev"), Time: t0.Add(2 * time.Minute), Type: domain.AuditUserUpdated,
			Actor: "cli", Target: user, Details: map[string]any{"fields": []any{"email", "disabled"}}}
		noErr(t, s.Audit.Record(ctx, updated))
		revoked := event(domain.AuditConsentRevoked, user, "some-client", t0.Add(3*time.Minute))
		event(domain.AuditUserCreated, "cli", other, t0.Add(4*time.Minute))

		got := list(usecase.AuditFilter{User: user})
		sameList(t, "events of the user, newest first", []string{revoked.ID, updated.ID, failed.ID, created.ID}, ids(got))
		g := got[2]
		if g.Type != failed.Type || g.Actor != user || g.Target != user || g.IP != failed.IP || g.Reason != failed.Reason {
			t.Fatalf("event came back as %+v, want %+v", g, failed)
		}
		sameTime(t, "time", failed.Time, g.Time)
		if fields, _ := got[1].Details["fields"].([]any); !slices.Equal(fields, []any{"email", "disabled"}) {
			t.Fatalf("details came back as %#v", got[1].Details)
		}
		if len(got[0].Details) != 0 {
			t.Fatalf("no details came back as %#v", got[0].Details)
		}

		got = list(usecase.AuditFilter{User: user, Type: domain.AuditUserCreated})
		sameList(t, "by user and type", []string{created.ID}, ids(got))
		got = list(usecase.AuditFilter{User: user, Since: t0.Add(90 * time.Second)})
		sameList(t, "since", []string{revoked.ID, updated.ID}, ids(got))
		got = list(usecase.AuditFilter{User: user, Limit: 2})
		sameList(t, "limit", []string{revoked.ID, updated.ID}, ids(got))
		got = list(usecase.AuditFilter{Type: domain.AuditUserLoginFailed, Since: t0, Limit: 1000})
		if !slices.Contains(ids(got), failed.ID) || slices.Contains(ids(got), created.ID) {
			t.Fatalf("by type: %v", ids(got))
		}
	})

	t.Run("Pages", func(t *testing.T) {
		// Seven events of one user, two of them at the same instant: walking the list
		// page by page (Before: the last event of the page) meets each exactly once,
		// in the order of the whole list.
		pager := newID("auditp")
		t2 := time.Date(2001, 2, 3, 4, 5, 6, 789123000, time.UTC)
		var want []string
		for i, d := range []time.Duration{0, time.Second, 2 * time.Second, 2 * time.Second, 3 * time.Second, 4 * time.Second, 5 * time.Second} {
			_ = i
			event(domain.AuditUserLogout, pager, pager, t2.Add(d))
		}
		for _, e := range list(usecase.AuditFilter{User: pager}) {
			want = append(want, e.ID)
		}
		if len(want) != 7 {
			t.Fatalf("listed %d events, want 7", len(want))
		}
		var walked []string
		var before usecase.AuditPosition
		for range 10 {
			page := list(usecase.AuditFilter{User: pager, Limit: 2, Before: before})
			if len(page) == 0 {
				break
			}
			walked = append(walked, ids(page)...)
			last := page[len(page)-1]
			before = usecase.AuditPosition{Time: last.Time, ID: last.ID}
		}
		sameList(t, "walked page by page", want, walked)
	})

	t.Run("Retention", func(t *testing.T) {
		if s.Purger == nil {
			t.Skip("no housekeeping")
		}
		target := newID("auditr")
		// Earlier still: every cut-off of this purge is in 1995, so nothing of the
		// other tests goes.
		t1 := time.Date(1995, 1, 2, 3, 4, 5, 0, time.UTC)
		old := event(domain.AuditUserLogout, target, target, t1)
		young := event(domain.AuditUserLogout, target, target, t1.Add(time.Hour))
		// Just past the retention of old, not of young.
		now := t1.Add(time.Duration(bunrepoDefaultAuditRetention) + time.Minute)
		deleted, err := s.Purger.PurgeExpired(ctx, now, 1)
		noErr(t, err)
		if deleted["audit_events"] < 1 {
			t.Fatalf("purged %v, want the old audit event", deleted)
		}
		sameList(t, "after the purge", []string{young.ID}, ids(list(usecase.AuditFilter{User: target})))
		_ = old
	})

	t.Run("UnitOfWork", func(t *testing.T) {
		if s.Tx == nil {
			t.Skip("no transactor")
		}
		s.unitOfWork(t)
	})
}

// unitOfWork is the contract of usecase.Transactor with the stores: what a unit of
// work writes, through any of them, commits together or not at all; inside it the
// stores read its own writes (on every backend, on a one-connection pool too: a
// statement outside the transaction would wait for it forever); a failed write
// inside it (a taken name) leaves the rest of it to go on.
func (s *suite) unitOfWork(t *testing.T) {
	ctx := t.Context()
	errBoom := errors.New("boom")
	work := func(fail bool) (domain.User, domain.AuditEvent, error) {
		u := domain.User{ID: newID("u"), Username: newID("uow"), PasswordHash: "h", CreatedAt: base, UpdatedAt: base}
		e := domain.AuditEvent{ID: newID("ev"), Time: base, Type: domain.AuditUserCreated, Actor: "cli", Target: u.ID}
		err := s.Tx.InTx(ctx, func(ctx context.Context) error {
			if err := s.Users.CreateUser(ctx, u); err != nil {
				return err
			}
			if got, err := s.Users.UserByID(ctx, u.ID); err != nil || got.Username != u.Username {
				t.Errorf("the unit of work reads its user as %+v, %v", got, err)
			}
			// Taken: refused, and the unit of work goes on.
			dup := u
			dup.ID = newID("u")
			wantErr(t, s.Users.CreateUser(ctx, dup), domain.ErrDuplicate)
			noErr(t, s.Tokens.RevokePrincipal(ctx, domain.PrincipalRevocation{ID: u.ID}))
			noErr(t, s.Tokens.RevokeUserFamilies(ctx, u.ID, base))
			noErr(t, s.Sessions.DeleteUserSessions(ctx, u.ID))
			noErr(t, s.Audit.Record(ctx, e))
			if fail {
				return errBoom
			}
			return nil
		})
		return u, e, err
	}
	stored := func(u domain.User, e domain.AuditEvent) (userFound, eventFound, revoked bool) {
		_, err := s.Users.UserByID(ctx, u.ID)
		if err != nil && !errors.Is(err, domain.ErrNotFound) {
			t.Fatal(err)
		}
		events, lerr := s.Audit.ListAuditEvents(ctx, usecase.AuditFilter{User: u.ID})
		noErr(t, lerr)
		r, rerr := s.Tokens.AccessTokenRevoked(ctx, usecase.RevocationCheck{Subject: u.ID, IssuedAt: base.Add(-time.Hour)})
		noErr(t, rerr)
		return err == nil, len(events) == 1 && events[0].ID == e.ID, r
	}

	t.Run("Commit", func(t *testing.T) {
		u, e, err := work(false)
		noErr(t, err)
		if user, event, revoked := stored(u, e); !user || !event || !revoked {
			t.Fatalf("after commit: user %v, event %v, revocation %v; want all", user, event, revoked)
		}
	})
	t.Run("Rollback", func(t *testing.T) {
		u, e, err := work(true)
		wantErr(t, err, errBoom)
		if user, event, revoked := stored(u, e); user || event || revoked {
			t.Fatalf("after rollback: user %v, event %v, revocation %v; want none", user, event, revoked)
		}
	})
	t.Run("EventFails", func(t *testing.T) {
		// The event's insert fails (its id is taken): the change goes with it.
		u := domain.User{ID: newID("u"), Username: newID("uow"), PasswordHash: "h", CreatedAt: base, UpdatedAt: base}
		taken := domain.AuditEvent{ID: newID("ev"), Time: base, Type: domain.AuditUserCreated, Actor: "cli", Target: newID("x")}
		noErr(t, s.Audit.Record(ctx, taken))
		err := s.Tx.InTx(ctx, func(ctx context.Context) error {
			if err := s.Users.CreateUser(ctx, u); err != nil {
				return err
			}
			e := taken
			e.Target = u.ID
			return s.Audit.Record(ctx, e)
		})
		wantErr(t, err, domain.ErrDuplicate)
		if _, err := s.Users.UserByID(ctx, u.ID); !errors.Is(err, domain.ErrNotFound) {
			t.Fatalf("user of a unit of work whose event failed: %v, want ErrNotFound", err)
		}
	})
}
