package usecase_test

import (
	"errors"
	"testing"
	"time"

	"gatehouse/domain"
	"gatehouse/usecase"
)

// TestAdmin_UpdateUserPrecondition: the admin API's If-Match is checked on the user
// as the update reads it; refused, nothing changes.
func TestAdmin_UpdateUserPrecondition(t *testing.T) {
	f := newPrincipalsFixture(t)
	u := f.user(t, "pat", "pat's password")
	errStale := errors.New("stale")
	name := "Pat"
	var seen time.Time
	_, err := f.admin.UpdateUser(f.ctx, u.ID, usecase.UserUpdate{Profile: usecase.ProfileUpdate{Name: &name},
		Precondition: func(cur domain.User) error { seen = cur.UpdatedAt; return errStale }})
	if !errors.Is(err, errStale) || seen.IsZero() {
		t.Fatalf("refused precondition: %v (saw %v)", err, seen)
	}
	if got, _ := f.admin.FindUser(f.ctx, u.ID); got.Name != "" || !got.UpdatedAt.Equal(u.UpdatedAt) {
		t.Fatalf("a refused update changed the user: %+v", got)
	}
	got, err := f.admin.UpdateUser(f.ctx, u.ID, usecase.UserUpdate{Profile: usecase.ProfileUpdate{Name: &name},
		Precondition: func(cur domain.User) error { return nil }})
	if err != nil || got.Name != "Pat" {
		t.Fatalf("accepted precondition: %+v %v", got, err)
	}
}
