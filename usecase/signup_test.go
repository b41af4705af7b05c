package usecase_test

import (
	"errors"
	"testing"

	"gatehouse/usecase"
)

// TestSignUpWithholdsATakenEmail: the registration page's SignUp makes an account
// with a taken email without that email, and reports a taken username; the CLI's
// CreateUser reports each plainly, naming the field (audit finding 6 of issue 18).
func TestSignUpWithholdsATakenEmail(t *testing.T) {
	f := newFixture(t)
	owner := f.user(t, "owner", "correct horse") // owner@example.com
	const pw = "a good long password"

	u, err := f.admin.SignUp(f.ctx, usecase.NewUser{Username: "copycat", Email: "Owner@Example.com", Password: pw})
	if err != nil || u.Email != "" {
		t.Fatalf("SignUp with a taken email: %+v, %v; want an account without the email", u, err)
	}
	stored, err := f.users.UserByID(f.ctx, u.ID)
	if err != nil || stored.Email != "" || stored.Username != "copycat" || stored.ClaimedEmail != "owner@example.com" ||
		stored.ShownEmail() != "owner@example.com" || stored.EmailVerified {
		t.Fatalf("stored: %+v, %v; want the address claimed (shown unverified), not its email", stored, err)
	}
	if got, _ := f.users.UserByID(f.ctx, owner.ID); got.Email != "owner@example.com" {
		t.Fatalf("the owner's email is now %q", got.Email)
	}
	u, err = f.admin.SignUp(f.ctx, usecase.NewUser{Username: "newcomer", Email: "newcomer@example.com", Password: pw})
	if err != nil || u.Email != "newcomer@example.com" {
		t.Fatalf("SignUp with a new email: %+v, %v", u, err)
	}

	for _, tc := range []struct {
		name  string
		in    usecase.NewUser
		field string
	}{
		{"taken username", usecase.NewUser{Username: "OWNER", Email: "free@example.com", Password: pw}, "username"},
		{"taken username and email", usecase.NewUser{Username: "owner", Email: "owner@example.com", Password: pw}, "username"},
	} {
		for name, create := range map[string]func(usecase.NewUser) error{
			"SignUp":     func(in usecase.NewUser) error { _, err := f.admin.SignUp(f.ctx, in); return err },
			"CreateUser": func(in usecase.NewUser) error { _, err := f.admin.CreateUser(f.ctx, in); return err },
		} {
			var ve *usecase.ValidationError
			if err := create(tc.in); !errors.As(err, &ve) || ve.Field != tc.field {
				t.Errorf("%s, %s: %v, want a ValidationError on %s", name, tc.name, err, tc.field)
			}
		}
	}
	var ve *usecase.ValidationError
	_, err = f.admin.CreateUser(f.ctx, usecase.NewUser{Username: "cliuser", Email: "owner@example.com", Password: pw})
	if !errors.As(err, &ve) || ve.Field != "email" {
		t.Errorf("CreateUser with a taken email: %v, want a ValidationError on email", err)
	}
}
