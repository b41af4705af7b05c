package repotest

import (
	"bytes"
	"context"
	"slices"
	"testing"
	"time"

	"gatehouse/domain"
)

// upstreams is the contract of usecase.UpstreamStore: upstreams round-trip (their
// sealed secret as bytes), one link per (upstream, subject) while a user may have
// several, links die with their user and their upstream, and unlinking only removes
// the user's own identity.
func (s *suite) upstreams(t *testing.T) {
	if s.Upstreams == nil {
		t.Skip("no upstream store")
	}
	ctx := t.Context()
	st := s.Upstreams
	newUpstream := func(t *testing.T, kind string) domain.Upstream {
		t.Helper()
		u := domain.Upstream{ID: "up-" + randomHex(4), Name: "Provider é", Type: kind, ClientID: "client-" + randomHex(4),
			SealedSecret: newHash(), Scopes: []string{"openid", "email"}, CreatedAt: base, UpdatedAt: base}
		if kind == domain.UpstreamGitHub {
			u.APIURL, u.WebURL, u.Scopes = "https://gh.example/api/v3", "https://gh.example", []string{"read:user"}
		} else {
			u.Issuer = "https://op.example/realms/x"
		}
		noErr(t, st.CreateUpstream(ctx, u))
		return u
	}
	same := func(t *testing.T, want, got domain.Upstream) {
		t.Helper()
		if got.ID != want.ID || got.Name != want.Name || got.Type != want.Type || got.Issuer != want.Issuer ||
			got.ClientID != want.ClientID || !bytes.Equal(got.SealedSecret, want.SealedSecret) ||
			!slices.Equal(got.Scopes, want.Scopes) || got.APIURL != want.APIURL || got.WebURL != want.WebURL {
			t.Fatalf("upstream = %+v, want %+v", got, want)
		}
		sameTime(t, "created_at", want.CreatedAt, got.CreatedAt)
		sameTime(t, "updated_at", want.UpdatedAt, got.UpdatedAt)
	}

	t.Run("RoundTripUpdateDelete", func(t *testing.T) {
		o := newUpstream(t, domain.UpstreamOIDC)
		g := newUpstream(t, domain.UpstreamGitHub)
		got, err := st.Upstream(ctx, o.ID)
		noErr(t, err)
		same(t, o, got)
		got, err = st.Upstream(ctx, g.ID)
		noErr(t, err)
		same(t, g, got)
		wantErr(t, st.CreateUpstream(ctx, o), domain.ErrDuplicate)
		_, err = st.Upstream(ctx, "up-none-"+randomHex(4))
		wantErr(t, err, domain.ErrNotFound)

		all, err := st.ListUpstreams(ctx)
		noErr(t, err)
		seen := 0
		for i, u := range all {
			if i > 0 && all[i-1].ID >= u.ID {
				t.Fatalf("ListUpstreams not ordered by id: %q before %q", all[i-1].ID, u.ID)
			}
			if u.ID == o.ID || u.ID == g.ID {
				seen++
			}
		}
		if seen != 2 {
			t.Fatalf("ListUpstreams missed the new upstreams: %+v", all)
		}

		o.Name, o.Issuer, o.ClientID, o.SealedSecret, o.Scopes = "Renamed", "https://op2.example", "c2", newHash(), []string{"openid"}
		o.UpdatedAt = base.Add(time.Hour)
		noErr(t, st.UpdateUpstream(ctx, o))
		got, _ = st.Upstream(ctx, o.ID)
		same(t, o, got)
		noErr(t, st.UpdateUpstream(ctx, o)) // unchanged is no error
		wantErr(t, st.UpdateUpstream(ctx, domain.Upstream{ID: "up-none-" + randomHex(4), Type: "oidc"}), domain.ErrNotFound)

		noErr(t, st.DeleteUpstream(ctx, g.ID))
		_, err = st.Upstream(ctx, g.ID)
		wantErr(t, err, domain.ErrNotFound)
		wantErr(t, st.DeleteUpstream(ctx, g.ID), domain.ErrNotFound)
	})

	t.Run("LinksUniquePerSubject", func(t *testing.T) {
		o := newUpstream(t, domain.UpstreamOIDC)
		g := newUpstream(t, domain.UpstreamGitHub)
		alice, bob := s.newUser(t), s.newUser(t)
		link := func(up, sub string, u domain.User, at time.Time) domain.LinkedIdentity {
			return domain.LinkedIdentity{UpstreamID: up, Subject: sub, UserID: u.ID, Email: "a@example.com", Username: "ali",
				CreatedAt: at, LastUsedAt: at}
		}
		a1 := link(o.ID, "sub-1", alice, base)
		noErr(t, st.LinkIdentity(ctx, a1))
		// The same subject at the same upstream: never a second link, to anyone.
		wantErr(t, st.LinkIdentity(ctx, link(o.ID, "sub-1", bob, base)), domain.ErrDuplicate)
		wantErr(t, st.LinkIdentity(ctx, link(o.ID, "sub-1", alice, base)), domain.ErrDuplicate)
		// The same subject at another upstream is another identity; a user may have several.
		a2 := link(g.ID, "sub-1", alice, base.Add(time.Minute))
		noErr(t, st.LinkIdentity(ctx, a2))
		b1 := link(o.ID, "sub-2", bob, base)
		noErr(t, st.LinkIdentity(ctx, b1))
		// Gone users and upstreams are refused.
		wantErr(t, st.LinkIdentity(ctx, link(o.ID, "sub-3", domain.User{ID: "nobody-" + randomHex(4)}, base)), domain.ErrNotFound)
		wantErr(t, st.LinkIdentity(ctx, link("up-none-"+randomHex(4), "sub-3", alice, base)), domain.ErrNotFound)

		got, err := st.LinkedIdentity(ctx, o.ID, "sub-1")
		noErr(t, err)
		if got.UserID != alice.ID || got.Email != "a@example.com" || got.Username != "ali" {
			t.Fatalf("LinkedIdentity = %+v", got)
		}
		sameTime(t, "created_at", base, got.CreatedAt)
		_, err = st.LinkedIdentity(ctx, o.ID, "sub-unknown")
		wantErr(t, err, domain.ErrNotFound)

		ids, err := st.UserIdentities(ctx, alice.ID)
		noErr(t, err)
		if len(ids) != 2 || ids[0].UpstreamID != o.ID || ids[1].UpstreamID != g.ID {
			t.Fatalf("UserIdentities(alice) = %+v, want her two, oldest first", ids)
		}

		later := base.Add(2 * time.Hour)
		noErr(t, st.TouchIdentity(ctx, o.ID, "sub-1", "new@example.com", "ali2", later))
		got, _ = st.LinkedIdentity(ctx, o.ID, "sub-1")
		if got.Email != "new@example.com" || got.Username != "ali2" {
			t.Fatalf("after TouchIdentity: %+v", got)
		}
		sameTime(t, "last_used_at", later, got.LastUsedAt)
		sameTime(t, "created_at", base, got.CreatedAt)

		// Bob cannot unlink Alice's identity.
		wantErr(t, st.UnlinkIdentity(ctx, bob.ID, o.ID, "sub-1"), domain.ErrNotFound)
		noErr(t, st.UnlinkIdentity(ctx, alice.ID, o.ID, "sub-1"))
		wantErr(t, st.UnlinkIdentity(ctx, alice.ID, o.ID, "sub-1"), domain.ErrNotFound)
		_, err = st.LinkedIdentity(ctx, o.ID, "sub-1")
		wantErr(t, err, domain.ErrNotFound)
		// Unlinked, the subject can be linked again (to someone else).
		noErr(t, st.LinkIdentity(ctx, link(o.ID, "sub-1", bob, base)))
	})

	t.Run("LinksDieWithUserAndUpstream", func(t *testing.T) {
		o := newUpstream(t, domain.UpstreamOIDC)
		g := newUpstream(t, domain.UpstreamGitHub)
		u, v := s.newUser(t), s.newUser(t)
		noErr(t, st.LinkIdentity(ctx, domain.LinkedIdentity{UpstreamID: o.ID, Subject: "x", UserID: u.ID, CreatedAt: base, LastUsedAt: base}))
		noErr(t, st.LinkIdentity(ctx, domain.LinkedIdentity{UpstreamID: g.ID, Subject: "y", UserID: v.ID, CreatedAt: base, LastUsedAt: base}))
		noErr(t, s.Users.DeleteUser(ctx, u.ID))
		_, err := st.LinkedIdentity(ctx, o.ID, "x")
		wantErr(t, err, domain.ErrNotFound)
		noErr(t, st.DeleteUpstream(ctx, g.ID))
		_, err = st.LinkedIdentity(ctx, g.ID, "y")
		wantErr(t, err, domain.ErrNotFound)
		ids, err := st.UserIdentities(ctx, v.ID)
		noErr(t, err)
		if len(ids) != 0 {
			t.Fatalf("identities left after their upstream went: %+v", ids)
		}
	})

	t.Run("InUnitOfWork", func(t *testing.T) {
		if s.Tx == nil {
			t.Skip("no transactor")
		}
		o := newUpstream(t, domain.UpstreamOIDC)
		u := s.newUser(t)
		// A link made in a unit of work that fails is not stored.
		err := s.Tx.InTx(ctx, func(ctx context.Context) error {
			if err := st.LinkIdentity(ctx, domain.LinkedIdentity{UpstreamID: o.ID, Subject: "tx", UserID: u.ID, CreatedAt: base, LastUsedAt: base}); err != nil {
				return err
			}
			return domain.ErrDuplicate
		})
		wantErr(t, err, domain.ErrDuplicate)
		_, err = st.LinkedIdentity(ctx, o.ID, "tx")
		wantErr(t, err, domain.ErrNotFound)
	})
}
