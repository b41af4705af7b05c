package usecase

import (
	"context"

	"gatehouse/domain"
)

// secondFactorNeeded is LogIn's check after the right password: a user with a second
// factor gets *SecondFactorRequired instead of a session (SECURITY S50).
// amr are the methods of that first step.
func (uc *Login) secondFactorNeeded(ctx context.Context, userID string, amr []string) error {
	if uc.factors == nil {
		return nil
	}
	has, err := uc.factors.Has(ctx, userID)
	if err != nil {
		return err
	}
	if has {
		u, err := uc.factors.users.UserByID(ctx, userID)
		if err != nil {
			return err
		}
		return &SecondFactorRequired{UserID: userID, AMR: amr, Credential: uc.factors.credentialMark(u)}
	}
	return nil
}

// CompleteSecondFactor finishes the sign-in of a user who passed the password in this
// browser (pending, from Factors.BeginSecondFactor, bound to browser): an
// authenticator code or a recovery code (Factors.Verify), then a new session replacing
// old, as LogIn's. The session records the first step's methods (the password, or an
// upstream's "fed" and its own) and the factor's, never a password not checked.
// ErrSecondFactorExpired when the pending state is not alive for this browser;
// ErrBadSecondFactor for a wrong code. mark is the browser's KnownFactorMark, if any.
func (uc *Login) CompleteSecondFactor(ctx context.Context, pending, browser, otp, recoveryCode, address, mark string,
	old *domain.Session) (domain.Session, string, error) {
	userID, first, err := uc.factors.Pending(ctx, pending, browser)
	if err != nil {
		return domain.Session{}, "", err
	}
	amr, err := uc.factors.Verify(ctx, userID, otp, recoveryCode, address, mark)
	if err != nil {
		return domain.Session{}, "", err
	}
	return uc.startChecked(ctx, userID, domain.WithSecondFactor(first, amr), old)
}

// StepUp adds the second factor to the session s (it was signed in with one step
// only): a new session of the same id with the methods of both (SECURITY S53).
func (uc *Login) StepUp(ctx context.Context, s domain.Session, otp, recoveryCode, address, mark string) (domain.Session, string, error) {
	amr, err := uc.factors.Verify(ctx, s.UserID, otp, recoveryCode, address, mark)
	if err != nil {
		return domain.Session{}, "", err
	}
	return uc.startChecked(ctx, s.UserID, domain.WithSecondFactor(sessionAMR(s), amr), &s)
}

// PasskeyEnrolled follows a passkey added in session s from the account page, as
// FactorEnrolled follows an authenticator app: the browser's authenticator has just
// made it, verifying its user, so the session counts as signed in with a second
// factor ("mfa"), and may go on changing the factors (Factors.reauth). Not "hwk":
// making a passkey is no sign-in with it, so the phishing-resistant level still needs
// one. A session with a second factor stays as it is. No sign-in is audited: the
// enrolment is (user.mfa.enrolled).
func (uc *Login) PasskeyEnrolled(ctx context.Context, s domain.Session) (domain.Session, string, error) {
	if s.HasMFA() {
		return s, "", nil
	}
	return uc.renewChecked(ctx, s.UserID, domain.WithSecondFactor(sessionAMR(s), nil), &s, false, nil)
}

// FactorEnrolled follows the enrolment of a second factor in session s: the user has
// just proved it with a code, so the session becomes one signed in with both (a new
// session of the same id; already so, it stays as it is). No sign-in is audited: the
// enrolment is.
func (uc *Login) FactorEnrolled(ctx context.Context, s domain.Session) (domain.Session, string, error) {
	if s.HasMFA() {
		return s, "", nil
	}
	return uc.renewChecked(ctx, s.UserID, domain.WithSecondFactor(sessionAMR(s), AMROTP), &s, false, nil)
}
