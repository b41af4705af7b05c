package repotest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"gatehouse/domain"
	"gatehouse/usecase"
)

// principals: disabled users and clients, the principals' deny-list, and the
// revocations that void the codes and device authorizations of a user, a client or a
// session (SECURITY S58, issue 18 findings 4 and 8).
func (s *suite) principals(t *testing.T) {
	t.Run("DenyListKillsTokensIssuedUpToItsTime", func(t *testing.T) {
		u, other, c := s.newUser(t), s.newUser(t), s.newClient(t)
		userToken := func(sub string, iat time.Time) bool {
			t.Helper()
			revoked, err := s.Tokens.AccessTokenRevoked(t.Context(), usecase.RevocationCheck{JTI: newID("jti"),
				FamilyID: newID("fam"), Subject: sub, ClientID: c.ID, IssuedAt: iat})
			noErr(t, err)
			return revoked
		}
		if userToken(u.ID, base) {
			t.Fatal("a token of a user without a deny-list entry is revoked")
		}
		// Disabled (or deleted): every token, whenever issued, also after the entry.
		noErr(t, s.Tokens.RevokePrincipal(t.Context(), domain.PrincipalRevocation{ID: u.ID}))
		for _, iat := range []time.Time{base.Add(-time.Hour), base, base.Add(time.Hour)} {
			if !userToken(u.ID, iat) {
				t.Errorf("a token issued at %v lives after its user was disabled", iat)
			}
		}
		if userToken(other.ID, base) {
			t.Error("another user's token died with this user")
		}
		// Re-enabled at cut: tokens up to its second stay dead, later ones live.
		cut := base.Add(10*time.Minute + 300*time.Millisecond)
		expires := cut.Add(26 * time.Hour)
		noErr(t, s.Tokens.RevokePrincipal(t.Context(), domain.PrincipalRevocation{ID: u.ID, RevokedAt: &cut, ExpiresAt: &expires}))
		whole := cut.Truncate(time.Second)
		for iat, want := range map[time.Time]bool{
			whole.Add(-time.Second): true, whole: true, whole.Add(time.Second): false, whole.Add(time.Hour): false,
		} {
			if got := userToken(u.ID, iat); got != want {
				t.Errorf("token issued at %v (re-enabled at %v): revoked = %v, want %v", iat, cut, got, want)
			}
		}

		// A client's entry kills its tokens for users and for itself (client credentials).
		c2 := s.newClient(t)
		noErr(t, s.Tokens.RevokePrincipal(t.Context(), domain.PrincipalRevocation{ID: c2.ID}))
		for name, check := range map[string]usecase.RevocationCheck{
			"a user's token":               {JTI: newID("jti"), FamilyID: newID("fam"), Subject: other.ID, ClientID: c2.ID, IssuedAt: base},
			"a client credentials token":   {JTI: newID("jti"), Subject: c2.ID, ClientID: c2.ID, IssuedAt: base},
			"a new grant (no jti, family)": {FamilyID: newID("fam"), Subject: other.ID, ClientID: c2.ID, IssuedAt: base},
		} {
			revoked, err := s.Tokens.AccessTokenRevoked(t.Context(), check)
			noErr(t, err)
			if !revoked {
				t.Errorf("%s of a disabled client lives", name)
			}
		}
		// The other checks still hold beside it.
		f, _ := s.newFamily(t, other, c, "")
		noErr(t, s.Tokens.RevokeFamily(t.Context(), f.ID, base))
		revoked, err := s.Tokens.AccessTokenRevoked(t.Context(), usecase.RevocationCheck{JTI: newID("jti"),
			FamilyID: f.ID, Subject: other.ID, ClientID: c.ID, IssuedAt: base})
		noErr(t, err)
		if !revoked {
			t.Error("a token of a revoked family lives")
		}
	})

	t.Run("ManyChecksAtOnce", func(t *testing.T) {
		// Concurrent checks share queries (the read batcher); each gets its own answer.
		u, c := s.newUser(t), s.newClient(t)
		noErr(t, s.Tokens.RevokePrincipal(t.Context(), domain.PrincipalRevocation{ID: u.ID}))
		live := s.newUser(t)
		got := make([]bool, concurrency)
		errs := race(concurrency, func(i int) error {
			sub := live.ID
			if i%2 == 0 {
				sub = u.ID
			}
			var err error
			got[i], err = s.Tokens.AccessTokenRevoked(t.Context(), usecase.RevocationCheck{JTI: newID("jti"),
				Subject: sub, ClientID: c.ID, IssuedAt: base})
			return err
		})
		for i := range got {
			noErr(t, errs[i])
			if got[i] != (i%2 == 0) {
				t.Errorf("check %d: revoked = %v, want %v", i, got[i], i%2 == 0)
			}
		}
	})

	t.Run("UpdateUser", func(t *testing.T) {
		u, other := s.newUser(t), s.newUser(t)
		u.Email, u.EmailVerified, u.Disabled, u.UpdatedAt = "new_"+u.Email, true, true, base.Add(time.Minute)
		noErr(t, s.Users.UpdateUser(t.Context(), u, s.seen(t, u.ID)))
		for _, read := range []func() (domain.User, error){
			func() (domain.User, error) { return s.Users.UserByID(t.Context(), u.ID) },
			func() (domain.User, error) { return s.Users.UserByUsername(t.Context(), u.Username) },
		} {
			got, err := read()
			noErr(t, err)
			checkUser(t, u, got)
			if !got.Disabled || !got.EmailVerified || got.Email != u.Email {
				t.Errorf("updated user reads %+v", got)
			}
		}
		all, err := s.Users.ListUsers(t.Context())
		noErr(t, err)
		i := slices.IndexFunc(all, func(x domain.User) bool { return x.ID == u.ID })
		if i < 0 || !all[i].Disabled {
			t.Errorf("list users does not show the user disabled")
		}
		u.Disabled = false
		noErr(t, s.Users.UpdateUser(t.Context(), u, s.seen(t, u.ID)))
		if got, err := s.Users.UserByID(t.Context(), u.ID); err != nil || got.Disabled {
			t.Errorf("re-enabled user reads %+v, %v", got, err)
		}
		taken := u
		taken.Email = other.Email
		wantErr(t, s.Users.UpdateUser(t.Context(), taken, s.seen(t, taken.ID)), domain.ErrDuplicate)
		missing := u
		missing.ID = newID("missing")
		wantErr(t, s.Users.UpdateUser(t.Context(), missing, base), domain.ErrNotFound)
	})

	t.Run("UpdateClient", func(t *testing.T) {
		c, other := s.newClient(t), s.newClient(t)
		want := c
		want.Name = c.Name + " renamed"
		want.RedirectURIs = []string{"https://new.example.com/cb", "http://127.0.0.1/cb"}
		want.GrantTypes = []string{domain.GrantAuthorizationCode, domain.GrantClientCredentials}
		want.Scopes = []string{"openid", "api:read"}
		want.Audiences = []string{"https://api.example.com"}
		want.PostLogoutRedirectURIs = []string{"https://new.example.com/bye"}
		want.SkipConsent, want.RequirePAR, want.RequireDPoP, want.Disabled, want.RequireMFA = true, true, true, true, true
		want.PKCEOptional = !want.PKCEOptional
		want.IDTokenAlg, want.UpdatedAt = domain.AlgES256, base.Add(time.Minute)
		// Not the update's to change: the secret, public or confidential, the creation time.
		sneaky := want
		sneaky.SecretHash, sneaky.Public, sneaky.CreatedAt = newHash(), true, base.Add(time.Hour)
		noErr(t, s.Clients.UpdateClient(t.Context(), sneaky))
		got, err := s.Clients.ClientByID(t.Context(), c.ID)
		noErr(t, err)
		checkClient(t, want, got)
		if !got.Disabled || !got.RequireDPoP || !got.RequireMFA || got.Public {
			t.Errorf("updated client reads %+v", got)
		}
		want.Disabled = false
		noErr(t, s.Clients.UpdateClient(t.Context(), want))
		if got, err := s.Clients.ClientByID(t.Context(), c.ID); err != nil || got.Disabled {
			t.Errorf("re-enabled client reads %+v, %v", got, err)
		}
		taken := want
		taken.Name = other.Name
		wantErr(t, s.Clients.UpdateClient(t.Context(), taken), domain.ErrDuplicate)
		missing := want
		missing.ID = newID("missing")
		wantErr(t, s.Clients.UpdateClient(t.Context(), missing), domain.ErrNotFound)
	})

	t.Run("RedeemNeedsALiveSessionUserAndClient", func(t *testing.T) {
		for name, end := range map[string]func(t *testing.T, u domain.User, c domain.Client, code domain.AuthorizationCode){
			"session ended": func(t *testing.T, _ domain.User, _ domain.Client, code domain.AuthorizationCode) {
				noErr(t, s.Sessions.DeleteSession(t.Context(), code.SessionID))
			},
			"user disabled": func(t *testing.T, u domain.User, _ domain.Client, _ domain.AuthorizationCode) {
				u.Disabled = true
				noErr(t, s.Users.UpdateUser(t.Context(), u, s.seen(t, u.ID)))
			},
			"client disabled": func(t *testing.T, _ domain.User, c domain.Client, _ domain.AuthorizationCode) {
				c.Disabled = true
				noErr(t, s.Clients.UpdateClient(t.Context(), c))
			},
		} {
			t.Run(name, func(t *testing.T) {
				u, c := s.newUser(t), s.newClient(t)
				code := s.code(t, u, c)
				noErr(t, s.Codes.CreateCode(t.Context(), code))
				end(t, u, c, code)
				red := redemption(c, code)
				_, issued, err := s.redeem(t, code.Hash, red)
				noErr(t, err)
				if issued {
					t.Fatal("the code started its grant")
				}
				if _, err := s.Tokens.RefreshTokenByHash(t.Context(), red.Refresh.Hash); !errors.Is(err, domain.ErrNotFound) {
					t.Errorf("a refresh token was stored: %v", err)
				}
				// Used up all the same.
				_, err = s.consume(t, code.Hash, base)
				wantErr(t, err, domain.ErrAlreadyUsed)
			})
		}
	})

	t.Run("RevocationsVoidCodesAndDeviceAuthorizations", func(t *testing.T) {
		type target struct {
			u       domain.User
			c       domain.Client
			session string
		}
		for name, revoke := range map[string]func(tg target) error{
			"session": func(tg target) error { return s.Tokens.RevokeSessionFamilies(t.Context(), tg.session, base) },
			"user":    func(tg target) error { return s.Tokens.RevokeUserFamilies(t.Context(), tg.u.ID, base) },
			"client":  func(tg target) error { return s.Tokens.RevokeClientFamilies(t.Context(), tg.c.ID, base) },
			"grant":   func(tg target) error { return s.Tokens.RevokeGrantFamilies(t.Context(), tg.u.ID, tg.c.ID, base) },
		} {
			t.Run(name, func(t *testing.T) {
				u, c := s.newUser(t), s.newClient(t)
				code := s.code(t, u, c)
				noErr(t, s.Codes.CreateCode(t.Context(), code))
				tg := target{u: u, c: c, session: code.SessionID}
				// Another user's code with another client, in another session: untouched.
				bystander := s.code(t, s.newUser(t), s.newClient(t))
				noErr(t, s.Codes.CreateCode(t.Context(), bystander))
				// A redeemed code's family, and an approved device authorization.
				redeemed := code
				redeemed.Hash, redeemed.FamilyID = newHash(), newID("fam")
				noErr(t, s.Codes.CreateCode(t.Context(), redeemed))
				red := redemption(c, redeemed)
				_, issued, err := s.redeem(t, redeemed.Hash, red)
				noErr(t, err)
				if !issued {
					t.Fatal("the code to revoke later started no grant")
				}
				var dev domain.DeviceAuthorization
				if s.Devices != nil {
					dev = s.newDevice(t, c)
					noErr(t, s.Devices.ApproveDeviceAuthorization(t.Context(), dev.DeviceCodeHash,
						usecase.DeviceApproval{UserID: u.ID, AuthTime: base, SessionID: code.SessionID}, base))
				}

				noErr(t, revoke(tg))

				_, _, err = s.redeem(t, code.Hash, redemption(c, code))
				wantErr(t, err, domain.ErrDuplicate) // the rule's answer to a voided code
				if _, _, err := s.redeem(t, bystander.Hash, redemption(s.clientOf(t, bystander), bystander)); err != nil {
					t.Errorf("a code of someone else: %v", err)
				}
				rt, err := s.Tokens.RefreshTokenByHash(t.Context(), red.Refresh.Hash)
				noErr(t, err)
				if rt.Active(base) {
					t.Error("the refresh token of a redeemed code lives")
				}
				if s.Devices != nil {
					err := s.Tokens.CreateFamily(t.Context(), usecase.TokenFamily{ID: dev.FamilyID, ClientID: c.ID,
						UserID: u.ID, CreatedAt: base}, nil)
					wantErr(t, err, domain.ErrDuplicate)
				}
			})
		}
	})

	t.Run("RevokeClientFamilies", func(t *testing.T) {
		u, c, other := s.newUser(t), s.newClient(t), s.newClient(t)
		f1, rt1 := s.newFamily(t, u, c, "")
		f2, rt2 := s.newFamily(t, s.newUser(t), c, newID("s"))
		f3, rt3 := s.newFamily(t, u, other, "")
		noErr(t, s.Tokens.RevokeClientFamilies(t.Context(), c.ID, base))
		s.wantRevoked(t, true, f1, rt1)
		s.wantRevoked(t, true, f2, rt2)
		s.wantRevoked(t, false, f3, rt3)
		noErr(t, s.Tokens.RevokeClientFamilies(t.Context(), newID("missing"), base))
	})

	t.Run("EndRacingRedemptions", func(t *testing.T) {
		// Codes of a session are redeemed, and new ones issued and redeemed, while the
		// session ends (logout, a password change) or its user or client is disabled, in
		// the order the use cases take (usecase.Login.LogOut, Admin): whatever the
		// interleaving, no redemption leaves a live refresh token behind.
		type ending struct {
			name string
			run  func(u domain.User, c domain.Client, session string) error
		}
		for _, e := range []ending{
			{"logout", func(_ domain.User, _ domain.Client, session string) error {
				if err := s.Tokens.RevokeSessionFamilies(t.Context(), session, base); err != nil {
					return err
				}
				if err := s.Sessions.DeleteSession(t.Context(), session); err != nil {
					return err
				}
				return s.Tokens.RevokeSessionFamilies(t.Context(), session, base)
			}},
			{"password change", func(u domain.User, _ domain.Client, _ string) error {
				if err := s.Tokens.RevokeUserFamilies(t.Context(), u.ID, base); err != nil {
					return err
				}
				if err := s.Sessions.DeleteUserSessions(t.Context(), u.ID); err != nil {
					return err
				}
				return s.Tokens.RevokeUserFamilies(t.Context(), u.ID, base)
			}},
			{"user disabled", func(u domain.User, _ domain.Client, _ string) error {
				u.Disabled = true
				if err := s.Users.UpdateUser(t.Context(), u, s.seen(t, u.ID)); err != nil {
					return err
				}
				if err := s.Tokens.RevokeUserFamilies(t.Context(), u.ID, base); err != nil {
					return err
				}
				if err := s.Sessions.DeleteUserSessions(t.Context(), u.ID); err != nil {
					return err
				}
				return s.Tokens.RevokeUserFamilies(t.Context(), u.ID, base)
			}},
			{"client disabled", func(_ domain.User, c domain.Client, _ string) error {
				c.Disabled = true
				if err := s.Clients.UpdateClient(t.Context(), c); err != nil {
					return err
				}
				return s.Tokens.RevokeClientFamilies(t.Context(), c.ID, base)
			}},
		} {
			t.Run(e.name, func(t *testing.T) {
				const n, rounds = 16, 3
				for range rounds {
					u, c := s.newUser(t), s.newClient(t)
					first := s.code(t, u, c)
					session := first.SessionID
					codes := make([]domain.AuthorizationCode, 2*n)
					reds := make([]plan, 2*n)
					for i := range codes {
						codes[i] = first
						codes[i].Hash, codes[i].FamilyID = newHash(), newID("fam")
						reds[i] = redemption(c, codes[i])
						if i < n { // issued before; the others while the session ends
							noErr(t, s.Codes.CreateCode(t.Context(), codes[i]))
						}
					}
					issued := make([]bool, 2*n)
					errs := race(2*n+1, func(i int) error {
						if i == 2*n {
							return e.run(u, c, session)
						}
						if i >= n {
							if err := s.Codes.CreateCode(t.Context(), codes[i]); err != nil {
								return err
							}
						}
						var err error
						_, issued[i], err = s.redeem(t, codes[i].Hash, reds[i])
						if errors.Is(err, domain.ErrDuplicate) {
							return nil // voided before its grant could start
						}
						return err
					})
					for i, err := range errs {
						if err != nil {
							t.Errorf("call %d: %v", i, err)
						}
					}
					for i := range codes {
						noLiveToken(t, s, base, reds[i].Refresh.Hash)
						if issued[i] {
							revoked, err := s.Tokens.FamilyRevoked(t.Context(), codes[i].FamilyID)
							noErr(t, err)
							if !revoked {
								t.Errorf("the family of code %d, redeemed while the session ended, lives", i)
							}
						}
					}
				}
			})
		}
	})

	t.Run("PurgeExpiredEntries", func(t *testing.T) {
		if s.Purger == nil {
			t.Skip("no Purger given")
		}
		gone, kept, disabled := newID("u"), newID("u"), newID("u")
		past, later := base.Add(-time.Second), base.Add(time.Hour)
		noErr(t, s.Tokens.RevokePrincipal(t.Context(), domain.PrincipalRevocation{ID: gone, ExpiresAt: &past}))
		noErr(t, s.Tokens.RevokePrincipal(t.Context(), domain.PrincipalRevocation{ID: kept, ExpiresAt: &later}))
		noErr(t, s.Tokens.RevokePrincipal(t.Context(), domain.PrincipalRevocation{ID: disabled}))
		deleted, err := s.Purger.PurgeExpired(t.Context(), base, 500)
		noErr(t, err)
		if deleted["revoked_principals"] < 1 {
			t.Errorf("purge deleted %v, want the expired principal entry", deleted)
		}
		for id, want := range map[string]bool{gone: false, kept: true, disabled: true} {
			revoked, err := s.Tokens.AccessTokenRevoked(t.Context(), usecase.RevocationCheck{Subject: id, IssuedAt: base})
			noErr(t, err)
			if revoked != want {
				t.Errorf("principal entry %s after the purge: revoked = %v, want %v", id, revoked, want)
			}
		}
	})
}

// clientOf reads the client of a stored code.
func (s *suite) clientOf(t *testing.T, code domain.AuthorizationCode) domain.Client {
	t.Helper()
	c, err := s.Clients.ClientByID(t.Context(), code.ClientID)
	noErr(t, err)
	return c
}
