package usecase

import (
	"context"
	"slices"

	"gatehouse/domain"
)

// PasskeySignIn signs in the owner of a passkey without a password (the login page's
// "Sign in with a passkey"; user verification required): a new session replacing
// old, with the methods AMRPasskey.
func (uc *Login) PasskeySignIn(ctx context.Context, browser, sessionID, state, response, address string,
	old *domain.Session) (domain.Session, string, error) {
	userID, err := uc.factors.VerifyPasskey(ctx, "", browser, sessionID, state, response, address, "")
	if err != nil {
		return domain.Session{}, "", err
	}
	return uc.startChecked(WithAuditIP(ctx, address), userID, AMRPasskey, old)
}

// CompleteSecondFactorPasskey is CompleteSecondFactor with a passkey of the user who
// passed the first step (the password, or an upstream) in this browser: the session
// keeps that step's methods and adds "hwk" (after a password: AMRPasswordPasskey).
func (uc *Login) CompleteSecondFactorPasskey(ctx context.Context, pending, browser, state, response, address, mark string,
	old *domain.Session) (domain.Session, string, error) {
	userID, first, err := uc.factors.Pending(ctx, pending, browser)
	if err != nil {
		return domain.Session{}, "", err
	}
	if _, err := uc.factors.VerifyPasskey(ctx, userID, browser, "", state, response, address, mark); err != nil {
		return domain.Session{}, "", err
	}
	return uc.startChecked(WithAuditIP(ctx, address), userID, domain.WithSecondFactor(first, AMRPasskeyFactor), old)
}

// StepUpPasskey adds a passkey to the session s: a new session of the same id with
// the methods of both, at the phishing-resistant level (SECURITY S53).
func (uc *Login) StepUpPasskey(ctx context.Context, s domain.Session, browser, state, response, address, mark string) (domain.Session, string, error) {
	if _, err := uc.factors.VerifyPasskey(ctx, s.UserID, browser, s.ID, state, response, address, mark); err != nil {
		return domain.Session{}, "", err
	}
	amr := slices.Clone(sessionAMR(s))
	for _, m := range []string{"hwk", "mfa"} {
		if !slices.Contains(amr, m) {
			amr = append(amr, m)
		}
	}
	return uc.startChecked(WithAuditIP(ctx, address), s.UserID, amr, &s)
}
