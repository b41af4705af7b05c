package repotest

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"gatehouse/domain"
)

func (s *suite) users(t *testing.T) {
	t.Run("CreateAndRead", func(t *testing.T) {
		u := s.newUser(t)
		u.EmailVerified = true
		u.ID, u.Username, u.Email = newID("u"), newID("user"), newID("mail")+"@example.com"
		u.CreatedAt, u.UpdatedAt = base, base.Add(time.Second)
		noErr(t, s.Users.CreateUser(t.Context(), u))

		byID, err := s.Users.UserByID(t.Context(), u.ID)
		noErr(t, err)
		checkUser(t, u, byID)
		byName, err := s.Users.UserByUsername(t.Context(), u.Username)
		noErr(t, err)
		checkUser(t, u, byName)
	})

	t.Run("NotFound", func(t *testing.T) {
		_, err := s.Users.UserByID(t.Context(), newID("missing"))
		wantErr(t, err, domain.ErrNotFound)
		_, err = s.Users.UserByUsername(t.Context(), newID("missing"))
		wantErr(t, err, domain.ErrNotFound)
		wantErr(t, s.Users.DeleteUser(t.Context(), newID("missing")), domain.ErrNotFound)
		wantErr(t, s.Users.UpdatePassword(t.Context(), newID("missing"), "h", base), domain.ErrNotFound)
	})

	t.Run("DuplicateUsername", func(t *testing.T) {
		u := s.newUser(t)
		u.ID, u.Email = newID("u"), newID("other")+"@example.com"
		wantErr(t, s.Users.CreateUser(t.Context(), u), domain.ErrDuplicate)
	})

	t.Run("DuplicateEmail", func(t *testing.T) {
		u := s.newUser(t)
		u.ID, u.Username = newID("u"), newID("other")
		wantErr(t, s.Users.CreateUser(t.Context(), u), domain.ErrDuplicate)
	})

	t.Run("DuplicateID", func(t *testing.T) {
		u := s.newUser(t)
		u.Username, u.Email = newID("other"), ""
		wantErr(t, s.Users.CreateUser(t.Context(), u), domain.ErrDuplicate)
	})

	t.Run("SeveralUsersWithoutEmail", func(t *testing.T) {
		for range 3 {
			u := domain.User{ID: newID("u"), Username: newID("noemail"), PasswordHash: "h", CreatedAt: base, UpdatedAt: base}
			noErr(t, s.Users.CreateUser(t.Context(), u))
			got, err := s.Users.UserByID(t.Context(), u.ID)
			noErr(t, err)
			if got.Email != "" {
				t.Errorf("email = %q, want empty", got.Email)
			}
		}
	})

	t.Run("UsernamesAreExact", func(t *testing.T) {
		// Byte-exact on every backend: MariaDB's default collation would fold case and
		// accents and ignore trailing spaces, PostgreSQL and SQLite would not. (Names
		// that differ in case only are not stored side by side: they are drawn alike,
		// see ConfusableNamesRefused.)
		suffix := randomHex(6)
		name := "Alice-" + suffix
		for _, n := range []string{name, "Alicé-" + suffix, name + " "} {
			u := domain.User{ID: newID("u"), Username: n, PasswordHash: "h", CreatedAt: base, UpdatedAt: base}
			noErr(t, s.Users.CreateUser(t.Context(), u))
		}
		got, err := s.Users.UserByUsername(t.Context(), name)
		noErr(t, err)
		if got.Username != name {
			t.Errorf("UserByUsername(%q) found %q", name, got.Username)
		}
		for _, n := range []string{"alice-" + suffix, "ALICE-" + suffix} {
			if got, err := s.Users.UserByUsername(t.Context(), n); !errors.Is(err, domain.ErrNotFound) {
				t.Errorf("UserByUsername(%q) = %q, %v; want not found", n, got.Username, err)
			}
		}
	})

	t.Run("ListOldestFirst", func(t *testing.T) {
		var ids []string
		for _, offset := range []time.Duration{3 * time.Hour, time.Hour, 2 * time.Hour} {
			u := domain.User{ID: newID("u"), Username: newID("list"), PasswordHash: "h",
				CreatedAt: base.Add(offset), UpdatedAt: base.Add(offset)}
			noErr(t, s.Users.CreateUser(t.Context(), u))
			ids = append(ids, u.ID)
		}
		all, err := s.Users.ListUsers(t.Context())
		noErr(t, err)
		var got []string
		for _, u := range all {
			if slices.Contains(ids, u.ID) {
				got = append(got, u.ID)
				if u.CreatedAt.Location() != time.UTC {
					t.Errorf("created_at in %v", u.CreatedAt.Location())
				}
			}
		}
		sameList(t, "listed ids", []string{ids[1], ids[2], ids[0]}, got)
	})

	t.Run("UpdatePassword", func(t *testing.T) {
		u := s.newUser(t)
		later := base.Add(time.Hour)
		noErr(t, s.Users.UpdatePassword(t.Context(), u.ID, "new-hash", later))
		// The same values again still find the row (MySQL counts matched rows).
		noErr(t, s.Users.UpdatePassword(t.Context(), u.ID, "new-hash", later))
		got, err := s.Users.UserByID(t.Context(), u.ID)
		noErr(t, err)
		if got.PasswordHash != "new-hash" {
			t.Errorf("password hash = %q", got.PasswordHash)
		}
		sameTime(t, "updated_at", later, got.UpdatedAt)
		sameTime(t, "created_at", base, got.CreatedAt)
	})

	t.Run("Taken", func(t *testing.T) {
		u := s.newUser(t)
		noMail := domain.User{ID: newID("u"), Username: newID("nomail"), PasswordHash: "h", CreatedAt: base, UpdatedAt: base}
		noErr(t, s.Users.CreateUser(t.Context(), noMail))
		for _, tc := range []struct {
			username, email    string
			wantUser, wantMail bool
		}{
			{u.Username, u.Email, true, true},
			{u.Username, newID("free") + "@example.com", true, false},
			{newID("free"), u.Email, false, true},
			{newID("free"), newID("free") + "@example.com", false, false},
			{newID("free"), "", false, false}, // users without an email never match an empty one
			{noMail.Username, "", true, false},
			// Emails exactly, byte for byte, as the unique index is (MariaDB folds
			// nothing); a username also when another is drawn like it (SECURITY S49),
			// case aside (usernames are case-insensitive).
			{strings.ToUpper(u.Username), strings.ToUpper(u.Email), true, false},
			{strings.Replace(u.Username, "i", "\u0131", 1), "", true, false},  // user_… with a dotless ı
			{strings.Replace(u.Username, "u", "\u028B", 1), "", true, false},  // a Latin small v with hook
			{strings.Replace(u.Username, "e", "\u0435", 1), "", true, false},  // a Cyrillic е
			{strings.Replace(u.Username, "_", "\u2010", 1), "", false, false}, // a hyphen is not drawn like _
		} {
			gotUser, gotMail, err := s.Users.Taken(t.Context(), tc.username, tc.email)
			noErr(t, err)
			if gotUser != tc.wantUser || gotMail != tc.wantMail {
				t.Errorf("Taken(%q, %q) = %v, %v; want %v, %v", tc.username, tc.email, gotUser, gotMail, tc.wantUser, tc.wantMail)
			}
		}
	})

	t.Run("ConfusableNamesRefused", func(t *testing.T) {
		// The store refuses a name drawn like a stored one as it refuses the same name.
		u := s.newUser(t)
		twin := domain.User{ID: newID("u"), Username: strings.Replace(u.Username, "s", "\uA731", 1), // a small capital S
			PasswordHash: "h", CreatedAt: base, UpdatedAt: base}
		wantErr(t, s.Users.CreateUser(t.Context(), twin), domain.ErrDuplicate)
		// Of many racing for names drawn alike, exactly one is stored.
		stem := "rn" + randomHex(6)
		names := make([]string, concurrency)
		for i := range names {
			names[i] = stem
			if i%2 == 1 {
				names[i] = "m" + stem[2:]
			}
		}
		errs := race(concurrency, func(i int) error {
			return s.Users.CreateUser(t.Context(), domain.User{ID: newID("u"), Username: names[i], PasswordHash: "h",
				CreatedAt: base, UpdatedAt: base})
		})
		if ok, dup := outcomes(t, errs, domain.ErrDuplicate); ok != 1 || dup != concurrency-1 {
			t.Fatalf("%d of %d names drawn alike were stored, %d refused", ok, concurrency, dup)
		}
	})

	t.Run("ReplacePasswordHash", func(t *testing.T) {
		u := s.newUser(t)
		noErr(t, s.Users.ReplacePasswordHash(t.Context(), u.ID, u.PasswordHash, "rehashed"))
		got, err := s.Users.UserByID(t.Context(), u.ID)
		noErr(t, err)
		if got.PasswordHash != "rehashed" {
			t.Errorf("password hash = %q, want rehashed", got.PasswordHash)
		}
		// updated_at stays: a rehash is no change the user can see.
		sameTime(t, "updated_at", u.UpdatedAt, got.UpdatedAt)
		// A hash that is no longer the stored one replaces nothing (a password set
		// meanwhile wins), and that is no error.
		noErr(t, s.Users.ReplacePasswordHash(t.Context(), u.ID, u.PasswordHash, "stale"))
		noErr(t, s.Users.ReplacePasswordHash(t.Context(), newID("missing"), "h", "x"))
		got, err = s.Users.UserByID(t.Context(), u.ID)
		noErr(t, err)
		if got.PasswordHash != "rehashed" {
			t.Errorf("a stale replacement overwrote the hash: %q", got.PasswordHash)
		}
	})

	t.Run("ProfileAndGroups", func(t *testing.T) {
		// newUser has every profile field and two groups; every read brings them.
		u := s.newUser(t)
		byID, err := s.Users.UserByID(t.Context(), u.ID)
		noErr(t, err)
		checkUser(t, u, byID)
		all, err := s.Users.ListUsers(t.Context())
		noErr(t, err)
		i := slices.IndexFunc(all, func(x domain.User) bool { return x.ID == u.ID })
		if i < 0 {
			t.Fatal("user not listed")
		}
		checkUser(t, u, all[i])

		// UpdateUser replaces the profile and groups; unset fields read back unset.
		u.Profile = domain.Profile{Name: "Renamed", Zoneinfo: "UTC"}
		u.PhoneNumberVerified, u.Groups, u.UpdatedAt = false, []string{"solo"}, base.Add(time.Hour)
		noErr(t, s.Users.UpdateUser(t.Context(), u, s.seen(t, u.ID)))
		got, err := s.Users.UserByUsername(t.Context(), u.Username)
		noErr(t, err)
		checkUser(t, u, got)
		sameTime(t, "updated_at", u.UpdatedAt, got.UpdatedAt)

		// Written with a stale update time (another writer came between the read
		// and the write): nothing changes.
		stale := u
		stale.Profile.Name = "Lost"
		wantErr(t, s.Users.UpdateUser(t.Context(), stale, base.Add(-time.Hour)), domain.ErrNotFound)
		if got, _ := s.Users.UserByID(t.Context(), u.ID); got.Profile.Name != "Renamed" {
			t.Fatalf("a stale update was written: name %q", got.Profile.Name)
		}

		u.Profile, u.Groups = domain.Profile{}, nil
		noErr(t, s.Users.UpdateUser(t.Context(), u, s.seen(t, u.ID)))
		got, err = s.Users.UserByID(t.Context(), u.ID)
		noErr(t, err)
		checkUser(t, u, got)
		if got.Groups != nil {
			t.Errorf("groups of a user in none = %#v, want nil", got.Groups)
		}

		// A user created without a profile (as before these columns) reads as empty.
		bare := domain.User{ID: newID("u"), Username: newID("bare"), PasswordHash: "h", CreatedAt: base, UpdatedAt: base}
		noErr(t, s.Users.CreateUser(t.Context(), bare))
		got, err = s.Users.UserByID(t.Context(), bare.ID)
		noErr(t, err)
		checkUser(t, bare, got)
	})

	t.Run("DeleteCascades", func(t *testing.T) {
		u, c := s.newUser(t), s.newClient(t)
		sess := domain.Session{ID: newID("s"), SecretHash: newHash(), UserID: u.ID, AuthTime: base, CreatedAt: base, ExpiresAt: base.Add(time.Hour)}
		noErr(t, s.Sessions.CreateSession(t.Context(), sess))
		for _, uri := range []string{"", loopbackCB} { // consents for every URI and for one
			noErr(t, s.Consents.SaveConsent(t.Context(), domain.Consent{UserID: u.ID, ClientID: c.ID, RedirectURI: uri, Scope: []string{"openid"}, GrantedAt: base}))
		}
		f, rt := s.newFamily(t, u, c, sess.ID)
		noErr(t, s.Tokens.RevokeUserFamilies(t.Context(), u.ID, base))

		noErr(t, s.Users.DeleteUser(t.Context(), u.ID))
		_, err := s.Users.UserByID(t.Context(), u.ID)
		wantErr(t, err, domain.ErrNotFound)
		_, err = s.Sessions.SessionByHash(t.Context(), sess.SecretHash)
		wantErr(t, err, domain.ErrNotFound)
		for _, uri := range []string{"", loopbackCB} {
			_, err = s.Consents.ConsentFor(t.Context(), u.ID, c.ID, uri)
			wantErr(t, err, domain.ErrNotFound)
		}
		_, err = s.Tokens.RefreshTokenByHash(t.Context(), rt.Hash)
		wantErr(t, err, domain.ErrNotFound)
		// The family's revocation outlives the user, for the access tokens still around.
		revoked, err := s.Tokens.FamilyRevoked(t.Context(), f.ID)
		noErr(t, err)
		if !revoked {
			t.Error("the deleted user's family is no longer revoked")
		}
		wantErr(t, s.Users.DeleteUser(t.Context(), u.ID), domain.ErrNotFound)
	})
}

func checkUser(t *testing.T, want, got domain.User) {
	t.Helper()
	if got.ID != want.ID || got.Username != want.Username || got.Email != want.Email ||
		got.EmailVerified != want.EmailVerified || got.PasswordHash != want.PasswordHash || got.Disabled != want.Disabled ||
		got.Profile != want.Profile || got.PhoneNumberVerified != want.PhoneNumberVerified || got.ClaimedEmail != want.ClaimedEmail {
		t.Errorf("user = %+v, want %+v", got, want)
	}
	sameList(t, "groups", want.Groups, got.Groups)
	sameTime(t, "created_at", want.CreatedAt, got.CreatedAt)
	sameTime(t, "updated_at", want.UpdatedAt, got.UpdatedAt)
}

// seen is the stored update time of user id, as UpdateUser wants it.
func (s *suite) seen(t *testing.T, id string) time.Time {
	t.Helper()
	u, err := s.Users.UserByID(t.Context(), id)
	noErr(t, err)
	return u.UpdatedAt
}
