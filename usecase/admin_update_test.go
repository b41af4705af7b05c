package usecase_test

import (
	"slices"
	"testing"
	"time"

	"gatehouse/domain"
	"gatehouse/infrastructure/database/dbtest"
	"gatehouse/usecase"
)

// TestAdmin_UpdateThatChangesNothing: an update of a user or client (the CLI's
// `users update`, `clients update`, the admin API's PATCH) that leaves it as it is
// writes nothing: updated_at stays and no event is recorded. A change records the
// fields by the names of the admin API: require_pkce, scope.
func TestAdmin_UpdateThatChangesNothing(t *testing.T) {
	for name, url := range dbtest.All(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := newAuditRig(t, url)
			ctx := usecase.WithAuditActor(t.Context(), domain.AuditActorCLI)
			u, err := r.admin.CreateUser(ctx, usecase.NewUser{Username: "alice", Email: "alice@example.com",
				Password: "Correct-Horse-9!", Groups: []string{"staff"}, Profile: domain.Profile{Name: "Alice"}})
			if err != nil {
				t.Fatal(err)
			}
			made, err := r.admin.CreateClient(ctx, usecase.NewClient{Name: "app", RedirectURIs: []string{"https://app.example/cb"}})
			if err != nil {
				t.Fatal(err)
			}
			c := made.Client
			stored, err := r.users.UserByID(ctx, u.ID)
			if err != nil {
				t.Fatal(err)
			}
			storedClient, err := r.admin.Client(ctx, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			r.clock.Advance(time.Minute)

			name, email, no, yes := " Alice ", "alice@example.com", false, true
			for i, in := range []usecase.UserUpdate{{}, {Profile: usecase.ProfileUpdate{Name: &name}, Email: &email,
				Disabled: &no, AddGroups: []string{"staff"}}} {
				got, err := r.admin.UpdateUser(ctx, u.ID, in)
				if err != nil {
					t.Fatal(err)
				}
				after, _ := r.users.UserByID(ctx, u.ID)
				if !got.UpdatedAt.Equal(stored.UpdatedAt) || !after.UpdatedAt.Equal(stored.UpdatedAt) {
					t.Errorf("user update %d moved updated_at: %v, %v, want %v", i, got.UpdatedAt, after.UpdatedAt, stored.UpdatedAt)
				}
			}
			if es := r.events(t, u.ID); len(es) != 1 {
				t.Errorf("events of the user: %+v", es)
			}

			empty := []string{}
			for i, in := range []usecase.ClientUpdate{{}, {GrantTypes: &empty}, {Scopes: &empty}, {PKCEOptional: &no},
				{RequireMFA: &no, Disabled: &no, Public: &no}} {
				got, err := r.admin.UpdateClient(ctx, c.ID, in)
				if err != nil {
					t.Fatal(err)
				}
				after, _ := r.admin.Client(ctx, c.ID)
				if !got.UpdatedAt.Equal(storedClient.UpdatedAt) || !after.UpdatedAt.Equal(storedClient.UpdatedAt) {
					t.Errorf("client update %d moved updated_at: %v, %v", i, got.UpdatedAt, after.UpdatedAt)
				}
			}
			if es := r.events(t, c.ID); len(es) != 1 {
				t.Errorf("events of the client: %+v", es)
			}

			openid := []string{"openid"}
			for _, step := range []struct {
				in     usecase.ClientUpdate
				fields []any
			}{
				{usecase.ClientUpdate{PKCEOptional: &yes}, []any{"require_pkce"}},
				{usecase.ClientUpdate{Scopes: &openid, RequireMFA: &yes}, []any{"scope", "require_mfa"}},
			} {
				r.clock.Advance(time.Second)
				if _, err := r.admin.UpdateClient(ctx, c.ID, step.in); err != nil {
					t.Fatal(err)
				}
				es := r.events(t, c.ID)
				if fields, _ := es[0].Details["fields"].([]any); es[0].Type != domain.AuditClientUpdated || !slices.Equal(fields, step.fields) {
					t.Errorf("client.updated: %s %#v, want fields %v", es[0].Type, es[0].Details, step.fields)
				}
			}
		})
	}
}
